"""The workspace index in the server: build it after `initialized` (with `$/progress`),
keep it current (saves, unsaved buffers, the file watcher), answer `workspace/symbol`."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from indexing.extract import Symbol
from indexing.ignore import ai_disabled
from indexing.indexer import BuildProgress, Index, IndexSummary
from indexing.watcher import IndexWatcher

log = logging.getLogger(__name__)

CHANGE_DEBOUNCE_S = 0.3
FIRST_OPEN_WAIT_S = 0.5
"""On a first build, how long to wait for the editor to open a document, whose import
closure is then indexed before everything else (editors open theirs right away)."""
FIRST_CONTEXT_GRACE_S = 1.0
"""After that, how long the full build waits, so that the first completions' context
does not compete with it for the CPU."""
SYMBOL_LIMIT = 200

SYMBOL_KINDS = {
    "function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "interface": types.SymbolKind.Interface,
    "trait": types.SymbolKind.Interface,
    "struct": types.SymbolKind.Struct,
    "enum": types.SymbolKind.Enum,
    "type": types.SymbolKind.Class,
    "constant": types.SymbolKind.Constant,
    "variable": types.SymbolKind.Variable,
    "module": types.SymbolKind.Module,
    "macro": types.SymbolKind.Function,
}


def to_workspace_symbol(root: Path, s: Symbol) -> types.WorkspaceSymbol:
    """One index symbol as LSP. Columns are code points; for text without astral
    characters before the symbol on its line that equals UTF-16 units."""
    uri = from_fs_path(str(root / s.path)) or (root / s.path).as_uri()
    return types.WorkspaceSymbol(
        name=s.name,
        kind=SYMBOL_KINDS.get(s.kind, types.SymbolKind.Variable),
        location=types.Location(
            uri=uri,
            range=types.Range(
                start=types.Position(line=s.line, character=s.column),
                end=types.Position(line=s.end_line, character=s.end_column),
            ),
        ),
        container_name=s.container or None,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _unreadable(root: Path) -> str | None:
    """Why the folder `root` cannot be listed, or None when it can."""
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _tell(ls: Any, message: str) -> None:
    """A warning the user sees (`window/showMessage` through the server), else the log."""
    tell = getattr(ls, "tell", None)
    if callable(tell):
        tell(message, types.MessageType.Warning)
    else:
        log.warning("%s", message)


class WorkspaceIndexFeature:
    """Owns the workspace's `Index` and its watcher. The handlers in `server.py` call
    `start` (after `initialized`), `workspace_symbol`, `did_save`, `did_change`, `stop`."""

    def __init__(
        self,
        server: Any,
        index_root: Path | str | None,
        db_path: Path | str | None = None,
        watch: bool = True,
    ) -> None:
        self.server = server
        self.root = Path(index_root) if index_root else None
        self.db_path = db_path
        self.watch = watch
        self.index: Index | None = None
        self.watcher: IndexWatcher | None = None
        self.summary: IndexSummary | None = None
        self._tasks: dict[str, asyncio.Task] = {}
        self._background: set[asyncio.Future] = set()
        self._stopping = False
        self._building = False
        self._opened: asyncio.Event | None = None

    async def start(self, ls: Any) -> IndexSummary | None:
        """Open and build the index off the event loop, reporting work-done progress,
        then watch the workspace. Returns the build summary (None: nothing to index)."""
        if self.root is None:
            log.info("no workspace folder: the workspace index is off")
            return None
        if ai_disabled(self.root):
            log.info("%s has .noai: AI features are off, nothing is indexed", self.root)
            return None
        loop = asyncio.get_running_loop()
        unreadable = await loop.run_in_executor(None, _unreadable, self.root)
        if unreadable:
            _tell(
                ls,
                f"Focal cannot read the workspace folder {self.root} ({unreadable}): nothing in "
                "it is indexed, so completions get no project context. Fix the folder's "
                "permissions and restart Focal.",
            )
            return None
        try:
            self.index = await loop.run_in_executor(
                None, functools.partial(Index.open, self.root, self.db_path)
            )
        except Exception as exc:
            log.exception("cannot open the index of %s", self.root)
            _tell(
                ls,
                f"Focal cannot open its index of {self.root} ({_reason(exc)}): workspace "
                "symbols and project context are off; completions still work. Check that "
                "Focal's cache folder is writable.",
            )
            return None
        await self._index_first(ls, loop)
        if self.watch:
            # Before the build, so that changes made while it runs are queued, not lost.
            try:
                self.watcher = IndexWatcher(self.index)
                # Adding an inotify watch per directory takes a while in a big tree.
                await loop.run_in_executor(None, self.watcher.start)
            except Exception:
                log.exception("cannot watch %s; the index follows saves only", self.root)
                self.watcher = None
        if self._stopping:  # the server shut down while we were starting
            self.stop()
            return None
        token = await self._create_progress(ls)
        progress = ls.work_done_progress
        last = [0.0]

        def report(p: BuildProgress) -> None:  # on the build thread
            now = time.monotonic()
            if token is None or (now - last[0] < 0.2 and p.done < p.total):
                return
            last[0] = now
            pct = int(100 * p.done / p.total) if p.total else 100
            value = types.WorkDoneProgressReport(message=f"{p.done}/{p.total}", percentage=pct)
            loop.call_soon_threadsafe(self._report, progress, token, value)

        def should_stop() -> bool:
            fut = progress.tokens.get(token) if token is not None else None
            return self._stopping or (fut is not None and fut.cancelled())

        end_message = "cancelled"
        try:
            if token is not None:
                progress.begin(
                    token,
                    types.WorkDoneProgressBegin(
                        title="Focal: indexing", cancellable=True, percentage=0
                    ),
                )
            self._building = True
            try:
                summary = await loop.run_in_executor(
                    None, functools.partial(self.index.build, report, should_stop)
                )
            finally:
                self._building = False
                if self._stopping:
                    self._close_index()
            self.summary = summary
            if self._stopping:
                return summary
            if not summary.cancelled:
                end_message = f"{summary.files} files, {summary.symbols} symbols"
            log.info(
                "indexed %s: %d files, %d symbols in %.2f s (skipped %s)",
                self.root,
                summary.files,
                summary.symbols,
                summary.seconds,
                summary.skipped,
            )
        except Exception:
            end_message = "failed (see the log)"
            log.exception("indexing %s failed", self.root)
            return None
        finally:
            if token is not None:
                try:
                    progress.end(token, types.WorkDoneProgressEnd(message=end_message))
                except Exception:
                    log.debug("could not end progress", exc_info=True)
        return self.summary

    def notify_open(self) -> None:
        """A document of this folder was opened (see `_index_first`)."""
        if self._opened is not None:
            self._opened.set()

    def _open_paths(self, ls: Any) -> list[str]:
        docs = getattr(getattr(ls, "workspace", None), "text_documents", {}) or {}
        out = []
        for uri in list(docs):
            path = to_fs_path(uri) if uri.startswith("file:") else None
            if path and self.root is not None and Path(path).is_relative_to(self.root):
                out.append(path)
        return out

    async def _index_first(self, ls: Any, loop: asyncio.AbstractEventLoop) -> None:
        """Context before the index is done: on a first build (an empty index), the open
        documents and the files their imports name, two levels deep, are indexed first,
        so that completions have their definitions within about a second of the open;
        the full build follows. The secondary indexes then stay in place through the
        build (a bulk load into an empty index drops them), so that those completions'
        queries stay fast while it runs."""
        index = self.index
        if index is None or not await loop.run_in_executor(None, index.store.is_empty):
            return
        self._opened = asyncio.Event()
        paths = self._open_paths(ls)
        if not paths:
            try:
                await asyncio.wait_for(self._opened.wait(), FIRST_OPEN_WAIT_S)
            except TimeoutError:
                return
            paths = self._open_paths(ls)
        t0 = time.perf_counter()
        try:
            done = await loop.run_in_executor(None, index.index_first, paths)
        except Exception:
            log.exception("indexing the open documents of %s first failed", self.root)
            return
        log.info(
            "indexed %d files around the open documents first in %.2f s",
            len(done),
            time.perf_counter() - t0,
        )
        if done:
            await asyncio.sleep(FIRST_CONTEXT_GRACE_S)

    async def _create_progress(self, ls: Any) -> str | None:
        caps = getattr(ls, "client_capabilities", None)
        window = getattr(caps, "window", None)
        if not (window and window.work_done_progress):
            return None
        token = f"focal-index-{uuid.uuid4()}"
        try:
            # A client that never answers must not hold the index back.
            await asyncio.wait_for(ls.work_done_progress.create_async(token), 5)
        except Exception:
            log.debug("client refused a progress token", exc_info=True)
            return None
        return token

    @staticmethod
    def _report(progress: Any, token: str, value: types.WorkDoneProgressReport) -> None:
        try:
            progress.report(token, value)
        except Exception:
            log.debug("progress report failed", exc_info=True)

    def workspace_symbol(self, query: str) -> list[types.WorkspaceSymbol]:
        """`workspace/symbol`: best matches first (exact, prefix, substring, fuzzy)."""
        if self.index is None or self.root is None:
            return []
        return [to_workspace_symbol(self.root, s) for s in self.index.search(query, SYMBOL_LIMIT)]

    def did_save(self, uri: str) -> None:
        """Re-index a saved file (off the loop)."""
        path = to_fs_path(uri)
        if self.index is None or not path:
            return
        self._spawn(self.index.update_file, path)

    def did_change(self, uri: str, text: str) -> None:
        """Index an unsaved buffer once the user pauses typing (debounced per document)."""
        path = to_fs_path(uri)
        if self.index is None or not path:
            return
        old = self._tasks.pop(uri, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._after_pause(uri, path, text))
        self._tasks[uri] = task

    def did_close(self, uri: str) -> None:
        """The buffer is gone: drop its pending re-index and index the file on disk again
        (or forget it, when it was deleted while open)."""
        path = to_fs_path(uri)
        pending = self._tasks.pop(uri, None)
        if self.index is None or not path:
            return
        task = asyncio.get_running_loop().create_task(self._reread(pending, path))
        self._background.add(task)
        task.add_done_callback(self._done)

    async def _reread(self, pending: asyncio.Task | None, path: str) -> None:
        if pending is not None:
            # Its write of the buffer may already be running: let it land first.
            await asyncio.wait([pending])
        index = self.index
        if index is not None:
            await asyncio.get_running_loop().run_in_executor(None, index.update_file, path)

    async def _after_pause(self, uri: str, path: str, text: str) -> None:
        try:
            await asyncio.sleep(CHANGE_DEBOUNCE_S)
            index = self.index
            if index is not None:
                await asyncio.get_running_loop().run_in_executor(
                    None, index.update_text, path, text
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("indexing the buffer of %s failed", uri)
        finally:
            if self._tasks.get(uri) is asyncio.current_task():
                del self._tasks[uri]

    def _spawn(self, fn, *args) -> None:
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        self._background.add(fut)
        fut.add_done_callback(self._done)

    def _done(self, fut: asyncio.Future) -> None:
        self._background.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("index update failed", exc_info=fut.exception())

    def stop(self) -> None:
        """Stop the watcher and pending jobs, close the index. Idempotent."""
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if not self._building:  # else `start` closes it once the build has stopped
            self._close_index()

    def _close_index(self) -> None:
        if self.index is not None:
            index, self.index = self.index, None
            index.close()
