"""Line fingerprints: how the ledger recognizes a suggestion's lines in a file later on.

A line is normalized (whitespace runs collapsed, ends stripped) and hashed, so that blame and
trailers work without the ledger keeping any code. Re-indenting or re-spacing a line keeps its
attribution; changing a token loses it.

Trivial lines (blank, lone brackets, `else:`, `pass`, `end`) are never fingerprinted: they
occur everywhere, so a match says nothing about who wrote them.

A completion usually starts in the middle of a line (`total = sum(` + `x for x in xs)`) and
may end before text that was already there (an auto-closed `)`). So the first line of a
suggestion that started mid-line is a *tail*, matched against the end of a file line, and
the last line of a multi-line suggestion is a *head*, matched against its start. Trailing
closers (`)]};,:`) are ignored at the end of a tail match, because editors insert those
around the cursor on their own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

HASH_HEX = 16
"""64 bits of sha256 per line: collisions among a file's lines are out of the question."""

FULL, TAIL, HEAD = "full", "tail", "head"

# Lines that are only one of these say nothing about who wrote them.
_BLOCK_WORDS = ("else", "elif", "end", "pass", "try", "finally", "begin", "default", "otherwise")
_FLOW_WORDS = ("return", "break", "continue", "do", "done", "then", "fi", "esac")
_STRUCTURAL = frozenset(_BLOCK_WORDS + _FLOW_WORDS)
_CLOSERS = ")]}>;,:'\"` "


@dataclass(frozen=True)
class LineMark:
    """One fingerprinted line of accepted text: its hash, how it matches, and its length."""

    hash: str
    kind: str
    """`full`: the whole normalized line; `tail`: the end of a line; `head`: its start."""
    length: int
    """Length of the normalized fragment (tails and heads are matched at this length)."""

    def to_json(self) -> list:
        return [self.hash, self.kind, self.length]

    @classmethod
    def from_json(cls, value: list) -> LineMark:
        return cls(str(value[0]), str(value[1]), int(value[2]))


def normalize(line: str) -> str:
    return " ".join(line.split())


def is_trivial(normalized: str) -> bool:
    """Too common to attribute: no word characters, or one structural keyword."""
    words = re.findall(r"\w+", normalized)
    if not words:
        return True
    return len(words) == 1 and (words[0] in _STRUCTURAL or len(words[0]) < 3)


def line_hash(normalized: str) -> str:
    # surrogatepass: an editor can send lone surrogates (valid JSON); they hash as written.
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_HEX]


def strip_closers(normalized: str) -> str:
    return normalized.rstrip(_CLOSERS)


def marks(text: str, starts_mid_line: bool) -> list[LineMark]:
    """The fingerprints of accepted `text`, inserted at column 0 or in the middle of a line."""
    lines = text.split("\n")
    out: list[LineMark] = []
    last = len(lines) - 1
    for i, raw in enumerate(lines):
        norm = normalize(raw)
        if is_trivial(norm):
            continue
        if i == 0 and starts_mid_line:
            frag = strip_closers(norm)
            if not is_trivial(frag):
                out.append(LineMark(line_hash(frag), TAIL, len(frag)))
        elif i == last and last > 0:
            out.append(LineMark(line_hash(norm), HEAD, len(norm)))
        else:
            out.append(LineMark(line_hash(norm), FULL, len(norm)))
    return out
