"""Malformed JSON-RPC over raw stdio and raw TCP (the same cases on both: one framing code):
the server logs, survives, answers every request it can identify (a result or a proper
JSON-RPC error), answers what it cannot read with JSON-RPC's `id: null` errors, and answers
the next valid request."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import tiny_settings
from tests.reliability.rawrpc import TRANSPORTS, RawServer, frame

ANSWER_S = 3  # focal/status takes milliseconds; a hang is what this catches


def _body(raw: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(raw), raw)


STATUS = b'{"jsonrpc":"2.0","id":"x","method":"focal/status","params":{}}'

# Framing and encoding errors: nothing identifies a request to answer. `probes` valid
# requests follow; the last must be answered (a truncated body swallows what follows it
# until its announced length is complete, so there the first probes may be lost), and the
# server must have logged the problem.
FRAMING = [
    pytest.param(b"Content-Lenght: 62\r\n\r\n" + STATUS, 1, id="misspelt-header"),
    pytest.param(b"Content-Type: application/json\r\n\r\n" + STATUS, 1, id="no-content-length"),
    pytest.param(b"Content-Length: abc\r\n\r\n" + STATUS, 1, id="non-numeric-length"),
    pytest.param(b"Content-Length: -5\r\n\r\n" + STATUS, 1, id="negative-length"),
    pytest.param(_body(b"{not json"), 1, id="invalid-json"),
    pytest.param(_body(b"[1, 2, 3]"), 1, id="json-array"),
    pytest.param(_body(b"null"), 1, id="json-null"),
    pytest.param(_body(b'"a string"'), 1, id="json-string"),
    pytest.param(_body(b"\xff\xfe\xfd\xfc"), 1, id="not-utf-8"),
    pytest.param(_body(b"[" * 100_000 + b"]" * 100_000), 1, id="deep-nesting"),
    pytest.param(_body(b""), 1, id="empty-body"),
    pytest.param(b"Content-Length: 200\r\n\r\n" + STATUS[:24], 4, id="truncated-body"),
    pytest.param(b"Content-Length: 1000000000000\r\n\r\n{}", 2, id="huge-length"),
    pytest.param(b"\x00\x01garbage without any header\r\n\r\n", 1, id="binary-garbage"),
    pytest.param(b"x" * 200_000, 1, id="overlong-line"),
    pytest.param(b"garbage" + _body(b"{}"), 1, id="garbage-glued-to-header"),
]

# Framing a strict reader would refuse but whose meaning is plain: the message itself (id
# "x") is answered.
TOLERATED = [
    pytest.param(b"content-length: 62\r\n\r\n" + STATUS, id="lower-case-header"),
    pytest.param(b"Content-Length: 62\n\n" + STATUS, id="bare-newlines"),
    pytest.param(b"Content-Length:62\r\n\r\n" + STATUS, id="no-space"),
    pytest.param(
        b"Content-Length: 62\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        + STATUS,
        id="content-type-too",
    ),
]

# Messages that frame correctly. A request (it has an id) must get a response with that
# id: a result or an error object with a JSON-RPC code.
REQUESTS = [
    pytest.param({"jsonrpc": "2.0", "id": "r", "method": "focal/status"}, id="no-params"),
    pytest.param(
        {"jsonrpc": "2.0", "id": "r", "method": "textDocument/hover"}, id="no-params-standard"
    ),
    pytest.param(
        {"jsonrpc": "2.0", "id": "r", "method": "no/suchMethod", "params": {}}, id="unknown"
    ),
    pytest.param(
        {"jsonrpc": "1.0", "id": "r", "method": "focal/status", "params": {}}, id="jsonrpc-1.0"
    ),
    pytest.param({"id": "r", "method": "focal/status", "params": {}}, id="no-jsonrpc-field"),
    pytest.param(
        {"jsonrpc": "2.0", "id": "r", "method": "textDocument/completion", "params": []},
        id="params-list",
    ),
    pytest.param(
        {
            "jsonrpc": "2.0",
            "id": "r",
            "method": "textDocument/completion",
            "params": {"textDocument": 5, "position": {"line": 0, "character": 0}},
        },
        id="params-wrong-type",
    ),
    pytest.param(
        {
            "jsonrpc": "2.0",
            "id": "r",
            "method": "textDocument/inlineCompletion",
            "params": {
                "textDocument": {"uri": "file:///x.py"},
                "position": {"line": "zero", "character": 0},
                "context": {"triggerKind": 1},
            },
        },
        id="position-string",
    ),
    pytest.param(
        {
            "jsonrpc": "2.0",
            "id": "r",
            "method": "textDocument/completion",
            "params": {
                "textDocument": {"uri": "file:///x.py"},
                "position": {"line": -1, "character": 0},
            },
        },
        id="position-negative",
    ),
    pytest.param(
        {
            "jsonrpc": "2.0",
            "id": "r",
            "method": "workspace/executeCommand",
            "params": {"command": "focal.accepted", "arguments": [1, 2]},
        },
        id="command-arguments-wrong",
    ),
    pytest.param(
        {
            "jsonrpc": "2.0",
            "id": "r",
            "method": "codeAction/resolve",
            "params": {"title": "x", "data": {"uri": 5}},
        },
        id="resolve-bad-data",
    ),
    pytest.param(
        {"jsonrpc": "2.0", "id": "r", "method": "focal/documentText", "params": {"uri": 5}},
        id="debug-bad-uri",
    ),
]

NOTIFICATIONS = [
    pytest.param(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": "file:///y.py",
                    "languageId": "python",
                    "version": 1,
                    "text": 5,
                }
            },
        },
        id="didOpen-text-number",
    ),
    pytest.param(
        {
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": "file:///never-opened.py", "version": 2},
                "contentChanges": [{"text": "a"}],
            },
        },
        id="didChange-not-open",
    ),
    pytest.param(
        {"method": "textDocument/didClose", "params": {"textDocument": {"uri": "file:///no.py"}}},
        id="didClose-not-open",
    ),
    pytest.param({"id": "nobody-asked", "result": {"x": 1}}, id="response-to-nothing"),
    pytest.param({"method": "$/unknownNotification", "params": {}}, id="unknown-notification"),
    pytest.param(
        {"method": "$/cancelRequest", "params": {"id": "never-sent"}}, id="cancel-unknown"
    ),
    pytest.param({"method": "$/cancelRequest", "params": {"id": {"no": 1}}}, id="cancel-bad-id"),
]


class _Pool:
    """One raw server for the module; replaced when a case left it dead or deaf."""

    def __init__(self, home: Path, root: Path, model: Path, transport: str) -> None:
        self.home, self.root, self.model = home, root, model
        self.transport = transport
        self.server: RawServer | None = None
        self.restarts = -1
        self.cases = 0

    def get(self) -> RawServer:
        if self.server is None:
            self.server = RawServer(self.home, transport=self.transport)
            self.server.initialize(self.root, tiny_settings(self.model))
            self.restarts += 1
        return self.server

    def healthy(self) -> bool:
        s = self.server
        if s is None or not s.alive():
            return False
        return s.wait_for(_probe(s), 2) is not None

    def after_case(self) -> None:
        self.cases += 1
        if not self.healthy() and self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture(scope="module", params=TRANSPORTS)
def pool(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, request):
    p = _Pool(
        tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("ws"), tiny_model, request.param
    )
    yield p
    print(f"malformed inputs ({p.transport}): {p.cases} cases, {p.restarts} server restarts")
    # Every case must leave the server serving: a restart means one killed or deafened it.
    assert p.restarts == 0, f"{p.restarts} cases left the {p.transport} server dead or deaf"
    p.close()


@pytest.fixture
def raw(pool: _Pool):
    server = pool.get()
    yield server
    pool.after_case()


def _probe(server: RawServer) -> int:
    server._ids += 1
    server.send(
        frame({"jsonrpc": "2.0", "id": server._ids, "method": "focal/status", "params": {}})
    )
    return server._ids


def _logged_since(server: RawServer, mark: int) -> str:
    """WARNING and ERROR lines the server logged since `mark` (an offset into its log:
    stderr and `window/logMessage`)."""
    time.sleep(0.05)
    text = bytes(server.log[mark:]).decode(errors="replace")
    return "\n".join(ln for ln in text.splitlines() if " WARNING " in ln or " ERROR " in ln)


@pytest.mark.parametrize(("data", "probes"), FRAMING)
def test_broken_framing_is_survived(raw: RawServer, data: bytes, probes: int):
    mark = len(raw.log)
    raw.send(data)
    ids = []
    for _ in range(probes):
        time.sleep(0.2)
        ids.append(_probe(raw))
    answer = raw.wait_for(ids[-1], ANSWER_S)
    assert raw.alive(), f"the server died: rc {raw.proc.returncode}\n{_tail(raw)}"
    assert answer is not None and "result" in answer, (
        f"no answer to a valid request after the malformed input\n{_tail(raw)}"
    )
    assert _logged_since(raw, mark), "the malformed input was not logged"


@pytest.mark.parametrize("data", TOLERATED)
def test_lenient_framing_is_understood(raw: RawServer, data: bytes):
    raw.send(data)
    answer = raw.wait_for("x", ANSWER_S)
    assert answer is not None and "result" in answer, _tail(raw)


def test_a_message_sent_byte_by_byte_is_understood(raw: RawServer):
    """A slow pipe delivers a message in pieces; the reader must wait for all of them."""
    data = frame({"jsonrpc": "2.0", "id": "slow", "method": "focal/status", "params": {}})
    for i in range(0, len(data), 7):
        raw.send(data[i : i + 7])
        time.sleep(0.005)
    answer = raw.wait_for("slow", ANSWER_S)
    assert answer is not None and "result" in answer, _tail(raw)


@pytest.fixture(scope="module")
def answers(pool: _Pool) -> dict[str, dict | None]:
    """Every malformed request sent at once (ids = case names), then one wait for them all,
    so that the unanswered ones cost one timeout in all rather than one each."""
    server = pool.get()
    names = [p.id for p in REQUESTS]
    for p in REQUESTS:
        (message,) = p.values
        server.send(frame({**message, "id": p.id}))
    got: dict[str, dict | None] = dict.fromkeys(names)
    deadline = time.monotonic() + 2 * ANSWER_S
    while time.monotonic() < deadline and any(v is None for v in got.values()):
        try:
            msg = server.frames.get(timeout=0.1)
        except Exception:
            continue
        if msg.get("id") in got and "method" not in msg:
            got[msg["id"]] = msg
    return got


@pytest.mark.parametrize("message", REQUESTS)
def test_every_identifiable_request_is_answered(
    raw: RawServer, answers: dict[str, dict | None], message: dict, request: pytest.FixtureRequest
):
    name = request.node.callspec.id.removeprefix(f"{raw.transport}-")
    answer = answers[name]
    assert answer is not None, f"request never answered: {json.dumps(message)}"
    if "error" in answer:
        assert isinstance(answer["error"].get("code"), int), answer
    else:
        assert "result" in answer, answer
    probe = _probe(raw)
    assert raw.wait_for(probe, ANSWER_S) is not None


@pytest.mark.parametrize("message", NOTIFICATIONS)
def test_bad_notifications_are_survived(raw: RawServer, message: dict):
    raw.send(frame({"jsonrpc": "2.0", **message}))
    probe = _probe(raw)
    assert raw.wait_for(probe, ANSWER_S) is not None, _tail(raw)
    assert raw.alive()


def _tail(server: RawServer, n: int = 3000) -> str:
    time.sleep(0.1)
    return bytes(server.log[-n:]).decode(errors="replace")


# What the independent client sent over TCP, after which no request was answered.
GLUED = b'{"jsonrpc":"2.0","id":"g","method":"focal/status","params":{}}'


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Content-Length: 71\r\n\r\n" + GLUED + b" " * 20, id="length-short"),
        pytest.param(b"Content-Length: %d\r\n" % len(GLUED) + GLUED, id="no-blank-line"),
        pytest.param(b"content-length: %d\r\n\r\n" % len(GLUED) + GLUED, id="lower-case"),
    ],
)
def test_framing_recovers_for_the_next_request(raw: RawServer, data: bytes):
    raw.send(data)
    time.sleep(0.2)
    probe = _probe(raw)
    answer = raw.wait_for(probe, ANSWER_S)
    assert answer is not None and "result" in answer, f"no answer after {data!r}\n{_tail(raw)}"


def _errors_for(raw: RawServer, msg_id, timeout: float = ANSWER_S) -> list[dict]:
    """Every error answer to `msg_id` within `timeout` (None: JSON-RPC's `id: null`)."""
    found = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = raw.wait_for(msg_id, deadline - time.monotonic())
        if msg is None:
            break
        found.append(msg)
        timeout = 0.3  # a second answer, if any, follows at once
        deadline = time.monotonic() + timeout
    return found


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"{not json", -32700, id="invalid-json"),
        pytest.param(b"\xff\xfe\xfd\xfc", -32700, id="not-utf-8"),
        pytest.param(b'{"jsonrpc":"2.0","id":"cut","method":"focal/st', -32700, id="cut-short"),
        pytest.param(b"null", -32600, id="json-null"),
        pytest.param(b"42", -32600, id="json-number"),
        pytest.param(b"[]", -32600, id="empty-array"),
        pytest.param(b"[1, 2, 3]", -32600, id="array-of-numbers"),
    ],
)
def test_what_cannot_be_read_is_answered_with_id_null(raw: RawServer, body: bytes, code: int):
    """JSON-RPC 2.0: "If there was an error in detecting the id in the Request object (e.g.
    Parse error/Invalid Request), it MUST be Null"."""
    raw.forget(None)
    raw.send(_body(body))
    (answer,) = _errors_for(raw, None)
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None, answer
    assert answer["error"]["code"] == code, answer
    assert "result" not in answer, answer
    probe = _probe(raw)
    assert raw.wait_for(probe, ANSWER_S) is not None, _tail(raw)


def test_a_batch_gets_an_error_for_each_request_in_it(raw: RawServer):
    """Batches are not LSP: each request in one is refused with -32600 under its own id (a
    client that sent one must not wait forever), and nothing in it is executed."""
    batch = [
        {"jsonrpc": "2.0", "id": "b1", "method": "focal/status", "params": {}},
        {"jsonrpc": "2.0", "method": "$/unknownNotification", "params": {}},
        {"jsonrpc": "2.0", "id": 7, "method": "shutdown"},
    ]
    raw.send(frame(batch))
    for msg_id in ("b1", 7):
        answer = raw.wait_for(msg_id, ANSWER_S)
        assert answer is not None, f"no answer for {msg_id!r} in the batch"
        assert answer["error"]["code"] == -32600 and "batch" in answer["error"]["message"]
    # The shutdown inside the batch was not executed: the server still serves.
    probe = _probe(raw)
    answer = raw.wait_for(probe, ANSWER_S)
    assert answer is not None and "result" in answer, _tail(raw)
