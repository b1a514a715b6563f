"""The text of a context chunk: a definition's head (signature, docstring, first lines of
its body), a class's outline, a module's outline. Cut from the file's current lines, so
that what the model sees is the code as it is now, not as it was indexed."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from indexing.extract import Symbol

CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})
_MEMBER_KINDS = frozenset({"method", "function", "field", "constant", "variable", "class"})
_LEADING = re.compile(r"^\s*(?:@|#(?!!)|//|/\*|\*|///|--)")
_PY_STRING_START = re.compile(r"^\s*[rRbBuUfF]{0,2}(\"\"\"|''')")
_WS = re.compile(r"\s+")

LineCost = Callable[[int], int]
_STUB_TOKENS = 3
"""What a ` ...` stub or an elided-body line costs, about."""


def locate(lines: Sequence[str], sym: Symbol, reach: int = 60) -> int | None:
    """The line where `sym` starts in `lines`: its indexed line when the name is still
    there, else the nearest line within `reach` that names it (the file was edited since
    it was indexed); None when it is gone."""
    if 0 <= sym.name_line < len(lines) and sym.name in lines[sym.name_line]:
        return sym.line if sym.line <= sym.name_line else sym.name_line
    word = re.compile(rf"\b{re.escape(sym.name)}\b")
    first = sym.signature.split(None, 1)[0] if sym.signature else ""
    for d in range(1, reach + 1):
        for i in (sym.name_line - d, sym.name_line + d):
            if 0 <= i < len(lines) and word.search(lines[i]) and first in lines[i]:
                return i
    return None


def signature_end(lines: Sequence[str], start: int, signature: str) -> int:
    """The last line of a definition's head: where the signature's characters run out."""
    need = len(_WS.sub("", signature.rstrip("…")))
    seen = 0
    for i in range(start, min(len(lines), start + 40)):
        seen += len(_WS.sub("", lines[i]))
        if seen >= need:
            return i
    return start


def _doc_end(lines: Sequence[str], after: int, language: str) -> int:
    """The last line of a Python docstring that starts right after line `after`, else
    `after`."""
    if language != "python":
        return after
    i = after + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        return after
    m = _PY_STRING_START.match(lines[i])
    if not m:
        return after
    quote = m.group(1)
    rest = lines[i][m.end() :]
    if quote in rest:
        return i
    for j in range(i + 1, min(len(lines), i + 80)):
        if quote in lines[j]:
            return j
    return after


def leading_start(lines: Sequence[str], start: int, limit: int = 30) -> int:
    """Move `start` up over the decorators and comments right above a definition."""
    i = start
    while i > 0 and start - i < limit and _LEADING.match(lines[i - 1]) and lines[i - 1].strip():
        i -= 1
    return i


def _elision(lines: Sequence[str], at: int, language: str) -> str:
    indent = re.match(r"\s*", lines[at] if at < len(lines) else "").group(0)
    return f"{indent}..." if language == "python" else f"{indent}// ..."


def _stub(line: str, language: str) -> str:
    """A member's head line as a stub: `def f(x):` -> `def f(x): ...`."""
    s = line.rstrip()
    if language == "python" and s.endswith(":"):
        return s + " ..."
    if s.endswith("{"):
        return s + " ... }"
    return s


def definition(
    lines: Sequence[str],
    sym: Symbol,
    start: int,
    language: str,
    members: Sequence[Symbol],
    head_lines: int,
    max_tokens: int,
    cost: LineCost,
) -> tuple[int, int, str, int] | None:
    """(first line, last line, text, tokens) of a definition: whole when it fits, else its
    head (and for a class, the heads of its members) within `max_tokens`. `cost(i)` is
    the tokens of line `i`."""
    end = min(len(lines) - 1, start + (sym.end_line - sym.line))
    top = leading_start(lines, start)
    sig_end = signature_end(lines, start, sym.signature)
    head_end = _doc_end(lines, sig_end, language)
    if end - top < 3 * head_lines:
        total = sum(cost(i) for i in range(top, end + 1))
        if total <= max_tokens:
            return top, end, "".join(lines[top : end + 1]), total
    head_cost = sum(cost(i) for i in range(top, min(head_end, end) + 1))
    if sym.kind in CLASS_KINDS and members and head_cost < max_tokens:
        parts = list(lines[top : head_end + 1])
        used = head_cost
        for m in members:
            m_start = locate(lines, m)
            if m_start is None or not start < m_start <= end:
                continue
            m_end = signature_end(lines, m_start, m.signature)
            head = lines[m_start : m_end + 1]
            more = sum(cost(i) for i in range(m_start, m_end + 1)) + _STUB_TOKENS
            if used + more > max_tokens:
                break
            parts += [*head[:-1], _stub(head[-1], language) + "\n"]
            used += more
        if len(parts) > head_end - top + 1:
            return top, end, "".join(parts), used
    # The head: signature, docstring, and as many body lines as fit.
    cut = min(end, head_end + head_lines)
    used = 0
    last = top - 1
    for i in range(top, cut + 1):
        c = cost(i)
        if used + c + _STUB_TOKENS > max_tokens:
            break
        used += c
        last = i
    if last < sig_end:
        return None
    if last >= end:
        return top, end, "".join(lines[top : end + 1]), used
    text = "".join(lines[top : last + 1]) + _elision(lines, last + 1, language) + "\n"
    return top, last, text, used + _STUB_TOKENS


def outline(
    lines: Sequence[str],
    symbols: Sequence[Symbol],
    language: str,
    max_tokens: int,
    cost: LineCost,
) -> tuple[int, int, str, int] | None:
    """The heads of a module's public top-level definitions, in file order, as many as
    fit in `max_tokens` (file order: the text does not change as the cursor moves)."""
    parts: list[str] = []
    first = last = -1
    used = 0
    for s in symbols:
        if s.container or s.name.startswith("_") or s.kind not in _MEMBER_KINDS | CLASS_KINDS:
            continue
        at = locate(lines, s)
        if at is None:
            continue
        end = signature_end(lines, at, s.signature)
        head = lines[at : end + 1]
        if not head or len(head[-1]) > 200:
            continue
        more = sum(cost(i) for i in range(at, end + 1)) + _STUB_TOKENS
        if used + more > max_tokens:
            break
        parts.append("".join(head[:-1]) + _stub(head[-1], language) + "\n")
        used += more
        first = at if first < 0 else first
        last = end
    if not parts:
        return None
    return first, last, "".join(parts), used
