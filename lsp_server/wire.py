"""What arrives over stdio before a handler sees it: framing that finds its feet again after
garbage, and an answer for every request that can be identified, however malformed.

pygls alone drops a request whose params do not validate (the client waits forever), reads
the body of a message glued to a broken header as one more header line (losing it), and
allocates whatever `Content-Length` announces. Editors do send broken messages (a plugin's
bug, a truncated write when a client crashes); the server must log them and keep serving.
"""

from __future__ import annotations

import logging
import re
from typing import Any, BinaryIO

from cattrs import transform_error
from cattrs.errors import BaseValidationError
from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcRequestCancelled
from pygls.protocol import LanguageServerProtocol

from lsp_server.documents import adopt

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
"""A larger `Content-Length` is taken for garbage, not waited for (a 50 MB file, JSON-escaped,
stays well below)."""
_LINE_LIMIT = 1 << 16
_READ_CHUNK = 1 << 20
_HEADER = re.compile(rb"content-length:[ \t]*(-?\d+)[ \t]*\r?\n?$", re.IGNORECASE)
_CONTENT_TYPE = re.compile(rb"^Content-Type: [^\r\n]*\r\n$")


class FramingGuard:
    """The server's stdin as pygls reads it (`readline` for headers, `read` for a body),
    repaired: a `Content-Length` header is found even when garbage precedes it on its line
    or its case or line ending is off, an impossible length is refused instead of awaited,
    and every line skipped is logged once."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._garbage = 0
        """Bytes skipped since the last good header (logged when framing recovers)."""

    def readline(self) -> bytes:
        line = self._stream.readline(_LINE_LIMIT)
        while line and not line.endswith(b"\n") and len(line) >= _LINE_LIMIT:
            # An overlong "header": garbage. Keep only its tail, where a header may begin.
            self._garbage += len(line) - 64
            line = line[-64:] + self._stream.readline(_LINE_LIMIT)
        if not line:
            return line
        if line == b"\r\n" or _CONTENT_TYPE.match(line):
            return line
        m = _HEADER.search(line)
        if m is None:
            if not line.strip():
                return b"\r\n"
            self._skip(len(line), line)
            return b"X-Focal-Skipped: garbage\r\n"
        length = int(m.group(1))
        if m.start() > 0:
            self._skip(m.start(), line[: m.start()])
        if length <= 0 or length > MAX_MESSAGE_BYTES:
            self._skip(len(line) - m.start(), line[m.start() :])
            log.error(
                "a message announced %d bytes (1 to %d are accepted); skipped it",
                length,
                MAX_MESSAGE_BYTES,
            )
            return b"X-Focal-Skipped: length\r\n"
        if self._garbage:
            log.warning("skipped %d bytes that were not a JSON-RPC message", self._garbage)
            self._garbage = 0
        return b"Content-Length: %d\r\n" % length

    def _skip(self, n: int, sample: bytes) -> None:
        if not self._garbage:
            log.warning("malformed JSON-RPC header, skipped: %r", sample[:120])
        self._garbage += n

    def read(self, n: int) -> bytes:
        """Up to `n` bytes (fewer only at the end of the stream), read as they arrive rather
        than allocated up front."""
        parts = []
        left = n
        while left > 0:
            chunk = self._stream.read(min(left, _READ_CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        data = b"".join(parts)
        if len(data) < n:
            log.warning("the client's stream ended inside a message (%d of %d bytes)", len(data), n)
        return data


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
    if isinstance(data, dict) and isinstance(data.get("method"), str):
        msg_id = data.get("id")
        if isinstance(msg_id, str | int) and not isinstance(msg_id, bool):
            return msg_id
    return None


class FocalProtocol(LanguageServerProtocol):
    """pygls' protocol, except that no identifiable request goes unanswered and a message
    that is not JSON-RPC 2.0 is logged, not raised into the read loop; its workspace holds
    documents that follow the LSP definition of a line (`lsp_server.documents`)."""

    # pygls assigns `self._workspace` on `initialize`; the setter adopts that workspace.
    @property
    def _workspace(self) -> Any:
        return self.__dict__.get("_focal_workspace")

    @_workspace.setter
    def _workspace(self, workspace: Any) -> None:
        self.__dict__["_focal_workspace"] = adopt(workspace)

    def structure_message(self, data: dict[str, Any]):
        # The JSON decoder's object hook: called for every object, innermost first.
        if "jsonrpc" in data and "method" in data and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC allows a request without params
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id = _request_id(data)
            if msg_id is None:
                raise
            return _Malformed(msg_id, data["method"], exc)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        # A superseded or cancelled completion is routine (one per keystroke): answer it
        # without the traceback pygls logs as an ERROR for every `JsonRpcException`.
        if not future.cancelled() and isinstance(future.exception(), JsonRpcRequestCancelled):
            self._request_futures.pop(msg_id, None)
            log.debug("request %r: %s", msg_id, future.exception())
            self._send_response(msg_id, error=future.exception().to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Malformed):
            exc = message.error
            text = f"{exc.message}: {_describe(exc.__cause__)}" if exc.__cause__ else exc.message
            error = ResponseError(code=exc.code, message=text[:500], data=exc.data)
            log.warning("answered malformed request %r: %s", message.id, error.message)
            self._send_response(message.id, error=error)
            return
        if getattr(message, "jsonrpc", None) != self.VERSION:
            # A dict has no "jsonrpc" at all; an object came with another version.
            if isinstance(message, dict):
                msg_id = _request_id(message)
            else:
                msg_id = getattr(message, "id", None) if hasattr(message, "method") else None
            log.warning("not a JSON-RPC 2.0 message, ignored: %.200r", message)
            if msg_id is not None:
                self._send_response(
                    msg_id,
                    error=JsonRpcInvalidRequest(
                        message='Invalid Request: "jsonrpc" must be "2.0"'
                    ).to_response_error(),
                )
            return
        super().handle_message(message)
