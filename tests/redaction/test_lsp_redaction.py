"""Secrets planted in a workspace never leave through Focal: over the real LSP wire, with a
real OpenAI-compatible server on loopback (llama-cpp-python's, behind a recording proxy),
no planted value appears in any request body, ledger row or log line; with `always`, the
local engine's prompt is redacted before the model sees it; with `never`, it is not (the
control that shows these checks can fail)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.lsp_helpers import inline_params, open_doc, start, status
from tests.inference.test_remote import server  # noqa: F401 (fixture)
from tests.redaction.planted import KINDS, leaks, planted, settings_module
from tests.redaction.proxy import recording_proxy

pytestmark = pytest.mark.slow

LOG = Path(tempfile.mkdtemp(prefix="focal-redaction-")) / "server.log"
SERVER_WITH_LOG = ClientServerConfig(
    server_command=[sys.executable, "-m", "lsp_server", "serve", "--log-file", str(LOG)]
)
EDITED = 21
"""Seed of the secrets planted in the edited file (the context file has seed 20)."""

MAIN_HEAD = "from app.settings import GITHUB_TOKEN, database_url\n\n"
MAIN_TAIL = (
    "\n\ndef connect(host):\n"
    '    headers = {"Authorization": GITHUB_TOKEN}\n'
    "    return open_db(database_url("
)


@pytest_lsp.fixture(config=SERVER_WITH_LOG)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _workspace(root: Path) -> tuple[str, str]:
    """`app/settings.py` full of secrets (seed 20), and `app/main.py`, being edited, with
    its own (seed 21); the cursor at `database_url(`. Returns main's text and suffix."""
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "settings.py").write_text(settings_module(20))
    own = "\n".join(p.line for p in planted(EDITED))
    prefix = MAIN_HEAD + own + MAIN_TAIL
    suffix = "host), headers)\n"
    (root / "app" / "main.py").write_text(prefix + suffix)
    return prefix, suffix


def _position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


async def _indexed(client: LanguageClient, name: str) -> None:
    for _ in range(600):
        if await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=name)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the index never found {name}")


async def _ready(client: LanguageClient) -> dict:
    for _ in range(600):
        st = await status(client)
        if st["state"] in ("ready", "error"):
            assert st["state"] == "ready", st
            return st
        await asyncio.sleep(0.1)
    raise AssertionError(st)


async def _complete(client: LanguageClient, root: Path, settings: dict) -> dict:
    prefix, suffix = _workspace(root)
    await start(client, root, settings)
    await _ready(client)
    await _indexed(client, "database_url")
    uri = open_doc(client, root / "app" / "main.py", prefix + suffix)
    line, col = _position(prefix)
    await client.text_document_inline_completion_async(inline_params(uri, line, col))
    return (await status(client))["lastSuggestion"]["origin"]


def _ledger_dump() -> str:
    path = Path(os.environ["XDG_STATE_HOME"]) / "focal" / "ledger.sqlite3"
    db = sqlite3.connect(path)
    try:
        rows = [
            repr(row)
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for row in db.execute(f"SELECT * FROM {table}")
        ]
    finally:
        db.close()
    return "\n".join(rows)


def _ledger_redactions() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "focal" / "ledger.sqlite3"
    db = sqlite3.connect(path)
    try:
        return [json.loads(r) for (r,) in db.execute("SELECT redactions FROM suggestions")]
    finally:
        db.close()


def _leaked(text: str) -> list[str]:
    return leaks(text, 20) + leaks(text, EDITED)


async def test_nothing_planted_reaches_the_remote_engine_the_ledger_or_the_log(
    client: LanguageClient,
    server: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
):
    start_of_log = LOG.stat().st_size if LOG.exists() else 0
    with recording_proxy(server) as (url, recorder):
        origin = await _complete(
            client,
            tmp_path / "repo",
            {
                "privacy": {"allowRemote": True},  # redactSecrets: remote, the default
                "remote": {"url": url, "timeoutS": 120},
                "completion": {"maxTokens": 16},
                "ledger": {"storeText": True},
            },
        )
        bodies = recorder.posts("/v1/completions")
    assert origin["engine"] == "remote"
    # The context held the settings module (the definition of `database_url`).
    assert any(c["path"] == "app/settings.py" for c in origin["context"]), origin["context"]
    assert bodies, "no completion reached the server"
    for body in bodies:
        assert _leaked(body) == []
        prompt = json.loads(body)["prompt"]
        # Replaced, not dropped: the document's own secrets and the context's.
        for kind in KINDS:
            assert f"<redacted:{kind}>" in prompt, kind
        assert "postgresql://app:<redacted:url-password>@{host}/prod" in prompt
    # The origin counts them, by kind: every kind once in the edited file, more in context.
    counts = dict(origin["redactions"])
    assert set(counts) == set(KINDS)
    assert counts["url-password"] >= 2 and counts["github-token"] >= 2
    # The ledger records the counts, never the values.
    dump = _ledger_dump()
    assert _leaked(dump) == []
    (recorded,) = _ledger_redactions()
    assert recorded["prompt"] == counts
    # Nor does the log.
    log = LOG.read_text()[start_of_log:]
    assert _leaked(log) == []
    assert "redacted" in log


async def test_never_sends_the_secrets_as_they_are(
    client: LanguageClient,
    server: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
):
    """The control: the same workspace with redaction off puts the values in the request."""
    with recording_proxy(server) as (url, recorder):
        origin = await _complete(
            client,
            tmp_path / "repo",
            {
                "privacy": {"allowRemote": True, "redactSecrets": "never"},
                "remote": {"url": url, "timeoutS": 120},
                "completion": {"maxTokens": 16},
            },
        )
        bodies = recorder.posts("/v1/completions")
    assert bodies and set(_leaked(bodies[-1])) == set(KINDS)
    assert origin["redactions"] == []


@pytest.mark.parametrize(
    ("policy", "prompt_redacted"),
    [
        pytest.param("always", True, id="always"),
        pytest.param("remote", False, id="remote"),
    ],
)
async def test_local_engine_prompt_and_ledger(
    client: LanguageClient, tiny_model: Path, tmp_path: Path, policy: str, prompt_redacted: bool
):
    """`always`: the local model's own prompt is redacted (the ledger, which keeps it, finds
    nothing left to replace). `remote`: the local model sees the code as it is, and the
    ledger replaces the secrets in the copy it stores."""
    origin = await _complete(
        client,
        tmp_path / "repo",
        {
            "model": {"path": str(tiny_model)},
            "privacy": {"redactSecrets": policy},
            "ledger": {"storeText": True},
        },
    )
    assert origin["engine"].startswith("llama.cpp")
    dump = _ledger_dump()
    assert _leaked(dump) == []
    assert "<redacted:aws-secret>" in dump  # the stored prompt, redacted
    (recorded,) = _ledger_redactions()
    if prompt_redacted:
        assert set(dict(origin["redactions"])) == set(KINDS)
        assert recorded["prompt"] == dict(origin["redactions"]) and recorded["stored"] == {}
    else:
        assert origin["redactions"] == []
        assert recorded["prompt"] == {} and set(recorded["stored"]) == set(KINDS)
