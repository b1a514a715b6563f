"""Where Focal overrides pygls' protocol (checked against pygls `PYGLS_CHECKED`; the test
`tests/lsp_server/test_wire_overrides.py` fails when pygls changes under them): every request
that can be identified gets an answer, the LSP lifecycle is kept, and a failure reaches the
client as an error, never as an empty result.

- A request whose params do not validate is answered (pygls dropped it: the client waited
  forever); a body that is not JSON gets -32700 with `id: null`; a JSON array (a batch, which
  LSP does not have) gets -32600 for each request in it.
- Before `initialize`, requests get -32002 (ServerNotInitialized) and notifications other
  than `exit` are dropped; after `shutdown`, requests get -32600; `exit` ends the process
  with 0 after `shutdown`, 1 without (pygls exited 0 on stdio either way).
- `shutdown` cancels what is in flight (each request is answered RequestCancelled) before it
  answers; pygls iterated its request table while cancelling changed it, and answered -32603.
- An unexpected exception in a handler is answered -32803 (RequestFailed) with one line, no
  traceback on the wire; the traceback goes to the log, and `Failures` counts it for
  `focal/status`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Generator
from typing import Any

from cattrs import transform_error
from cattrs.errors import BaseValidationError, ClassValidationError
from lsprotocol import types
from lsprotocol.types import ResponseError, ResponseErrorMessage
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

from lsp_server.documents import adopt

log = logging.getLogger(__name__)

PYGLS_CHECKED = "2.1.1"
"""The pygls version whose private members this module was checked against."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
SERVER_NOT_INITIALIZED = -32002
REQUEST_FAILED = -32803


def one_line(exc: BaseException, limit: int = 240) -> str:
    """`Type: first line of the message`, short enough for an editor's message area."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Failures:
    """Unexpected failures since the server started: counted per method, the last one kept
    (`focal/status` reports them), each logged with its traceback."""

    def __init__(self) -> None:
        self.by_method: Counter[str] = Counter()
        self.last: dict[str, Any] | None = None

    @property
    def count(self) -> int:
        return sum(self.by_method.values())

    def record(self, method: str, exc: BaseException) -> ResponseError:
        """Count and log `exc`, raised while handling `method`; the error for the client."""
        log.error("%s failed unexpectedly", method, exc_info=exc)
        return self._count(method, one_line(exc))

    def record_text(self, method: str, message: str, traceback: str) -> None:
        """Count and log a failure that pygls caught and turned into text."""
        log.error("%s failed unexpectedly: %s\n%s", method, message, traceback.rstrip())
        self._count(method, message)

    def _count(self, method: str, line: str) -> ResponseError:
        self.by_method[method] += 1
        self.last = {"method": method, "message": line, "time": time.time()}
        return ResponseError(
            code=REQUEST_FAILED,
            message=f"Focal: {method} failed ({line}); the server log has the details.",
        )

    def to_wire(self) -> dict[str, Any]:
        # A list, not an object keyed by method: clients turn objects into records, and
        # "textDocument/hover" is no field name.
        by_method = [{"method": m, "count": n} for m, n in sorted(self.by_method.items())]
        return {"count": self.count, "byMethod": by_method, "last": self.last}


class _Malformed:
    """A request that failed validation: answered with an error instead of being dropped."""

    def __init__(self, msg_id: Any, method: str, error: JsonRpcException) -> None:
        self.id = msg_id
        self.method = method
        self.error = error


def _describe(exc: BaseException) -> str:
    """What was wrong with a message, by path: `invalid value … @ $.params.position.line`."""
    if isinstance(exc, BaseValidationError):
        return "; ".join(transform_error(exc, path="$"))
    return str(exc)


def _request_id(data: Any) -> Any:
    """The id of something shaped like a request (a method and an id), else None."""
    if isinstance(data, dict):
        method, msg_id = data.get("method"), data.get("id")
    else:
        method, msg_id = getattr(data, "method", None), getattr(data, "id", None)
    if isinstance(method, str) and isinstance(msg_id, str | int) and not isinstance(msg_id, bool):
        return msg_id
    return None


def _is_request(message: Any) -> bool:
    return hasattr(message, "method") and getattr(message, "id", None) is not None


class FocalProtocol(LanguageServerProtocol):
    """pygls' protocol, kept to JSON-RPC 2.0 and the LSP lifecycle (see the module); its
    workspace holds documents that follow the LSP definition of a line
    (`lsp_server.documents`)."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.failures = Failures()
        self.exit_code: int | None = None
        """Set by `exit`: the status the process ends with."""
        self._initialize_seen = False
        self._methods: dict[Any, str] = {}
        """The method of each request being handled, for the failure report."""

    # pygls assigns `self._workspace` on `initialize`; the setter adopts that workspace.
    @property
    def _workspace(self) -> Any:
        return self.__dict__.get("_focal_workspace")

    @_workspace.setter
    def _workspace(self, workspace: Any) -> None:
        self.__dict__["_focal_workspace"] = adopt(workspace)

    # -- reading ---------------------------------------------------------------------------

    def receive(self, body: bytes) -> None:
        """Handle one message body as it came off the wire (`lsp_server.framing`)."""
        try:
            message = json.loads(body, object_hook=self.structure_message)
        except RecursionError:
            self._answer_unidentified(PARSE_ERROR, "Parse error: the JSON is nested too deeply")
            return
        except JsonRpcException as exc:
            # A notification or response whose fields did not validate: nobody to answer.
            cause = f": {_describe(exc.__cause__)}" if exc.__cause__ else ""
            log.warning("ignored a malformed message (%s%s): %.200r", exc.message, cause, body)
            return
        except ValueError as exc:  # not JSON, or not UTF-8
            self._answer_unidentified(PARSE_ERROR, f"Parse error: {exc}")
            return
        self.handle_message(message)

    def _answer_unidentified(self, code: int, message: str) -> None:
        """An error for a message whose id could not be read: JSON-RPC's `id: null`."""
        log.warning("answered a message with no readable id: %s", message)
        # Sent as a plain dict: the converter would leave out a None id.
        self._send_data(
            {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message[:500]}}
        )

    def structure_message(self, data: dict[str, Any]):
        # The JSON decoder's object hook: called for every object, innermost first. pygls'
        # own logs a traceback for every message that fails validation; a malformed request
        # is routine input here, answered below.
        if "jsonrpc" not in data:
            return data
        if "method" in data and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC allows a request without params
        try:
            return self._converter.structure(data, self._message_type(data))
        except Exception as exc:
            wrapped: JsonRpcException = (
                JsonRpcInvalidParams()
                if isinstance(exc, ClassValidationError)
                else JsonRpcInternalError()
            )
            wrapped.__cause__ = exc
            msg_id = _request_id(data)
            if msg_id is None:
                raise wrapped from exc
            return _Malformed(msg_id, data["method"], wrapped)

    def _message_type(self, data: dict[str, Any]) -> Any:
        """The lsprotocol (or generic pygls) class of a message, as pygls chooses it."""
        if "id" in data:
            if "error" in data:
                return ResponseErrorMessage
            if "method" in data:
                return self.get_message_type(data["method"]) or JsonRPCRequestMessage
            return self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        return self.get_message_type(data.get("method", "")) or JsonRPCNotification

    # -- dispatch --------------------------------------------------------------------------

    def handle_message(self, message: Any) -> None:
        if isinstance(message, list):
            self._refuse_batch(message)
            return
        if isinstance(message, _Malformed):
            exc = message.error
            text = f"{exc.message}: {_describe(exc.__cause__)}" if exc.__cause__ else exc.message
            error = ResponseError(code=exc.code, message=text[:500], data=exc.data)
            log.warning("answered malformed request %r: %s", message.id, error.message)
            self._send_response(message.id, error=error)
            return
        if getattr(message, "jsonrpc", None) != self.VERSION:
            # A dict has no "jsonrpc" at all; an object came with another version.
            msg_id = _request_id(message)
            log.warning("not a JSON-RPC 2.0 message, ignored: %.200r", message)
            if msg_id is not None:
                self._refuse(msg_id, 'Invalid Request: "jsonrpc" must be "2.0"')
            elif not isinstance(message, dict) or "method" not in message:
                text = "Invalid Request: not a JSON-RPC 2.0 message"
                self._answer_unidentified(INVALID_REQUEST, text)
            return
        if self._gate(message):
            super().handle_message(message)

    def _refuse(self, msg_id: Any, text: str, code: int = INVALID_REQUEST) -> None:
        self._send_response(msg_id, error=ResponseError(code=code, message=text))

    def _refuse_batch(self, items: list[Any]) -> None:
        ids = [i for i in map(_request_id, items) if i is not None]
        log.warning("a JSON array (a batch: not LSP) of %d items, refused", len(items))
        text = "Invalid Request: batches are not part of LSP; send each message on its own"
        for msg_id in ids:
            self._refuse(msg_id, text)
        if not ids:
            self._answer_unidentified(INVALID_REQUEST, text)

    def _gate(self, message: Any) -> bool:
        """The lifecycle (LSP "Server lifetime"): whether `message` may be handled now; a
        request that may not is answered here."""
        method = getattr(message, "method", None)
        request = _is_request(message)
        if method == types.EXIT:
            return True
        if method == types.CANCEL_REQUEST:
            msg_id = getattr(getattr(message, "params", None), "id", None)
            if not isinstance(msg_id, int | str) or isinstance(msg_id, bool):
                # lsprotocol lets any JSON through here; pygls would hash it and raise.
                log.warning("$/cancelRequest with an id that is no number or string: %.80r", msg_id)
                return False
        if method == types.INITIALIZE and request:
            if self._initialize_seen:
                self._refuse(message.id, "Invalid Request: initialize may only be sent once")
                return False
            self._initialize_seen = True
            return True
        if not self._initialize_seen:
            if request:
                log.warning("%s before initialize: refused", method)
                self._refuse(
                    message.id,
                    f"Server not initialized: {method} came before initialize",
                    SERVER_NOT_INITIALIZED,
                )
            else:
                log.info("%s before initialize: dropped", method or "a response")
            return False
        if self._shutdown:
            if request:
                log.warning("%s after shutdown: refused", method)
                self._refuse(
                    message.id,
                    f"Invalid Request: {method} came after shutdown; only exit is accepted",
                )
            return False
        return True

    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        if method_name in self.fm.builtin_features or method_name in self.fm.features:
            self._methods[msg_id] = method_name  # (an unknown method is answered at once)
        super()._handle_request(msg_id, method_name, params)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        method = self._methods.pop(msg_id, "a request")
        exc = None if future.cancelled() else future.exception()
        if exc is None:
            super()._send_handler_result(future, msg_id=msg_id)
            return
        self._request_futures.pop(msg_id, None)
        if isinstance(exc, JsonRpcRequestCancelled):
            # A superseded or cancelled completion is routine (one per keystroke): answered
            # without the traceback pygls logs for every `JsonRpcException`.
            log.debug("request %r: %s", msg_id, exc)
            error = exc.to_response_error()
        elif isinstance(exc, JsonRpcException):
            # A deliberate protocol error (invalid params, an unknown command): the client's
            # mistake, said in one line.
            log.warning("%s %r answered with an error: %s", method, msg_id, exc.message)
            error = exc.to_response_error()
        else:
            error = self.failures.record(method, exc)
        self._send_response(msg_id, error=error)

    # -- lifecycle -------------------------------------------------------------------------

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        # Refuse new requests and cancel those in flight first (each is answered
        # RequestCancelled by its own callback), then let the server close its parts.
        self._shutdown = True
        current = self.msg_id
        in_flight = [f for i, f in list(self._request_futures.items()) if i != current]
        for future in in_flight:
            if not future.done():
                future.cancel()
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        # No `sys.exit` inside a handler (pygls' stdio loop swallowed it and the process
        # ended 0 either way): the read loop stops and returns the status.
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        if not self._shutdown:
            log.warning("exit without shutdown: ending with status 1")
        self.exit_code = 0 if self._shutdown else 1

    def end_of_stream_code(self) -> int:
        """The exit status when the client's stream ends without `exit`."""
        return 0 if self._shutdown else 1
