"""The offline guard for children that are not Python (git, npm, curl, Emacs, Neovim's
plugins…): the suite points every proxy variable at this listener on loopback, which
records what was asked for and refuses it. A child that honours the variables fails closed
instead of reaching the network; the session fails because the attempt was recorded.

(The Python guard, `sitecustomize.py`, also catches Python code that ignores proxies.)
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import urllib.parse

PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "npm_config_proxy",
    "npm_config_https_proxy",
)
NO_PROXY = "localhost,127.0.0.1,::1"
REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 52\r\n\r\nFocal's test suite is offline: nothing may leave.\r\n\r\n"
)


def _record(line: str) -> None:
    path = os.environ.get("FOCAL_OFFLINE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"proxy: {line} (from a child process honouring the proxy variables)\n\n")


def _to_loopback(request_line: str) -> bool:
    """Whether a proxy request (`CONNECT host:port …`, `GET http://host/… …`) targets this
    machine's loopback addresses."""
    parts = request_line.split()
    if len(parts) < 2:
        return False
    target = parts[1] if "://" in parts[1] else "//" + parts[1]
    host = (urllib.parse.urlsplit(target).hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _serve(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                head = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1", "replace")
            except OSError:
                head = ""
            if not _to_loopback(head):  # a loopback target never leaves the machine
                _record(head.strip() or "a connection that sent no request")
            with contextlib.suppress(OSError):
                conn.sendall(REFUSAL)


def start() -> str:
    """Listen on a free loopback port in a daemon thread; the proxy URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    threading.Thread(target=_serve, args=(listener,), name="offline-proxy", daemon=True).start()
    return f"http://127.0.0.1:{port}"


def install(environ: os._Environ[str] | dict[str, str]) -> str:
    """Start the listener and point every proxy variable of `environ` at it."""
    url = start()
    for name in PROXY_VARIABLES:
        environ[name] = url
    environ["no_proxy"] = environ["NO_PROXY"] = NO_PROXY
    return url
