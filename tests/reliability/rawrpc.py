"""A raw stdio connection to `focal serve`: bytes in, JSON-RPC frames out, nothing in
between that would repair a malformed message before the server sees it."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.reliability.conftest import ROOT, SERVE, server_env

_LOG_LEVELS = {1: " ERROR", 2: " WARNING", 3: " INFO", 4: " LOG"}


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class RawServer:
    """`focal serve` on pipes; stdout parsed strictly into frames."""

    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=server_env(home),
        )
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stray: list[bytes] = []
        self.stderr = bytearray()
        self.log = bytearray()
        """The server's log as a client gets it: stderr lines, and from `initialized` on
        its `window/logMessage`s, one line each (`ERROR …`, `WARNING …`, `INFO …`)."""
        self._ids = 1000
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
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
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def wait_for(self, msg_id: Any, timeout: float) -> dict[str, Any] | None:
        """The response to `msg_id`, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = self.frames.get(timeout=left)
            except queue.Empty:
                return None
            if msg.get("id") == msg_id and "method" not in msg:
                return msg

    def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        self._ids += 1
        msg_id = self._ids
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        answer = self.wait_for(msg_id, timeout)
        assert answer is not None, f"no answer to {method} within {timeout} s"
        return answer

    def initialize(self, root: Path, settings: dict[str, Any]) -> None:
        answer = self.request(
            "initialize",
            {
                "processId": None,
                "capabilities": {},
                "rootUri": root.as_uri(),
                "initializationOptions": {"focal": settings},
            },
        )
        assert "result" in answer, answer
        self.notify("initialized", {})

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
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]
