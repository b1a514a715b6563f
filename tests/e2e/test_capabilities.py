"""Fixes and progress in the shape each client declared (lsp_server/capabilities.py): the
model never runs inside `textDocument/codeAction`; a client that cannot resolve actions gets
a `focal.fix` command that computes the fix and applies it with `workspace/applyEdit`; long
work reports `$/progress` on the client's own token, or on one Focal creates."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from lsp_server.capabilities import ClientFeatures
from tests.e2e.lsp_helpers import SERVER, capabilities, open_doc, plain, status
from tests.e2e.test_fixes import BAD_LINE, SOURCE, _apply, _diagnostic

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    lsp_client.applied: list[types.ApplyWorkspaceEditParams] = []  # type: ignore[attr-defined]
    lsp_client.apply_answer = types.ApplyWorkspaceEditResult(applied=True)  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params)  # type: ignore[attr-defined]
        return lsp_client.apply_answer  # type: ignore[attr-defined]

    # lsprotocol's client-side hook reads anything with a `command` as a bare Command;
    # editors tell them apart by the type of `command` (a string only on a Command).
    converter = lsp_client.protocol._converter

    def action_or_command(obj, _):
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, action_or_command)
    yield
    await lsp_client.shutdown_session()


def _caps(
    editor: str = "visual-studio-code",
    literals: bool = True,
    resolve: bool = True,
    apply_edit: bool = True,
    progress: bool = True,
) -> types.ClientCapabilities:
    caps = capabilities(editor)
    ca = caps.text_document.code_action
    if not literals:
        ca.code_action_literal_support = None
    if not resolve:
        ca.resolve_support = None
        ca.data_support = None
    caps.workspace.apply_edit = apply_edit
    if caps.window is not None:
        caps.window.work_done_progress = progress
    return caps


async def _start(client: LanguageClient, root: Path, model: Path, caps) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"focal": {"model": {"path": str(model)}}},
        )
    )


async def _list(client: LanguageClient, uri: str):
    rng = types.Range(types.Position(BAD_LINE, 19), types.Position(BAD_LINE, 19))
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=[_diagnostic()]),
        )
    )


def _audit(*args: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "audit", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "[]")


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        pytest.param(
            "visual-studio-code",
            ClientFeatures(
                code_action_literals=True,
                code_action_resolve=True,
                code_action_data=True,
                apply_edit=True,
                document_changes=True,
                change_annotations=True,
                snippets=True,
                markdown_documentation=True,
                hover_markdown=True,
                work_done_progress=True,
                show_document=True,
                configuration=True,
            ),
            id="vscode-1.65",
        ),
        pytest.param(
            "emacs",
            ClientFeatures(
                code_action_literals=True,
                apply_edit=True,
                document_changes=True,
                hover_markdown=True,
                work_done_progress=True,
                configuration=True,
            ),
            id="eglot-emacs-29",
        ),
    ],
)
def test_capabilities_are_read_as_each_client_declared_them(editor, expected):
    assert ClientFeatures.of(client_capabilities(editor)) == expected
    assert not ClientFeatures.of(None).lazy_fixes


async def test_a_client_without_action_literals_gets_commands_and_the_fix_arrives_by_apply_edit(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await _start(client, tmp_path, smollm2, _caps(literals=False))
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    began = time.monotonic()
    listed = await _list(client, uri)
    listing_s = time.monotonic() - began
    assert [type(c) for c in listed] == [types.Command], listed
    (command,) = listed
    assert command.command == "focal.fix" and command.title == "Fix with Focal: Undefined name `x`"
    # Listing ran no model: nothing was suggested yet.
    assert (await status(client))["lastSuggestion"] is None, listing_s
    result = plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        )
    )
    assert result["applied"] is True, (result, [m.message for m in client.messages])
    (applied,) = client.applied  # type: ignore[attr-defined]
    assert applied.label == "Focal fix"
    (doc_edit,) = applied.edit.document_changes
    assert doc_edit.text_document.uri == uri and doc_edit.text_document.version == 1
    fixed = _apply(SOURCE, doc_edit.edits)
    assert fixed != SOURCE and fixed.splitlines()[:3] == SOURCE.splitlines()[:3]
    (record,) = [r for r in _audit("--task", "fix") if r["id"] == result["suggestionId"]]
    assert [e["kind"] for e in record["events"]] == ["shown", "applied"]


async def test_eglot_gets_actions_whose_command_computes_the_fix(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    # eglot 1.9 (Emacs 29): action literals, no resolve, no data.
    await _start(client, tmp_path, smollm2, client_capabilities("emacs"))
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (action,) = await _list(client, uri)
    assert isinstance(action, types.CodeAction)
    assert action.edit is None and action.data is None  # no data: eglot would not keep it
    assert action.command is not None and action.command.command == "focal.fix"
    assert (await status(client))["lastSuggestion"] is None
    client.apply_answer = types.ApplyWorkspaceEditResult(  # type: ignore[attr-defined]
        applied=False, failure_reason="the buffer is read-only"
    )
    result = plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command=action.command.command, arguments=action.command.arguments
            )
        )
    )
    assert result["applied"] is False and result["reason"] == "the buffer is read-only"
    await asyncio.sleep(0.1)
    assert any("the buffer is read-only" in m.message for m in client.messages)
    (record,) = [r for r in _audit("--task", "fix") if r["id"] == result["suggestionId"]]
    assert [e["kind"] for e in record["events"]] == ["shown", "rejected"]


async def test_a_client_that_can_neither_resolve_nor_apply_is_told_why_it_gets_no_fixes(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, _caps(resolve=False, apply_edit=False))
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    assert list(await _list(client, uri)) == []
    await asyncio.sleep(0.1)
    assert any("workspace/applyEdit" in m.message for m in client.messages)


async def test_fix_command_without_its_data_is_an_error_not_silence(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, _caps(literals=False))
    with pytest.raises(Exception, match="takes the fix's data"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="focal.fix", arguments=[])
        )
    assert (await status(client))["state"] in ("loading", "ready")


async def test_progress_goes_on_the_token_the_client_gave(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, _caps(literals=False))
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (command,) = await _list(client, uri)
    client.progress_reports["client-token-1"] = []  # the client made it
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=command.command,
            arguments=command.arguments,
            work_done_token="client-token-1",
        )
    )
    await asyncio.sleep(0.1)
    reports = client.progress_reports["client-token-1"]
    assert isinstance(reports[0], types.WorkDoneProgressBegin), reports
    assert reports[0].title == "Focal: writing a fix"
    assert isinstance(reports[-1], types.WorkDoneProgressEnd), reports
    # No token of Focal's own was created for it (the index's build has its own).
    titled = {
        token
        for token, reports in client.progress_reports.items()
        if reports and getattr(reports[0], "title", "") == "Focal: writing a fix"
    }
    assert titled == {"client-token-1"}, client.progress_reports
    # A later request that brings no token of its own never reports on that one.
    data = plain(command.arguments[0])
    await client.code_action_resolve_async(types.CodeAction(title=command.title, data=data))
    await asyncio.sleep(0.1)
    begins = [r for r in reports if isinstance(r, types.WorkDoneProgressBegin)]
    assert len(begins) == 1, reports


async def test_resolving_a_fix_reports_progress_on_a_token_focal_creates(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    await _start(client, tmp_path, tiny_model, _caps())
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    (action,) = await _list(client, uri)
    await client.code_action_resolve_async(action)
    await asyncio.sleep(0.1)
    fixes = {
        token: reports
        for token, reports in client.progress_reports.items()
        if reports and getattr(reports[0], "title", "") == "Focal: writing a fix"
    }
    assert len(fixes) == 1, client.progress_reports
    (reports,) = fixes.values()
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert any(isinstance(r, types.WorkDoneProgressReport) for r in reports)


@pytest.mark.parametrize(
    ("editor", "markdown", "label_details"),
    [
        pytest.param("emacs", False, False, id="eglot-emacs-29"),
        pytest.param("visual-studio-code", True, True, id="vscode-with-label-details"),
    ],
)
async def test_completion_items_carry_only_what_the_client_declared(
    client: LanguageClient, tiny_model: Path, tmp_path: Path, editor, markdown, label_details
):
    caps = client_capabilities(editor)
    item_caps = caps.text_document.completion.completion_item
    item_caps.label_details_support = label_details or None  # VS Code >= 1.70 declares it
    await _start(client, tmp_path, tiny_model, caps)
    source = "def scale(values, factor):\n    return "
    uri = open_doc(client, tmp_path / "scale.py", source)
    items: list[types.CompletionItem] = []
    for _ in range(5):  # a random-weight model may answer only blanks: ask again
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(1, 11),
            )
        )
        items = list(result.items)
        if items:
            break
    (item,) = items
    assert (item.label_details is not None) is label_details
    assert "synthetic-mellum" in (item.detail or "")  # the model is named either way
    doc = item.documentation
    assert isinstance(doc, types.MarkupContent)
    if markdown:
        assert doc.kind == types.MarkupKind.Markdown and "```python" in doc.value
    else:
        assert doc.kind == types.MarkupKind.PlainText
        assert "```" not in doc.value and "**" not in doc.value
        assert "synthetic-mellum" in doc.value and "sha256:" in doc.value
