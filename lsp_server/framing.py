"""The byte stream under JSON-RPC, for stdio and TCP alike: framing that finds its feet again
after garbage, and the loop that hands each message body to the protocol.

pygls reads the body of a message glued to a broken header as one more header line (losing
it), allocates whatever `Content-Length` announces, and its TCP server used a stricter reader
than its stdio one (a lower-case header or a missing blank line there lost every later
request). Editors do send broken messages (a plugin's bug, a truncated write when a client
crashes); the server must log them and keep serving, on either transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from pygls.io_ import StdoutWriter

if TYPE_CHECKING:
    from lsp_server.wire import FocalProtocol

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

    def message(self) -> bytes | None:
        """The next message's body; None at the end of the stream. Headers before the
        blank line that ends them are read through `readline` (and so repaired); the last
        `Content-Length` counts (an earlier one whose blank line never came belonged to a
        broken message)."""
        length = 0
        while True:
            line = self.readline()
            if not line:
                return None
            m = _NORMAL_HEADER.fullmatch(line)
            if m is not None:
                length = int(m.group(1))
                continue
            if length and not line.strip():
                body = self.read(length)
                return body or None


_NORMAL_HEADER = re.compile(rb"Content-Length: (\d+)\r\n")
_INBOX = 8
"""Messages read ahead of the one being handled (the reader waits beyond that)."""


def _pump(guard: FramingGuard, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue) -> None:
    """The reader thread: one body at a time into `inbox`, then None at the end. A daemon
    thread, so that a read blocked on a silent client never holds the process after `exit`."""
    body: bytes | None = None
    while True:
        try:
            body = guard.message()
        except (OSError, ValueError):  # a reset socket, a closed pipe
            log.warning("reading from the client failed", exc_info=True)
            body = None
        try:
            asyncio.run_coroutine_threadsafe(inbox.put(body), loop).result()
        except RuntimeError:  # the loop has ended (exit): nobody is listening any more
            return
        if body is None:
            return


async def _serve(
    protocol: FocalProtocol, guard: FramingGuard, out: BinaryIO, on_end: Callable[[], None]
) -> int:
    try:
        return await _read_loop(protocol, guard, out)
    finally:
        # Still on the loop: what the server stops here (models, watchers) must not be
        # awaited by asyncio.run's own clean-up first.
        try:
            on_end()
        except Exception:
            log.exception("stopping the server's parts failed")


async def _read_loop(protocol: FocalProtocol, guard: FramingGuard, out: BinaryIO) -> int:
    protocol.set_writer(StdoutWriter(out))
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_INBOX)
    threading.Thread(
        target=_pump, args=(guard, loop, inbox), name="focal-reader", daemon=True
    ).start()
    while protocol.exit_code is None:
        body = await inbox.get()
        if body is None:
            log.info("the client closed the connection")
            break
        try:
            protocol.receive(body)
        except BrokenPipeError:
            log.error("the connection to the client is lost")
            break
        except Exception as exc:  # a bug in dispatching: count it, keep reading
            protocol.failures.record("reading a message", exc)
    return protocol.exit_code if protocol.exit_code is not None else protocol.end_of_stream_code()


def _unbuffered(stream: BinaryIO) -> BinaryIO:
    """The file under `stream`, read without Python's buffer. The reader is a daemon thread
    blocked in a read when `exit` ends the process, and a buffered stdin's lock held there
    aborts the interpreter's shutdown (status -6 instead of 0 or 1)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return stream  # an in-memory stream (tests): nothing blocks in it
    return io.FileIO(fd, "rb", closefd=False)  # type: ignore[return-value]


def serve(
    protocol: FocalProtocol,
    stream: BinaryIO,
    out: BinaryIO,
    on_end: Callable[[], None] = lambda: None,
) -> int:
    """Serve one client on `stream` (its messages) and `out` (ours) until `exit` or the end
    of `stream`, then call `on_end`; return the process's exit status (LSP: 0 after
    `shutdown`, else 1)."""
    try:
        return asyncio.run(_serve(protocol, FramingGuard(_unbuffered(stream)), out, on_end))
    finally:
        with contextlib.suppress(OSError):
            out.close()


def serve_tcp(
    protocol: FocalProtocol, host: str, port: int, on_end: Callable[[], None] = lambda: None
) -> int:
    """Listen on `host:port` (0: any free port, logged), serve the first client to connect
    exactly as stdio is served, and return its exit status."""
    with socket.create_server((host, port)) as listener:
        bound = listener.getsockname()
        log.info("listening on %s:%d", bound[0], bound[1])
        conn, peer = listener.accept()
    log.info("client connected from %s:%d", peer[0], peer[1])
    with conn:
        reader = conn.makefile("rb", buffering=0)
        return serve(protocol, reader, conn.makefile("wb", buffering=0), on_end)
