"""The LSP lifecycle ("Server lifetime", LSP 3.17), on stdio and TCP, with a raw client:
nothing is served before `initialize`, nothing after `shutdown`, `exit` ends the process with
the status the specification gives, and `shutdown` answers cleanly whatever is in flight."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import tiny_settings
from tests.reliability.rawrpc import TRANSPORTS, RawServer, frame

ANSWER_S = 10

pytestmark = pytest.mark.parametrize("transport", TRANSPORTS)


@pytest.fixture
def raw(tmp_path: Path, transport: str):
    server = RawServer(tmp_path / "home", transport=transport)
    yield server
    server.close()


def _error(answer: dict | None) -> dict:
    assert answer is not None, "no answer"
    assert "error" in answer and "result" not in answer, answer
    return answer["error"]


def test_requests_before_initialize_are_refused(raw: RawServer, tmp_path: Path):
    """LSP: before `initialize`, a request is answered -32002 and a notification dropped."""
    raw.send(frame({"jsonrpc": "2.0", "id": 1, "method": "focal/status", "params": {}}))
    assert _error(raw.wait_for(1, ANSWER_S))["code"] == -32002
    uri = (tmp_path / "early.py").as_uri()
    item = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
    raw.notify("textDocument/didOpen", {"textDocument": item})
    raw.send(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": uri},
                    "position": {"line": 0, "character": 0},
                    "context": {"triggerKind": 1},
                },
            }
        )
    )
    error = _error(raw.wait_for(2, ANSWER_S))
    assert error["code"] == -32002 and "initialize" in error["message"], error
    # After initialize the server serves, and the early didOpen was dropped, not applied.
    root = tmp_path / "ws"
    root.mkdir()
    raw.initialize(root)
    text = raw.request("focal/documentText", {"uri": uri}, timeout=ANSWER_S)
    assert text == {"jsonrpc": "2.0", "id": text["id"], "result": None}, text
    assert raw.alive()


def test_initialize_is_accepted_once(raw: RawServer, tmp_path: Path):
    raw.initialize(tmp_path)
    again = raw.request("initialize", {"processId": None, "capabilities": {}}, timeout=ANSWER_S)
    assert _error(again)["code"] == -32600


def test_requests_after_shutdown_are_refused_and_exit_ends_with_0(raw: RawServer, tmp_path: Path):
    raw.initialize(tmp_path)
    assert raw.request("shutdown", timeout=ANSWER_S)["result"] is None
    for method in ("focal/status", "workspace/symbol"):
        error = _error(raw.request(method, {"query": "x"}, timeout=ANSWER_S))
        assert error["code"] == -32600 and "shutdown" in error["message"], error
    raw.notify("exit")
    assert raw.exit_status() == 0


def test_exit_without_shutdown_ends_with_1(raw: RawServer, tmp_path: Path):
    raw.initialize(tmp_path)
    assert "result" in raw.request("focal/status", {}, timeout=ANSWER_S)
    raw.notify("exit")
    assert raw.exit_status() == 1


def test_exit_before_initialize_ends_with_1(raw: RawServer):
    """`exit` is the one message served before `initialize` ("This will allow the exit of a
    server without an initialize request")."""
    raw.notify("exit")
    assert raw.exit_status() == 1


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


FAULTED = [sys.executable, "-m", "tests.reliability.faults", "serve"]


def test_shutdown_while_requests_are_in_flight_answers_each_cleanly(
    tmp_path: Path, tiny_model: Path, transport: str
):
    """`shutdown` arrives while a commit message (a command) and a completion still run on a
    model slow to answer, as a real one is: each is answered (a result, or RequestCancelled),
    `shutdown` itself with null, and `exit` then ends the process with 0. pygls answered
    -32603 "dictionary changed size during iteration" here."""
    server = RawServer(
        tmp_path / "home",
        transport=transport,
        serve=FAULTED,
        env={"FOCAL_FAULT_SLOW_DECODE": "5"},
    )
    try:
        root = tmp_path / "repo"
        root.mkdir()
        _git(root, "init", "-q")
        (root / "a.py").write_text("def f(x):\n    return x\n")
        _git(root, "add", "a.py")
        server.initialize(root, tiny_settings(tiny_model, context=False))
        deadline = time.monotonic() + 30
        while (state := server.request("focal/status", {})["result"]["state"]) not in (
            "ready",
            "error",
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state == "ready"
        uri = (root / "a.py").as_uri()
        text = "def f(x):\n    return "
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        server.notify("textDocument/didOpen", {"textDocument": item})
        commit = {"command": "focal.summarizeDiff", "arguments": [{"root": str(root)}]}
        where = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}}
        burst = [
            ("commit", "workspace/executeCommand", commit),
            ("complete", "textDocument/completion", where),
            ("down", "shutdown", None),
        ]
        server.send(
            b"".join(
                frame({"jsonrpc": "2.0", "id": i, "method": m, "params": p}) for i, m, p in burst
            )
        )
        down = server.wait_for("down", 30)
        assert down is not None and down.get("result", "missing") is None, down
        for msg_id in ("commit", "complete"):
            answer = server.wait_for(msg_id, 30)
            assert answer is not None, f"{msg_id} was never answered"
            if "error" in answer:
                assert answer["error"]["code"] == -32800, answer  # RequestCancelled
        server.notify("exit")
        assert server.exit_status() == 0
    finally:
        server.close()
