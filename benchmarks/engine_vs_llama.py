"""Focal's engine against bare llama-cpp-python, in one process, on the same prompts.

    python benchmarks/engine_vs_llama.py [--model PATH] [--repeats N] [--json] ...

Same as `focal bench` (which also runs the LSP-wire and lever scenarios). Scenarios:

- `cold`: a long prompt (4k tokens when the context allows), nothing cached, 48 new tokens;
- `keystroke`: a function typed into a file character by character, then line by line;
  each step is a completion request whose prompt differs from the last one in its tail;
- `throughput`: prefill and decode speed, tokens per second.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    NO_BUDGET,
    Bare,
    BareRun,
    BenchConfig,
    focal_params,
    in_turn,
    median,
    paired,
    progress,
    ratio,
    summary,
)
from benchmarks.workload import code_text, keystrokes, text_of_tokens
from inference.engine import LlamaEngine
from inference.templates import PromptLimits, build_prompt
from inference.types import CompletionTask, ContextBundle, GenerationParams

# Distinct first words, so that no two cold prompts share a cached prefix.
_HEADS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
)  # fmt: skip


def _focal_generate(engine: LlamaEngine, text: str, max_tokens: int) -> tuple[float, Any]:
    t0 = time.perf_counter()
    s = engine.generate(text, focal_params(max_tokens)).future.result()
    return (time.perf_counter() - t0) * 1000, s


def _bare_cold(bare: Bare, text: str, max_tokens: int) -> BareRun:
    bare.forget()
    return bare.run(bare.tokens(text), max_tokens, reuse=False)


def _unique(text: str, r: int) -> str:
    return f"{_HEADS[r % len(_HEADS)]}_{r} = {r}\n{text}"


def cold(cfg: BenchConfig, engine: LlamaEngine, bare: Bare) -> dict[str, Any]:
    """Long prompt, empty cache, `new_tokens` new tokens: time to the whole completion."""
    n_ctx = engine.n_ctx
    n_prompt = max(32, min(cfg.long_prompt, n_ctx - cfg.new_tokens - 32))
    base = text_of_tokens(lambda t: len(engine.tokenize(t)), n_prompt - 12)
    f_ms: list[float] = []
    b_ms: list[float] = []
    f_pre: list[float] = []
    b_pre: list[float] = []
    reused: list[int] = []
    prompt_tokens = generated = 0
    same = True
    for r in range(cfg.repeats):
        text = _unique(base, r)
        (ms, s), run = in_turn(
            r,
            partial(_focal_generate, engine, text, cfg.new_tokens),
            partial(_bare_cold, bare, text, cfg.new_tokens),
        )
        t = s.origin.timing
        f_ms.append(ms)
        f_pre.append(t.prefill_ms)
        reused.append(t.tokens_reused)
        b_ms.append(run.total_ms)
        b_pre.append(run.prefill_ms)
        prompt_tokens, generated = t.prompt_tokens, t.tokens_generated
        same &= bare.llama.detokenize(run.tokens).decode("utf-8", "replace").strip() == s.text
        progress(cfg, f"cold {r + 1}/{cfg.repeats}: focal {ms:.0f} ms, bare {run.total_ms:.0f} ms")
    return {
        "prompt_tokens": prompt_tokens,
        "new_tokens": generated,
        "same_output": same,
        "focal": {
            "total_ms": summary(f_ms),
            "prefill_ms": summary(f_pre),
            "tokens_reused_max": max(reused, default=0),
        },
        "bare": {"total_ms": summary(b_ms), "prefill_ms": summary(b_pre)},
        "ratio": {
            "total_ms_p50": round(ratio(median(f_ms), median(b_ms)), 3),
            "prefill_ms_p50": round(ratio(median(f_pre), median(b_pre)), 3),
            "total_ms_paired": paired(f_ms, b_ms),
        },
    }


def throughput(cfg: BenchConfig, engine: LlamaEngine, bare: Bare) -> dict[str, Any]:
    """Prefill speed on a 512-token prompt and decode speed over 4x the new tokens."""
    n_ctx = engine.n_ctx
    n_new = min(cfg.new_tokens * 4, n_ctx // 4)
    n_prompt = max(32, min(512, n_ctx - n_new - 32))
    base = text_of_tokens(lambda t: len(engine.tokenize(t)), n_prompt - 12)
    fp: list[float] = []
    fd: list[float] = []
    bp: list[float] = []
    bd: list[float] = []
    for r in range(cfg.repeats):
        text = _unique(base, r)
        (_, s), run = in_turn(
            r,
            partial(_focal_generate, engine, text, n_new),
            partial(_bare_cold, bare, text, n_new),
        )
        t = s.origin.timing
        fp.append(t.tokens_evaluated / max(t.prefill_ms, 1e-6) * 1000)
        fd.append(t.tokens_generated / max(t.decode_ms, 1e-6) * 1000)
        bp.append(run.prompt_tokens / max(run.prefill_ms, 1e-6) * 1000)
        bd.append(run.generated / max(run.decode_ms, 1e-6) * 1000)
        progress(
            cfg,
            f"throughput {r + 1}/{cfg.repeats}: decode focal {fd[-1]:.1f} bare {bd[-1]:.1f} tok/s"
            f", prefill focal {fp[-1]:.0f} bare {bp[-1]:.0f} tok/s",
        )
    return {
        "prompt_tokens": n_prompt,
        "new_tokens": n_new,
        "focal": {"prefill_tps": summary(fp), "decode_tps": summary(fd)},
        "bare": {"prefill_tps": summary(bp), "decode_tps": summary(bd)},
        "ratio": {
            "prefill_tps_p50": round(ratio(median(fp), median(bp)), 3),
            "decode_tps_p50": round(ratio(median(fd), median(bd)), 3),
            "decode_tps_paired": paired(fd, bd),
        },
    }


def focal_prompt_ids(engine: LlamaEngine, task: CompletionTask) -> list[int]:
    """The token ids Focal's engine evaluates for `task` (no context chunks): its template,
    with the trailing blank of the last line left to the model ("whitespace healing")."""
    last = task.prefix.rsplit("\n", 1)[-1]
    heal = last[len(last.rstrip(" \t")) :] if last.strip() else ""
    healed = replace(task, prefix=task.prefix[: len(task.prefix) - len(heal)])
    return engine.prompt_tokens(build_prompt(engine.template, healed, ContextBundle()))


def keystroke_file(engine: LlamaEngine, cfg: BenchConfig) -> tuple[str, str]:
    """The code around the function being typed: most of a file before it, some after."""
    count = lambda t: len(engine.tokenize(t))  # noqa: E731
    budget = max(64, min(1536, engine.n_ctx // 2 - cfg.new_tokens))
    limit = PromptLimits()
    before = text_of_tokens(count, budget)
    before = before[-limit.max_prefix_chars // 2 :]
    before = before[before.index("\ndef ") + 1 :] if "\ndef " in before else before
    after = "\n\n" + code_text(limit.max_suffix_chars // 2, seed=7)
    return before, after


def keystroke(cfg: BenchConfig, engine: LlamaEngine, bare: Bare) -> dict[str, Any]:
    """Replay typing a function; each keystroke asks for a completion."""
    before, after = keystroke_file(engine, cfg)
    steps = keystrokes(before, after, cfg.steps + 1)
    params = GenerationParams(max_tokens=cfg.new_tokens, time_budget_ms=NO_BUDGET)
    f_ms: list[float] = []
    f_dec: list[float] = []
    b_ms: list[float] = []
    b_dec: list[float] = []
    step_ratio: list[float] = []
    reused = prompt = 0
    shares: list[float] = []
    mismatched = 0
    bare.forget()
    for i, k in enumerate(steps):
        task = CompletionTask(
            document="file:///bench/pipeline.py",
            path="pipeline.py",
            language="python",
            prefix=k.prefix,
            suffix=k.suffix,
            trigger="automatic",
        )
        t0 = time.perf_counter()
        s = engine.complete(task, params).future.result()
        ms = (time.perf_counter() - t0) * 1000
        t = s.origin.timing
        ids = focal_prompt_ids(engine, task)
        mismatched += len(ids) != t.prompt_tokens
        run = bare.run(ids, max(1, t.tokens_generated))
        if i == 0:  # opening the file: a cold prefill, not a keystroke
            continue
        f_ms.append(ms)
        f_dec.append(t.decode_ms)
        b_ms.append(run.total_ms)
        b_dec.append(run.decode_ms)
        step_ratio.append(ms / max(run.decode_ms, 1e-6))
        reused += t.tokens_reused
        prompt += t.prompt_tokens
        shares.append(t.tokens_reused / max(1, t.prompt_tokens))
        if i % 8 == 0 or i == len(steps) - 1:
            progress(
                cfg,
                f"keystroke {i}/{len(steps) - 1}: focal {ms:.0f} ms "
                f"(reused {t.tokens_reused}/{t.prompt_tokens}), bare decode {run.decode_ms:.0f} ms",
            )
    return {
        "steps": len(f_ms),
        "prompt_tokens_mean": round(prompt / max(1, len(f_ms))),
        "prompt_mismatches": mismatched,
        "focal": {
            "latency_ms": summary(f_ms),
            "decode_ms": summary(f_dec),
            "reuse_share": round(reused / max(1, prompt), 4),
            "reuse_share_min": round(min(shares, default=0.0), 4),
        },
        "bare": {"latency_ms": summary(b_ms), "decode_only_ms": summary(b_dec)},
        "ratio": {
            "latency_p50": round(ratio(median(f_ms), median(b_ms)), 3),
            "latency_vs_decode_only_p50": round(median(step_ratio), 3),
        },
        "goals": {"latency_vs_decode_only_p50": 1.2, "reuse_share": 0.9},
    }


SCENARIOS = {"cold": cold, "keystroke": keystroke, "throughput": throughput}


def main(argv: list[str] | None = None) -> int:
    from lsp_server.cli_bench import main as bench_main

    return bench_main(["--scenarios", *SCENARIOS, *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
