"""The levers: settings that might make completions faster, each measured on the same model
in the same run, so that Focal keeps only what the numbers support.

    python benchmarks/levers.py [--model PATH] [--repeats N] [--json]

Same as `focal bench --scenarios levers`. Each lever is a list of rows, one per setting:

- `flash_attn`: llama.cpp's flash attention off / on: prefill and decode speed at a long prompt;
- `kv_cache_type`: f16, q8_0, q4_0 K/V cache: speed and the cache's size at the bench context;
- `batch_size`: n_batch (= n_ubatch) for prefill;
- `decode_threads`: threads for one-token decode steps (prefill always uses every core);
- `prompt_lookup`: prompt-lookup speculative decoding in Focal's engine, on an edit that
  copies from its prompt and on the keystroke replay (greedy: the text must not change);
- `time_budget`: of the keystroke replay's completions, the share that finish (rather than
  being cut off) within each budget.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    NO_BUDGET,
    Bare,
    BenchConfig,
    focal_params,
    median,
    open_bare,
    open_focal,
    paired,
    progress,
)
from benchmarks.workload import edit_workload, keystrokes, text_of_tokens
from inference.engine import LlamaEngine
from inference.model_card import read_model_card
from inference.offload import estimate_memory
from inference.types import CompletionTask, GenerationParams

BUDGETS_MS = (100, 250, 500, 1000, 3000)


def _rotated(items: list[Any], r: int) -> list[Any]:
    """`items` starting at a different one each repeat: none always runs first."""
    k = r % len(items)
    return items[k:] + items[:k]


# (label, `Llama` keyword arguments, extra columns)
Setting = tuple[Any, dict[str, Any], dict[str, Any]]


def _rows(
    cfg: BenchConfig,
    engine: LlamaEngine,
    name: str,
    settings: list[Setting],
    n_prompt: int,
    n_new: int,
) -> list[dict[str, Any]]:
    """One row per (label, Llama kwargs, extra columns) setting: median prefill and decode
    tokens/s of a bare `Llama` loaded with those kwargs. All settings are loaded at once and
    run in turn within each repeat, so that the load of a shared machine falls on all."""
    rows: list[dict[str, Any]] = []
    runs: list[tuple[dict[str, Any], Bare, list[float], list[float]]] = []
    try:
        for label, kw, extra in settings:
            row = {name: label, **extra}
            rows.append(row)
            try:
                bare = Bare(open_bare(cfg, engine.plan, **kw), engine.card.add_bos)
            except Exception as exc:  # a setting this build or model cannot take: a result too
                row["error"] = str(exc).splitlines()[0][:200]
                continue
            runs.append((row, bare, [], []))
        if not runs:
            return rows
        base = text_of_tokens(lambda t: len(runs[0][1].tokens(t)), n_prompt - 8)
        for r in range(cfg.repeats):
            text = f"case_{r}_{os.getpid()} = {r}\n{base}"
            for row, bare, pre, dec in _rotated(runs, r):
                ids = bare.tokens(text)
                bare.forget()
                run = bare.run(ids, n_new, reuse=False)
                row["prompt_tokens"] = len(ids)
                pre.append(run.prompt_tokens / max(run.prefill_ms, 1e-6) * 1000)
                dec.append(run.generated / max(run.decode_ms, 1e-6) * 1000)
        first_pre, first_dec = runs[0][2], runs[0][3]
        for row, _, pre, dec in runs:
            row["prefill_tps"] = round(median(pre), 1)
            row["decode_tps"] = round(median(dec), 1)
            row["prefill_vs_first"] = paired(pre, first_pre)
            row["decode_vs_first"] = paired(dec, first_dec)
            progress(cfg, f"lever {name}: {row}")
    finally:
        for _, bare, _, _ in runs:
            bare.close()
    return rows


def _prompt_size(engine: LlamaEngine, want: int, n_new: int) -> int:
    return max(64, min(want, engine.n_ctx - n_new - 32))


def flash_attn(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    n = _prompt_size(engine, min(cfg.long_prompt, 2048), 32)
    settings: list[Setting] = [
        (label, {"flash_attn": on}, {}) for label, on in (("off", False), ("on", True))
    ]
    return _rows(cfg, engine, "flash_attn", settings, n, 32)


def kv_cache_type(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    import llama_cpp

    n = _prompt_size(engine, 1024, 32)
    card = read_model_card(cfg.model, with_digest=False)
    settings: list[Setting] = []
    for name in ("f16", "q8_0", "q4_0"):
        t = getattr(llama_cpp, f"GGML_TYPE_{name.upper()}")
        mib = estimate_memory(card, cfg.n_ctx, name).kv_cache / 2**20
        # A quantized V cache needs flash attention.
        kw = {"type_k": t, "type_v": t, "flash_attn": True}
        settings.append((name, kw, {"kv_mib": round(mib, 1)}))
    return _rows(cfg, engine, "kv_cache_type", settings, n, 32)


def batch_size(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    n = _prompt_size(engine, 1024, 8)
    settings: list[Setting] = [
        (b, {"n_batch": b, "n_ubatch": b}, {}) for b in (64, 128, 256, 512, 1024)
    ]
    return _rows(cfg, engine, "batch_size", settings, n, 8)


def decode_threads(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    cores = os.cpu_count() or 1
    counts = sorted({1, max(1, cores // 2), cores})
    n = _prompt_size(engine, 256, 48)
    settings: list[Setting] = [(c, {"n_threads": c}, {}) for c in counts]
    return _rows(cfg, engine, "decode_threads", settings, n, 48)


def _edit_run(engine: LlamaEngine, prompt: str, n_new: int):
    engine.generate(prompt, focal_params(1)).future.result()  # the prompt in the cache
    t0 = time.perf_counter()
    s = engine.generate(prompt, focal_params(n_new)).future.result()
    return (time.perf_counter() - t0) * 1000, s


def prompt_lookup(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    """Focal's engine with prompt-lookup drafts of 0 (off), 4 and 8 tokens, in turn."""
    from benchmarks.prompt_lookup import with_lookup

    n_new = max(16, cfg.new_tokens * 2)
    edit = edit_workload(lambda t: len(engine.tokenize(t)), _prompt_size(engine, 768, n_new))
    drafts = (0, 4, 8)
    engines = {k: open_focal(cfg) for k in drafts}
    decoders = {k: with_lookup(e, k) for k, e in engines.items()}
    dec: dict[int, list[float]] = {k: [] for k in drafts}
    ms: dict[int, list[float]] = {k: [] for k in drafts}
    texts: dict[int, list[str]] = {k: [] for k in drafts}
    try:
        for r in range(cfg.repeats):
            for k in _rotated(list(drafts), r):
                total, s = _edit_run(engines[k], edit, n_new)
                t = s.origin.timing
                ms[k].append(total)
                dec[k].append(t.tokens_generated / max(t.decode_ms, 1e-6) * 1000)
                texts[k].append(s.text)
        edit_counts = {k: (d.drafted, d.accepted) for k, d in decoders.items()}
        replays = _replays(engines, cfg, max(4, cfg.steps // 2))
    finally:
        for eng in engines.values():
            eng.close()
    rows = []
    for k in drafts:
        drafted, accepted = edit_counts[k]
        steps = replays[k]
        row = {
            "draft_tokens": k,
            "edit_decode_tps": round(median(dec[k]), 1),
            "edit_ms": round(median(ms[k]), 1),
            "edit_speedup": paired(dec[k], dec[0]),
            "acceptance": round(accepted / drafted, 3) if drafted else None,
            "keystroke_p50_ms": round(median([m for m, _ in steps]), 1),
            "keystroke_vs_off": paired([m for m, _ in steps], [m for m, _ in replays[0]]),
            "same_text": texts[k] == texts[0]
            and [x.text for _, x in steps] == [x.text for _, x in replays[0]],
        }
        progress(cfg, f"lever prompt_lookup={k}: {row}")
        rows.append(row)
    return rows


def _replays(engines: dict[int, LlamaEngine], cfg: BenchConfig, steps: int):
    """The keystroke replay on each engine, step by step in turn."""
    from benchmarks.engine_vs_llama import keystroke_file

    first = next(iter(engines.values()))
    before, after = keystroke_file(first, cfg)
    params = GenerationParams(max_tokens=cfg.new_tokens, time_budget_ms=NO_BUDGET)
    out: dict[int, list[tuple[float, Any]]] = {k: [] for k in engines}
    for i, ks in enumerate(keystrokes(before, after, steps + 1)):
        task = CompletionTask(
            document="file:///bench/pipeline.py",
            path="pipeline.py",
            language="python",
            prefix=ks.prefix,
            suffix=ks.suffix,
            trigger="automatic",
        )
        for k in _rotated(list(engines), i):
            t0 = time.perf_counter()
            s = engines[k].complete(task, params).future.result()
            if i:  # the first request opens the file: a cold prefill
                out[k].append(((time.perf_counter() - t0) * 1000, s))
    return out


def time_budget(cfg: BenchConfig, engine: LlamaEngine) -> list[dict[str, Any]]:
    steps = _replays({0: engine}, cfg, cfg.steps)[0]
    totals = [ms for ms, _ in steps]
    rows = []
    for b in BUDGETS_MS:
        done = sum(1 for ms in totals if ms <= b)
        rows.append({"budget_ms": b, "finished_share": round(done / max(1, len(totals)), 3)})
    progress(cfg, f"lever time_budget: {rows}")
    return rows


LEVERS = {
    "flash_attn": flash_attn,
    "kv_cache_type": kv_cache_type,
    "batch_size": batch_size,
    "decode_threads": decode_threads,
    "prompt_lookup": prompt_lookup,
    "time_budget": time_budget,
}


def levers(cfg: BenchConfig, engine: LlamaEngine, only: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fn in LEVERS.items():
        if only and name not in only:
            continue
        progress(cfg, f"lever {name}")
        out[name] = fn(cfg, engine)
    return out


def main(argv: list[str] | None = None) -> int:
    from lsp_server.cli_bench import main as bench_main

    return bench_main(["--scenarios", "levers", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
