"""Completions over the real protocol with the real SmolLM2: items and their origins,
cancellation, superseding, KV-cache reuse, position encodings, and a clean stdout."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, plain, start, status

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# A prompt the model continues for as long as it is allowed to: one number per line at
# column 0, so no stop rule (end of block, suffix, blank lines) ends it early.
COUNTING = "".join(f"{i}\n" for i in range(1, 40))
LONG = {"completion": {"maxTokens": 400, "timeBudgetMs": 60_000}}

FUNC = '''def mean(values):
    """Arithmetic mean."""
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return '''


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_completion_item_shows_its_origin(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC + "su")
    line, col = end_of(FUNC + "su")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, col),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    (item,) = result.items
    # The item replaces the word being typed, so the editor's filter keeps it.
    assert item.text_edit.range.start.character == col - 2
    assert item.text_edit.new_text.startswith("su") and len(item.text_edit.new_text) > 2
    assert "Q4_1" in item.label_details.description and "Q4_1" in item.detail
    doc = item.documentation.value
    assert "sha256:b179c952" in doc and "confidence" in doc and "cpu" in doc
    sid = plain(item.data)["suggestionId"]
    assert plain(item.command.arguments[0])["suggestionId"] == sid
    known = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="focal.accepted", arguments=[{"suggestionId": sid}])
    )
    assert known is True
    unknown = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="focal.accepted", arguments=[{"suggestionId": "nope"}])
    )
    assert unknown is False


async def _timed_full_run(client: LanguageClient, uri: str, line: int, col: int) -> float:
    t0 = time.perf_counter()
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result.items and result.items[0].insert_text.count("\n") > 40
    return time.perf_counter() - t0


async def test_cancel_request_stops_a_long_generation_promptly(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, **LONG})
    uri = open_doc(client, tmp_path / "numbers.txt", COUNTING, "plaintext")
    line, col = end_of(COUNTING)
    full = await _timed_full_run(client, uri, line, col)

    # The same request again, cancelled shortly after it starts.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=COUNTING)],
        )
    )
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, line, col), msg_id="long-1"
        )
    )
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(pending, 10)
    answered = time.perf_counter() - t0
    # Now the server answers the next request quickly: the generation really stopped.
    line2, col2 = end_of(FUNC)
    uri2 = open_doc(client, tmp_path / "stats.py", FUNC)
    short = await client.text_document_inline_completion_async(inline_params(uri2, line2, col2))
    after_cancel = time.perf_counter() - t0
    assert short.items
    assert answered < 0.5, answered  # between two tokens, not at the end of generation
    assert after_cancel < 0.8 * full, (after_cancel, full)


async def test_newer_request_for_the_same_document_supersedes(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, **LONG})
    uri = open_doc(client, tmp_path / "numbers.txt", COUNTING, "plaintext")
    line, col = end_of(COUNTING)
    first = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, line, col))
    )
    await asyncio.sleep(0.3)
    text = COUNTING + "40"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    line, col = end_of(text)
    t0 = time.perf_counter()
    second = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    with pytest.raises(JsonRpcRequestCancelled, match="superseded"):
        await first
    assert second.items and second.items[0].insert_text.strip()
    assert time.perf_counter() - t0 < 60


async def test_editing_reuses_the_kv_cache(client: LanguageClient, smollm2: Path, tmp_path: Path):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, tmp_path / "stats.py", FUNC)
    line, col = end_of(FUNC)
    await client.text_document_inline_completion_async(inline_params(uri, line, col))
    cold = (await status(client))["lastSuggestion"]["origin"]["timing"]
    text = FUNC + "sum("
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, col), types.Position(line, col)),
                    text="sum(",
                )
            ],
        )
    )
    line, col = end_of(text)
    await client.text_document_inline_completion_async(inline_params(uri, line, col))
    warm = (await status(client))["lastSuggestion"]["origin"]["timing"]
    assert cold["tokensReused"] == 0
    assert warm["tokensReused"] >= 0.8 * warm["promptTokens"], warm
    assert warm["tokensEvaluated"] < cold["tokensEvaluated"] / 4


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
async def test_positions_in_the_negotiated_encoding(
    client: LanguageClient, smollm2: Path, tmp_path: Path, encoding: str
):
    result = await start(
        client, tmp_path, {"model": {"path": str(smollm2)}}, encodings=[encoding, "utf-16"]
    )
    assert result.capabilities.position_encoding == encoding
    # Astral-plane characters take 4 UTF-8 bytes and 2 UTF-16 units each.
    head = 'label = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓"  # 𝔘\nvalue = lab'
    uri = open_doc(client, tmp_path / "u.py", head)
    last = head.split("\n")[-1]
    col = len(last.encode("utf-8")) if encoding == "utf-8" else len(last)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(1, col),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    (item,) = result.items
    assert item.text_edit.range.start == types.Position(1, col - 3)
    assert item.text_edit.new_text.startswith("lab")
    first_line = 'label = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓"  # 𝔘'
    width = len(first_line.encode("utf-8" if encoding == "utf-8" else "utf-16-le"))
    width //= 1 if encoding == "utf-8" else 2
    uri2 = open_doc(client, tmp_path / "v.py", first_line)
    inline = await client.text_document_inline_completion_async(inline_params(uri2, 0, width))
    # The cursor at the end of the line in the negotiated units: the model saw the whole line.
    origin = (await status(client))["lastSuggestion"]["origin"]
    assert origin["timing"]["promptTokens"] > 5
    assert inline is not None


def _frames(data: bytes) -> list[dict]:
    """Parse stdout strictly as JSON-RPC frames; any stray byte fails."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"stray bytes on stdout: {data[:200]!r}"
        headers = dict(line.split(": ", 1) for line in head.decode("ascii").split("\r\n") if line)
        length = int(headers["Content-Length"])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def test_stdout_carries_nothing_but_json_rpc(smollm2: Path, tmp_path: Path):
    def frame(obj: dict) -> bytes:
        body = json.dumps(obj).encode()
        return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    src = tmp_path / "a.py"
    text = "def add(a, b):\n    return "
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "capabilities": {},
                "rootUri": tmp_path.as_uri(),
                "initializationOptions": {"model": {"path": str(smollm2)}},
            },
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": src.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": text,
                }
            },
        },
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/inlineCompletion",
            "params": {
                "textDocument": {"uri": src.as_uri()},
                "position": {"line": 1, "character": 11},
                "context": {"triggerKind": 1},
            },
        },
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    env = {**os.environ, "LLAMA_LOG_LEVEL": "debug"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsp_server", "--log-level", "debug"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    # stderr is drained all along: at debug level llama.cpp writes more than a pipe holds.
    assert proc.stderr is not None and proc.stdout is not None and proc.stdin is not None
    err_chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: err_chunks.extend(iter(proc.stderr.readline, b"")))
    drain.start()
    raw = b""

    def read_until(done) -> None:
        nonlocal raw
        while not done(_frames(raw)):
            header = proc.stdout.readline()
            assert header, "the server closed stdout before answering"
            raw += header
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
                while (line := proc.stdout.readline()) not in (b"\r\n", b""):
                    raw += line  # other headers
                raw += line + proc.stdout.read(length)

    # Send the completion only after the model has loaded, so that llama.cpp's loading
    # logs (the usual culprit) happen while the protocol is live. The log says when the
    # model is ready: after `initialized` it arrives as window/logMessage.
    for m in messages[:3]:
        proc.stdin.write(frame(m))
    proc.stdin.flush()
    read_until(
        lambda frames: any(
            f.get("method") == "window/logMessage" and "model ready" in f["params"]["message"]
            for f in frames
        )
    )
    proc.stdin.write(frame(messages[3]))
    proc.stdin.flush()
    # Shut down only once the completion is answered (shutdown cancels pending requests).
    read_until(lambda frames: any(f.get("id") == 2 for f in frames))
    for m in messages[4:]:
        proc.stdin.write(frame(m))
    proc.stdin.flush()
    out = proc.stdout.read()
    proc.wait(timeout=60)
    drain.join(timeout=10)
    err = b"".join(err_chunks)
    frames = _frames(raw + out)
    answered = {f.get("id"): f for f in frames if "id" in f and "method" not in f}
    assert set(answered) >= {1, 2, 3}
    assert "items" in answered[2]["result"], answered[2]
    assert b"llama" in err or b"load" in err  # the engine's logs went to stderr instead


def test_focal_complete_on_the_readme_example():
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", "complete", "examples/stats.py:12:12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    text, _, origin = done.stdout.partition("── origin:")
    assert text.strip()
    assert "Q4_1" in origin and "sha256:b179c952" in origin and "completion" in origin
