"""A fix is offered only when it parses (lsp_server/features/fix_check.py): an answer in
prose, or one that breaks the code around it, is refused with its reason shown to the user,
applies nothing, and is recorded in the ledger as refused, never as shown or applied."""

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
from pytest_lsp import LanguageClient

from lsp_server.features.fix_check import check_rewrite
from tests.e2e.lsp_helpers import SERVER, capabilities, open_doc
from tests.e2e.test_fixes import _apply

PROSE = (
    "The problem is that the `f` function is not defined correctly. Here's the corrected code:\n"
)
FUNCTION = "def f(x):\n    return x + 1\n"


@pytest.mark.parametrize(
    ("lines", "start", "end", "rewrite", "refused"),
    [
        pytest.param([FUNCTION], 0, 1, "def f(x):\n    return x + 2\n", None, id="valid"),
        pytest.param(["def f(:\n", "    pass\n"], 0, 2, "def f():\n    pass\n", None, id="fixed"),
        pytest.param(["def f(:\n", "    pass\n"], 0, 2, PROSE, "does not parse", id="prose"),
        pytest.param(
            ["x = 1\n", "def f(x):\n", "    return x\n"],
            1,
            3,
            "def f(x):\n    return (x\n",
            "does not parse",
            id="unbalanced",
        ),
        pytest.param(
            ["def g():\n", "    return [\n", "        1,\n", "    ]\n"],
            2,
            3,
            "        1,\n    ]]\n",
            "would break the code around it",
            id="breaks-the-close",
        ),
        pytest.param(
            # The region is fine; an error elsewhere stays as it was (not the fix's doing).
            ["def f(x):\n", "    return x\n", "def g(:\n", "    pass\n"],
            0,
            2,
            "def f(x):\n    return x * 2\n",
            None,
            id="old-error-elsewhere",
        ),
    ],
)
def test_check_rewrite(lines, start, end, rewrite, refused):
    reason = check_rewrite("file:///w/a.py", "python", lines, start, end, rewrite)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_a_language_without_a_grammar_is_refused_with_its_name():
    reason = check_rewrite("file:///w/notes.txt", "plaintext", ["a\n"], 0, 1, "b\n")
    assert reason == "Focal has no grammar for `plaintext` to check the fix with"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _audit() -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "audit", "--json", "--task", "fix"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "[]")


BROKEN = "import math\n\n\ndef f(:\n    return math.pi\n"


@pytest.mark.slow
async def test_every_fix_offered_for_a_syntax_error_parses_and_a_refusal_is_recorded(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    """The issue's case: "Fix with Focal" on `def f(:` (the demo model answered prose 5 times
    in 5). Whatever the model answers, an offered edit leaves the file parsing, and an
    answer that does not is refused, shown, and recorded as refused."""
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="w")],
            initialization_options={"focal": {"model": {"path": str(smollm2)}}},
        )
    )
    uri = open_doc(client, tmp_path / "broken.py", BROKEN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    found = client.diagnostics[uri]
    assert found and found[0].source == "focal"
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    action = next(a for a in actions if a.kind == types.CodeActionKind.QuickFix)
    resolved = await client.code_action_resolve_async(action)
    await asyncio.sleep(0.1)
    (record,) = _audit()
    kinds = [e["kind"] for e in record["events"]]
    if resolved.edit is None:
        said = [m.message for m in client.messages if m.message.startswith("Focal: no fix")]
        assert said, [m.message for m in client.messages]
        assert kinds == ["refused"], kinds
        (refusal,) = record["events"]
        assert refusal["reason"] and refusal["reason"] in said[0]
        assert "applied" not in kinds and "shown" not in kinds
    else:
        (doc_edit,) = resolved.edit.document_changes
        fixed = _apply(BROKEN, doc_edit.edits)
        lines = BROKEN.splitlines(keepends=True)
        assert check_rewrite(uri, "python", [fixed], 0, 1, fixed) is None, fixed
        assert check_rewrite(uri, "python", lines, 0, len(lines), fixed) is None, fixed
        assert kinds == ["shown"], kinds


@pytest.mark.slow
async def test_an_answer_that_does_not_parse_is_refused_shown_and_recorded_as_refused(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    """A one-line region has no room for the likeness check: whatever a model answers there
    used to be offered (a random-weight model answers token soup). It must parse."""
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="w")],
            initialization_options={"focal": {"model": {"path": str(tiny_model)}}},
        )
    )
    uri = open_doc(client, tmp_path / "one.py", "def f(:\n")
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    found = client.diagnostics[uri]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    action = next(a for a in actions if a.kind == types.CodeActionKind.QuickFix)
    resolved = await client.code_action_resolve_async(action)
    await asyncio.sleep(0.1)
    said = [m.message for m in client.messages if m.message.startswith("Focal: no fix")]
    assert resolved.edit is None and resolved.command is None, said
    assert said and "does not parse as python" in said[0], [m.message for m in client.messages]
    (record,) = _audit()
    assert [(e["kind"], e["reason"]) for e in record["events"]] == [
        ("refused", said[0].removeprefix("Focal: no fix applied: ").removesuffix("."))
    ]
