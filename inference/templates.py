"""Prompt templates chosen from the model's own vocabulary: FIM and repo-level formats.

Every template puts what changes least first (the repository's name, the context chunks in
the bundle's order, then the part of the document that does not move while the user types),
so that the next request reuses the KV cache of the last one and only the edited tail is
evaluated again. Retrieval orders the bundle for that: stable chunks first, new ones last.

Repo-level formats, as the model families publish them:

- Qwen2.5-Coder: `<|repo_name|>name\n<|file_sep|>path\ncode\n...<|file_sep|>path\n` + FIM
- StarCoder2: `<repo_name>name<file_sep>path\ncode...<file_sep>path\n` + FIM
- Mellum: `<filename>path\ncode...<filename>path\n` + FIM (suffix first)
- anything else: each chunk under a comment naming its path.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.types import CompletionTask, ContextBundle, ModelCard, Prompt, PromptPiece

# Families whose published repo-level format starts with the repository's name.
_REPO_NAME_FAMILIES = {"qwen", "starcoder"}

# Families whose published order is suffix-prefix-middle.
_SPM_FAMILIES = {"mellum", "codestral"}
FIM_ORDERS = ("auto", "psm", "spm")

_LINE_COMMENT = {
    "python": "#",
    "ruby": "#",
    "shellscript": "#",
    "bash": "#",
    "sh": "#",
    "yaml": "#",
    "toml": "#",
    "perl": "#",
    "r": "#",
    "lua": "--",
    "sql": "--",
    "haskell": "--",
}

# The prefix window starts on a multiple of this many lines, so that it does not slide (and
# invalidate the KV cache) on every keystroke of a long file.
PREFIX_LINE_GRID = 32

PSM_SUFFIX_CHARS = 480
"""The suffix window of prefix-suffix-middle templates (Qwen, StarCoder, CodeLlama...). There
the suffix follows the prefix, so every keystroke (an edit at the prefix's end) evaluates the
whole suffix again; suffix-first templates keep it cached and can afford 1,500 characters.
About 10 lines: enough for the model to see what follows the cursor and close what it
opens (measured: docs/benchmarks.md, "keystroke")."""


def comment_prefix(language: str) -> str:
    return _LINE_COMMENT.get(language.lower(), "//")


@dataclass(frozen=True)
class PromptLimits:
    """How much of the document goes into the prompt, in characters (about 3 per token)."""

    max_prefix_chars: int = 6000
    max_suffix_chars: int = 1500


@dataclass(frozen=True)
class FimTemplate:
    family: str
    order: str
    """`psm`, `spm`, or `prefix` (no FIM tokens: complete the prefix only)."""
    card: ModelCard

    @property
    def name(self) -> str:
        return f"{self.family}/{self.order}" if self.order != "prefix" else "prefix-only"


def template_for(card: ModelCard, order: str = "auto") -> FimTemplate:
    """The template the model's vocabulary calls for; `order` overrides PSM/SPM when asked."""
    if order not in FIM_ORDERS:
        raise ValueError(f"fimOrder must be one of {', '.join(FIM_ORDERS)}, not {order!r}")
    fim = card.fim
    if not (fim.prefix and fim.suffix and (fim.middle or card.fim_family == "codestral")):
        return FimTemplate("none", "prefix", card)
    if order == "auto":
        order = "spm" if card.fim_family in _SPM_FAMILIES else "psm"
    return FimTemplate(card.fim_family, order, card)


def clip_prefix(prefix: str, max_chars: int) -> str:
    """The tail of `prefix` that fits, starting on a line on a fixed grid (KV-cache friendly):
    line numbers counted from the start of the document, a multiple of `PREFIX_LINE_GRID`,
    so the cut stays put while the user types below it. Linear in C, no splitting: a 50 MB
    document is clipped in milliseconds."""
    if len(prefix) <= max_chars:
        return prefix
    earliest = len(prefix) - max_chars  # the first character the window may hold
    pos = earliest if prefix[earliest - 1] == "\n" else prefix.find("\n", earliest) + 1
    line = prefix.count("\n", 0, pos) if pos else 0
    while pos and line % PREFIX_LINE_GRID:  # on to the next line on the grid
        pos, line = prefix.find("\n", pos) + 1, line + 1
    if not pos or pos >= len(prefix):  # one enormous line: cut inside it
        return prefix[-max_chars:]
    return prefix[pos:]


def suffix_chars(template: FimTemplate | None, limits: PromptLimits) -> int:
    """How much of the suffix `template` puts in the prompt."""
    if template is not None and template.order == "psm":
        return min(limits.max_suffix_chars, PSM_SUFFIX_CHARS)
    return limits.max_suffix_chars


def clip_suffix(suffix: str, max_chars: int) -> str:
    if len(suffix) <= max_chars:
        return suffix
    cut = suffix.rfind("\n", 0, max_chars)
    return suffix[: cut + 1] if cut > 0 else suffix[:max_chars]


@dataclass(frozen=True)
class RepoContext(ContextBundle):
    """A bundle that also names the repository, for models whose repo-level format starts
    with it (`<|repo_name|>`); a plain `ContextBundle` leaves the name out."""

    repo: str = ""


def _context_pieces(template: FimTemplate, task: CompletionTask, bundle: ContextBundle):
    """Context chunks, in the model's repo-level format when it has one."""
    fim = template.card.fim
    pieces: list[PromptPiece] = []
    repo = getattr(bundle, "repo", "")
    if (
        bundle.chunks
        and repo
        and fim.repo_name
        and fim.file_sep
        and template.family in _REPO_NAME_FAMILIES
    ):
        name = f"{repo}\n" if template.family == "qwen" else repo
        pieces += [PromptPiece(fim.repo_name, True), PromptPiece(name)]
    for chunk in bundle.chunks:
        body = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
        if template.family == "mellum" and fim.filename:
            pieces += [PromptPiece(fim.filename, True), PromptPiece(f"{chunk.path}\n{body}")]
        elif fim.file_sep:
            pieces += [PromptPiece(fim.file_sep, True), PromptPiece(f"{chunk.path}\n{body}")]
        else:
            # No line number: an edit above the chunk must not change the prompt's head.
            c = comment_prefix(task.language)
            pieces.append(PromptPiece(f"{c} {chunk.path}\n{body}\n"))
    return pieces


def build_prompt(
    template: FimTemplate,
    task: CompletionTask,
    bundle: ContextBundle | None = None,
    limits: PromptLimits | None = None,
) -> Prompt:
    """Assemble the prompt pieces for `task`; control markers are separate pieces."""
    limits = limits or PromptLimits()
    bundle = bundle or ContextBundle()
    fim = template.card.fim
    prefix = clip_prefix(task.prefix, limits.max_prefix_chars)
    suffix = clip_suffix(task.suffix, suffix_chars(template, limits))
    ctx = _context_pieces(template, task, bundle)
    P = PromptPiece

    if template.order == "prefix":
        if ctx:
            c = comment_prefix(task.language)
            ctx.append(P(f"{c} {task.path}\n"))
        return Prompt((*ctx, P(prefix)), template.name)

    assert fim.prefix and fim.suffix
    if template.family == "mellum":
        head = [P(fim.filename, True), P(f"{task.path}\n")] if fim.filename else []
    elif template.family in ("qwen", "starcoder") and fim.file_sep and ctx:
        head = [P(fim.file_sep, True), P(f"{task.path}\n")]
    else:
        head = []

    if template.order == "spm":
        body = [P(fim.suffix, True), P(suffix), P(fim.prefix, True), P(prefix)]
        if fim.middle and template.family != "codestral":
            body.append(P(fim.middle, True))
    elif template.family == "codellama":
        # CodeLlama's published spacing: "<PRE> {prefix} <SUF>{suffix} <MID>".
        assert fim.middle
        body = [
            P(fim.prefix, True),
            P(" " + prefix),
            P(fim.suffix, True),
            P(suffix),
            P(fim.middle, True),
        ]
    else:
        assert fim.middle
        body = [P(fim.prefix, True), P(prefix), P(fim.suffix, True), P(suffix), P(fim.middle, True)]
    return Prompt((*ctx, *head, *body), template.name)
