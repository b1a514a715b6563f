"""A raw connection to `focal serve`, on stdio or TCP: bytes in, JSON-RPC frames out, nothing
in between that would repair a malformed message before the server sees it."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.reliability.conftest import _SERVERS, ROOT, SERVE, server_env, unexpected_exceptions

TRANSPORTS = ["stdio", "tcp"]

_LOG_LEVELS = {1: " ERROR", 2: " WARNING", 3: " INFO", 4: " LOG"}


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawServer:
    """`focal serve` on pipes (or, with `transport="tcp"`, on a TCP port it picks itself);
    what it answers parsed strictly into frames."""

    def __init__(
        self,
        home: Path,
        *args: str,
        transport: str = "stdio",
        serve: Sequence[str] = SERVE,
        env: dict[str, str] | None = None,
    ) -> None:
        self.transport = transport
        port = _free_port() if transport == "tcp" else 0
        tcp = ["--tcp", f"127.0.0.1:{port}"] if transport == "tcp" else []
        self.proc = subprocess.Popen(
            [*serve, *tcp, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**server_env(home), **(env or {})},
        )
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stray: list[bytes] = []
        self.stderr = bytearray()
        self.log = bytearray()
        """The server's log as a client gets it: stderr lines, and from `initialized` on
        its `window/logMessage`s, one line each (`ERROR …`, `WARNING …`, `INFO …`)."""
        self._checked = 0
        self._held: dict[Any, list[dict[str, Any]]] = {}
        self._ids = 1000
        self.sock: socket.socket | None = None
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if transport == "tcp":
            self.sock = self._connect(port)
            out = self.sock.makefile("rb")
        else:
            out = self.proc.stdout
        threading.Thread(target=self._read_frames, args=(out,), daemon=True).start()
        _SERVERS.add(self)

    def _connect(self, port: int, timeout: float = 30) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", port))
            except OSError:
                alive = self.alive()
                if not alive or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the server never listened on {port} (running: {alive}):\n"
                        + bytes(self.stderr).decode(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.05)

    def take_unexpected(self, allowed: Any = ()) -> list[str]:
        """The unexpected exceptions (tracebacks) the server logged since the last call."""
        # After `initialized` the server logs through window/logMessage: read both.
        text = bytes(self.log).decode(errors="replace")
        new, self._checked = text[self._checked :], len(text)
        return unexpected_exceptions(new, allowed)

    def _read_frames(self, out: Any) -> None:
        while True:
            header = out.readline()
            if not header:
                return
            if not header.startswith(b"Content-Length: "):
                self.stray.append(header)
                continue
            length = int(header.split(b":")[1])
            while out.readline() not in (b"\r\n", b""):
                pass
            msg = json.loads(out.read(length))
            if msg.get("method") == "window/logMessage":
                params = msg.get("params") or {}
                level = _LOG_LEVELS.get(params.get("type"), "LOG")
                self.log += f"{level} {params.get('message', '')}\n".encode()
            self.frames.put(msg)

    def _read_stderr(self) -> None:
        err = self.proc.stderr
        assert err is not None
        for line in iter(err.readline, b""):
            self.stderr += line
            self.log += line

    def send(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
            return
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def wait_for(self, msg_id: Any, timeout: float) -> dict[str, Any] | None:
        """The response to `msg_id`, or None after `timeout` seconds. Responses to other ids
        that arrive meanwhile are kept for their own `wait_for`."""
        held = self._held.get(msg_id)
        if held:
            return held.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = self.frames.get(timeout=left)
            except queue.Empty:
                return None
            if "method" in msg:
                continue
            if msg.get("id") == msg_id:
                return msg
            key = msg.get("id")
            if isinstance(key, str | int | None):
                self._held.setdefault(key, []).append(msg)

    def forget(self, msg_id: Any, settle: float = 0.3) -> None:
        """Drop every response to `msg_id` received so far (after `settle` seconds of quiet
        for late ones), so that the next `wait_for(msg_id)` sees only new ones."""
        while self.wait_for(msg_id, settle) is not None:
            pass

    def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        self._ids += 1
        msg_id = self._ids
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        answer = self.wait_for(msg_id, timeout)
        assert answer is not None, f"no answer to {method} within {timeout} s"
        return answer

    def initialize(self, root: Path, settings: dict[str, Any] | None = None) -> None:
        answer = self.request(
            "initialize",
            {
                "processId": None,
                "capabilities": {},
                "rootUri": root.as_uri(),
                "initializationOptions": {"focal": settings or {}},
            },
        )
        assert "result" in answer, answer
        self.notify("initialized", {})

    def exit_status(self, timeout: float = 15) -> int:
        """The process's exit status, once it has ended (fails after `timeout` seconds)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {timeout} s") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            with contextlib.suppress(Exception):
                self.send(frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"}))
                self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.sock, self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]
