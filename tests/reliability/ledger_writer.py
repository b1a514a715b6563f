"""Write to a provenance ledger as fast as it takes, and say what was acknowledged.

The real `Ledger` on a real SQLite file: a suggestion (its text kept, so that rows span
several pages) and then its acceptance, over and over. A line goes to stdout only after the
call that wrote it has returned: `S <id>` for a recorded suggestion, `E <id>` for a recorded
acceptance. The crash-safety test kills this process at random moments and then looks for
every acknowledged id.

`python -m tests.reliability.ledger_writer LEDGER SEED`
"""

from __future__ import annotations

import random
import sys
import uuid

from inference.types import ContextChunk, GenerationParams, Origin, Suggestion, Timing
from lsp_server.ledger import Ledger


def origin(rng: random.Random) -> Origin:
    return Origin(
        model_name="synthetic-mellum",
        model_path="/models/tiny.gguf",
        model_digest="ab" * 32,
        quantization="F16",
        architecture="mellum",
        engine="llama.cpp",
        device="cpu",
        template="mellum/spm",
        sampling=GenerationParams(max_tokens=8),
        timing=Timing(total_ms=rng.random() * 100),
        confidence=rng.random(),
        stop_reason="eos",
        context=(ContextChunk("util.py", 1, 9, "def helper(): ...", "similar code"),),
    )


def main(path: str, seed: int) -> int:
    rng = random.Random(seed)
    ledger = Ledger.open(path, store_text=True)
    out = sys.stdout
    while True:
        sid = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        text = "".join(f"    value_{i} = compute({i})\n" for i in range(rng.randint(1, 400)))
        suggestion = Suggestion(sid, text, origin(rng), prompt=text[::-1])
        uri = f"file:///work/file{rng.randrange(50)}.py"
        ledger.record_suggestion(suggestion, "inline", uri, rng.randrange(500), 4, text[::-1])
        out.write(f"S {sid}\n")
        out.flush()
        if ledger.record_event(sid, "accepted", uri, (1, 0, 1 + text.count("\n"), 0), text):
            out.write(f"E {sid}\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
