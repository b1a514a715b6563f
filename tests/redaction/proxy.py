"""A recording reverse proxy on loopback: every request body that reaches the real
OpenAI-compatible server behind it (llama-cpp-python's) is kept, to be searched for secrets.

It forwards each request as it came and streams the server's answer back line by line.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, str]] = []
        """(path, body as text) of every request, in order."""
        self.lock = threading.Lock()

    def posts(self, endpoint: str) -> list[str]:
        with self.lock:
            return [b for p, b in self.bodies if p.endswith(endpoint)]


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    target = urlsplit(upstream)
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with recorder.lock:
                recorder.bodies.append((self.path, body.decode("utf-8", "replace")))
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            try:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                conn.request(self.command, self.path, body or None, headers)
                resp = conn.getresponse()
                # Streamed on as it comes (a server-sent event per line), the body delimited
                # by closing the connection; a client that hangs up stops the upstream too.
                self.send_response(resp.status, resp.reason)
                ctype = resp.getheader("Content-Type") or "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                while True:
                    try:
                        line = resp.readline()
                    except (http.client.IncompleteRead, OSError):
                        break
                    if not line:
                        break
                    try:
                        self.wfile.write(line)
                        self.wfile.flush()
                    except OSError:
                        break
            finally:
                conn.close()

        do_GET = _forward
        do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
