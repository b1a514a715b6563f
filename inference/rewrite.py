"""Fix suggestions: ask the model to rewrite a region of code, and judge its answer.

Instruct models get the GGUF's own chat template; base models a completion-style prompt
that ends inside a code fence. Either way the answer must be code that plausibly rewrites
the region: an empty, unchanged or unrelated answer is refused with a reason the user can
read, and nothing is applied.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from inference.redact import PLACEHOLDER, find
from inference.text import split_lines
from inference.types import ContextBundle, GenerationParams

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:\n?```|$)", re.DOTALL)

SYSTEM = (
    "You fix code. Reply with the corrected code only, in one fenced code block, "
    "changing as little as possible and keeping the original indentation. No explanation."
)


class UnusableAnswer(Exception):
    """The model's answer cannot be applied; the message says why, for the user."""


@dataclass(frozen=True)
class FixRequest:
    """One region of one file to rewrite, and why."""

    path: str
    language: str
    code: str
    """The region, whole lines, with their line endings."""
    problems: tuple[str, ...] = ()
    """Diagnostic messages on the region; empty for a plain "fix this selection"."""
    context: ContextBundle = field(default_factory=ContextBundle)


def fix_params(code: str, base: GenerationParams | None = None) -> GenerationParams:
    """Enough new tokens for a rewrite of `code` with some growth, greedy, a generous budget."""
    p = base or GenerationParams()
    need = max(64, int(len(code) / 2.5) + 64)
    return replace(p, max_tokens=min(need, 2048), temperature=0.0, time_budget_ms=60_000)


def _task_text(req: FixRequest) -> str:
    lang = req.language or ""
    parts: list[str] = []
    for chunk in req.context.chunks:
        parts.append(
            f"Context from {chunk.path}:{chunk.start_line + 1}-{chunk.end_line + 1} "
            f"({chunk.reason}):\n```{lang}\n{chunk.text.rstrip()}\n```"
        )
    if req.problems:
        listed = "\n".join(f"- {p}" for p in req.problems)
        parts.append(f"Problems reported in {req.path}:\n{listed}")
        ask = "Rewrite this code from"
    else:
        ask = "Fix any bug in this code from"
    parts.append(f"{ask} {req.path} so the problem is gone:\n```{lang}\n{req.code.rstrip()}\n```")
    return "\n\n".join(parts)


def fix_messages(req: FixRequest) -> list[dict[str, str]]:
    """Chat messages for an instruct model."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": _task_text(req)}]


def fix_prompt(req: FixRequest) -> str:
    """A completion-style prompt for a base model: it continues inside an open code fence."""
    lang = req.language or ""
    return f"{_task_text(req)}\n\nThe same code, fixed:\n```{lang}\n"


def fence_stop(text: str) -> tuple[bool, int, str]:
    """Stop rule for the base-model prompt: the closing fence ends the rewrite."""
    at = text.find("```")
    if at >= 0:
        return True, at, "end of code block"
    return False, len(text), ""


def extract_code(answer: str) -> str:
    """The code in a model's answer: the first fenced block, else the answer itself."""
    m = _FENCE.search(answer)
    code = m.group(1) if m else answer
    return code.strip("\n")


def _indent_of(lines: list[str]) -> str:
    ind = [ln[: len(ln) - len(ln.lstrip(" \t"))] for ln in lines if ln.strip()]
    if not ind:
        return ""
    common = ind[0]
    for i in ind[1:]:
        while not i.startswith(common):
            common = common[:-1]
    return common


def accept_rewrite(original: str, answer: str) -> str:
    """The rewrite to apply, in the original's indentation and line endings, or
    `UnusableAnswer` with the reason."""
    code = extract_code(answer)
    if not code.strip():
        raise UnusableAnswer("the model gave no code")
    newline = "\r\n" if "\r\n" in original else "\n"
    old_lines = original.splitlines()
    new_lines = code.replace("\r\n", "\n").split("\n")
    # Models often drop the region's common indentation; put it back.
    old_indent, new_indent = _indent_of(old_lines), _indent_of(new_lines)
    if len(new_indent) < len(old_indent) and old_indent.startswith(new_indent):
        extra = old_indent[len(new_indent) :]
        new_lines = [extra + ln if ln.strip() else ln for ln in new_lines]
    if [ln.rstrip() for ln in new_lines] == [ln.rstrip() for ln in old_lines]:
        raise UnusableAnswer("the model proposed no change")
    secrets = new_secrets(original, code)
    if secrets:
        raise UnusableAnswer(
            f"the model's answer would write a secret ({', '.join(secrets)}) that the code "
            "did not hold; nothing was applied"
        )
    if len(new_lines) > 3 * len(old_lines) + 20:
        raise UnusableAnswer(
            f"the model's answer ({len(new_lines)} lines) is far longer than the "
            f"{len(old_lines)} lines it was asked to fix"
        )
    if len(old_lines) >= 3:
        # Character-level likeness: a real rewrite keeps most of the code's text; noise not.
        sm = difflib.SequenceMatcher(
            None,
            " ".join(" ".join(old_lines).split()),
            " ".join(" ".join(new_lines).split()),
            autojunk=False,
        )
        if sm.ratio() < 0.35:
            raise UnusableAnswer("the model's answer does not resemble the code it was given")
    text = newline.join(new_lines)
    if original.endswith(("\n", "\r")):
        text += newline
    return text


def new_secrets(original: str, rewrite: str) -> tuple[str, ...]:
    """Kinds of secret in `rewrite` that `original` did not hold: `<redacted:…>`
    placeholders copied from a redacted prompt, and credential-shaped values."""
    had = {original[f.start : f.end] for f in find(original)}
    kinds = {m.group(0)[10:-1] for m in PLACEHOLDER.finditer(rewrite)} - {
        m.group(0)[10:-1] for m in PLACEHOLDER.finditer(original)
    }
    kinds |= {f.kind for f in find(rewrite) if rewrite[f.start : f.end] not in had}
    return tuple(sorted(kinds))


@dataclass(frozen=True)
class LineEdit:
    """Replace lines [start, end) of the region with `text` (whole lines, with endings)."""

    start: int
    end: int
    text: str


def minimal_edits(original: str, rewrite: str) -> list[LineEdit]:
    """Only the lines that change, as edits relative to the region's first line, on the
    lines the editor has (LSP's line breaks)."""
    old, new = split_lines(original), split_lines(rewrite)
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [
        LineEdit(i1, i2, "".join(new[j1:j2]))
        for op, i1, i2, j1, j2 in sm.get_opcodes()
        if op != "equal"
    ]
