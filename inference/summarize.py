"""Diff summaries: a commit message for a set of changed files.

A diff that fits the model's context is summarized in one prompt. A larger one is
summarized file by file (a file too large for one prompt is clipped, and the message
says so), and the per-file notes are then summarized as a whole. Binary and generated
files are named, never fed to the model.

The caller gives plain file records (anything with the attributes of `ChangedFile`), so
this module knows nothing of git.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from inference.types import GenerationParams, Origin, Suggestion

SUBJECT_MAX = 72

SYSTEM = (
    "You write git commit messages. Reply with the message only: a subject line in the "
    "imperative mood of at most 60 characters, a blank line, then a short body (a few "
    "lines or bullet points) saying what changed and why. No code fences, no preamble."
)
FILE_SYSTEM = (
    "You summarize one file's changes in a git diff in one or two sentences: what "
    "changed and, if visible, why. Reply with the summary only."
)


class ChangedFile(Protocol):
    path: str
    status: str
    added: int
    removed: int
    binary: bool
    generated: bool
    patch: str
    old_path: str | None
    withheld: str


class SummaryError(Exception):
    """No commit message could be written; the message says why, for the user."""


@dataclass(frozen=True)
class CommitMessage:
    subject: str
    body: str
    origin: Origin
    files: int
    """Files in the diff."""
    passes: int
    """Model calls it took (1 for a diff that fits one prompt)."""
    clipped: bool = False
    """Some file's patch was cut to fit the context."""
    suggestion_id: str = ""
    """The id of the model call that wrote the message (for the ledger)."""

    @property
    def text(self) -> str:
        return self.subject + ("\n\n" + self.body if self.body else "") + "\n"


class _Engine(Protocol):
    def chat(self, messages, params=None, document=None): ...
    def generate(self, prompt, params=None, document=None, stop=None): ...
    def tokenize(self, text: str) -> list[int]: ...

    @property
    def n_ctx(self) -> int: ...

    @property
    def card(self): ...


def describe(f: ChangedFile) -> str:
    """One line naming a file's change, e.g. `src/a.py (modified, +3 -1)`."""
    what = f.status
    if f.old_path and f.old_path != f.path:
        what = f"renamed from {f.old_path}"
    if f.withheld:
        return f"{f.path} ({what}, content withheld)"
    if f.binary:
        return f"{f.path} ({what}, binary)"
    if f.generated:
        return f"{f.path} ({what}, generated, +{f.added} -{f.removed})"
    return f"{f.path} ({what}, +{f.added} -{f.removed})"


def _named_only(f: ChangedFile) -> bool:
    return f.binary or f.generated or bool(f.withheld) or not f.patch.strip()


class Summarizer:
    """Writes a commit message with `engine` (a `LlamaEngine` or anything with its interface)."""

    def __init__(
        self,
        engine: _Engine,
        params: GenerationParams | None = None,
        progress: Callable[[str, int], None] | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self._engine = engine
        self._params = params or GenerationParams(
            max_tokens=160, time_budget_ms=60_000, temperature=0.0
        )
        self._progress = progress or (lambda message, percent: None)
        self._timeout = timeout_s
        self._chat = bool(engine.card.has_chat_template)

    def summarize(self, files: Sequence[ChangedFile], branch: str | None = None) -> CommitMessage:
        if not files:
            raise SummaryError("nothing to summarize: no changes")
        fed = [f for f in files if not _named_only(f)]
        named = [f for f in files if _named_only(f)]
        budget = self._prompt_budget()
        whole = self._diff_text(fed)
        clipped = False
        passes = 0
        if fed and self._count(whole) <= budget:
            material = whole
        elif fed:
            notes = []
            per_file = max(256, budget // 2)
            for i, f in enumerate(fed):
                self._progress(f"summarizing {f.path}", int(80 * i / len(fed)))
                patch, cut = self._clip(f.patch, per_file)
                clipped |= cut
                note = self._ask(
                    FILE_SYSTEM,
                    f"File {describe(f)}:\n{patch}",
                    "Summary:",
                    replace(self._params, max_tokens=80),
                )
                passes += 1
                notes.append(f"- {describe(f)}: {_one_paragraph(note.text)}")
            material = "Changes per file:\n" + "\n".join(notes)
            material, cut = self._clip(material, budget)
            clipped |= cut
        else:
            material = "Only binary, generated or withheld files changed."
        if named:
            material += "\nAlso changed (not shown): " + ", ".join(describe(f) for f in named)
        if branch:
            material = f"Branch: {branch}\n{material}"
        self._progress("writing the commit message", 85)
        answer = self._ask(SYSTEM, material, "Commit message:\n", self._params)
        passes += 1
        subject, body = shape_message(answer.text)
        if not body:
            body = "\n".join(f"- {describe(f)}" for f in files[:20])
            if len(files) > 20:
                body += f"\n- and {len(files) - 20} more files"
        return CommitMessage(subject, body, answer.origin, len(files), passes, clipped, answer.id)

    # -- helpers ---------------------------------------------------------------------------

    def _prompt_budget(self) -> int:
        return max(256, self._engine.n_ctx - self._params.max_tokens - 200)

    def _count(self, text: str) -> int:
        return len(self._engine.tokenize(text))

    def _clip(self, text: str, tokens: int) -> tuple[str, bool]:
        if self._count(text) <= tokens:
            return text, False
        # Characters per token vary; shrink until it fits, keeping whole lines.
        keep = len(text)
        while keep > 0:
            keep = int(keep * 0.8)
            cut = text[:keep].rsplit("\n", 1)[0]
            if self._count(cut) <= tokens - 16:
                return cut + "\n[... diff clipped to fit the model's context ...]", True
        return "", True

    @staticmethod
    def _diff_text(files: Sequence[ChangedFile]) -> str:
        return "\n".join(f"--- {describe(f)}\n{f.patch.rstrip()}" for f in files)

    def _ask(self, system: str, material: str, lead: str, params: GenerationParams) -> Suggestion:
        if self._chat:
            # Small models follow the last instruction best: repeat the ask after the material.
            ask = (
                "Write the commit message for this change: one short sentence starting with a "
                "verb (like 'Add …' or 'Fix …'), a blank line, then a few lines on what "
                "changed and why."
                if system is SYSTEM
                else "Describe this file's change in one short sentence."
            )
            request = self._engine.chat(
                [
                    {"role": "system", "content": system},
                    {"role": "user", "content": f"{material}\n\n{ask}"},
                ],
                params,
            )
        else:
            request = self._engine.generate(f"{system}\n\n{material}\n\n{lead}", params)
        return request.future.result(timeout=self._timeout)


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())[:300]


_PREAMBLE = re.compile(
    r"^\s*(?:here(?:'s| is) (?:a |the )?(?:suggested )?commit message[^\n]*:|"
    r"commit message\s*:|subject\s*:)\s*",
    re.IGNORECASE,
)


_CODE_START = re.compile(
    r"^(?:def|class|return|import|from|if|elif|else|for|while|function|const|let|var|"
    r"public|private|static|fn|func|package|#include)\b"
)
_CODE_MARK = re.compile(r"==|=>|->|\(\)|[;{]$|^\w+\s*=\s*\S|\w\(.*\)$")


def _is_prose(line: str) -> bool:
    """A line that reads as a sentence, not as code the model echoed."""
    return (
        bool(re.match(r"[A-Za-z]", line))
        and len(re.findall(r"\b[A-Za-z]{2,}\b", line)) >= 3
        and not _CODE_START.match(line)
        and not _CODE_MARK.search(line)
    )


_DIFF_HEADER = re.compile(r"^(?:diff --git |index [0-9a-f]+\.\.|--- |\+\+\+ |@@ )")
_DIFF_BODY = re.compile(r"^(?:[+-](?! )|the diff:\s*$|(?:def|class|return|import) )", re.I)


def shape_message(answer: str) -> tuple[str, str]:
    """Subject (≤ 72 characters, no trailing period) and body (wrapped at 72) from the
    model's answer; `SummaryError` when there is nothing usable in it."""
    text = answer.replace("\r\n", "\n").strip()
    text = re.sub(r"^```[^\n]*\n|\n?```\s*$", "", text).strip()
    text = _PREAMBLE.sub("", text).strip()
    # Small models like to echo the diff back; what looks like diff syntax is not a message.
    lines = text.split("\n")
    if any(_DIFF_HEADER.match(ln) for ln in lines):
        lines = [ln for ln in lines if not (_DIFF_HEADER.match(ln) or _DIFF_BODY.match(ln))]
    # The subject is the first line that reads as prose, not code the model echoed.
    while lines and not _is_prose(lines[0].strip().strip("\"'`*# ")):
        lines.pop(0)
    if not lines:
        raise SummaryError("the model gave no usable commit message (no line of prose)")
    subject = lines[0].strip().strip("\"'`*# ").rstrip(".")
    sentence = re.match(r"(.{12,}?[.!?])\s", subject + " ")
    if len(subject) > SUBJECT_MAX and sentence and len(sentence.group(1)) <= SUBJECT_MAX:
        subject = sentence.group(1).rstrip(".")
    if len(subject) > SUBJECT_MAX:
        cut = subject[: SUBJECT_MAX - 1].rsplit(" ", 1)[0]
        subject = (cut or subject[: SUBJECT_MAX - 1]).rstrip(" ,;:") + "…"
    # Small models loop: keep each body line once, and at most a dozen.
    seen: set[str] = set()
    kept = []
    for ln in lines[1:]:
        key = ln.strip().lower()
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(ln)
    rest = "\n".join(kept[:12]).strip()
    rest = re.sub(r"^body\s*:\s*", "", rest, flags=re.IGNORECASE)
    paragraphs = []
    for para in re.split(r"\n\s*\n", rest):
        out = []
        for line in para.split("\n"):
            bullet = re.match(r"^(\s*(?:[-*•]|\d+[.)])\s+)", line)
            indent = " " * len(bullet.group(1)) if bullet else ""
            out.append(
                textwrap.fill(line.strip(), SUBJECT_MAX, subsequent_indent=indent)
                if line.strip()
                else ""
            )
        paragraphs.append("\n".join(x for x in out if x))
    body = "\n\n".join(p for p in paragraphs if p)
    return subject, body
