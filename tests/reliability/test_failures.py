"""A feature that fails is seen: the client gets a JSON-RPC error (-32803 RequestFailed, one
line, no traceback on the wire), `focal/status` counts it, the log keeps its traceback, and
the server goes on serving. Expected refusals (a file an `.aiignore` names) stay results.

The failures are real exceptions in the real server: `tests.reliability.faults` makes the
named feature methods raise, as a bug in them would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.reliability.conftest import LiveServer, status, tiny_settings, wait_ready

COMPLETION = "lsp_server.features.completion:CompletionFeature"
BROKEN = {
    types.TEXT_DOCUMENT_INLINE_COMPLETION: f"{COMPLETION}.inline",
    types.TEXT_DOCUMENT_COMPLETION: f"{COMPLETION}.completion",
    types.TEXT_DOCUMENT_CODE_ACTION: "lsp_server.features.fixes:FixFeature.actions",
    types.CODE_ACTION_RESOLVE: "lsp_server.features.fixes:FixFeature.resolve",
    types.TEXT_DOCUMENT_HOVER: "lsp_server.features.provenance:ProvenanceFeature.hover",
    types.WORKSPACE_SYMBOL: (
        "lsp_server.features.workspace_index:WorkspaceIndexFeature.workspace_symbol"
    ),
}
TEXT = "def add(a, b):\n    return \n"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    root = tmp_path_factory.mktemp("ws")
    (root / ".aiignore").write_text("quiet/\n")
    server = LiveServer(tmp_path_factory.mktemp("home"))
    server.start(
        root,
        tiny_settings(tiny_model),
        serve=[sys.executable, "-m", "tests.reliability.faults", "serve"],
        env={"FOCAL_FAULT_RAISE": ",".join(BROKEN.values())},
    )
    assert server.call(wait_ready)["state"] == "ready"
    yield server
    server.stop()


def _open(server: LiveServer, path: Path, text: str) -> str:
    uri = path.as_uri()

    async def go(c) -> None:
        c.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )

    server.call(go)
    return uri


def _params(method: str, uri: str) -> Any:
    doc = types.TextDocumentIdentifier(uri=uri)
    at = types.Position(line=1, character=11)
    if method == types.TEXT_DOCUMENT_INLINE_COMPLETION:
        return types.InlineCompletionParams(
            text_document=doc,
            position=at,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    if method == types.TEXT_DOCUMENT_COMPLETION:
        return types.CompletionParams(text_document=doc, position=at)
    if method == types.TEXT_DOCUMENT_CODE_ACTION:
        return types.CodeActionParams(
            text_document=doc,
            range=types.Range(start=types.Position(0, 0), end=at),
            context=types.CodeActionContext(diagnostics=[]),
        )
    if method == types.CODE_ACTION_RESOLVE:
        data = {"focal": "fix", "uri": uri, "start": 0, "end": 2, "problems": [], "digest": ""}
        return types.CodeAction(title="Fix with Focal", data=data)
    if method == types.TEXT_DOCUMENT_HOVER:
        return types.HoverParams(text_document=doc, position=at)
    return types.WorkspaceSymbolParams(query="add")


@pytest.mark.expected_exceptions("injected fault in")
def test_each_failing_feature_answers_an_error_counted_in_status(
    broken: LiveServer, tmp_path: Path
):
    assert broken.root is not None
    uri = _open(broken, broken.root / "a.py", TEXT)
    before = broken.call(status)["failures"]["count"]
    for method, target in BROKEN.items():
        with pytest.raises(JsonRpcException) as caught:
            broken.call(lambda c, m=method: c.protocol.send_request_async(m, _params(m, uri)))
        error = caught.value
        assert error.code == -32803, (method, error.code, error.message)
        name = target.split(":")[1]
        assert f"injected fault in {name}" in error.message and method in error.message
        assert "\n" not in error.message and "Traceback" not in error.message, error.message
        assert not error.data, error.data  # no traceback on the wire
    failures = broken.call(status)["failures"]
    assert failures["count"] == before + len(BROKEN), failures
    assert {f["method"] for f in failures["byMethod"]} >= set(BROKEN), failures
    log = broken.log_text()
    for target in BROKEN.values():
        name = target.split(":")[1]
        assert f"RuntimeError: injected fault in {name}" in log, name
    assert log.count("Traceback (most recent call last)") >= len(BROKEN)
    # The server still serves what is not broken.
    assert broken.call(status)["state"] == "ready"


def test_an_expected_refusal_stays_a_result(broken: LiveServer):
    """A file an `.aiignore` names gets an empty answer with its reason said once, not an
    error: the refusal comes before the (broken) feature runs."""
    assert broken.root is not None
    (broken.root / "quiet").mkdir()
    uri = _open(broken, broken.root / "quiet" / "b.py", TEXT)
    before = broken.call(status)["failures"]["count"]
    method = types.TEXT_DOCUMENT_INLINE_COMPLETION
    result = broken.call(lambda c: c.protocol.send_request_async(method, _params(method, uri)))
    assert isinstance(result, types.InlineCompletionList) and not result.items
    assert any("no suggestions in b.py" in m.message for m in broken.client.messages)
    assert broken.call(status)["failures"]["count"] == before
