"""Deterministic code workloads: long Python files, a function typed keystroke by keystroke,
and an edit whose completion copies text from the prompt."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_NOUNS = (
    "record", "buffer", "token", "session", "request", "payload", "entry", "node", "column",
    "worker", "window", "cursor", "segment", "frame", "config", "result", "channel", "index",
)  # fmt: skip
_VERBS = (
    "parse", "load", "merge", "split", "render", "update", "validate", "collect", "encode",
    "decode", "flush", "resolve", "normalize", "compute", "filter", "format",
)  # fmt: skip


def _function(rng: random.Random, i: int) -> str:
    verb, noun, other = rng.choice(_VERBS), rng.choice(_NOUNS), rng.choice(_NOUNS)
    name = f"{verb}_{noun}_{i}"
    lines = [
        f"def {name}({noun}, {other}=None, limit={rng.randint(2, 99)}):",
        f'    """{verb.capitalize()} the {noun} against the {other} (at most `limit` items)."""',
        "    result = []",
        f"    for i, item in enumerate({noun}):",
        "        if i >= limit:",
        "            break",
        f"        if {other} is not None and item in {other}:",
        "            continue",
        f"        result.append(item * {rng.randint(1, 9)} + i)",
        "    return result",
        "",
        "",
    ]
    return "\n".join(lines)


def code_text(n_chars: int, seed: int = 0) -> str:
    """A Python module of about `n_chars` characters (whole functions), always the same."""
    rng = random.Random(seed)
    parts = ['"""Utilities for the data pipeline."""\n\nimport os\nimport sys\n\n\n']
    size, i = len(parts[0]), 0
    while size < n_chars:
        parts.append(_function(rng, i))
        size += len(parts[-1])
        i += 1
    return "".join(parts)


def text_of_tokens(count: Callable[[str], int], n_tokens: int, seed: int = 0) -> str:
    """Code of about `n_tokens` tokens as `count` tokenizes it (cut at a line end, under)."""
    text = code_text(max(256, n_tokens * 6), seed)
    lo, hi = 0, len(text)
    # The longest line-aligned prefix that stays within the budget.
    ends = [i + 1 for i, c in enumerate(text) if c == "\n"]
    lo, hi = 0, len(ends) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[: ends[mid]]) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[: ends[lo]]


TYPED_FUNCTION = '''def moving_average(values, window=3):
    """The mean of each run of `window` consecutive values."""
    if window <= 0:
        raise ValueError("window must be positive")
    out = []
    total = sum(values[:window])
    out.append(total / window)
    for i in range(window, len(values)):
        total += values[i] - values[i - window]
        out.append(total / window)
    return out
'''


@dataclass(frozen=True)
class Keystroke:
    prefix: str
    suffix: str


def keystrokes(before: str, after: str, steps: int, mode: str = "mixed") -> list[Keystroke]:
    """Replay typing `TYPED_FUNCTION` between `before` and `after`.

    `char`: one step per character; `line`: one per line; `mixed` (default): the first half
    of the steps character by character, the rest a line at a time, which is how a user
    types a function and accepts a few lines."""
    body = TYPED_FUNCTION
    char_cuts = list(range(1, len(body) + 1))
    line_cuts = [i + 1 for i, c in enumerate(body) if c == "\n"]
    if mode == "char":
        cuts = char_cuts[:steps]
    elif mode == "line":
        cuts = line_cuts[:steps]
    else:
        half = max(1, steps // 2)
        cuts = char_cuts[:half]
        cuts += [c for c in line_cuts if c > cuts[-1]][: steps - len(cuts)]
    # What is not typed yet is not in the file: the suffix stays the same.
    return [Keystroke(before + body[:c], after) for c in cuts]


def edit_workload(count: Callable[[str], int], n_tokens: int) -> str:
    """A prompt whose natural continuation copies from itself: a function, then the start of
    its revised version (what an "edit this function" completion looks like)."""
    src = text_of_tokens(count, n_tokens)
    first = src.index("def ")
    end = src.index("\n\n", first) + 1
    func = src[first:end]
    header = func.split("\n", 1)[0]
    revised = header.replace("limit=", "max_items=")
    return f"{src}\n\n# Revised: `limit` renamed to `max_items`.\n{revised}\n"
