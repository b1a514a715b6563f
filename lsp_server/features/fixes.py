"""Fix suggestions as code actions: listed instantly, the model runs only on resolve.

Actions come from the diagnostics the client sends (any linter's, and Focal's own syntax
diagnostics) and from a selection ("Fix with Focal"). Resolving one asks the model to
rewrite the enclosing block, refuses an unusable answer with a reason, and returns a
`WorkspaceEdit` that touches only the lines that change, annotated with the model's origin.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from inference.engine import Cancelled
from inference.model_card import ModelError
from inference.rewrite import (
    FixRequest,
    UnusableAnswer,
    accept_rewrite,
    fence_stop,
    fix_messages,
    fix_params,
    fix_prompt,
    minimal_edits,
)
from inference.types import ContextBundle, Suggestion
from lsp_server.capabilities import ClientFeatures
from lsp_server.features.completion import ACCEPT_COMMAND, units
from lsp_server.features.fix_check import check_rewrite
from lsp_server.models import ModelManager
from lsp_server.origin_view import origin_label

log = logging.getLogger(__name__)

FIX_TITLE = "Fix with Focal"
FIX_COMMAND = "focal.fix"
"""Runs a listed fix and applies it (`workspace/applyEdit`): for clients that do not
resolve code actions."""

Report = Callable[..., None]
"""`report(message, percent)`: progress of a fix (see `lsp_server.progress`)."""


@dataclass(frozen=True)
class FixResult:
    """A computed fix: the edit to offer, or the reason there is none."""

    edit: types.WorkspaceEdit | None
    suggestion: Suggestion | None
    reason: str | None


MAX_BLOCK_LINES = 80


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def enclosing_block(lines: list[str], first: int, last: int) -> tuple[int, int]:
    """Lines [start, end) of the top-level block around lines first..last: up to the
    nearest line at column 0, down to the next one (closing brackets stay inside)."""
    n = len(lines)
    first = max(0, min(first, n - 1)) if n else 0
    last = max(first, min(last, n - 1)) if n else 0
    top = first
    while top > 0 and first - top < MAX_BLOCK_LINES:
        if lines[top].strip() and _indent(lines[top]) == 0:
            break
        top -= 1
    end = last + 1
    while end < n and end - last < MAX_BLOCK_LINES:
        ln = lines[end]
        if ln.strip() and _indent(ln) == 0 and not ln.lstrip().startswith((")", "]", "}")):
            break
        end += 1
    while end > last + 1 and not lines[end - 1].strip():
        end -= 1
    return top, end


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class FixFeature:
    """`textDocument/codeAction` and `codeAction/resolve`."""

    def __init__(
        self,
        models: ModelManager,
        remember: Callable[[Suggestion, str, str, int, int], None],
        tell: Callable[[str], None],
        position_encoding: Callable[[], str] = lambda: "utf-16",
        context: Callable[[TextDocument, int, int, Any], Awaitable[ContextBundle]] | None = None,
        refused: Callable[[Suggestion, str, str, int, str], None] = lambda *args: None,
    ) -> None:
        self._models = models
        self._remember = remember
        self._refused = refused
        self._tell = tell
        self._encoding = position_encoding
        self._context = context

    async def _gather(self, doc: TextDocument, start: int, end: int, engine: Any) -> ContextBundle:
        """Definitions the block uses, from the index; none when that fails."""
        if self._context is None:
            return ContextBundle()
        try:
            return await self._context(doc, start, end, engine)
        except Exception:
            log.exception("context for the fix in %s failed; fixing without", doc.uri)
            return ContextBundle()

    # -- listing: instant, no model ------------------------------------------------------

    def actions(self, doc: TextDocument, params: types.CodeActionParams) -> list[types.CodeAction]:
        if self._models.state.state == "error":
            return []
        only = params.context.only
        lines = doc.lines
        if not lines:
            return []
        out: list[types.CodeAction] = []
        if _wanted(types.CodeActionKind.QuickFix, only):
            seen: set[tuple[int, int, str]] = set()
            for diag in params.context.diagnostics:
                start, end = enclosing_block(lines, diag.range.start.line, diag.range.end.line)
                key = (start, end, diag.message)
                if key in seen:
                    continue
                seen.add(key)
                message = " ".join(diag.message.split())
                short = message if len(message) <= 60 else message[:59] + "…"
                out.append(
                    types.CodeAction(
                        title=f"{FIX_TITLE}: {short}",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diag],
                        data=self._data(doc, start, end, [_problem(diag)]),
                    )
                )
        rng = params.range
        selected = rng.start != rng.end
        if selected and _wanted(types.CodeActionKind.RefactorRewrite, only):
            last = rng.end.line - (1 if rng.end.character == 0 and rng.end.line > 0 else 0)
            start, end = rng.start.line, max(rng.start.line, last) + 1
            out.append(
                types.CodeAction(
                    title=FIX_TITLE,
                    kind=types.CodeActionKind.RefactorRewrite,
                    data=self._data(doc, start, min(end, len(lines)), []),
                )
            )
        return out

    def _data(self, doc: TextDocument, start: int, end: int, problems: list[str]) -> dict:
        region = "".join(doc.lines[start:end])
        return {
            "focal": "fix",
            "uri": doc.uri,
            "start": start,
            "end": end,
            "problems": problems,
            "digest": _digest(region),
        }

    # -- computing: the model runs ---------------------------------------------------------

    async def compute(
        self,
        data: dict[str, Any],
        doc: TextDocument,
        client: ClientFeatures,
        report: Report | None = None,
    ) -> FixResult:
        """Run the model on the action's region and check its answer: the edit to offer, or
        the reason there is none (also told to the user; a refused answer is recorded)."""
        report = report or (lambda message, percent=None: None)
        start, end = int(data.get("start", 0)), int(data.get("end", 0))
        lines = doc.lines
        region = "".join(lines[start:end])
        if not region.strip() or _digest(region) != data.get("digest"):
            return self._refuse("the code changed since this fix was offered; ask again")
        report("waiting for the model", None)
        engine = await self._models.engine("fix")
        if engine is None:
            return self._refuse("no model is loaded, so no fix can be suggested")
        path = to_fs_path(doc.uri) or doc.uri
        language = doc.language_id or Path(path).suffix.lstrip(".")
        report("gathering context", None)
        req = FixRequest(
            path=Path(path).name,
            language=language,
            code=region,
            problems=tuple(str(p) for p in data.get("problems", [])),
            context=await self._gather(doc, start, end, engine),
        )
        params = fix_params(region)
        key = f"{doc.uri}#fix"
        report(f"rewriting lines {start + 1}-{end}", None)
        try:
            if engine.card.has_chat_template:
                messages = fix_messages(req)
                request = engine.chat(messages, params, key)
            else:
                request = engine.generate(fix_prompt(req), params, key, stop=fence_stop)
            try:
                suggestion = await asyncio.wrap_future(request.future)
            except asyncio.CancelledError:
                request.cancel("cancelled")
                raise
        except (Cancelled, ModelError) as exc:
            return self._refuse(f"the fix was not computed: {exc}")
        suggestion = replace(
            suggestion, origin=replace(suggestion.origin, route=self._models.route("fix"))
        )
        report("checking the answer", None)
        try:
            rewrite = accept_rewrite(region, suggestion.text)
        except UnusableAnswer as exc:
            return self._refuse(str(exc), suggestion, doc.uri, start)
        problem = await asyncio.to_thread(
            check_rewrite, doc.uri, language, lines, start, end, rewrite
        )
        if problem is not None:
            return self._refuse(problem, suggestion, doc.uri, start)
        self._remember(suggestion, "fix", doc.uri, start, 0)
        log.info(
            "fix %s for %s:%d-%d in %.0f ms",
            suggestion.id,
            path,
            start + 1,
            end,
            suggestion.origin.timing.total_ms,
        )
        edit = self._workspace_edit(doc, start, region, rewrite, suggestion, client)
        return FixResult(edit, suggestion, None)

    def _refuse(
        self, reason: str, suggestion: Suggestion | None = None, uri: str = "", line: int = 0
    ) -> FixResult:
        """No fix: the user is told why; an answer the model did give is recorded as
        refused, never as shown or applied."""
        if suggestion is None:
            self._tell(f"Focal: {reason}.")
        else:
            self._refused(suggestion, "fix", uri, line, reason)
            self._tell(f"Focal: no fix applied: {reason}.")
        return FixResult(None, suggestion, reason)

    async def resolve(
        self,
        action: types.CodeAction,
        doc: TextDocument,
        client: ClientFeatures,
        report: Report | None = None,
    ) -> types.CodeAction:
        """Fill in `action.edit` (and its accept command), or leave it empty and say why."""
        data = action.data if isinstance(action.data, dict) else {}
        result = await self.compute(data, doc, client, report)
        if result.edit is None or result.suggestion is None:
            return action
        action.edit = result.edit
        action.command = types.Command(
            title="Focal: fix applied",
            command=ACCEPT_COMMAND,
            arguments=[{"suggestionId": result.suggestion.id, "uri": doc.uri, "event": "applied"}],
        )
        return action

    def as_command(self, action: types.CodeAction) -> types.Command:
        """The action for a client that cannot resolve it: a command that, when run,
        computes the fix and applies it with `workspace/applyEdit`."""
        return types.Command(title=action.title, command=FIX_COMMAND, arguments=[action.data])

    def _workspace_edit(
        self,
        doc: TextDocument,
        start: int,
        region: str,
        rewrite: str,
        suggestion: Suggestion,
        client: ClientFeatures,
    ) -> types.WorkspaceEdit:
        lines = doc.lines
        enc = self._encoding()

        def pos(line: int) -> types.Position:
            if line >= len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
                return types.Position(len(lines) - 1, units(lines[-1], enc))
            return types.Position(line, 0)

        plain = [
            types.TextEdit(
                range=types.Range(pos(start + e.start), pos(start + e.end)), new_text=e.text
            )
            for e in minimal_edits(region, rewrite)
        ]
        if not client.document_changes:
            return types.WorkspaceEdit(changes={doc.uri: plain})
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        if not client.change_annotations:
            return types.WorkspaceEdit(
                document_changes=[types.TextDocumentEdit(text_document=ident, edits=plain)]
            )
        origin = suggestion.origin
        annotation_id = f"focal-{suggestion.id}"
        annotation = types.ChangeAnnotation(
            label=f"Focal fix · {origin_label(origin)}",
            needs_confirmation=False,
            description=(
                f"Written by {origin.model_name} {origin.quantization} "
                f"(sha256:{origin.short_digest}) on {origin.device} in "
                f"{origin.timing.total_ms:.0f} ms, confidence {origin.confidence:.2f}; "
                f"suggestion {suggestion.id}"
            ),
        )
        edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
            types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=annotation_id)
            for e in plain
        ]
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=ident, edits=edits)],
            change_annotations={annotation_id: annotation},
        )


def offered(
    actions: list[types.CodeAction], features: FixFeature, client: ClientFeatures
) -> list[types.CodeAction | types.Command]:
    """The listed fixes in the shape this client takes; the model runs in none of them.

    - literals, resolve of `edit`, and `data` kept: the action itself, resolved later;
    - literals only: the action with a `focal.fix` command and no `data`;
    - no literals: the bare `focal.fix` command;
    - the command needs `workspace/applyEdit`: without it and without resolve, no fixes."""
    if client.llm_generated_tag:
        for a in actions:
            a.tags = [types.CodeActionTag.LlmGenerated]
    if client.lazy_fixes:
        return list(actions)
    if not client.apply_edit:
        return []
    commands = [features.as_command(a) for a in actions]
    if not client.code_action_literals:
        return list(commands)
    for a, command in zip(actions, commands, strict=True):
        a.command, a.data = command, None
    return list(actions)


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == k or kind.startswith(k + ".") for k in only)


def _problem(diag: types.Diagnostic) -> str:
    source = f"{diag.source}: " if diag.source else ""
    code = f" [{diag.code}]" if diag.code is not None else ""
    return f"line {diag.range.start.line + 1}: {source}{diag.message}{code}"


def fix_data(value: Any) -> dict[str, Any] | None:
    """A listed fix's data (`focal: fix`, uri, region and digest), or None."""
    if hasattr(value, "_asdict"):  # pygls reads untyped JSON objects as namedtuples
        value = value._asdict()
    if not (isinstance(value, dict) and value.get("focal") == "fix"):
        return None
    if not isinstance(value.get("uri"), str) or not isinstance(value.get("digest"), str):
        return None
    if not all(isinstance(value.get(k), int) for k in ("start", "end")):
        return None
    return value


def action_data(action: types.CodeAction) -> dict[str, Any] | None:
    return fix_data(action.data)
