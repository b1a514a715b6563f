"""Text as editors and models need it, shared by every layer.

A line ends at `\\r\\n`, `\\n` or `\\r`, nothing else (LSP's definition): `str.splitlines`
also breaks at form feeds, vertical tabs, U+0085, U+2028 and more, and so numbers lines the
editor does not have. And a document may hold lone surrogates (valid JSON escapes such as
`"\\ud800"`), which UTF-8 cannot encode: what goes to a tokenizer or a server gets U+FFFD.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_NOT_LSP_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Where `str.splitlines` breaks a line and LSP does not."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def split_lines(text: str) -> list[str]:
    """`text`'s lines with their line breaks, like `str.splitlines(True)` but breaking only
    where LSP does."""
    if _NOT_LSP_BREAKS.search(text) is None:
        return text.splitlines(True)  # the same lines, ten times faster
    return _LINE.findall(text)


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (the same object when it has none)."""
    return _SURROGATE.sub("\ufffd", text)


def utf8(text: str) -> bytes:
    """`text` as UTF-8, lone surrogates as U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return without_surrogates(text).encode("utf-8")
