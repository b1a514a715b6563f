"""Completions: `textDocument/inlineCompletion` (ghost text) and `textDocument/completion`."""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from indexing.indexer import Index
from indexing.retrieval import Document, Retrieval, Retriever
from inference.engine import Cancelled
from inference.redact import flagged, merge
from inference.types import CompletionTask, ContextBundle, GenerationParams, Suggestion
from lsp_server.context import bundle_of, gather, redacted
from lsp_server.models import ModelManager
from lsp_server.origin_view import origin_label, origin_markdown
from lsp_server.settings import CompletionSettings, ContextSettings

log = logging.getLogger(__name__)

ACCEPT_COMMAND = "focal.accepted"
_WORD_TAIL = re.compile(r"[\w$]*$")
_RECENT = 256
_RECENT_FILES = 8
CONTEXT_TIMEOUT_S = 0.5
"""A completion waits this long for its context, then goes without (retrieval takes a few
milliseconds; only a first request on a huge workspace can take longer)."""


class CompletionFeature:
    """Turns a cursor into a `CompletionTask`, asks the engine, and answers with origins."""

    def __init__(
        self,
        models: ModelManager,
        settings: Callable[[], CompletionSettings],
        workspace_root: Callable[[], Path | None],
        position_encoding: Callable[[], str] = lambda: "utf-16",
        on_suggestion: Callable[[Suggestion, str, str, int, int], None] | None = None,
        context_settings: Callable[[], ContextSettings] = ContextSettings,
        index: Callable[[], Index | None] = lambda: None,
        documents: Callable[[], Iterable[TextDocument]] = lambda: (),
        redact_policy: Callable[[], str] = lambda: "remote",
    ) -> None:
        self._redact_policy = redact_policy
        self._encoding = position_encoding
        self._on_suggestion = on_suggestion or (lambda *args: None)
        self._models = models
        self._settings = settings
        self._root = workspace_root
        self._context_settings = context_settings
        self._index = index
        self._documents = documents
        self._retriever: Retriever | None = None
        self._turn = itertools.count(1)
        self._turns: dict[str, int] = {}
        self._edited: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.recent: collections.OrderedDict[str, Suggestion] = collections.OrderedDict()
        self.last: Suggestion | None = None
        self.last_context: Retrieval | None = None

    def task_for(self, doc: TextDocument, pos: types.Position, trigger: str) -> CompletionTask:
        source = doc.source
        offset = doc.offset_at_position(pos)
        path = to_fs_path(doc.uri) or doc.uri
        root = self._root()
        rel = path
        if root is not None:
            try:
                rel = str(Path(path).relative_to(root))
            except ValueError:
                rel = path
        return CompletionTask(
            document=doc.uri,
            path=rel,
            language=doc.language_id or Path(path).suffix.lstrip("."),
            prefix=source[:offset],
            suffix=source[offset:],
            line=pos.line,
            character=pos.character,
            trigger=trigger,
        )

    async def suggest(self, task: CompletionTask, kind: str) -> Suggestion | None:
        """Run the model for `task`; None when completion is off or no model is usable."""
        s = self._settings()
        if not s.enabled:
            return None
        # Inline and list completions for one document are separate streams: a keystroke
        # often asks for both, and one must not cancel the other. The turn is taken before
        # the first await: a newer request must win even if it gets through the model
        # loading or the context step first.
        stream = f"{task.document}#{kind}"
        turn = self._turns[stream] = next(self._turn)
        engine = await self._models.engine("complete")
        if engine is None:
            if self._turns.get(stream) == turn:
                del self._turns[stream]
            return None
        params = GenerationParams(
            max_tokens=s.max_tokens,
            time_budget_ms=s.time_budget_ms,
            temperature=s.temperature,
            multiline=s.multiline,
        )
        bundle = await self.context(task, engine, params.max_tokens)
        if self._turns.get(stream) != turn:
            # A newer request for this stream arrived meanwhile: it answers, not this one.
            raise JsonRpcRequestCancelled("Completion superseded")
        self._turns.pop(stream, None)
        sent, bundle, redactions = await self._redacted(task, bundle, engine)
        request = engine.complete(replace(sent, document=stream), params, bundle)
        try:
            suggestion = await asyncio.wrap_future(request.future)
        except asyncio.CancelledError:  # $/cancelRequest from the client
            request.cancel("cancelled")
            raise
        except Cancelled as exc:
            raise JsonRpcRequestCancelled(f"Completion {exc.reason}") from None
        suggestion = replace(
            suggestion,
            origin=replace(
                suggestion.origin,
                route=self._models.route("complete"),
                redactions=merge(redactions, suggestion.origin.redactions),
            ),
        )
        suggestion = _withheld(suggestion, task)
        self.remember(suggestion)
        if not suggestion.text and suggestion.origin.stop_reason.startswith("withheld"):
            return suggestion
        self._on_suggestion(
            suggestion,
            "inline" if kind == "inline" else "complete",
            task.document,
            task.line,
            task.character,
        )
        return suggestion

    async def _redacted(self, task: CompletionTask, bundle: ContextBundle, engine: Any):
        """The task and context with secrets replaced, when `privacy.redactSecrets` covers
        this engine (off the event loop: it reads the document around the cursor)."""
        policy = self._redact_policy()
        if policy == "never" or (policy == "remote" and engine.engine_name != "remote"):
            return task, bundle, ()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, redacted, task, bundle, engine, policy)

    def _retriever_now(self) -> Retriever | None:
        index = self._index()
        root = self._root()
        current = self._retriever
        if current is not None and current.index is index and (index or root):
            return current
        if index is None and root is None:
            return None
        self._retriever = Retriever(index, root)
        return self._retriever

    def _open_documents(self) -> list[Document]:
        out = []
        for doc in self._documents():
            path = to_fs_path(doc.uri) if doc.uri.startswith("file:") else None
            if path:
                out.append(Document(path, doc.source))
        return out

    async def context(self, task: CompletionTask, engine: Any, max_tokens: int) -> ContextBundle:
        """The repository context for `task`, gathered off the event loop. Whatever goes
        wrong there, the completion goes on without context."""
        try:
            settings = self._context_settings()
            retriever = self._retriever_now()
            if settings.budget_tokens <= 0 or retriever is None:
                return ContextBundle()
            self._edited[task.path] = None
            self._edited.move_to_end(task.path)
            while len(self._edited) > _RECENT_FILES:
                self._edited.popitem(last=False)
            job = functools.partial(
                gather,
                retriever,
                task,
                engine,
                settings,
                max_tokens,
                self._open_documents(),
                [p for p in self._edited if p != task.path],
                task.document,
            )
            future = asyncio.get_running_loop().run_in_executor(None, job)
            retrieval, _ = await asyncio.wait_for(asyncio.shield(future), CONTEXT_TIMEOUT_S)
        except TimeoutError:
            log.info(
                "context for %s took over %.1f s; completing without", task.path, CONTEXT_TIMEOUT_S
            )
            return ContextBundle()
        except Exception:
            log.exception("context for %s failed; completing without", task.path)
            return ContextBundle()
        self.last_context = retrieval
        if retrieval.chunks:
            log.debug(
                "context for %s: %d chunks, %d/%d tokens in %.1f ms",
                task.path,
                len(retrieval.chunks),
                retrieval.used_tokens,
                retrieval.budget_tokens,
                retrieval.milliseconds,
            )
        root = self._root()
        return bundle_of(retrieval, root.name if root is not None else "")

    def remember(self, suggestion: Suggestion) -> None:
        self.recent[suggestion.id] = suggestion
        self.last = suggestion
        while len(self.recent) > _RECENT:
            self.recent.popitem(last=False)

    def _accept_command(self, suggestion: Suggestion, uri: str) -> types.Command:
        return types.Command(
            title="Focal: suggestion accepted",
            command=ACCEPT_COMMAND,
            arguments=[{"suggestionId": suggestion.id, "uri": uri}],
        )

    async def inline(
        self, doc: TextDocument, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        task = self.task_for(doc, params.position, "invoked" if invoked else "automatic")
        suggestion = await self.suggest(task, "inline")
        if suggestion is None or not suggestion.text.strip():
            return types.InlineCompletionList(items=[])
        pos = params.position
        item = types.InlineCompletionItem(
            insert_text=suggestion.text,
            range=types.Range(start=pos, end=pos),
            command=self._accept_command(suggestion, doc.uri),
        )
        return types.InlineCompletionList(items=[item])

    async def completion(
        self, doc: TextDocument, params: types.CompletionParams
    ) -> types.CompletionList:
        ctx = params.context
        invoked = ctx is not None and ctx.trigger_kind == types.CompletionTriggerKind.Invoked
        task = self.task_for(doc, params.position, "invoked" if invoked else "automatic")
        suggestion = await self.suggest(task, "completion")
        if suggestion is None or not suggestion.text.strip():
            return types.CompletionList(is_incomplete=True, items=[])
        # The item replaces the word being typed, so that client-side filtering (which
        # matches the label against that word) keeps it.
        word = _WORD_TAIL.search(task.prefix.rsplit("\n", 1)[-1])
        typed = word.group(0) if word else ""
        pos = params.position
        start = types.Position(
            line=pos.line, character=pos.character - units(typed, self._encoding())
        )
        new_text = typed + suggestion.text
        first_line = new_text.split("\n", 1)[0].strip() or new_text.strip().split("\n", 1)[0]
        origin = suggestion.origin
        item = types.CompletionItem(
            label=first_line[:80],
            kind=types.CompletionItemKind.Snippet if "\n" in new_text else None,
            label_details=types.CompletionItemLabelDetails(
                detail=" ✦", description=origin_label(origin)
            ),
            detail=f"Focal · {origin_label(origin)} · {origin.timing.total_ms:.0f} ms",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.Markdown,
                value=f"```{task.language}\n{new_text}\n```\n\n"
                + origin_markdown(origin, suggestion.id),
            ),
            filter_text=new_text,
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=pos), new_text=new_text),
            command=self._accept_command(suggestion, doc.uri),
            data={"suggestionId": suggestion.id},
        )
        return types.CompletionList(is_incomplete=True, items=[item])


def _withheld(suggestion: Suggestion, task: CompletionTask) -> Suggestion:
    """The suggestion, or an empty one saying why, when it would write a secret into the
    file: a `<redacted:…>` placeholder copied from the prompt, or a credential-shaped value
    (a key the model saw, or made up)."""
    before = task.prefix[task.prefix.rfind("\n") + 1 :]
    end = task.suffix.find("\n")
    after = task.suffix if end < 0 else task.suffix[:end]
    kinds = flagged(suggestion.text, before, after)
    if not kinds:
        return suggestion
    why = f"withheld: it would write a secret ({', '.join(kinds)})"
    log.info("completion for %s %s", task.path, why)
    return replace(suggestion, text="", origin=replace(suggestion.origin, stop_reason=why))


def units(text: str, encoding: str) -> int:
    """Length of `text` in the negotiated position encoding's code units."""
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
