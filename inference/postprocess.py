"""Stop rules applied while tokens stream in, and the final trim of a completion.

The model sees the code after the cursor, yet it likes to write it again; and a completion
that runs past the end of the block the user is writing is noise. `StopRules.check` is
called after every token with the text so far and says whether to stop, and where to cut.
"""

from __future__ import annotations

from dataclasses import dataclass

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


_NEAR = 20_000
"""How far from the cursor the stop rules look for lines with code: a 50 MB document is
not split into lines at every completion (the window the model sees is smaller still)."""


def _last_code_line(text: str) -> str | None:
    """The last line of `text` (within `_NEAR` characters of its end) that is not blank."""
    lines = text[-_NEAR:].split("\n")
    if len(text) > _NEAR:
        lines = lines[1:]  # cut inside: not a whole line
    return next((ln for ln in reversed(lines) if ln.strip()), None)


def _first_code_lines(text: str, n: int) -> list[str]:
    """The first `n` non-blank lines of `text` (within `_NEAR` characters), stripped."""
    lines = text[:_NEAR].split("\n")
    if len(text) > _NEAR:
        lines = lines[:-1]
    return [ln.strip() for ln in lines if ln.strip()][:n]


@dataclass
class StopRules:
    """Decides when a completion ends, given where the cursor is."""

    prefix: str
    suffix: str
    multiline: bool = True
    stop_texts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        cur_line = self.prefix.rsplit("\n", 1)[-1]
        self._mid_line = cur_line.strip() != ""
        next_line = self.suffix.split("\n", 1)[0]
        self._rest_of_line = next_line
        # The block ends when a line comes back to less indentation than the cursor's line
        # (or than the line above, for a completion that starts on an empty line).
        if cur_line.strip():
            self._block_indent = _indent(cur_line)
        else:
            above = _last_code_line(self.prefix[: max(0, self.prefix.rfind("\n"))])
            self._block_indent = min(_indent(cur_line), _indent(above) if above else 0)
        # Non-empty suffix lines, to spot the model re-emitting them.
        self._suffix_lines = _first_code_lines(self.suffix, 3)
        # What the cursor's line holds already: the completion's first line finishes it.
        self._line_head = cur_line

    def check(self, text: str) -> tuple[bool, int, str]:
        """(stop?, cut position, reason) for the text generated so far."""
        for s in self.stop_texts:
            i = text.find(s)
            if i >= 0:
                return True, i, "stop text"
        # Never re-emit the rest of the current line or the lines that follow the cursor.
        rest = self._rest_of_line.strip()
        if rest:
            i = text.find(rest)
            while i >= 0 and "\n" not in text[:i]:
                # `f(a)` before a suffix `)` closes its own bracket: not the suffix yet.
                if _open_brackets(text[:i]) == 0:
                    return True, i, "reached suffix"
                i = text.find(rest, i + 1)
        lines = text.split("\n")
        if len(lines) > 1:
            if not self.multiline or (self._mid_line and self._rest_of_line.strip()):
                return True, len(lines[0]), "end of line"
            # Whole lines generated so far (the last one may still be growing).
            repeat = _repetition(self._line_head + lines[0], lines[1:-1])
            offset = len(lines[0]) + 1
            for i, ln in enumerate(lines[1:-1], start=1):
                if i == repeat:
                    return True, offset, "repetition"
                if self._suffix_lines and ln.strip() == self._suffix_lines[0]:
                    return True, offset, "reached suffix"
                if ln.strip() and _indent(ln) < self._block_indent:
                    return True, offset, "end of block"
                offset += len(ln) + 1
            # Two blank lines in a row end a top-level completion.
            if text.endswith("\n\n\n"):
                return True, len(text.rstrip("\n")) + 1, "end of block"
        return False, len(text), ""

    def finish(self, text: str) -> str:
        """Final trim: the last line judged as a whole line (generation may have ended in
        the middle of it, or right after it), no trailing whitespace lines, brackets the
        suffix already closes dropped."""
        stop, cut, _ = self.check(text + "\n")
        if stop and cut < len(text):
            text = text[:cut]
        text = text.rstrip() if "\n" in text else text.rstrip("\n")
        return _drop_closers_in_suffix(text, self.suffix)


_REPEAT_BLOCK = 3
"""The longest run of lines the repetition rule looks for (a line, a pair, a triple)."""


def _repetition(first: str, rest: list[str]) -> int | None:
    """Where the model starts writing again the lines it has just written, or None.

    `first` is the completion's first line with what the cursor's line held before it,
    `rest` the whole lines after it. The answer is the index (in `[first, *rest]`) of the
    first line of the second copy of a block of 1 to `_REPEAT_BLOCK` non-blank lines that
    follows itself at once (blank lines between do not count), such as one call three
    times over. Lines are compared with their indentation, so closers such as `}` at
    decreasing depth are not a repetition, and a block must hold a word: a run of `)` or
    `end`-less punctuation lines is left to the other rules.
    """
    code = [(i, ln.rstrip()) for i, ln in enumerate([first, *rest]) if ln.strip()]
    for j in range(1, len(code)):
        for k in range(1, min(_REPEAT_BLOCK, j) + 1):
            block = [ln for _, ln in code[j - k : j]]
            again = [ln for _, ln in code[j : j + k]]
            if block == again and any(_has_word(ln) for ln in block):
                return code[j][0]
    return None


def _has_word(line: str) -> bool:
    return any(ch.isalnum() or ch == "_" for ch in line)


def _open_brackets(text: str) -> int:
    """How many brackets opened in `text` are still open at its end."""
    depth = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
    return depth


def _drop_closers_in_suffix(text: str, suffix: str) -> str:
    """If the completion ends with closers that the suffix starts with, keep one copy only."""
    depth: list[str] = []
    unmatched_end = len(text)
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth.append(ch)
        elif ch in _CLOSE:
            if depth and depth[-1] == _CLOSE[ch]:
                depth.pop()
            else:
                unmatched_end = min(unmatched_end, i)
    if unmatched_end < len(text):
        closers = text[unmatched_end:]
        if suffix.lstrip(" ").startswith(closers.strip()) and closers.strip():
            return text[:unmatched_end].rstrip(" ")
    return text
