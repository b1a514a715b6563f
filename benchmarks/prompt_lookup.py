"""Prompt-lookup speculative decoding, as a lever to measure (`focal bench --scenarios levers`).

When the last few tokens occurred before (in the prompt or the text so far), guess that what
followed them then follows them again, and let the model check the guess in one batch: the
drafts it would have chosen itself (greedy) are kept, the rest dropped from the KV cache.
Greedy output is unchanged. Code repeats itself (names, argument lists, an edited copy of a
function), so on a GPU, where checking 8 tokens costs about what decoding 1 does, this is
usually a win; on a CPU a batch of 8 costs several decode steps. It lives here, not in
`inference/`, until a measurement says it pays (see docs/benchmarks.md).
"""

from __future__ import annotations

import llama_cpp
import numpy as np

from inference.decoding import Decoder
from inference.engine import LlamaEngine
from inference.types import GenerationParams


class Lookup:
    """An n-gram index of the tokens seen so far: the position after each 3- and 2-gram's
    latest occurrence."""

    NGRAMS = (3, 2)

    def __init__(self, tokens: list[int]) -> None:
        self.hist: list[int] = []
        self.index: dict[tuple[int, ...], int] = {}
        for t in tokens:
            self.push(t)

    def push(self, tok: int) -> None:
        h = self.hist
        h.append(tok)
        for n in self.NGRAMS:
            if len(h) >= n:
                self.index[tuple(h[-n:])] = len(h)

    def draft(self, tok: int, k: int) -> list[int]:
        """Append `tok`; return up to `k` tokens guessed to follow it."""
        h = self.hist
        h.append(tok)
        found = None
        for n in self.NGRAMS:
            if len(h) >= n and (found := self.index.get(tuple(h[-n:]))) is not None:
                break
        h.pop()
        self.push(tok)
        if found is None or k <= 0:
            return []
        return h[found : found + k]


class LookupDecoder(Decoder):
    """Focal's decoder with prompt-lookup drafts of up to `draft` tokens (greedy only)."""

    def __init__(self, llama: llama_cpp.Llama, draft: int) -> None:
        super().__init__(llama)
        self.draft = draft
        self.drafted = self.accepted = 0
        self._lookup: Lookup | None = None
        self._ahead: list[tuple[int, np.ndarray]] = []

    def begin(self, tokens: list[int], params: GenerationParams) -> None:
        self._lookup = Lookup(tokens) if self.draft and params.temperature <= 0 else None
        self._ahead = []

    def feed(self, tok: int) -> np.ndarray:
        llama, ahead = self.llama, self._ahead
        if ahead:
            if ahead[0][0] == tok:  # drafted, checked, already in the cache
                if self._lookup:
                    self._lookup.push(tok)
                return ahead.pop(0)[1]
            # Only if the sampler picked differently from the check (greedy never does).
            llama.n_tokens -= len(ahead)
            llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
            ahead.clear()
        room = llama.n_ctx() - llama.n_tokens - 1
        draft = self._lookup.draft(tok, min(self.draft, room)) if self._lookup else []
        if not draft:
            return super().feed(tok)
        return self._verify(tok, draft)

    def _verify(self, tok: int, draft: list[int]) -> np.ndarray:
        llama = self.llama
        n_past = llama.n_tokens
        batch = [tok, *draft]
        llama._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
        llama._ctx.decode(llama._batch)
        llama.input_ids[n_past : n_past + len(batch)] = batch
        ctx = llama._ctx.ctx
        rows = [
            np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(ctx, i), shape=(self.n_vocab,)
            ).copy()
            for i in range(len(batch))
        ]
        kept = 0
        while kept < len(draft) and int(rows[kept].argmax()) == draft[kept]:
            kept += 1
        self.drafted += len(draft)
        self.accepted += kept
        llama.n_tokens = n_past + 1 + kept
        if kept < len(draft):
            llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        self._ahead = [(draft[i], rows[i + 1]) for i in range(kept)]
        return rows[0]


def with_lookup(engine: LlamaEngine, draft: int) -> LookupDecoder:
    """Give `engine` (loaded, idle: a benchmark's own) a prompt-lookup decoder."""
    engine.wait_loaded()
    decoder = LookupDecoder(engine._llama, draft)
    engine._decoder = decoder
    return decoder
