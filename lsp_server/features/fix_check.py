"""A fix is offered only if it parses: the rewritten region has no syntax error under the
file's tree-sitter grammar, and the file gains none elsewhere that it did not have.

This is what stops an answer in English prose ("The problem is that …") from replacing a
function: tree-sitter reads prose as ERROR nodes.
"""

from __future__ import annotations

from lsp_server.features.syntax import SyntaxProblem, find_problems, language_of

_ALL = 10_000


def _outside(problems: list[SyntaxProblem], start: int, end: int) -> list[SyntaxProblem]:
    return [p for p in problems if not start <= p.line < end]


def check_rewrite(
    uri: str, language_id: str, lines: list[str], start: int, end: int, rewrite: str
) -> str | None:
    """Why replacing `lines[start:end]` (with their endings) by `rewrite` must not be
    offered, or None when it parses. Blocking (parses the file twice)."""
    spec = language_of(uri, language_id)
    if spec is None:
        what = f"`{language_id}`" if language_id else "this file's language"
        return f"Focal has no grammar for {what} to check the fix with"
    before = "".join(lines)
    after = "".join(lines[:start]) + rewrite + "".join(lines[end:])
    new_end = start + len(rewrite.splitlines())
    found = find_problems(after, spec, _ALL)
    inside = [p for p in found if start <= p.line < new_end]
    if inside:
        p = inside[0]
        return (
            f"the model's answer does not parse as {spec.name} "
            f"(line {p.line + 1}: {p.message.removeprefix('Syntax error: ')})"
        )
    gained = _outside(found, start, new_end)
    had = _outside(find_problems(before, spec, _ALL), start, end)
    if len(gained) > len(had):
        p = gained[-1]
        return (
            f"the fix would break the code around it (line {p.line + 1}: "
            f"{p.message.removeprefix('Syntax error: ')})"
        )
    return None
