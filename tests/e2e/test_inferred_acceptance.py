"""Clients that never run a completion item's command (eglot, Helix, Zed, Sublime LSP)
still leave acceptances in the ledger: inferred from the document changing to hold the
suggestion where it was shown, recorded once, and never twice when the command arrives."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from lsp_server.features.provenance import INFER_DELAY_S
from tests.e2e.lsp_helpers import SERVER, end_of, open_doc, plain

pytestmark = pytest.mark.slow

SOURCE = "def scale(values, factor):\n    return "


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _start(client: LanguageClient, root: Path, model: Path, editor: str) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={
                "focal": {"model": {"path": str(model)}, "completion": {"maxTokens": 8}}
            },
        )
    )


def _events(suggestion_id: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "audit", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    (record,) = [r for r in json.loads(done.stdout) if r["id"] == suggestion_id]
    return [e["kind"] for e in record["events"]]


async def _complete_and_insert(client: LanguageClient, uri: str) -> types.CompletionItem:
    """Ask for a completion and insert it as the editor does: its textEdit, in one change."""
    line, col = end_of(SOURCE)
    result = None
    for _ in range(5):  # a tiny random model may answer only whitespace: ask again
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line, col),
                context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
            )
        )
        if result.items:
            break
    assert result is not None and result.items, "no completion to accept"
    (item,) = result.items
    edit = item.text_edit
    assert isinstance(edit, types.TextEdit)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)
            ],
        )
    )
    return item


async def test_an_acceptance_eglot_never_reports_is_inferred_once(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, "emacs")
    uri = open_doc(client, tmp_path / "scale.py", SOURCE)
    item = await _complete_and_insert(client, uri)
    sid = plain(item.command.arguments[0])["suggestionId"]
    await asyncio.sleep(INFER_DELAY_S + 1.0)
    assert _events(sid) == ["shown", "accepted_inferred"]
    # A later, unrelated keystroke infers nothing more.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=SOURCE + "\n# x\n")],
        )
    )
    # And the command, should it come late after all, does not count it a second time.
    known = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    assert known is True
    await asyncio.sleep(INFER_DELAY_S + 0.5)
    assert _events(sid) == ["shown", "accepted_inferred"]


async def test_a_client_that_runs_the_command_records_a_plain_acceptance(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, "visual-studio-code")
    uri = open_doc(client, tmp_path / "scale.py", SOURCE)
    item = await _complete_and_insert(client, uri)
    sid = plain(item.command.arguments[0])["suggestionId"]
    known = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    assert known is True
    await asyncio.sleep(INFER_DELAY_S + 1.0)
    assert _events(sid) == ["shown", "accepted"]


async def test_a_suggestion_that_was_not_inserted_is_not_inferred(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, "emacs")
    uri = open_doc(client, tmp_path / "scale.py", SOURCE)
    line, col = end_of(SOURCE)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, col),
        )
    )
    if not result.items:
        pytest.fail("the tiny model gave no completion to ignore")
    sid = plain(result.items[0].command.arguments[0])["suggestionId"]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, col), types.Position(line, col)),
                    text="values * factor\n",
                )
            ],
        )
    )
    await asyncio.sleep(INFER_DELAY_S + 1.0)
    assert _events(sid) == ["shown"]
