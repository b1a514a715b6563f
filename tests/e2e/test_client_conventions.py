"""What real clients do to a language server, over the real wire: the flags their libraries
append to `focal serve`, `completion` and `inlineCompletion` at the same place (VS Code
sends both on one keystroke), the argument shapes of `workspace/executeCommand`, and the
log arriving in the editor with its levels."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.lsp_helpers import end_of, inline_params, open_doc, plain, start, status

pytestmark = pytest.mark.slow

FUNC = '''def mean(values):
    """Arithmetic mean."""
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return '''


def _serve(*extra: str) -> list[str]:
    return [sys.executable, "-m", "lsp_server", "serve", *extra]


# --- flags client libraries append ---------------------------------------------------------


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=_serve("--stdio", "--clientProcessId=4242"))
)
async def vscode_style(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_serve_accepts_what_vscode_languageclient_appends(
    vscode_style: LanguageClient, tmp_path: Path
):
    """vscode-languageclient appends `--stdio` (TransportKind.stdio) and, for Node
    modules, `--clientProcessId=N`: the server starts and answers on stdio."""
    result = await start(vscode_style, tmp_path, {"index": {"enabled": False}})
    assert result.server_info is not None and result.server_info.name == "focal"
    assert result.capabilities.inline_completion_provider is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--socket=5007"], "the --socket transport is not supported", id="socket"),
        pytest.param(["--pipe=/tmp/x.sock"], "the --pipe transport is not supported", id="pipe"),
        pytest.param(["--node-ipc"], "the --node-ipc transport is not supported", id="node-ipc"),
        pytest.param(["--stdio", "--tcp", "127.0.0.1:1"], "exclude each other", id="both"),
    ],
)
def test_transports_focal_cannot_speak_fail_at_once_with_a_reason(argv: list[str], message):
    """A client asking for a pipe or socket would wait forever for a server answering on
    stdio: it is told, and the server exits 2."""
    done = subprocess.run(
        _serve(*argv), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2
    assert message in done.stderr and "stdio" in done.stderr, done.stderr
    assert done.stdout == ""


def test_python_m_lsp_server_takes_the_flags_too():
    """`python -m lsp_server` (focal.server.pythonPath's command) is `focal serve`, so the
    flags reach `serve`; a transport it cannot speak is refused the same way."""
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "--stdio", "--socket=1"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "--socket transport is not supported" in done.stderr


# --- completion + inlineCompletion at one place: one model run -----------------------------


@pytest_lsp.fixture(config=ClientServerConfig(server_command=_serve()))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _completion_params(uri: str, line: int, col: int) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line, col),
        context=types.CompletionContext(
            trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character="."
        ),
    )


def _sid(command: types.Command | None) -> str:
    assert command is not None and command.arguments
    return plain(command.arguments[0])["suggestionId"]


def _ledger_rows(uri: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "audit", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [r for r in json.loads(done.stdout) if r["document"] == uri]


async def test_completion_and_inline_at_one_place_share_one_model_run(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, "index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC)
    line, col = end_of(FUNC)
    runs_before = (await status(client))["completionRuns"]
    # As VS Code does on one keystroke: the completion list first, ghost text right after.
    listed, inline = await asyncio.gather(
        client.text_document_completion_async(_completion_params(uri, line, col)),
        client.text_document_inline_completion_async(inline_params(uri, line, col)),
    )
    assert isinstance(listed, types.CompletionList) and listed.items, listed
    assert inline is not None and inline.items, inline
    (item,) = listed.items
    (ghost,) = inline.items
    st = await status(client)
    assert st["completionRuns"] == runs_before + 1, st
    # Both show the same suggestion: the same text (the list item's edit replaces the word
    # typed, empty here) and the same id, so accepting either records the one suggestion.
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text == ghost.insert_text
    assert _sid(item.command) == _sid(ghost.command) == st["lastSuggestion"]["id"]
    # A request at the same place after the run finished gets that result too.
    again = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert again is not None and again.items[0].insert_text == ghost.insert_text
    assert (await status(client))["completionRuns"] == runs_before + 1
    rows = _ledger_rows(uri)
    assert len(rows) == 1, rows

    # Another place is another run.
    text = FUNC + "m"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    line2, col2 = end_of(text)
    await client.text_document_inline_completion_async(inline_params(uri, line2, col2))
    assert (await status(client))["completionRuns"] == runs_before + 2


async def test_a_cancelled_asker_does_not_stop_the_run_the_other_waits_for(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, "index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC)
    line, col = end_of(FUNC)
    listed = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_COMPLETION, _completion_params(uri, line, col), msg_id="list-1"
        )
    )
    await asyncio.sleep(0.05)
    inline = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, line, col))
    )
    await asyncio.sleep(0.05)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="list-1"))
    result = await asyncio.wait_for(inline, 120)
    assert result is not None and result.items and result.items[0].insert_text.strip()
    await asyncio.gather(listed, return_exceptions=True)  # answered (cancelled or done)
    assert (await status(client))["completionRuns"] == 1


# --- workspace/executeCommand argument shapes ----------------------------------------------


async def _execute(client: LanguageClient, command: str, shape: str, obj: dict | None) -> Any:
    """Send `command` with its arguments in one of the shapes clients use."""
    arguments = {"none": None, "[]": [], "[null]": [None], "[obj]": [obj]}[shape]
    params = types.ExecuteCommandParams(command=command, arguments=arguments)
    return plain(await client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params))


SHAPES = ["none", "[]", "[null]", "[obj]"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_show_origin_takes_every_argument_shape(
    client: LanguageClient, smollm2: Path, tmp_path: Path, shape: str
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, "index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC)
    line, col = end_of(FUNC)
    inline = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    sid = _sid(inline.items[0].command)
    answer = await _execute(client, "focal.showOrigin", shape, {"uri": uri})
    # With no argument (or the document only): the most recent suggestion, its origin.
    assert answer["id"] == sid
    assert answer["origin"]["modelDigest"].startswith("b179c952")
    await asyncio.sleep(0.2)
    shown = [m.message for m in client.messages if m.type == types.MessageType.Info]
    assert any(sid in m and "sha256:b179c952" in m for m in shown), shown


async def test_show_origin_of_a_document_without_suggestions_says_so(
    client: LanguageClient, tmp_path: Path
):
    await start(client, tmp_path, {"index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "empty.py", "x = 1\n")
    assert await _execute(client, "focal.showOrigin", "[obj]", {"uri": uri}) is None
    assert await _execute(client, "focal.showOrigin", "[]", None) is None
    await asyncio.sleep(0.2)
    shown = [m.message for m in client.messages]
    assert "Focal: no suggestion was made in empty.py yet." in shown, shown
    assert "Focal: no suggestion to show the origin of yet." in shown, shown


@pytest.mark.parametrize("shape", SHAPES)
async def test_accepted_and_summarize_take_every_argument_shape(
    client: LanguageClient, tmp_path: Path, shape: str
):
    await start(client, tmp_path, {"index": {"enabled": False}})
    # focal.accepted of an unknown suggestion: False, whatever the shape.
    assert await _execute(client, "focal.accepted", shape, {"suggestionId": "nope"}) is False
    # focal.summarizeDiff outside a repository: its documented error, not Invalid Params.
    answer = await _execute(client, "focal.summarizeDiff", shape, {"root": str(tmp_path)})
    assert isinstance(answer, dict) and "error" in answer, answer
    assert "repositor" in answer["error"], answer


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        pytest.param("focal.showOrigin", [42], id="show-origin-a-number"),
        pytest.param("focal.showOrigin", [{"uri": "file:///a.py"}, {}], id="two-objects"),
        pytest.param("focal.showOrigin", [{"uri": "file:///a.py", "line": "3"}], id="bad-line"),
        pytest.param("focal.accepted", ["id-1"], id="accepted-a-string"),
        pytest.param("focal.summarizeDiff", [[1]], id="summarize-a-list"),
    ],
)
async def test_a_wrong_argument_shape_is_a_clear_error_and_the_server_goes_on(
    client: LanguageClient, tmp_path: Path, command: str, arguments: list
):
    await start(client, tmp_path, {"index": {"enabled": False}})
    with pytest.raises(JsonRpcInvalidParams) as err:
        await client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command=command, arguments=arguments),
        )
    assert command in str(err.value)
    assert (await status(client))["state"] in ("idle", "loading", "ready")


# --- the log in the editor, with its levels ------------------------------------------------


async def test_log_records_reach_the_editor_with_their_level(tmp_path: Path):
    """After `initialized`, an INFO record is a window/logMessage of type Info and a
    WARNING one of type Warning; nothing of the kind goes to stderr any more."""
    err_path = tmp_path / "server-stderr.log"
    command = f"exec {' '.join(map(repr, _serve()))} 2>{err_path}"
    config = ClientServerConfig(server_command=["sh", "-c", command])
    client = await config.start()
    try:
        await start(client, tmp_path, {"index": {"enabled": False}})
        # An INFO record: an acceptance of an id the server does not know.
        assert (
            await client.protocol.send_request_async(
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(
                    command="focal.accepted", arguments=[{"suggestionId": "marker-4711"}]
                ),
            )
            is False
        )
        # A WARNING record: a setting of the wrong type.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"focal": {"completion": {"maxTokens": "lots"}}}
            )
        )
        await asyncio.sleep(0.5)
        logged = [(m.type, m.message) for m in client.log_messages]
        assert any(
            t == types.MessageType.Info and "marker-4711" in m and "unknown id" in m
            for t, m in logged
        ), logged
        assert any(
            t == types.MessageType.Warning and "focal.completion" in m and "'lots'" in m
            for t, m in logged
        ), logged
    finally:
        await client.shutdown_session()
        await client.stop()
    stderr = err_path.read_text()
    assert "marker-4711" not in stderr, stderr
    assert "'lots'" not in stderr, stderr
    assert " INFO " not in stderr and " WARNING " not in stderr, stderr


async def test_asking_again_at_the_same_place_after_cancelling_gets_a_suggestion(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    """VS Code cancels its inline request and asks again at the same place (same version
    and position): the new request must not join the run being stopped for the old one."""
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, "index": {"enabled": False}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC)
    line, col = end_of(FUNC)
    first = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, line, col), msg_id="in-1"
        )
    )
    await asyncio.sleep(0.05)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="in-1"))
    again = await asyncio.wait_for(
        client.text_document_inline_completion_async(inline_params(uri, line, col)), 120
    )
    assert again is not None and again.items and again.items[0].insert_text.strip()
    await asyncio.gather(first, return_exceptions=True)
