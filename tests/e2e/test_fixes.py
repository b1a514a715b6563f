"""Fix suggestions over the wire: listed without the model, resolved into a minimal,
annotated edit, and refused cleanly when the answer or the document does not fit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, capabilities, open_doc, status

pytestmark = pytest.mark.slow

SOURCE = """import math


def mean(xs):
    \"\"\"Arithmetic mean.\"\"\"
    total = sum(xs)
    return total / len(x)


def norm(v):
    return math.sqrt(sum(a * a for a in v))
"""
BAD_LINE = 6  # `return total / len(x)`


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _start(client: LanguageClient, root: Path, model: Path, resolve: bool = True) -> None:
    caps = capabilities()
    ca = caps.text_document.code_action
    ca.tag_support = types.CodeActionTagOptions(value_set=[types.CodeActionTag.LlmGenerated])
    if not resolve:
        ca.resolve_support = None
    await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"focal": {"model": {"path": str(model)}}},
        )
    )


def _diagnostic() -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(types.Position(BAD_LINE, 19), types.Position(BAD_LINE, 20)),
        message="Undefined name `x`",
        source="pyflakes",
        severity=types.DiagnosticSeverity.Error,
    )


async def _actions(client: LanguageClient, uri: str, diags, rng=None):
    rng = rng or types.Range(types.Position(BAD_LINE, 19), types.Position(BAD_LINE, 19))
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=diags),
        )
    )


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))

    def off(p: types.Position) -> int:
        return offsets[min(p.line, len(lines))] + p.character

    for e in sorted(edits, key=lambda e: off(e.range.start), reverse=True):
        text = text[: off(e.range.start)] + e.new_text + text[off(e.range.end) :]
    return text


async def test_actions_are_listed_without_running_the_model(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await _start(client, tmp_path, smollm2)
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    sel = types.Range(types.Position(3, 0), types.Position(7, 0))
    actions = await _actions(client, uri, [_diagnostic()], sel)
    assert [a.kind for a in actions] == [
        types.CodeActionKind.QuickFix,
        types.CodeActionKind.RefactorRewrite,
    ]
    quick, rewrite = actions
    assert quick.title == "Fix with Focal: Undefined name `x`"
    assert rewrite.title == "Fix with Focal"
    assert all(a.edit is None for a in actions)  # the model runs only on resolve
    assert all(list(a.tags or []) == [types.CodeActionTag.LlmGenerated] for a in actions)
    assert quick.diagnostics and quick.diagnostics[0].message == "Undefined name `x`"
    assert (await status(client))["lastSuggestion"] is None


async def test_resolve_returns_a_minimal_edit_annotated_with_the_model(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await _start(client, tmp_path, smollm2)
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (action,) = await _actions(client, uri, [_diagnostic()])
    resolved = await client.code_action_resolve_async(action)
    edit = resolved.edit
    assert edit is not None, [m.message for m in client.messages]
    (doc_edit,) = edit.document_changes
    assert doc_edit.text_document.uri == uri and doc_edit.text_document.version == 1
    (annotation_id,) = edit.change_annotations
    annotation = edit.change_annotations[annotation_id]
    assert "smollm2" in annotation.label.lower() and "Q4_1" in annotation.label
    assert "sha256:b179c952" in annotation.description
    assert all(e.annotation_id == annotation_id for e in doc_edit.edits)
    # Minimal: the edits touch only lines inside the function, and not every one of them.
    touched = {
        line for e in doc_edit.edits for line in range(e.range.start.line, e.range.end.line + 1)
    }
    assert touched <= set(range(3, 8)), touched
    fixed = _apply(SOURCE, doc_edit.edits)
    before, after = SOURCE.splitlines(), fixed.splitlines()
    assert before[:3] == after[:3]  # the import is untouched
    assert after[-2:] == before[-2:]  # so is the next function
    assert fixed != SOURCE
    # Applying runs the action's command: acceptance is recorded against the suggestion.
    assert resolved.command is not None and resolved.command.command == "focal.accepted"
    args = resolved.command.arguments[0]
    known = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="focal.accepted", arguments=[args])
    )
    assert known is True


async def test_resolve_after_the_code_changed_applies_nothing(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await _start(client, tmp_path, smollm2)
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (action,) = await _actions(client, uri, [_diagnostic()])
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(5, 4), types.Position(5, 9)),
                    text="subtotal",
                )
            ],
        )
    )
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is None
    await asyncio.sleep(0.1)
    assert any("code changed" in m.message for m in client.messages)


async def test_garbage_answer_applies_nothing_and_says_why(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    # A random-weight model answers noise: refused, the user told, the server still serving.
    await _start(client, tmp_path, tiny_model)
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (action,) = await _actions(client, uri, [_diagnostic()])
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is None
    await asyncio.sleep(0.1)
    assert any(m.message.startswith("Focal: no fix applied:") for m in client.messages)
    assert (await status(client))["state"] == "ready"


async def test_client_without_resolve_gets_a_command_and_no_model_runs_while_listing(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    # lsprotocol's client-side hook reads any action that has a `command` as a bare Command;
    # editors tell them apart by the type of `command` (a string only on a Command).
    converter = client.protocol._converter

    def action_or_command(obj, _):
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, action_or_command)
    await _start(client, tmp_path, smollm2, resolve=False)
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    actions = await _actions(client, uri, [_diagnostic()])
    assert len(actions) == 1
    (action,) = actions
    # Running the command computes the fix (tests/e2e/test_capabilities.py applies it).
    assert isinstance(action, types.CodeAction) and action.edit is None
    assert action.command is not None and action.command.command == "focal.fix"
    assert (await status(client))["lastSuggestion"] is None
