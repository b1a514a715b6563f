"""Prompt-lookup decoding (a lever `focal bench` measures): guesses from the prompt are checked
by the model in one batch, kept when the model agrees, and dropped from the KV cache when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.prompt_lookup import Lookup, LookupDecoder, with_lookup
from benchmarks.workload import edit_workload
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import read_model_card
from inference.types import GenerationParams


@pytest.mark.parametrize(
    ("history", "tok", "k", "draft"),
    [
        pytest.param([1, 2, 3, 4, 5, 1, 2], 3, 2, [4, 5], id="what-followed-before"),
        pytest.param([5, 6, 7, 8, 9, 1], 6, 3, [], id="never-seen"),
        pytest.param([1, 2, 7, 1, 2, 8, 1], 2, 1, [8], id="the-latest-occurrence"),
        pytest.param([3, 1, 2, 7, 9, 1, 2, 8, 3, 1], 2, 1, [7], id="longer-match-first"),
        pytest.param([1, 2, 3, 1], 2, 5, [3, 1, 2], id="up-to-the-end"),
    ],
)
def test_lookup_drafts_what_followed_the_same_tokens(history, tok, k, draft):
    assert Lookup(history).draft(tok, k) == draft


@pytest.fixture(scope="module")
def engines(smollm2: Path):
    card = read_model_card(smollm2, with_digest=False)
    pair = [LlamaEngine(card, EngineConfig(n_ctx=2048)) for _ in range(2)]
    for e in pair:
        e.wait_loaded(60)
    with_lookup(pair[1], 4)
    yield pair
    for e in pair:
        e.close()


def test_drafts_are_checked_and_the_cache_stays_consistent(engines: list[LlamaEngine]):
    plain, drafted = engines
    prompt = edit_workload(lambda t: len(plain.tokenize(t)), 300)
    params = GenerationParams(max_tokens=24, time_budget_ms=60_000)
    a = plain.generate(prompt, params).future.result(120)
    b = drafted.generate(prompt, params).future.result(120)
    assert isinstance(drafted._decoder, LookupDecoder) and drafted._decoder.accepted > 0
    # Greedy either way; a batch rounds a little differently from one token at a time, so
    # only a near-tie could flip a pick: the texts agree at least for a good while.
    n = min(len(a.text), len(b.text), 20)
    assert n >= 10 and b.text[:n] == a.text[:n]
    # The cache is left consistent: the same request again reuses the prompt and repeats.
    again = drafted.generate(prompt, params).future.result(120)
    assert again.text == b.text
    assert again.origin.timing.tokens_reused == again.origin.timing.prompt_tokens - 1


def test_sampling_never_drafts(engines: list[LlamaEngine]):
    _, drafted = engines
    assert isinstance(drafted._decoder, LookupDecoder)
    before = drafted._decoder.drafted
    params = GenerationParams(max_tokens=16, time_budget_ms=60_000, temperature=0.8, seed=3)
    drafted.generate("def add(a, b):\n    return", params).future.result(120)
    assert drafted._decoder.drafted == before
