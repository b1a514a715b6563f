"""`LlamaEngine`: one in-process llama.cpp model on its own worker thread, with a request queue.

A `llama_cpp.Llama` is not thread-safe, so every call into it happens on the engine's worker.
Callers `submit` work and get a `concurrent.futures.Future`; the LSP loop awaits it without
blocking. A newer request for the same document supersedes the older ones: queued ones are
answered at once with `Cancelled("superseded")`, a running one stops between two tokens.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from inference import cpu_check, llama_log
from inference.cpu_check import CpuDecision
from inference.decoding import Cancelled, Decoder, DecodeResult
from inference.model_card import ModelError, read_model_card
from inference.offload import OffloadPlan
from inference.postprocess import StopRules
from inference.templates import FimTemplate, PromptLimits, build_prompt, template_for
from inference.text import utf8
from inference.types import (
    CompletionTask,
    ContextBundle,
    GenerationParams,
    ModelCard,
    Origin,
    Prompt,
    Suggestion,
    Timing,
)

log = logging.getLogger(__name__)

__all__ = ["Cancelled", "EngineConfig", "EngineRequest", "LlamaEngine", "ModelError"]


@dataclass(frozen=True)
class EngineConfig:
    n_gpu_layers: int = -1
    """Layers to offload to the GPU: -1 = all (when the llama.cpp build can offload), 0 = CPU."""
    n_ctx: int = 4096
    n_batch: int = 512
    """Prompt tokens per llama.cpp decode call (and per physical batch)."""
    n_threads: int | None = None
    """Decode threads; default: half the cores (prefill uses all of them)."""
    flash_attn: bool = True
    """Flash attention where it helps: llama.cpp's "auto" on a GPU (or for a quantized V
    cache), off on the CPU, where it is slower (`offload.flash_attn_for`); False: never."""
    moe_experts: str = "auto"
    """Where a MoE's expert tensors go when offloading: `auto`, `gpu` or `cpu` (system RAM)."""
    cache_type: str = "f16"
    """KV cache element type: `f16`, `q8_0`, `q4_0`… (quantized V needs flash attention)."""
    fim_order: str = "auto"
    cpu_extra_buffers: str = "auto"
    """llama.cpp's extra CPU buffer types (AMX, repacked weights): `auto` (where the CPU
    probe saw them work, `inference.cpu_check`), `on` or `off`."""


@dataclass
class _Job:
    id: str
    document: str | None
    fn: Callable[[_Job], Any]
    future: Future[Any]
    submitted: float
    cancel: threading.Event
    reason: str = "cancelled"
    started: float = 0.0
    guard: threading.Condition | None = None
    """The engine's lock: a queued job is either started by the worker or answered by
    `cancel`, never both."""


@dataclass(frozen=True)
class EngineRequest:
    """A handle on submitted work: its future, and a way to cancel it."""

    id: str
    future: Future[Any]
    _job: _Job

    def cancel(self, reason: str = "cancelled") -> None:
        job = self._job
        job.reason = reason
        job.cancel.set()
        # A queued job never started: answer it now (the worker then skips it).
        with job.guard or contextlib.nullcontext():
            if (
                not job.started
                and not self.future.done()
                and self.future.set_running_or_notify_cancel()
            ):
                self.future.set_exception(Cancelled(reason))


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def memory_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class LlamaEngine:
    """One GGUF model loaded in-process; all llama.cpp work on one worker thread."""

    engine_name = "llama.cpp"

    def __init__(self, card: ModelCard, config: EngineConfig | None = None) -> None:
        self.card = card
        self.config = config or EngineConfig()
        self.template: FimTemplate = template_for(card, self.config.fim_order)
        self.device = "cpu"
        self.plan: OffloadPlan | None = None
        """Where the weights went (once loaded)."""
        self.cpu: CpuDecision | None = None
        """Whether llama.cpp's extra CPU buffer types were used, and why (once loaded)."""
        self.load_seconds = 0.0
        self._llama: Any = None
        self._decoder: Decoder | None = None
        self._special: dict[str, int] = {}
        self._cv = threading.Condition()
        self._pending: list[_Job] = []
        self._running: _Job | None = None
        self._closed = False
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._worker, name=f"focal-model-{card.name}")
        self._thread.daemon = True
        self._loaded = Future[float]()
        self._thread.start()

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], config: EngineConfig | None = None):
        """Read the card and start loading; `wait_loaded()` raises `ModelError` on failure."""
        return cls(read_model_card(path), config)

    # -- public API (any thread) ---------------------------------------------------------

    def wait_loaded(self, timeout: float | None = None) -> float:
        """Block until the model is loaded; return load seconds or raise `ModelError`."""
        return self._loaded.result(timeout)

    @property
    def loaded_future(self) -> Future[float]:
        return self._loaded

    def submit(self, fn: Callable[[_Job], Any], document: str | None = None) -> EngineRequest:
        job = _Job(
            id=uuid.uuid4().hex[:16],
            document=document,
            fn=fn,
            future=Future(),
            submitted=time.perf_counter(),
            cancel=threading.Event(),
            guard=self._cv,
        )
        with self._cv:
            if self._closed:
                job.future.set_exception(ModelError("The model engine is shut down."))
                return EngineRequest(job.id, job.future, job)
            if document is not None:
                for old in [j for j in self._pending if j.document == document]:
                    self._pending.remove(old)
                    old.reason = "superseded"
                    old.cancel.set()
                    if not old.future.done() and old.future.set_running_or_notify_cancel():
                        old.future.set_exception(Cancelled("superseded"))
                if self._running and self._running.document == document:
                    self._running.reason = "superseded"
                    self._running.cancel.set()
            self._pending.append(job)
            self._cv.notify()
        return EngineRequest(job.id, job.future, job)

    def complete(
        self,
        task: CompletionTask,
        params: GenerationParams | None = None,
        bundle: ContextBundle | None = None,
    ) -> EngineRequest:
        """Queue a completion for `task`; the future resolves to a `Suggestion`."""
        p = params or GenerationParams()
        b = bundle or ContextBundle()
        return self.submit(lambda job: self._run_completion(job, task, p, b), task.document)

    def chat(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams | None = None,
        document: str | None = None,
    ) -> EngineRequest:
        """Queue a chat turn rendered with the GGUF's own chat template (instruct models).
        Raises `ModelError` at once when the model has no chat template."""
        if not self.card.has_chat_template:
            raise ModelError(
                f"{self.card.name} has no chat template; use `generate` with a completion prompt."
            )
        p = params or GenerationParams(max_tokens=512, time_budget_ms=60_000)
        return self.submit(lambda job: self._run_chat(job, messages, p), document)

    def generate(
        self,
        prompt: str,
        params: GenerationParams | None = None,
        document: str | None = None,
        stop: Callable[[str], tuple[bool, int, str]] | None = None,
    ) -> EngineRequest:
        """Queue a plain completion of `prompt` (base models: a completion-style prompt)."""
        p = params or GenerationParams(max_tokens=512, time_budget_ms=60_000)
        check = stop or (lambda text: (False, len(text), ""))
        return self.submit(
            lambda job: replace(
                self._run_text(
                    job, self._text_tokens(prompt, special=False), p, check, "completion"
                ),
                prompt=prompt,
            ),
            document,
        )

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in self._pending:
                if not job.future.done() and job.future.set_running_or_notify_cancel():
                    job.future.set_exception(Cancelled("shutdown"))
            self._pending.clear()
            if self._running:
                self._running.reason = "shutdown"
                self._running.cancel.set()
            self._cv.notify_all()
        self._thread.join(timeout=10)

    @property
    def busy(self) -> bool:
        """Work queued or running (an idle engine may be unloaded)."""
        with self._cv:
            return bool(self._pending or self._running)

    @property
    def n_ctx(self) -> int:
        """The context window in tokens (once loaded)."""
        self.wait_loaded()
        return int(self._llama.n_ctx())

    def tokenize(self, text: str) -> list[int]:
        """Tokenize user text (no special tokens). Only valid once loaded; thread-safe enough
        for counting because tokenization does not touch the decode state."""
        self.wait_loaded()
        return list(self._llama.tokenize(utf8(text), add_bos=False, special=False))

    # -- worker thread -------------------------------------------------------------------

    def _load(self) -> None:
        import llama_cpp

        from inference import offload

        llama_log.install()
        cfg = self.config
        n_ctx = min(cfg.n_ctx, self.card.context_length or cfg.n_ctx)
        cache = _ggml_type(cfg.cache_type)
        try:
            plan = offload.plan_offload(
                self.card,
                cfg.moe_experts,
                n_gpu_layers=cfg.n_gpu_layers,
                n_ctx=n_ctx,
                cache_type=cfg.cache_type,
            )
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        self.plan = plan
        avail = memory_available()
        if not plan.offload and avail is not None and self.card.size_bytes > avail:
            raise ModelError(
                f"{self.card.path.name} needs about {self.card.size_bytes / 2**30:.1f} GiB of "
                f"memory but only {avail / 2**30:.1f} GiB is available. Close other programs or "
                "choose a smaller quantization (e.g. Q4_K_M)."
            )
        # Decoding is memory-bound and llama.cpp's threads spin at each step: on a busy
        # machine, one thread per core stalls badly. Decode on half the cores (llama.cpp's
        # own default), prefill (compute-bound, batched) on all of them.
        cores = max(1, os.cpu_count() or 1)
        threads = cfg.n_threads or max(1, cores // 2)
        batch_threads = cfg.n_threads or cores
        # Never run a CPU kernel this host has not been seen to survive (AMX on some VMs is
        # a SIGILL that would take the whole server down): probed once per host, cached.
        self.cpu = cpu_check.decide(cfg.cpu_extra_buffers)
        options = offload.LoadOptions(
            cpu_patterns=plan.cpu_patterns,
            flash_attn=offload.flash_attn_for(cfg.flash_attn, plan, cfg.cache_type),
            extra_bufts=self.cpu.extra_bufts,
        )
        t0 = time.perf_counter()
        llama_log.recent_errors(clear=True)
        try:
            with options.applied():
                self._llama = llama_cpp.Llama(
                    model_path=str(self.card.path),
                    n_ctx=n_ctx,
                    n_batch=cfg.n_batch,
                    n_gpu_layers=plan.n_gpu_layers,
                    n_threads=threads,
                    n_threads_batch=batch_threads,
                    type_k=cache,
                    type_v=cache,
                    seed=0,
                    verbose=False,
                )
        except Exception as exc:  # llama.cpp reports every load failure as a bare ValueError
            why = "; ".join(llama_log.recent_errors()) or str(exc)
            hint = ""
            if "architecture" in why:
                hint = (
                    f" This llama.cpp build does not know architecture "
                    f"'{self.card.architecture}'; upgrade llama-cpp-python."
                )
            elif plan.offload:
                hint = (
                    f" It was loading with this plan: {plan.describe()}. Try "
                    "`focal.model.moeExperts: cpu` or fewer `focal.model.gpuLayers`."
                )
            raise ModelError(
                f"llama.cpp could not load {self.card.path.name}: {why}.{hint}"
            ) from exc
        self.load_seconds = time.perf_counter() - t0
        self.device = _device_name(plan, self.card.n_layer)
        self._decoder = Decoder(self._llama)
        log.info(
            "loaded %s (%s, %s) in %.2f s on %s; template %s; %s; %s",
            self.card.name,
            self.card.architecture,
            self.card.quantization,
            self.load_seconds,
            self.device,
            self.template.name,
            plan.describe(),
            self.cpu.describe(),
        )

    def _worker(self) -> None:
        try:
            self._load()
        except Exception as exc:
            err = exc if isinstance(exc, ModelError) else ModelError(f"Model failed to load: {exc}")
            self._loaded.set_exception(err)
            self._fail_all(err)
            return
        self._loaded.set_result(self.load_seconds)
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    break
                job = self._pending.pop(0)
                if job.future.done() or not job.future.set_running_or_notify_cancel():
                    continue  # answered already (cancelled while queued)
                job.started = time.perf_counter()
                self._running = job
            try:
                if job.cancel.is_set():
                    raise Cancelled(job.reason)
                job.future.set_result(job.fn(job))
            except BaseException as exc:  # every request is answered, whatever happened
                if not isinstance(exc, Cancelled | ModelError):
                    log.exception("engine job failed")
                job.future.set_exception(exc)
            finally:
                with self._cv:
                    self._running = None
        self._llama = None

    def _fail_all(self, err: Exception) -> None:
        with self._cv:
            self._closed = True
            for job in self._pending:
                if not job.future.done() and job.future.set_running_or_notify_cancel():
                    job.future.set_exception(err)
            self._pending.clear()

    def _special_id(self, text: str) -> int:
        tid = self._special.get(text)
        if tid is None:
            ids = self._llama.tokenize(utf8(text), add_bos=False, special=True)
            if len(ids) != 1:
                raise ModelError(f"marker {text!r} is not a single token in {self.card.name}")
            tid = self._special[text] = ids[0]
        return tid

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt: markers by id, user text with special tokens disabled, so
        code that contains a marker string cannot inject a control token."""
        ids: list[int] = []
        if self.card.add_bos:
            ids.append(self._llama.token_bos())
        for piece in prompt.pieces:
            if piece.control:
                ids.append(self._special_id(piece.text))
            elif piece.text:
                ids += self._llama.tokenize(utf8(piece.text), add_bos=False, special=False)
        return ids

    def _fit_prompt(
        self, task: CompletionTask, bundle: ContextBundle, max_tokens: int
    ) -> tuple[Prompt, list[int], ContextBundle]:
        """The prompt that fits the context window with room for `max_tokens`, its tokens,
        and the context it holds (what the origin must name: a dropped chunk is not)."""
        limits = PromptLimits()
        n_ctx = self._llama.n_ctx()
        while True:
            prompt = build_prompt(self.template, task, bundle, limits)
            tokens = self.prompt_tokens(prompt)
            if len(tokens) + max_tokens <= n_ctx or limits.max_prefix_chars < 64:
                return prompt, tokens[-(n_ctx - max_tokens) :], bundle
            # Too long for the context window: drop context first, then shrink the window.
            if bundle.chunks:
                bundle = replace(bundle, chunks=bundle.chunks[:-1])
            else:
                limits = PromptLimits(limits.max_prefix_chars // 2, limits.max_suffix_chars // 2)

    def _run_completion(
        self, job: _Job, task: CompletionTask, params: GenerationParams, bundle: ContextBundle
    ) -> Suggestion:
        assert self._decoder is not None
        max_tokens = min(params.max_tokens, max(1, self._llama.n_ctx() // 4))
        params = replace(params, max_tokens=max_tokens)
        # "Whitespace healing": a prefix ending in a space makes the model continue from an
        # unnatural lone-space token. Leave the space out of the prompt and expect the model
        # to write it (as the start of its first token); it is then dropped from the text.
        last_line = task.prefix.rsplit("\n", 1)[-1]
        heal = last_line[len(last_line.rstrip(" \t")) :] if last_line.strip() else ""
        prompt_task = replace(task, prefix=task.prefix[: len(task.prefix) - len(heal)])
        prompt, tokens, bundle = self._fit_prompt(prompt_task, bundle, max_tokens)
        rules = StopRules(task.prefix, task.suffix, params.multiline, prompt.stop_texts)

        def check(text: str) -> tuple[bool, int, str]:
            if heal and text.startswith(heal):
                stop, cut, why = rules.check(text[len(heal) :])
                return stop, cut + len(heal), why
            if heal and heal.startswith(text):
                return False, len(text), ""
            return rules.check(text)

        result = self._decoder.run(tokens, params, check, job.cancel, lambda: job.reason)
        raw = result.text[len(heal) :] if heal and result.text.startswith(heal) else result.text
        text = rules.finish(raw)
        timing = self._timing(job, result)
        origin = self.origin(params, timing, result.confidence, result.stop_reason, bundle)
        return Suggestion(id=job.id, text=text, origin=origin, prompt=prompt.text)

    def _text_tokens(self, text: str, special: bool) -> list[int]:
        ids = [self._llama.token_bos()] if self.card.add_bos else []
        ids += self._llama.tokenize(utf8(text), add_bos=False, special=special)
        limit = self._llama.n_ctx() - 16
        if len(ids) > limit:
            raise ModelError(
                f"The prompt needs {len(ids)} tokens but the context window holds {limit}; "
                "raise `focal.model.contextLength` or send less."
            )
        return ids

    def _run_chat(
        self, job: _Job, messages: list[dict[str, str]], params: GenerationParams
    ) -> Suggestion:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        md = self._llama.metadata
        vocab = self._llama
        formatter = Jinja2ChatFormatter(
            template=md["tokenizer.chat_template"],
            eos_token=vocab.detokenize([vocab.token_eos()], special=True).decode(
                "utf-8", "replace"
            ),
            bos_token=vocab.detokenize([vocab.token_bos()], special=True).decode(
                "utf-8", "replace"
            ),
        )
        rendered = formatter(messages=messages).prompt
        # The template's own markers must be control tokens; the cost is that a message
        # containing a marker string becomes one too (as in every llama.cpp chat front end).
        tokens = self._llama.tokenize(utf8(rendered), add_bos=False, special=True)
        max_tokens = max(1, min(params.max_tokens, self._llama.n_ctx() - len(tokens) - 1))
        if len(tokens) >= self._llama.n_ctx() - 1:
            raise ModelError(
                f"The request needs {len(tokens)} tokens but the context window holds "
                f"{self._llama.n_ctx()}; raise `focal.model.contextLength` or select less code."
            )
        params = replace(params, max_tokens=max_tokens)
        suggestion = self._run_text(job, tokens, params, lambda t: (False, len(t), ""), "chat")
        return replace(suggestion, prompt=rendered)

    def _run_text(
        self,
        job: _Job,
        tokens: list[int],
        params: GenerationParams,
        check: Callable[[str], tuple[bool, int, str]],
        template: str,
    ) -> Suggestion:
        assert self._decoder is not None
        params = replace(
            params, max_tokens=max(1, min(params.max_tokens, self._llama.n_ctx() - len(tokens) - 1))
        )
        result = self._decoder.run(tokens, params, check, job.cancel, lambda: job.reason)
        timing = self._timing(job, result)
        origin = self.origin(params, timing, result.confidence, result.stop_reason, ContextBundle())
        return Suggestion(
            id=job.id, text=result.text.strip(), origin=replace(origin, template=template)
        )

    def _timing(self, job: _Job, result: DecodeResult) -> Timing:
        return Timing(
            queue_ms=(job.started - job.submitted) * 1000,
            prefill_ms=result.prefill_ms,
            decode_ms=result.decode_ms,
            total_ms=(time.perf_counter() - job.submitted) * 1000,
            prompt_tokens=result.prompt_tokens,
            tokens_reused=result.tokens_reused,
            tokens_evaluated=result.tokens_evaluated,
            tokens_generated=len(result.token_logprobs),
        )

    def origin(
        self,
        params: GenerationParams,
        timing: Timing,
        confidence: float,
        stop_reason: str,
        bundle: ContextBundle,
    ) -> Origin:
        card = self.card
        return Origin(
            model_name=card.name,
            model_path=str(card.path),
            model_digest=card.digest,
            quantization=card.quantization,
            architecture=card.architecture,
            engine=f"{self.engine_name} (llama-cpp-python {_llama_version()})",
            device=self.device,
            template=self.template.name,
            sampling=params,
            timing=timing,
            confidence=confidence,
            stop_reason=stop_reason,
            context=bundle.chunks,
        )


def _llama_version() -> str:
    import llama_cpp

    return str(getattr(llama_cpp, "__version__", "?"))


def _device_name(plan: OffloadPlan, n_layer: int) -> str:
    """`cpu`, or the GPU backend and device, e.g. `gpu (CUDA0, experts in RAM)`."""
    if not plan.offload or plan.gpu is None:
        return "cpu"
    from inference.offload import build_info

    extra = ", experts in RAM" if plan.experts_on_cpu else ""
    if 0 <= plan.n_gpu_layers < n_layer:
        extra += f", {plan.n_gpu_layers} layers"
    return f"gpu ({build_info().kind}: {plan.gpu.name}{extra})"


def _ggml_type(name: str) -> int:
    import llama_cpp

    value = getattr(llama_cpp, f"GGML_TYPE_{name.upper()}", None)
    if not isinstance(value, int):
        raise ModelError(
            f"unknown KV cache type {name!r}; use one of f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0"
        )
    return value
