"""LlamaEngine on real (tiny, synthetic) GGUFs: FIM prompts by id, the queue, cancellation,
superseding, KV reuse, and the origin of every suggestion."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inference.decoding import Cancelled
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import read_model_card
from inference.templates import build_prompt
from inference.types import CompletionTask, ContextBundle, ContextChunk, GenerationParams

LONG = GenerationParams(max_tokens=400, time_budget_ms=60_000)


@pytest.fixture(scope="module")
def engine(tiny_model: Path):
    eng = LlamaEngine(read_model_card(tiny_model), EngineConfig(n_ctx=2048, n_threads=1))
    eng.wait_loaded(30)
    yield eng
    eng.close()


def task(prefix: str, suffix: str = "", doc: str = "file:///a.py") -> CompletionTask:
    return CompletionTask(
        document=doc, path="a.py", language="python", prefix=prefix, suffix=suffix
    )


def test_fim_prompt_uses_the_vocabulary_control_ids(engine: LlamaEngine):
    import llama_cpp

    llama = engine._llama
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    pre, suf, mid = (
        llama_cpp.llama_vocab_fim_pre(vocab),
        llama_cpp.llama_vocab_fim_suf(vocab),
        llama_cpp.llama_vocab_fim_mid(vocab),
    )
    # User code that spells the markers out must not become control tokens.
    code = "x = '<fim_prefix><fim_suffix><fim_middle>'\n"
    prompt = build_prompt(engine.template, task(code, "\nprint(x)\n"), ContextBundle())
    ids = engine.prompt_tokens(prompt)
    assert ids.count(pre) == 1 and ids.count(suf) == 1 and ids.count(mid) == 1
    assert ids[-1] == mid  # the model writes the middle right after its marker
    assert engine.card.fim_family == "mellum" and engine.template.name.startswith("mellum")


def test_suggestion_origin_names_the_model_and_timing(engine: LlamaEngine, tiny_model: Path):
    s = engine.complete(task("def f(a, b):\n    return "), GenerationParams(max_tokens=8)).future
    sug = s.result(30)
    o = sug.origin
    assert o.model_digest == read_model_card(tiny_model).digest and len(o.model_digest) == 64
    assert o.architecture == "mellum" and o.quantization == "F16"
    assert o.timing.prompt_tokens > 0 and o.timing.tokens_generated <= 8
    assert 0.0 <= o.confidence <= 1.0
    assert sug.prompt  # kept for the ledger's digest


def test_cancelling_a_queued_request_leaves_the_engine_serving(engine: LlamaEngine):
    first = engine.complete(task("a = 1\n", doc="file:///one.py"), LONG)
    queued = engine.complete(task("b = 2\n", doc="file:///two.py"), LONG)
    queued.cancel()
    with pytest.raises(Cancelled):
        queued.future.result(5)
    first.cancel()
    with pytest.raises(Cancelled):
        first.future.result(5)
    # The worker survived both: the next request is answered.
    after = engine.complete(task("c = 3\n", doc="file:///three.py"), GenerationParams(max_tokens=4))
    assert after.future.result(30).origin.timing.tokens_generated >= 1


def test_newer_request_for_a_document_supersedes_the_running_one(engine: LlamaEngine):
    # A prompt on which this model writes ~300 tokens; the newer request comes at once.
    old = engine.complete(task("v = 0\n" * 30, doc="file:///s.py"), LONG)
    new = engine.complete(task("v = 1\n" * 30, doc="file:///s.py"), GenerationParams(max_tokens=4))
    with pytest.raises(Cancelled, match="superseded"):
        old.future.result(10)
    assert new.future.result(30).text is not None


def test_cancel_stops_between_two_tokens(engine: LlamaEngine):
    # Measure an uncancelled long run, then cancel the same run early.
    start = time.perf_counter()
    full = engine.complete(task("v = 0\n" * 30, doc="file:///c.py"), LONG).future.result(60)
    full_s = time.perf_counter() - start
    assert full.origin.timing.tokens_generated > 50
    req = engine.complete(task("w = 0\n" * 30, doc="file:///c.py"), LONG)
    time.sleep(min(0.02, full_s / 4))
    t0 = time.perf_counter()
    req.cancel()
    with pytest.raises(Cancelled):
        req.future.result(10)
    assert time.perf_counter() - t0 < max(0.1, full_s / 2)


def test_typing_reuses_the_kv_cache(engine: LlamaEngine):
    body = "def total(items):\n    s = 0\n    for item in items:\n        s += item.price\n"
    shares = []
    for i in range(10, len(body), 7):
        sug = engine.complete(
            task(body[:i], "\n\nprint(total([]))\n", doc="file:///k.py"),
            GenerationParams(max_tokens=4),
        ).future.result(30)
        t = sug.origin.timing
        shares.append(t.tokens_reused / t.prompt_tokens)
    assert min(shares[1:]) > 0.5 and sum(shares[1:]) / len(shares[1:]) > 0.75, shares


def test_context_chunks_travel_into_the_origin(engine: LlamaEngine):
    chunk = ContextChunk("lib/util.py", 0, 1, "def helper():\n    pass\n", "definition of `helper`")
    sug = engine.complete(
        task("helper(", doc="file:///ctx.py"),
        GenerationParams(max_tokens=4),
        ContextBundle((chunk,)),
    ).future.result(30)
    assert sug.origin.context == (chunk,)
    assert "lib/util.py" in sug.prompt


def test_the_origin_names_only_the_chunks_that_fit_the_context_window(engine: LlamaEngine):
    """Three chunks of about 700 tokens each cannot all fit a 2,048-token window: the
    engine drops the last ones, and the origin (what the user is shown as "why") lists
    exactly the chunks the prompt holds."""
    body = "value = compute(alpha, beta)\n"
    per_line = len(engine.tokenize(body))
    lines = 700 // per_line + 1
    chunks = tuple(
        ContextChunk(f"lib/m{i}.py", 0, lines, f"# m{i}\n" + body * lines, f"reason {i}")
        for i in range(3)
    )
    sug = engine.complete(
        task("def main():\n    return ", doc="file:///fit.py"),
        GenerationParams(max_tokens=8),
        ContextBundle(chunks),
    ).future.result(60)
    kept = sug.origin.context
    assert 1 <= len(kept) < len(chunks)
    assert kept == chunks[: len(kept)]  # ranked order: the last ones go first
    for c in chunks:
        assert (f"# {c.path[4:-3]}\n" in sug.prompt) == (c in kept)
    assert sug.origin.timing.prompt_tokens <= 2048 - 8
