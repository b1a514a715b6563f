"""The reliability suite: protocol fuzzing, malformed JSON-RPC, bad inputs, load, crash
safety. Every test talks to a real `focal serve` over stdio (or kills one).

Sized for CI (about two and a half minutes on two cores): 60 fuzzed sessions, 120 corrupt
model headers, 12 + 2 + 2 kills. For a long run, `FOCAL_FUZZ_EXAMPLES=600 pytest
tests/reliability` scales every count by ten (20 minutes). Hypothesis is derandomized: a
run is reproducible, and a failure found once is found again.

`LiveServer` is a server that outlives one test: started once per module (or per hypothesis
run) and driven from a background event loop, so that hypothesis examples and parametrized
cases share one process instead of paying a start-up each."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from tests.e2e.lsp_helpers import capabilities, plain

ROOT = Path(__file__).resolve().parents[2]


def fuzz_examples(default: int) -> int:
    """Hypothesis examples for a reliability test: `default` (sized for CI), or scaled for a
    long run by `FOCAL_FUZZ_EXAMPLES` (the count for the protocol fuzzer's 60 sessions;
    other tests scale in proportion)."""
    wanted = os.environ.get("FOCAL_FUZZ_EXAMPLES")
    return max(default, default * int(wanted) // 60) if wanted else default


SERVE = [sys.executable, "-m", "lsp_server", "serve"]
DOCUMENT_TEXT = "focal/documentText"
T = TypeVar("T")


_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ", re.MULTILINE)


def unexpected_exceptions(log: str, allowed: Sequence[str] = ()) -> list[str]:
    """The log records of `log` (a server's log text) that carry a traceback: an exception
    the server did not expect, whatever it answered. `allowed` are regular expressions for
    the ones a test provokes on purpose."""
    bounds = sorted({0, len(log), *(m.start() for m in _RECORD.finditer(log))})
    records = [log[a:b] for a, b in itertools.pairwise(bounds)]
    return [
        r.rstrip()
        for r in records
        if "Traceback (most recent call last)" in r
        and not any(re.search(pattern, r) for pattern in allowed)
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expected_exceptions(*patterns): tracebacks matching these regular expressions are "
        "expected in the server's log during this test (the reliability suite fails on any "
        "other)",
    )


_SERVERS: weakref.WeakSet[LiveServer] = weakref.WeakSet()


@pytest.fixture(autouse=True)
def _no_unexpected_exceptions(request: pytest.FixtureRequest):
    """Every reliability test fails when a server it talked to logged an exception it did
    not expect, even if every answer looked right: a handler that crashed and answered
    something empty is a bug, not a pass."""
    yield
    marker = request.node.get_closest_marker("expected_exceptions")
    allowed = marker.args if marker is not None else ()
    found: list[str] = []
    for server in list(_SERVERS):
        found += server.take_unexpected(allowed)
    if found:
        pytest.fail(
            f"the server logged {len(found)} unexpected exception(s):\n\n" + "\n\n".join(found),
            pytrace=False,
        )


def server_env(home: Path) -> dict[str, str]:
    """The environment of a server whose caches, state (the ledger) and config live in
    `home`, never in the user's own directories."""
    env = {k: v for k, v in os.environ.items() if k != "FOCAL_MODEL"}
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[var] = str(home / var.lower())
    # Added to, never replaced: PYTHONPATH carries the offline guard (tests/conftest.py).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def tiny_settings(model: Path, context: bool = True, **extra: Any) -> dict[str, Any]:
    """Settings for the tiny synthetic model: 8 tokens a completion. `context=False` turns
    repository context off, for tests that ask for many completions and test something
    else (crash safety): gathering it is most of a tiny model's completion time."""
    settings: dict[str, Any] = {"model": {"path": str(model)}, "completion": {"maxTokens": 8}}
    if not context:
        settings["context"] = {"budgetTokens": 0}
    return {**settings, **extra}


class LiveServer:
    """One `focal serve` process and a pytest-lsp client on a loop of their own thread."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.client: LanguageClient = self.run(self._make_client(), 10)
        self.root: Path | None = None
        self._checked = 0
        """How much of the log `take_unexpected` has read."""
        _SERVERS.add(self)

    def take_unexpected(self, allowed: Sequence[str] = ()) -> list[str]:
        """The unexpected exceptions (`unexpected_exceptions`) logged since the last call."""
        text = self.log_text()
        new, self._checked = text[self._checked :], len(text)
        return unexpected_exceptions(new, allowed)

    @staticmethod
    async def _make_client() -> LanguageClient:
        return make_test_lsp_client()

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float) -> T:
        """Run `coro` on the server's loop; fail (never hang) after `timeout` seconds."""

        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return asyncio.run_coroutine_threadsafe(bounded(), self.loop).result(timeout + 5)

    def call(self, fn: Callable[[LanguageClient], Awaitable[T]], timeout: float = 60) -> T:
        return self.run(fn(self.client), timeout)

    @property
    def log_file(self) -> Path:
        """The server's log (`focal serve --log-file`)."""
        return self.home / "focal.log"

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def start(
        self,
        root: Path,
        settings: dict[str, Any],
        *args: str,
        prefix: Sequence[str] = (),
        serve: Sequence[str] = SERVE,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start the server (`serve`, under the command `prefix`, e.g. `setpriv …`, with
        `env` added to its environment) on `root`."""
        self.root = root
        command = [*prefix, *serve, "--log-file", str(self.log_file), *args]
        environment = {**server_env(self.home), **(env or {})}

        async def go() -> None:
            await self.client.start_io(*command, cwd=str(ROOT), env=environment)
            await self.client.initialize_session(
                types.InitializeParams(
                    capabilities=capabilities(),
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                    initialization_options={"focal": settings},
                )
            )

        self.run(go(), 60)

    @property
    def pid(self) -> int:
        server = self.client._server
        assert server is not None
        return server.pid

    def alive(self) -> bool:
        server = self.client._server
        return server is not None and server.returncode is None

    def rss_kb(self) -> int:
        """The server's resident set (VmRSS) in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        try:
            if self.alive():
                self.run(self.client.shutdown_session(), 30)
        except Exception:
            server = self.client._server
            if server is not None and server.returncode is None:
                server.kill()
        finally:
            with contextlib.suppress(Exception):
                self.run(self.client.stop(), 10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


async def document_text(client: LanguageClient, uri: str) -> dict[str, Any] | None:
    """The server's own view of an open document (`focal/documentText`)."""
    return plain(await client.protocol.send_request_async(DOCUMENT_TEXT, {"uri": uri}))


async def status(client: LanguageClient) -> dict[str, Any]:
    return plain(await client.protocol.send_request_async("focal/status", {}))


async def wait_ready(client: LanguageClient, timeout: float = 30) -> dict[str, Any]:
    """Wait until the model has loaded (or failed); return the status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        st = await status(client)
        if st["state"] in ("ready", "error") or loop.time() > deadline:
            return st
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    """A server on the tiny synthetic model, shared by every test of a module."""
    root = tmp_path_factory.mktemp("workspace")
    server = LiveServer(tmp_path_factory.mktemp("home"))
    server.start(root, tiny_settings(tiny_model))
    st = server.call(wait_ready)
    assert st["state"] == "ready", st
    yield server
    server.stop()
