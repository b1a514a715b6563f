"""Route llama.cpp's own log lines into Python logging (stderr or a file, never stdout).

llama.cpp prints to stderr through a callback; in `focal serve` stdout is the JSON-RPC
channel, so its messages must never go there. We also keep the last error lines so that a
failed load can tell the user *why* ("unknown model architecture: 'foo'").
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading

import llama_cpp

log = logging.getLogger("llama.cpp")

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the last line).
_LEVELS = {
    0: logging.CRITICAL,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}
_recent: collections.deque[str] = collections.deque(maxlen=40)
_lock = threading.Lock()
_installed = False
_partial: list[str] = []
_last_level = 1


@llama_cpp.llama_log_callback
def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    global _last_level
    msg = text.decode("utf-8", errors="replace")
    if level == 5:
        level = _last_level
    _last_level = level
    with _lock:
        _partial.append(msg)
        if not msg.endswith("\n"):
            return
        line = "".join(_partial).rstrip()
        _partial.clear()
        if level in (3, 4):
            _recent.append(line)
    py_level = _LEVELS.get(level, logging.DEBUG)
    # llama.cpp is chatty at INFO (every tensor on load); keep that at DEBUG.
    log.log(logging.DEBUG if py_level == logging.INFO else py_level, "%s", line)


def install() -> None:
    global _installed
    if not _installed:
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        _installed = True


def recent_errors(clear: bool = True) -> list[str]:
    with _lock:
        lines = list(_recent)
        if clear:
            _recent.clear()
    return lines
