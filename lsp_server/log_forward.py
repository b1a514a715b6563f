"""The server's log in the editor, with its levels.

Before `initialized` the log goes to stderr (there is no client to tell yet). From then on
every record goes to the client as `window/logMessage` with its level, so that an editor
shows an error as an error: VS Code's languageclient shows each stderr line as `[error]`,
INFO included. stderr keeps what the client cannot be sent: fatal (CRITICAL) records,
pygls' own wire log (`--log-level debug`; sending it over the wire would log the send
again), llama.cpp's debug lines, and everything once the connection is gone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from lsprotocol import types

_LEVELS = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


def message_type(levelno: int) -> types.MessageType:
    """error/warning/info for those levels and above, `Log` for DEBUG and below."""
    for level, kind in _LEVELS:
        if levelno >= level:
            return kind
    return types.MessageType.Log


def _forwardable(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.CRITICAL or record.name.startswith("pygls"):
        return False
    # llama.cpp's own chatter (hundreds of lines per model load, DEBUG at
    # `--log-level debug`) stays on stderr; its warnings and errors reach the editor.
    return not (record.name == "llama.cpp" and record.levelno < logging.WARNING)


class ClientLogHandler(logging.Handler):
    """Sends records as `window/logMessage`, from any thread, on the server's loop."""

    def __init__(self, server: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._server = server
        self._loop = loop
        self._loop_thread = threading.get_ident()  # built on the loop's thread
        self._sending = threading.local()
        self.connected = True
        self.addFilter(_forwardable)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._sending, "active", False):
            return  # a record logged while sending one: never loop
        try:
            params = types.LogMessageParams(
                type=message_type(record.levelno), message=self.format(record)
            )
        except Exception:
            self.handleError(record)
            return
        if threading.get_ident() == self._loop_thread:
            self._send(params)
        else:
            try:
                self._loop.call_soon_threadsafe(self._send, params)
            except RuntimeError:  # the loop is closed: the server is exiting
                self.connected = False

    def _send(self, params: types.LogMessageParams) -> None:
        self._sending.active = True
        try:
            self._server.window_log_message(params)
        except Exception:
            self.connected = False
        finally:
            self._sending.active = False


class _StderrKeeps(logging.Filter):
    """What stderr still writes once the client has the log."""

    def __init__(self, client: ClientLogHandler) -> None:
        super().__init__()
        self._client = client

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._client.connected or not _forwardable(record)


def forward_to_client(server: Any) -> ClientLogHandler:
    """From now on, log to the client (call on the server's loop, after `initialized`).
    The handlers already there (stderr) keep fatal records and pygls' wire log; a
    `--log-file` keeps everything."""
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, ClientLogHandler):
            return h
    client = ClientLogHandler(server, asyncio.get_running_loop())
    for h in root.handlers:
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            h.addFilter(_StderrKeeps(client))
    root.addHandler(client)
    return client


def stop_forwarding() -> None:
    """Back to stderr alone (the client said `shutdown`, or the connection is gone)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, ClientLogHandler):
            h.connected = False
            root.removeHandler(h)
