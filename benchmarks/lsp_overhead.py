"""The cost of the LSP wire: `textDocument/inlineCompletion` to `python -m lsp_server` over
stdio, against the same completion asked of Focal's engine in this process, and against bare
llama-cpp-python decoding the same prompt tokens (as many new tokens as the server wrote).

    python benchmarks/lsp_overhead.py [--model PATH] [--repeats N] [--json]

The client is a plain JSON-RPC client (Content-Length framing, as every editor speaks it), so
that what is measured is the server: parsing, the document store, position conversion, the
ledger write, the answer. The server gets its own cache and state folders (its ledger is not
the user's), no workspace index, and the model settings of the in-process engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import Bare, BenchConfig, median, paired, progress, ratio, summary
from benchmarks.workload import TYPED_FUNCTION
from inference.engine import LlamaEngine
from inference.types import CompletionTask, GenerationParams

_REPO = Path(__file__).resolve().parents[1]
_BUDGET_MS = 120_000  # the largest time budget the settings accept


class RpcClient:
    """JSON-RPC 2.0 over a child's stdin/stdout. Requests from the server are answered with
    null (we announce no capability that needs more)."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: IO[bytes]) -> None:
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=_REPO
        )
        self._ids = iter(range(1, 1 << 30))
        self._waiting: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode("utf-8")
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    self._fail("the server closed its output")
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            msg = json.loads(out.read(length))
            if "id" in msg and "method" in msg:  # a request from the server
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            elif "id" in msg:
                fut = self._waiting.pop(msg["id"], None)
                if fut is not None:
                    if "error" in msg:
                        fut.set_exception(RuntimeError(msg["error"].get("message", msg)))
                    else:
                        fut.set_result(msg.get("result"))

    def _fail(self, why: str) -> None:
        for fut in list(self._waiting.values()):
            if not fut.done():
                fut.set_exception(RuntimeError(why))

    def request(self, method: str, params: Any, timeout: float = 600) -> Any:
        rid = next(self._ids)
        fut: Future[Any] = Future()
        self._waiting[rid] = fut
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return fut.result(timeout)

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=30)
            self.notify("exit", None)
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def _document(engine: LlamaEngine, cfg: BenchConfig) -> tuple[str, int, int]:
    """A file with a function half typed; the cursor at the end of the typed part."""
    from benchmarks.engine_vs_llama import keystroke_file

    before, after = keystroke_file(engine, cfg)
    typed = TYPED_FUNCTION[: TYPED_FUNCTION.index("    out = []")]
    prefix = before + typed
    line = prefix.count("\n")
    return prefix + after, line, len(prefix) - (prefix.rfind("\n") + 1)


def lsp(cfg: BenchConfig, engine: LlamaEngine, bare: Bare) -> dict[str, Any]:
    text, line, character = _document(engine, cfg)
    work = Path(tempfile.mkdtemp(prefix="focal-bench-")).resolve()
    root = work / "workspace"
    root.mkdir()
    path = root / "pipeline.py"
    path.write_text(text)
    env = dict(os.environ)
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[var] = str(work / var.lower())
    env.pop("FOCAL_MODEL", None)
    model: dict[str, Any] = {
        "path": str(cfg.model),
        "gpuLayers": cfg.gpu_layers,
        "contextLength": cfg.n_ctx,
        "flashAttn": cfg.flash_attn,
        "moeExperts": cfg.moe_experts,
        "cacheType": cfg.cache_type,
    }
    if cfg.threads:
        model["threads"] = cfg.threads
    settings = {
        "model": model,
        "completion": {"maxTokens": cfg.new_tokens, "timeBudgetMs": _BUDGET_MS},
        "index": {"enabled": False},
    }
    uri = path.as_uri()
    task = CompletionTask(
        document=f"{uri}#inline",  # the server keys inline requests so
        path="pipeline.py",
        language="python",
        prefix="",
        suffix="",
        line=line,
        character=character,
        trigger="invoked",
    )
    task = _split(task, text, line, character)
    params = GenerationParams(max_tokens=cfg.new_tokens, time_budget_ms=_BUDGET_MS)
    inline = {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},  # Invoked
    }
    with open(work / "server.log", "wb") as log:
        client = RpcClient([sys.executable, "-m", "lsp_server"], env, log)
        try:
            client.request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": root.as_uri(),
                    "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                    "capabilities": {
                        "textDocument": {"inlineCompletion": {}},
                        "general": {"positionEncodings": ["utf-16"]},
                    },
                    "initializationOptions": {"focal": settings},
                },
            )
            client.notify("initialized", {})
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
            )
            _wait_ready(client, work / "server.log")
            # Warm all three: the first request of each fills its KV cache.
            lsp_text = _inline_text(client.request("textDocument/inlineCompletion", inline))
            direct = engine.complete(task, params).future.result()
            from benchmarks.engine_vs_llama import focal_prompt_ids

            ids = focal_prompt_ids(engine, task)
            n_new = max(1, direct.origin.timing.tokens_generated)
            bare.run(ids, n_new)
            wire: list[float] = []
            local: list[float] = []
            plain: list[float] = []
            n = max(8, cfg.repeats * 5)
            for i in range(n):
                # The three in turn, each first in its turn: no side always runs after another.
                for side in _rotated(["wire", "engine", "bare"], i):
                    t0 = time.perf_counter()
                    if side == "wire":
                        got = client.request("textDocument/inlineCompletion", inline)
                        wire.append((time.perf_counter() - t0) * 1000)
                        lsp_text = _inline_text(got)
                    elif side == "engine":
                        direct = engine.complete(task, params).future.result()
                        local.append((time.perf_counter() - t0) * 1000)
                    else:
                        plain.append(bare.run(ids, n_new).total_ms)
                if i % 5 == 4 or i == n - 1:
                    progress(
                        cfg,
                        f"lsp {i + 1}/{n}: wire {wire[-1]:.0f} ms, engine {local[-1]:.0f} ms, "
                        f"bare {plain[-1]:.0f} ms",
                    )
        finally:
            client.close()
    w, e, b = median(wire), median(local), median(plain)
    return {
        "requests": len(wire),
        "prompt_tokens": len(ids),
        "new_tokens": direct.origin.timing.tokens_generated,
        "same_output": lsp_text == direct.text,
        "focal": {"lsp_ms": summary(wire), "engine_ms": summary(local)},
        "bare": {"lsp_ms": summary(plain)},
        "ratio": {
            "lsp_vs_bare_p50": round(ratio(w, b), 3),
            "engine_vs_bare_p50": round(ratio(e, b), 3),
            "lsp_vs_engine_p50": round(ratio(w, e), 3),
            "lsp_vs_bare_paired": paired(wire, plain),
            "lsp_vs_engine_paired": paired(wire, local),
        },
        "overhead_vs_bare": round(paired(wire, plain) - 1, 4),
        "overhead_vs_engine": round(paired(wire, local) - 1, 4),
        "overhead_ms_p50": round(w - b, 2),
        "goals": {"overhead_vs_bare": 0.05},
        "note": "focal lsp_ms: inlineCompletion over stdio, request to response; engine_ms: "
        "Focal's engine in this process; bare: llama-cpp-python on the same prompt tokens",
    }


def _rotated(items: list[str], i: int) -> list[str]:
    k = i % len(items)
    return items[k:] + items[:k]


def _split(task: CompletionTask, text: str, line: int, character: int) -> CompletionTask:
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[:line]) + character
    return replace(task, prefix=text[:offset], suffix=text[offset:])


def _inline_text(result: Any) -> str:
    items = result.get("items", []) if isinstance(result, dict) else result or []
    return items[0]["insertText"] if items else ""


def _wait_ready(client: RpcClient, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.request("focal/status", {})
        if st.get("state") == "ready":
            return
        if st.get("state") == "error":
            raise RuntimeError(f"the server could not load the model: {st.get('error')}")
        time.sleep(0.05)
    raise RuntimeError(f"the server did not load the model in {timeout:.0f} s; see {log}")


def main(argv: list[str] | None = None) -> int:
    from lsp_server.cli_bench import main as bench_main

    return bench_main(["--scenarios", "lsp", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
