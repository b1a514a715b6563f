"""A reference model of an LSP text document, written from the specification and not from
pygls: lines end at `\\r\\n`, `\\n` or `\\r` (nothing else), and `Position.character`
counts UTF-16 code units within the line's content (its terminator excluded)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Pieces documents and edits are made of: ASCII code, whitespace, every LSP line ending,
# empty lines, astral-plane characters (two UTF-16 units each) and other non-ASCII.
PIECES = [
    "a",
    "x",
    "def f(",
    "):",
    "    ",
    "\t",
    " ",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\r\n\r\n",
    "😀",
    "𝔘𝔫",
    "é",
    "中文",
    "✓",
    "#",
    '"',
    "\x0c",  # a form feed, a U+2028 and a NEL are not line breaks in LSP
    "\u2028",
    "\x85",
]

texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


def lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each line's content; a document always has one line more
    than it has line breaks."""
    out = []
    start = 0
    for m in LINE_BREAK.finditer(text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def offset(text: str, line: int, character: int) -> int:
    """The index into `text` of an LSP position (UTF-16 units), which must be valid."""
    start, end = lines(text)[line]
    units = 0
    i = start
    while units < character:
        assert i < end, (line, character)
        units += utf16(text[i])
        i += 1
    assert units == character, "position inside a surrogate pair"
    return i


def position_at(text: str, index: int) -> tuple[int, int]:
    """The LSP position (UTF-16) of index `index` into `text` (not inside a line break)."""
    for n, (start, end) in enumerate(lines(text)):
        if start <= index <= end:
            return n, utf16(text[start:index])
    raise AssertionError(f"index {index} is inside a line break")


@st.composite
def positions(draw: st.DrawFn, text: str) -> tuple[int, int]:
    """A valid position in `text`: on a line, at a code point boundary of its content."""
    ls = lines(text)
    n = draw(st.integers(0, len(ls) - 1))
    start, end = ls[n]
    k = draw(st.integers(0, end - start))
    return n, utf16(text[start : start + k])


@dataclass
class Document:
    uri: str
    text: str
    version: int = 1

    def replace(self, start: tuple[int, int], end: tuple[int, int], new: str) -> None:
        a, b = offset(self.text, *start), offset(self.text, *end)
        assert a <= b
        self.text = self.text[:a] + new + self.text[b:]


@st.composite
def partial_change(draw: st.DrawFn, text: str) -> tuple[tuple[int, int], tuple[int, int], str]:
    """An incremental change valid for `text`: a range (start <= end) and its new text."""
    p, q = draw(positions(text)), draw(positions(text))
    if offset(text, *q) < offset(text, *p):
        p, q = q, p
    return p, q, draw(texts)
