"""Crash safety: SIGKILL mid-write, then reopen.

The provenance ledger and the workspace index are SQLite files written while the user works.
Killed at any moment (SIGKILL: no cleanup runs), each must reopen, pass `PRAGMA
integrity_check`, and hold every record that was acknowledged before the kill: for the
ledger, a suggestion whose completion was answered and an acceptance whose `focal.accepted`
returned true; for the index, every file of a build whose end was reported. And nothing the
server started may outlive it.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from indexing.indexer import Index
from indexing.store import _INDEXES, default_db_path
from lsp_server.ledger import Ledger
from tests.e2e.lsp_helpers import plain
from tests.reliability.conftest import (
    ROOT,
    LiveServer,
    fuzz_examples,
    server_env,
    tiny_settings,
    wait_ready,
)

FIGURES: dict[str, int] = {
    "ledger_writer_kills": 0,
    "server_kills": 0,
    "index_kills": 0,
    "index_kills_mid_build": 0,
}
PLANNED: dict[str, int] = {"ledger_writer_kills": 0, "server_kills": 0, "index_kills": 0}
"""The kills each test that ran set out to make (`test_zz_crash_figures` compares)."""


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def survivors(home: Path, grace: float = 5.0) -> list[str]:
    """Processes still running with `home` in their environment (the server's children)
    `grace` seconds after the server died."""
    needle = str(home).encode()
    deadline = time.monotonic() + grace
    while True:
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                if needle in Path(f"/proc/{pid}/environ").read_bytes():
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    found.append(f"{pid}: {cmd[:120].decode(errors='replace')}")
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def ledger_path(home: Path) -> Path:
    return home / "xdg_state_home" / "focal" / "ledger.sqlite3"


def assert_ledger_holds(path: Path, suggestions: list[str], accepted: list[str]) -> None:
    assert integrity(path) == "ok"
    ledger = Ledger.open(path, create=False)
    try:
        assert ledger.integrity_check() == "ok"
        missing = [sid for sid in suggestions if ledger.suggestion(sid) is None]
        assert not missing, f"{len(missing)} acknowledged suggestions lost: {missing[:5]}"
        lost = [
            sid
            for sid in accepted
            if "accepted" not in [e.kind for e in ledger.suggestion(sid).events]  # type: ignore[union-attr]
        ]
        assert not lost, f"{len(lost)} acknowledged acceptances lost: {lost[:5]}"
    finally:
        ledger.close()


# -- the ledger, killed while it writes ---------------------------------------------------


def _kill_a_writer(path: Path, seed: int, home: Path, rng: random.Random) -> list[list[str]]:
    """Run `ledger_writer` until it has acknowledged a random number of writes, SIGKILL it
    a moment later, and return every line it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.ledger_writer", str(path), str(seed)],
        cwd=ROOT,
        env=server_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[list[str]] = []
    enough = threading.Event()
    target = rng.randint(1, 150)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.split())
            if len(lines) >= target:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert enough.wait(60), "the writer acknowledged nothing"
    time.sleep(rng.choice([0, 0.0005, 0.002, 0.01]))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(10)
    assert proc.stderr is not None
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    proc.stderr.close()
    return lines


def test_the_ledger_survives_sigkill_in_the_middle_of_writes(tmp_path: Path):
    """A process that does nothing but write to the ledger, killed at random moments: the
    kill lands inside a transaction almost every time."""
    path = tmp_path / "state" / "ledger.sqlite3"
    rng = random.Random(7)
    suggestions: list[str] = []
    accepted: list[str] = []
    kills = fuzz_examples(12)
    PLANNED["ledger_writer_kills"] += kills
    for i in range(kills):
        lines = _kill_a_writer(path, i, tmp_path / "home", rng)
        suggestions += [sid for kind, sid in lines if kind == "S"]
        accepted += [sid for kind, sid in lines if kind == "E"]
        assert_ledger_holds(path, suggestions, accepted)
        FIGURES["ledger_writer_kills"] += 1
    print(f"ledger writer: {kills} kills, {len(suggestions)} suggestions held")


# -- the server, killed while it answers and records --------------------------------------


async def _complete_and_accept(client, uri: str, suggestions: list[str], accepted: list[str]):
    """Ask for completions and accept each one, until the connection breaks."""
    while True:
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=11),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        for item in result.items:
            sid = plain(item.command.arguments[0])["suggestionId"]
            suggestions.append(sid)
            known = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="focal.accepted", arguments=[{"suggestionId": sid, "uri": uri}]
                )
            )
            if known is True:
                accepted.append(sid)


TEXT = "def add(a, b):\n    return "


def _serve(home: Path, root: Path, tiny_model: Path) -> LiveServer:
    """A live server on `root` (state under `home`): the tiny model, no repository context."""
    server = LiveServer(home)
    server.start(root, tiny_settings(tiny_model, context=False))
    return server


def _copy(source: Path, tmp_path: Path, k: int) -> tuple[Path, Path]:
    """Round `k`'s own copy of the workspace `source`, and its own state directory."""
    root = tmp_path / f"ws{k}"
    shutil.copytree(source, root)
    return root, tmp_path / f"home{k}"


def test_the_server_survives_sigkill_while_recording_suggestions(tmp_path: Path, tiny_model: Path):
    home = tmp_path / "home"
    root = tmp_path / "ws"
    root.mkdir()
    rng = random.Random(11)
    suggestions: list[str] = []
    accepted: list[str] = []
    kills = fuzz_examples(2)
    PLANNED["server_kills"] += kills
    for k in range(kills):
        server = _serve(home, root, tiny_model)
        try:
            assert server.call(wait_ready)["state"] == "ready"
            uris = [(root / f"k{k}-{n}.py").as_uri() for n in range(3)]
            pid = server.pid

            async def run(c, uris: list[str] = uris, pid: int = pid) -> None:
                for uri in uris:
                    c.text_document_did_open(
                        types.DidOpenTextDocumentParams(
                            text_document=types.TextDocumentItem(
                                uri=uri, language_id="python", version=1, text=TEXT
                            )
                        )
                    )
                tasks = [
                    asyncio.ensure_future(_complete_and_accept(c, u, suggestions, accepted))
                    for u in uris
                ]
                # Kill once a random number of suggestions were acknowledged, a random
                # moment later: inside a request, a ledger write, or between them.
                target = len(suggestions) + rng.randint(1, 40)
                while len(suggestions) < target and not all(t.done() for t in tasks):
                    await asyncio.sleep(0.005)
                await asyncio.sleep(rng.uniform(0, 0.03))
                os.kill(pid, signal.SIGKILL)
                await asyncio.wait(tasks, timeout=10)
                for t in tasks:
                    t.cancel()

            server.call(run, timeout=90)
            assert not server.alive()
        finally:
            server.stop()
        FIGURES["server_kills"] += 1
        assert not survivors(home), survivors(home, 0)
        assert suggestions, "nothing was acknowledged before the kill"
        assert_ledger_holds(ledger_path(home), suggestions, accepted)

    # Restarted on the same ledger: it opens, records, and the old records are still there.
    server = _serve(home, root, tiny_model)
    try:
        assert server.call(wait_ready)["state"] == "ready"
        after: list[str] = []

        async def once(c) -> None:
            uri = (root / "after.py").as_uri()
            c.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=TEXT
                    )
                )
            )
            task = asyncio.ensure_future(_complete_and_accept(c, uri, after, []))
            while not after:
                await asyncio.sleep(0.02)
            task.cancel()

        server.call(once)
        assert not [m.message for m in server.client.messages if "ledger" in m.message]
    finally:
        server.stop()
    assert_ledger_holds(ledger_path(home), suggestions + after[:1], accepted)
    print(f"server: {kills} kills, {len(suggestions)} suggestions, {len(accepted)} accepted held")


# -- the index, killed while it builds and while it follows edits --------------------------

FILES = 600


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A workspace large enough for parser processes and a bulk load, and what a clean
    build of it holds."""
    root = tmp_path_factory.mktemp("template")
    for n in range(FILES):
        pkg = root / f"pkg{n % 20}"
        pkg.mkdir(exist_ok=True)
        (pkg / f"mod{n}.py").write_text(
            "".join(
                f"def fn_{n}_{k}(a, b):\n    return a + b\n\n\nclass Kind{n}_{k}:\n    pass\n\n\n"
                for k in range(6)
            )
        )
    with Index.open(root, tmp_path_factory.mktemp("clean") / "index.sqlite3") as index:
        summary = index.build()
        paths = sorted(p for p, _ in index.store.file_languages())
    return root, {"files": summary.files, "symbols": summary.symbols, "paths": paths}


def _index_db(home: Path, root: Path) -> Path:
    env = server_env(home)
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    try:
        return default_db_path(root)
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved


def _progress(server: LiveServer) -> list[Any]:
    reports = list(server.client.progress_reports.values())
    return reports[-1] if reports else []


def _wait_for_build_end(server: LiveServer, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _progress(server)
        if events and events[-1].kind == "end":
            return str(events[-1].message)
        time.sleep(0.05)
    raise AssertionError(f"the index build did not end: {_progress(server)[-3:]}")


def _open_index_directly(root: Path, db: Path) -> set[str]:
    """Open the index the way the server does (after a crash): its files; and its secondary
    indexes must all be there again."""
    assert integrity(db) == "ok"
    with Index.open(root, db) as index:
        listing = sqlite3.connect(db)
        have = {r[0] for r in listing.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        listing.close()
        assert set(_INDEXES) <= have, f"secondary indexes lost: {set(_INDEXES) - have}"
        return {p for p, _ in index.store.file_languages()}


def test_the_index_survives_sigkill_during_its_build(
    tmp_path: Path, tiny_model: Path, template: tuple[Path, dict[str, Any]]
):
    source, clean = template
    rng = random.Random(5)
    PLANNED["index_kills"] += fuzz_examples(1)
    for k in range(fuzz_examples(1)):
        root, home = _copy(source, tmp_path, k)
        server = _serve(home, root, tiny_model)
        try:
            target = rng.randint(1, FILES - 1)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                events = _progress(server)
                done = [int(e.message.split("/")[0]) for e in events if e.kind == "report"]
                if (done and done[-1] >= target) or (events and events[-1].kind == "end"):
                    break
                time.sleep(0.01)
            mid_build = not (events and events[-1].kind == "end")
            os.kill(server.pid, signal.SIGKILL)
        finally:
            server.stop()
        FIGURES["index_kills"] += 1
        FIGURES["index_kills_mid_build"] += mid_build
        assert not survivors(home), f"left running after the kill: {survivors(home, 0)}"
        db = _index_db(home, root)
        _open_index_directly(root, db)

        # Restarted: the build completes and the index equals a clean build.
        server = _serve(home, root, tiny_model)
        try:
            message = _wait_for_build_end(server)
            assert message == f"{clean['files']} files, {clean['symbols']} symbols", (
                message,
                mid_build,
            )
            found = server.call(
                lambda c: c.workspace_symbol_async(types.WorkspaceSymbolParams(query="fn_599_5"))
            )
            assert [s.name for s in found or []] == ["fn_599_5"]
        finally:
            server.stop()
        assert sorted(_open_index_directly(root, db)) == clean["paths"]


async def _edit_then_kill(client, root: Path, pid: int, delay: float) -> None:
    """Unsaved buffers for every 30th file and 40 new files on disk, then SIGKILL while the
    debounced index writes they cause are running."""
    for n in range(0, FILES, 30):
        uri = (root / f"pkg{n % 20}" / f"mod{n}.py").as_uri()
        text = f"def edited_{n}():\n    pass\n" * 3
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text + "#\n")],
            )
        )
    for n in range(40):
        (root / f"new{n}.py").write_text(f"def appeared_{n}():\n    pass\n")
        await asyncio.sleep(0.005)
    await asyncio.sleep(delay)
    os.kill(pid, signal.SIGKILL)


def test_the_index_keeps_an_acknowledged_build_through_sigkill_during_updates(
    tmp_path: Path, tiny_model: Path, template: tuple[Path, dict[str, Any]]
):
    """Once a build's end is reported, every file in it is acknowledged: a kill while the
    index follows edits (unsaved buffers, files appearing on disk) loses none of them."""
    source, clean = template
    rng = random.Random(9)
    PLANNED["index_kills"] += fuzz_examples(1)
    for k in range(fuzz_examples(1)):
        root, home = _copy(source, tmp_path, k)
        server = _serve(home, root, tiny_model)
        try:
            assert _wait_for_build_end(server).startswith(f"{clean['files']} files")

            delay = rng.uniform(0.1, 0.6)
            pid = server.pid
            server.call(
                lambda c, root=root, pid=pid, delay=delay: _edit_then_kill(c, root, pid, delay)
            )
        finally:
            server.stop()
        FIGURES["index_kills"] += 1
        assert not survivors(home), f"left running after the kill: {survivors(home, 0)}"
        files = _open_index_directly(root, _index_db(home, root))
        lost = sorted(set(clean["paths"]) - files)
        assert not lost, f"{len(lost)} acknowledged files lost: {lost[:5]}"


def test_zz_crash_figures(record_property):
    """The figures, and that every kill the tests set out to make was made and survived
    (a loop that stopped early would otherwise pass with fewer kills than it claims)."""
    for key, value in FIGURES.items():
        record_property(key, value)
    print(f"crash safety: {FIGURES}")
    assert {k: FIGURES[k] for k in PLANNED} == PLANNED
    assert FIGURES["index_kills_mid_build"] <= FIGURES["index_kills"]
