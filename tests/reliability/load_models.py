"""Load GGUF files the way the server does (`read_model_card`, then `LlamaEngine`, then one
completion), one after the other, in a process of its own: a file that makes llama.cpp abort
takes this process down, not the test run. One JSON line per file: `{"path", "outcome"}`
with outcome `ok` or `ModelError: <message>`; the line `{"path": …, "outcome": "loading"}`
comes first, so that after a crash the last one names the culprit.

`python -m tests.reliability.load_models FILE…`
"""

from __future__ import annotations

import json
import sys

from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import ModelError, read_model_card
from inference.types import CompletionTask, GenerationParams

TASK = CompletionTask(
    document="file:///probe.py",
    path="probe.py",
    language="python",
    prefix="def add(a, b):\n    return ",
    suffix="\n",
    line=1,
    character=11,
    trigger="invoked",
)


def load(path: str) -> str:
    engine = None
    try:
        engine = LlamaEngine(read_model_card(path, with_digest=False), EngineConfig(n_ctx=256))
        engine.wait_loaded(120)
        engine.complete(TASK, GenerationParams(max_tokens=4)).future.result(120)
        return "ok"
    except ModelError as exc:
        return f"ModelError: {exc}"
    finally:
        if engine is not None:
            engine.close()


def main(paths: list[str]) -> int:
    for path in paths:
        print(json.dumps({"path": path, "outcome": "loading"}), flush=True)
        print(json.dumps({"path": path, "outcome": load(path)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
