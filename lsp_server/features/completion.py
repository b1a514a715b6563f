"""Completions: `textDocument/inlineCompletion` (ghost text) and `textDocument/completion`."""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
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


_SHARED_DOCS = 64
"""How many documents keep their last model run for a request at the same place."""

_Place = tuple[str, int, int, int]
"""(document uri, version, line, character): where a completion is asked for."""


_SHARE_FINISHED_S = 2.0
"""How long a finished run still answers a request at its place (VS Code's completion and
inline requests for one keystroke come within milliseconds of each other)."""


@dataclass(eq=False)
class _SharedRun:
    """One model run for one place, answered to every request asking there."""

    place: _Place
    stream: str
    """The engine stream (document#kind) it runs on: a newer request there supersedes it."""
    turn: int
    """The turn of the request that started it, on its stream."""
    run: asyncio.Task[Suggestion | None]
    waiters: int = 0
    abandoned: bool = False
    """Every asker left (cancelled, superseded) and the run was told to stop: a request
    arriving now must not join it (VS Code cancels its inline request and asks again at
    the same place)."""

    finished: float = 0.0
    """When the run ended (`time.monotonic()`)."""

    def joinable(self) -> bool:
        """Running and wanted, or finished with a suggestion moments ago (not failed,
        cancelled, or without a model: the user may have fixed the setting since; not long
        ago: the index may have learnt the context it lacked)."""
        if not self.run.done():
            return not self.abandoned
        if self.run.cancelled() or self.run.exception() is not None:
            return False
        if time.monotonic() - self.finished > _SHARE_FINISHED_S:
            return False
        return self.run.result() is not None


class CompletionFeature:
    """Turns a cursor into a `CompletionTask`, asks the engine, and answers with origins.

    `textDocument/completion` and `textDocument/inlineCompletion` for the same place (same
    document version and position: VS Code sends both on one keystroke) share one model
    run: the second request joins the first's result instead of queueing a second run
    behind it.
    """

    def __init__(
        self,
        models: ModelManager,
        settings: Callable[[], CompletionSettings],
        workspace_root: Callable[[], Path | None],
        position_encoding: Callable[[], str] = lambda: "utf-16",
        on_suggestion: Callable[[Suggestion, str, str, int, int], None] | None = None,
        context_settings: Callable[[], ContextSettings] = ContextSettings,
        index: Callable[[str | None], Index | None] = lambda path=None: None,
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
        self._retrievers: dict[int, Retriever] = {}
        self._turn = itertools.count(1)
        self._turns: dict[str, int] = {}
        self._edited: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.recent: collections.OrderedDict[str, Suggestion] = collections.OrderedDict()
        self.last: Suggestion | None = None
        self.last_context: Retrieval | None = None
        # The last model run per document, for a request at the same place to join.
        self._shared: collections.OrderedDict[str, _SharedRun] = collections.OrderedDict()
        # Per stream, the request that joined another stream's run: a newer request on
        # its own stream supersedes it (the engine cannot: the run is not on that stream).
        self._joined: dict[str, asyncio.Future[Suggestion | None]] = {}
        self._newest: dict[str, int] = {}  # the newest turn per stream
        self.runs = 0
        """Model runs started for completions (shown by `focal/status`)."""

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

    def forget_finished_runs(self) -> None:
        """Settings changed: a finished run no longer answers a request at its place."""
        for key, shared in list(self._shared.items()):
            if shared.run.done():
                del self._shared[key]

    async def suggest(
        self, task: CompletionTask, kind: str, version: int | None = None
    ) -> Suggestion | None:
        """Run the model for `task` (or join the run already asked for at the same place
        and document `version`); None when completion is off or no model is usable."""
        s = self._settings()
        if not s.enabled:
            return None
        # Inline and list completions for one document are separate streams: a keystroke
        # often asks for both, and one must not cancel the other. The turn is taken before
        # the first await: a newer request must win even if it gets through the model
        # loading or the context step first.
        stream = f"{task.document}#{kind}"
        turn = self._turns[stream] = self._newest[stream] = next(self._turn)
        joined = self._joined.pop(stream, None)
        if joined is not None and not joined.done():
            joined.set_exception(JsonRpcRequestCancelled("Completion superseded"))
        place = (task.document, version, task.line, task.character) if version is not None else None
        shared = self._shared.get(task.document)
        if place is not None and shared is not None and shared.place == place and shared.joinable():
            if shared.stream == stream and not shared.run.done():
                # A repeat at the same place: the run it joins keeps its turn (it must not
                # be superseded by the very request that waits for it).
                self._turns[stream] = shared.turn
            elif self._turns.get(stream) == turn:
                del self._turns[stream]
            try:
                return await self._join(shared, stream)
            except JsonRpcRequestCancelled:
                superseded_here = self._newest.get(stream) != turn
                if superseded_here or shared.stream == stream or not shared.run.done():
                    raise
                # The run was superseded on its own stream while this request (of the other
                # kind, still the newest of its own) waited: it runs on its own.
                turn = self._turns[stream] = self._newest[stream] = next(self._turn)
        return await self._run(task, stream, turn, place, s)

    async def _join(self, shared: _SharedRun, stream: str) -> Suggestion | None:
        """Wait for `shared`'s result as a request of another stream (or a repeat)."""
        if shared.run.done():
            return shared.run.result()
        waiter: asyncio.Future[Suggestion | None] = asyncio.get_running_loop().create_future()
        self._joined[stream] = waiter
        log.debug("%s joins the model run of %s", stream, shared.stream)
        try:
            return await self._wait(shared, waiter)
        finally:
            if self._joined.get(stream) is waiter:
                del self._joined[stream]

    async def _wait(
        self, shared: _SharedRun, waiter: asyncio.Future[Suggestion | None]
    ) -> Suggestion | None:
        """Await the shared run through `waiter`; the last waiter to leave stops the run."""

        def settle(run: asyncio.Task[Suggestion | None]) -> None:
            if waiter.done():
                return
            if run.cancelled():
                waiter.set_exception(JsonRpcRequestCancelled("Completion cancelled"))
            elif isinstance(run.exception(), Cancelled):
                reason = run.exception().reason  # type: ignore[union-attr]
                waiter.set_exception(JsonRpcRequestCancelled(f"Completion {reason}"))
            elif run.exception() is not None:
                waiter.set_exception(run.exception())  # type: ignore[arg-type]
            else:
                waiter.set_result(run.result())

        shared.waiters += 1
        shared.run.add_done_callback(settle)
        try:
            return await waiter
        finally:
            shared.run.remove_done_callback(settle)
            shared.waiters -= 1
            if shared.waiters == 0 and not shared.run.done():
                shared.abandoned = True
                shared.run.cancel()  # $/cancelRequest (or superseded) for every asker

    async def _run(
        self,
        task: CompletionTask,
        stream: str,
        turn: int,
        place: _Place | None,
        s: CompletionSettings,
    ) -> Suggestion | None:
        """Start the run for `task` and wait for it. It is registered for its place at
        once, before the model or the context is awaited, so that a request at the same
        place arriving meanwhile joins it."""
        run = asyncio.get_running_loop().create_task(self._produce(task, stream, turn, s))
        run.add_done_callback(_retrieved)
        shared = _SharedRun(place or (task.document, -1, -1, -1), stream, turn, run)
        run.add_done_callback(lambda _: setattr(shared, "finished", time.monotonic()))
        if place is not None:
            self._shared[task.document] = shared
            self._shared.move_to_end(task.document)
            while len(self._shared) > _SHARED_DOCS:
                self._shared.popitem(last=False)
        waiter: asyncio.Future[Suggestion | None] = asyncio.get_running_loop().create_future()
        return await self._wait(shared, waiter)

    async def _produce(
        self, task: CompletionTask, stream: str, turn: int, s: CompletionSettings
    ) -> Suggestion | None:
        """The model run itself: a task of its own, so that it outlives an asker that was
        cancelled while another request still waits for it."""
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
        self.runs += 1
        sent, bundle, redactions = await self._redacted(task, bundle, engine)
        request = engine.complete(replace(sent, document=stream), params, bundle)
        try:
            suggestion = await asyncio.wrap_future(request.future)
        except asyncio.CancelledError:  # every asker cancelled ($/cancelRequest)
            request.cancel("cancelled")
            raise
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
        kind = stream.rsplit("#", 1)[-1]
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

    def _retriever_now(self, path: str | None = None) -> Retriever | None:
        """The retriever of the index that holds `path` (each workspace folder has one)."""
        index = self._index(path)
        root = self._root()
        key = id(index) if index is not None else 0
        current = self._retrievers.get(key)
        if current is not None and current.index is index and (index or root):
            return current
        if index is None and root is None:
            return None
        current = self._retrievers[key] = Retriever(index, root)
        # Forget the retrievers of indexes closed since (a removed folder's).
        for k, r in list(self._retrievers.items()):
            if r.index is not None and r.index.store._closed:
                del self._retrievers[k]
        return current

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
            path = to_fs_path(task.document) if task.document.startswith("file:") else None
            retriever = self._retriever_now(path)
            if settings.budget_tokens <= 0 or retriever is None:
                return ContextBundle()
            first = self._root()
            if path and (first is None or retriever.root != os.path.abspath(first)):
                # Another folder's index: paths are relative to its root, not the first's.
                task = replace(task, path=path)
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
        suggestion = await self.suggest(task, "inline", doc.version)
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
        suggestion = await self.suggest(task, "completion", doc.version)
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


def _retrieved(run: asyncio.Task[Any]) -> None:
    """Mark a run's failure seen: its askers got it, or all of them left before it ended
    (superseded, cancelled); either way it is no "exception never retrieved"."""
    if not run.cancelled():
        run.exception()


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
