"""Token counts in the model's tokens, for the context budget.

A tokenizer call costs a fraction of a millisecond plus time proportional to the text
(llama.cpp's BPE; about 7 ms for a 1,000-token context on a laptop core): chunks are cut
with an estimate (characters per token, learnt from this tokenizer's exact counts) and the
chosen ones are counted exactly, cached by text, until `SETTLED` counts have taught the
ratio. From then on the estimate, a little pessimistic, is the count, and retrieval does not
call the tokenizer at all: the ratio no longer moves (nor do the chunks' cuts, which keeps
the prompt, and the KV cache, stable), and the engine, which tokenizes the prompt anyway,
still fits it to the context window exactly.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

TokenCounter = Callable[[str], int]
SETTLED = 64
"""Exact chunk counts after which a tokenizer's characters-per-token ratio is trusted."""


def estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 2) // 3)


def safe(count: TokenCounter | None) -> TokenCounter:
    """The model's token counter, falling back to an estimate (about 3 characters per
    token) when there is none or it fails."""
    if count is None:
        return estimate_tokens

    def safe(text: str) -> int:
        try:
            return int(count(text))
        except Exception:
            return estimate_tokens(text)

    return safe


class TokenCounts:
    """Exact counts by (tokenizer, text digest), and each tokenizer's characters per token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._ratio: dict[str, float] = {}
        self._samples: dict[str, int] = {}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def _learn(self, tokenizer: str, ratio: float) -> None:
        # A running mean that settles: estimates (and so where chunks are cut) stop
        # moving once a few hundred chunks were counted.
        n = min(self._samples.get(tokenizer, 0) + 1, 200)
        self._samples[tokenizer] = n
        old = self._ratio.get(tokenizer, ratio)
        self._ratio[tokenizer] = old + (ratio - old) / n

    def settled(self, tokenizer: str) -> bool:
        """Has `tokenizer`'s ratio been learnt (so that estimates are the counts)?"""
        return tokenizer == "~" or self._samples.get(tokenizer, 0) >= SETTLED

    def counter(self, count: TokenCounter | None, tokenizer: str) -> Counter:
        return Counter(self, safe(count), tokenizer if count is not None else "~")


class Counter:
    """Counts for one request, in one tokenizer's tokens."""

    def __init__(self, counts: TokenCounts, count: TokenCounter, tokenizer: str) -> None:
        self.r = counts
        self.count = count
        self.tokenizer = tokenizer

    def exact(self, text: str) -> int:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12)
        key = (self.tokenizer, digest.hexdigest())
        n = self.r._counts.get(key)
        if n is None:
            n = self.count(text)
            with self.r._lock:
                self.r._counts[key] = n
                while len(self.r._counts) > 4096:
                    self.r._counts.popitem(last=False)
                if len(text) >= 40:  # learn the ratio from texts long enough to say
                    self.r._learn(self.tokenizer, len(text) / max(1, n))
        return n

    def ratio(self) -> float:
        """Characters per token, rounded (so that the estimates do not move at every count)."""
        return round(self.r._ratio.get(self.tokenizer, 3.0), 1)

    def label(self, path: str) -> int:
        """An estimate of what a chunk's path label costs (its separator token included)."""
        return 2 + int(len(path) / self.ratio())

    def chunk(self, path: str, text: str) -> int:
        """What a chunk costs in the prompt: exactly (one call for its label and text) while
        the ratio is learnt, then the pessimistic estimate the chunk was cut with."""
        if self.r.settled(self.tokenizer):
            return self.estimate(path, text)
        return self.exact(f"{path}\n{text}") + 1

    def estimate(self, path: str, text: str) -> int:
        """The label's and the lines' estimates, as retrieval adds them up when cutting."""
        lines = text.splitlines(True)
        return self.label(path) + sum(map(self.lines(lines), range(len(lines))))

    def lines(self, lines: Sequence[str]) -> Callable[[int], int]:
        # A little pessimistic, so that the exact count rarely exceeds the estimate.
        ratio = self.ratio() * 0.9

        def cost(i: int) -> int:
            return 1 + int(len(lines[i]) / ratio) if i < len(lines) else 0

        return cost
