"""Decode time per token of two model shapes at full depth, estimated on a machine that
cannot hold (or write) the full files: each shape is written with 2 and 4 layers, decode
is timed on both, and t(L) = fixed + L x per_layer is extrapolated to the shape's depth.

    python benchmarks/decode_depth.py [--shapes mellum2 qwen2.5-7b] [--repeats 3] [--json]

The fixed part is the embeddings and the output head, the per-layer part attention and
feed-forward (for a MoE, the experts a token routes to). Bare llama-cpp-python, one decode
thread (as Focal's engine on 2 cores), a 128-token prompt, then 32 single-token steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import cpu_check
from inference.offload import LoadOptions
from inference.synthetic import SHAPES
from lsp_server.cli_bench import _shaped_model

STEPS = 32
DEPTHS = (2, 4)


def decode_ms(llm, steps: int = STEPS) -> float:
    """Milliseconds per decoded token after a 128-token prompt."""
    llm.reset()
    llm.eval(list(range(10, 138)))
    t0 = time.perf_counter()
    for i in range(steps):
        llm.eval([100 + (i * 7) % 500])
    return (time.perf_counter() - t0) * 1000 / steps


def main(argv: list[str] | None = None) -> int:
    import llama_cpp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["mellum2", "qwen2.5-7b"])
    ap.add_argument("--quant", default="Q4_K_M")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    llms = {}
    for shape in args.shapes:
        for depth in DEPTHS:
            path = _shaped_model(shape, args.quant, depth)
            with LoadOptions(extra_bufts=cpu_check.decide().extra_bufts).applied():
                llms[shape, depth] = llama_cpp.Llama(
                    str(path), n_ctx=1024, n_threads=1, n_threads_batch=2, seed=0, verbose=False
                )
    times: dict[tuple[str, int], list[float]] = {k: [] for k in llms}
    for _ in range(args.repeats):  # interleaved, so that machine noise hits every model
        for key, llm in llms.items():
            times[key].append(decode_ms(llm))
    out: dict[str, dict] = {}
    for shape in args.shapes:
        lo, hi = (statistics.median(times[shape, d]) for d in DEPTHS)
        per_layer = (hi - lo) / (DEPTHS[1] - DEPTHS[0])
        fixed = lo - DEPTHS[0] * per_layer
        depth = SHAPES[shape].n_layer
        full = fixed + depth * per_layer
        out[shape] = {
            f"ms_{DEPTHS[0]}L": round(lo, 2),
            f"ms_{DEPTHS[1]}L": round(hi, 2),
            "per_layer_ms": round(per_layer, 2),
            "fixed_ms": round(fixed, 2),
            "layers": depth,
            "full_depth_ms": round(full, 1),
            "full_depth_tok_s": round(1000 / full, 2),
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for shape, r in out.items():
            print(
                f"{shape:12s} {r['ms_2L']:.1f} ms (2L), {r['ms_4L']:.1f} ms (4L): "
                f"{r['per_layer_ms']:.1f} ms/layer + {r['fixed_ms']:.1f} ms -> "
                f"{r['layers']} layers {r['full_depth_ms']:.0f} ms/token "
                f"({r['full_depth_tok_s']:.1f} tok/s)"
            )
        if len(out) == 2:
            a, b = out
            ratio = out[b]["full_depth_ms"] / out[a]["full_depth_ms"]
            print(f"{a} decodes {ratio:.2f}x as fast as {b} (estimated at full depth)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
