"""What every scenario shares: the settings, Focal's engine and a bare `llama_cpp.Llama` built
with the same ones, a bare greedy decode loop, and the statistics we print.

"Bare" means what a user of llama-cpp-python writes without Focal: `Llama.tokenize`,
`Llama.eval` (with the longest-common-prefix reuse `Llama.generate` does) and llama.cpp's own
greedy sampler. Both sides run in this process, on the same model file, the same prompts,
the same thread counts; the scenarios interleave them, repeat by repeat, so that the noise of
a shared machine falls on both.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import llama_cpp

from inference import cpu_check
from inference.decoding import common_prefix_len
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import read_model_card
from inference.offload import (
    FLASH_ATTN_OFF,
    FLASH_ATTN_ON,
    LoadOptions,
    OffloadPlan,
    flash_attn_for,
)
from inference.types import GenerationParams

A = TypeVar("A")
B = TypeVar("B")
NO_BUDGET = 600_000  # ms: benchmarks measure, they do not stop early on time


@dataclass(frozen=True)
class BenchConfig:
    model: Path
    n_ctx: int = 8192
    threads: int | None = None
    gpu_layers: int = -1
    """As Focal's default: all layers on the GPU when the build can offload."""
    repeats: int = 3
    n_batch: int = 512
    new_tokens: int = 48
    long_prompt: int = 4096
    steps: int = 24
    flash_attn: bool = True
    moe_experts: str = "auto"
    cache_type: str = "f16"
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decode_threads(self) -> int:
        """What Focal's engine uses for decoding when not told: half the cores."""
        return self.threads or max(1, (os.cpu_count() or 1) // 2)

    @property
    def batch_threads(self) -> int:
        return self.threads or max(1, os.cpu_count() or 1)


def progress(cfg: BenchConfig, msg: str) -> None:
    if not cfg.quiet:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else 0.0


def p95(xs: list[float]) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return float(s[min(len(s) - 1, round(0.95 * (len(s) - 1)))])


def ratio(focal: float, bare: float) -> float:
    return focal / bare if bare > 0 else 0.0


def paired(focal: list[float], bare: list[float]) -> float:
    """The median of the per-repeat ratios: on a shared machine, load drifts between repeats
    more than between the two halves of one."""
    return round(median([ratio(f, b) for f, b in zip(focal, bare, strict=True)]), 3)


def in_turn(r: int, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Run both, Focal first on even repeats and bare first on odd ones, so that neither side
    always inherits the other's warm caches (or its noise)."""
    if r % 2:
        b = second()
        return first(), b
    a = first()
    return a, second()


def engine_config(cfg: BenchConfig, **changes: Any) -> EngineConfig:
    base = EngineConfig(
        n_gpu_layers=cfg.gpu_layers,
        n_ctx=cfg.n_ctx,
        n_batch=cfg.n_batch,
        n_threads=cfg.threads,
        flash_attn=cfg.flash_attn,
        moe_experts=cfg.moe_experts,
        cache_type=cfg.cache_type,
    )
    return replace(base, **changes)


def open_focal(cfg: BenchConfig, **changes: Any) -> LlamaEngine:
    """Focal's engine on the benchmark's model; `changes` are `EngineConfig` fields."""
    card = read_model_card(cfg.model, with_digest=False)
    engine = LlamaEngine(card, engine_config(cfg, **changes))
    engine.wait_loaded()
    return engine


def open_bare(
    cfg: BenchConfig, plan: OffloadPlan | None = None, **overrides: Any
) -> llama_cpp.Llama:
    """A `Llama` with the llama.cpp settings Focal's engine uses (its context capped the same
    way, the same offload `plan`). What llama-cpp-python's `Llama` cannot express (expert
    tensors kept in RAM, flash attention "auto") is set the way Focal sets it, so that the
    comparison is of the serving layer, not of two different llama.cpp configurations."""
    card = read_model_card(cfg.model, with_digest=False)
    kwargs: dict[str, Any] = {
        "model_path": str(cfg.model),
        "n_ctx": min(cfg.n_ctx, card.context_length or cfg.n_ctx),
        "n_batch": cfg.n_batch,
        "n_gpu_layers": plan.n_gpu_layers if plan else 0,
        "n_threads": cfg.decode_threads,
        "n_threads_batch": cfg.batch_threads,
        "seed": 0,
        "verbose": False,
    }
    if cfg.cache_type != "f16":
        cache = getattr(llama_cpp, f"GGML_TYPE_{cfg.cache_type.upper()}")
        kwargs["type_k"] = kwargs["type_v"] = cache
    kwargs.update(overrides)
    flash = kwargs.pop("flash_attn", None)  # a lever forces it on or off
    options = LoadOptions(
        cpu_patterns=plan.cpu_patterns if plan else (),
        flash_attn=flash_attn_for(cfg.flash_attn, plan, cfg.cache_type)
        if flash is None
        else (FLASH_ATTN_ON if flash else FLASH_ATTN_OFF),
        # The same CPU kernels as Focal's engine: the probe's verdict (never a SIGILL here).
        extra_bufts=cpu_check.decide().extra_bufts,
    )
    with options.applied():
        return llama_cpp.Llama(**kwargs)


def focal_params(max_tokens: int) -> GenerationParams:
    return GenerationParams(max_tokens=max_tokens, time_budget_ms=NO_BUDGET, temperature=0.0)


@dataclass
class BareRun:
    tokens: list[int]
    prompt_tokens: int
    reused: int
    total_ms: float
    prefill_ms: float
    decode_ms: float

    @property
    def generated(self) -> int:
        return len(self.tokens)


class Bare:
    """Bare llama-cpp-python: prefix reuse as `Llama.generate` does it, greedy sampling by
    llama.cpp's own sampler, one `eval` per new token."""

    def __init__(self, llama: llama_cpp.Llama, add_bos: bool) -> None:
        self.llama = llama
        self.add_bos = add_bos
        self.vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self.sampler = llama_cpp.llama_sampler_init_greedy()

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.sampler)
        self.llama.close()

    def tokens(self, text: str) -> list[int]:
        ids = [self.llama.token_bos()] if self.add_bos else []
        return ids + self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def forget(self) -> None:
        """Drop the KV cache (a cold start)."""
        self.llama.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.llama.ctx), True)

    def run(self, ids: list[int], max_new: int, reuse: bool = True, t0: float | None = None):
        llama = self.llama
        t0 = time.perf_counter() if t0 is None else t0
        keep = 0
        if reuse and llama.n_tokens > 0:
            keep = common_prefix_len(llama.input_ids[: llama.n_tokens].tolist(), ids[:-1])
        llama.n_tokens = keep  # `eval` drops the cache from here on
        llama.eval(ids[keep:])
        t1 = time.perf_counter()
        out: list[int] = []
        for _ in range(max_new):
            tok = llama_cpp.llama_sampler_sample(self.sampler, llama.ctx, -1)
            if llama_cpp.llama_vocab_is_eog(self.vocab, tok) or llama_cpp.llama_vocab_is_control(
                self.vocab, tok
            ):
                break
            out.append(tok)
            llama.eval([tok])
        t2 = time.perf_counter()
        return BareRun(
            tokens=out,
            prompt_tokens=len(ids),
            reused=keep,
            total_ms=(t2 - t0) * 1000,
            prefill_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
        )


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50": round(median(xs), 3), "p95": round(p95(xs), 3), "n": len(xs)}


def warm_up(engine: LlamaEngine, bare: Bare) -> None:
    """One short request on each side: the first decode of a context pays one-time costs
    (thread pools, graph allocation, page faults of the mapped weights) that no user sees twice."""
    engine.generate("def main():\n", focal_params(4)).future.result()
    bare.forget()
    bare.run(bare.tokens("def main():\n"), 4, reuse=False)
