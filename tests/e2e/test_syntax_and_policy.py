"""Focal's syntax diagnostics (tree-sitter ERROR/MISSING, source `focal`, debounced) and the
AI policy: no model sees a secret, a file an AI ignore file names, or a `.noai` project."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, plain, start

pytestmark = pytest.mark.slow

BROKEN = "def mean(xs):\n    return sum(xs / len(xs)\n\nprint(mean([1, 2]))\n"
FIXED = "def mean(xs):\n    return sum(xs) / len(xs)\n\nprint(mean([1, 2]))\n"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _until(check, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds * 10)):
        if check():
            return True
        await asyncio.sleep(0.1)
    return check()


def _change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_syntax_errors_are_published_then_withdrawn(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(tiny_model)}, "index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "stats.py", BROKEN)
    assert await _until(lambda: client.diagnostics.get(uri)), "a missing ) must be reported"
    found = client.diagnostics[uri]
    assert {d.source for d in found} == {"focal"}
    assert all(d.severity == types.DiagnosticSeverity.Error for d in found)
    assert any(d.range.start.line in (1, 2) for d in found), found
    assert all(d.message.startswith("Syntax error") for d in found)

    # The user fixes it: the diagnostics go away.
    _change(client, uri, 2, FIXED)
    assert await _until(lambda: not client.diagnostics[uri])

    # Focal's diagnostics get a "Fix with Focal" action like any linter's.
    _change(client, uri, 3, BROKEN)
    assert await _until(lambda: client.diagnostics[uri])
    found = client.diagnostics[uri]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    assert any(a.title.startswith("Fix with Focal: Syntax error") for a in actions)

    # Closing the document withdraws them.
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await _until(lambda: not client.diagnostics[uri])


async def test_syntax_check_can_be_turned_off(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await start(
        client,
        tmp_path,
        {"model": {"path": str(tiny_model)}, "diagnostics": {"syntax": False}},
    )
    uri = open_doc(client, tmp_path / "stats.py", BROKEN)
    other = open_doc(client, tmp_path / "notes.txt", "no grammar here (", "plaintext")
    await asyncio.sleep(1.5)
    assert uri not in client.diagnostics
    assert other not in client.diagnostics


async def _inline_text(client: LanguageClient, uri: str, text: str) -> str:
    line, col = end_of(text)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    return "".join(item.insert_text for item in (result.items if result else []))


async def test_no_model_sees_secrets_or_ai_excluded_files(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    (tmp_path / ".aiignore").write_text("private/\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "build").mkdir()
    await start(client, tmp_path, {"model": {"path": str(tiny_model)}})
    text = "def handler(event):\n    "
    ok = open_doc(client, tmp_path / "app.py", text)
    secret = open_doc(client, tmp_path / ".env", "API_KEY=", "dotenv")
    private = open_doc(client, tmp_path / "private" / "algo.py", text)
    built = open_doc(client, tmp_path / "build" / "gen.py", text)

    # The tiny random model always writes something for an ordinary file...
    assert await _inline_text(client, ok, text)
    # ... and nothing at all for a secret or a file an AI ignore file names.
    assert await _inline_text(client, secret, "API_KEY=") == ""
    assert await _inline_text(client, private, text) == ""
    # .gitignore means "not in the repo", not "no AI": completion still works there.
    assert await _inline_text(client, built, text)

    await _until(lambda: len([m for m in client.messages if "no suggestions" in m.message]) >= 2)
    told = [m.message for m in client.messages if "no suggestions" in m.message]
    assert any(".env" in m and "secrets" in m for m in told), told
    assert any("algo.py" in m and "AI ignore file" in m for m in told), told
    assert len(told) == 2, "each refused document is explained once"
    assert await _inline_text(client, secret, "API_KEY=") == ""
    assert len([m for m in client.messages if "no suggestions" in m.message]) == 2

    # No fix is offered either.
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=private),
            range=types.Range(types.Position(0, 0), types.Position(1, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions


async def test_noai_project_gets_no_completions_and_no_commit_message(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    (tmp_path / ".noai").write_text("")
    await start(client, tmp_path, {"model": {"path": str(tiny_model)}})
    text = "def handler(event):\n    "
    uri = open_doc(client, tmp_path / "app.py", text)
    assert await _inline_text(client, uri, text) == ""
    result = plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="focal.summarizeDiff", arguments=[{"root": str(tmp_path)}]
            )
        )
    )
    assert ".noai" in result["error"]
    assert "message" not in result
