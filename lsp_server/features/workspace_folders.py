"""Every workspace folder indexed, one `WorkspaceIndexFeature` (and one index) each:
folders the client names at `initialize`, and those it adds or removes later
(`workspace/didChangeWorkspaceFolders`). A file outside every folder is served from the
index of its nearest repository root (the closest directory above it holding `.git`),
opened when such a file is first opened or completed.

Memory: each index costs its SQLite connection and page cache, the file watcher (one
inotify watch per directory) and retrieval's caches (a module map of the paths, up to
128 files' lines, a second or two of query answers). Measured on CPython's `Lib` (1,796
files) opened, watched and asked 40 completions' context: 16 MB of Python heap, 22 MB of
resident memory; the index file itself stays on disk. At most `MAX_OUTSIDE` repositories
outside the folders are kept open, the least recently used closed first.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from indexing.indexer import Index
from lsp_server.features.workspace_index import SYMBOL_LIMIT, WorkspaceIndexFeature

log = logging.getLogger(__name__)

MAX_OUTSIDE = 4
"""Repositories outside the workspace folders kept indexed at once."""


def repository_root(path: Path) -> Path | None:
    """The nearest directory at or above `path`'s directory that holds `.git` (a
    directory, or a file in a worktree or submodule); None when there is none."""
    d = path if path.is_dir() else path.parent
    for cand in (d, *d.parents):
        if (cand / ".git").exists():
            return cand
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


class WorkspaceIndexes:
    """The index of each workspace folder, and of the repositories of files opened
    outside them. Routes each document to the index whose root holds it (the deepest,
    for nested folders). `make` builds a folder's feature (tests give it a db path)."""

    def __init__(
        self,
        server: Any,
        roots: Iterable[Path],
        make: Callable[[Path], WorkspaceIndexFeature] | None = None,
    ) -> None:
        self.server = server
        self._make = make or (lambda root: WorkspaceIndexFeature(server, root))
        self.folders: dict[Path, WorkspaceIndexFeature] = {}
        self.outside: OrderedDict[Path, WorkspaceIndexFeature] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._pending_roots = [Path(os.path.abspath(r)) for r in roots]
        self._stopped = False

    # -- folders -------------------------------------------------------------------------

    async def start(self, ls: Any) -> list:
        """Open and build the index of every folder given at `initialize`, concurrently."""
        roots, self._pending_roots = self._pending_roots, []
        for root in roots:
            if root not in self.folders:
                self.folders[root] = self._make(root)
        if not self.folders:
            log.info("no workspace folder: files get the index of their repository")
            return []
        return await asyncio.gather(*(f.start(ls) for f in list(self.folders.values())))

    def folders_changed(self, ls: Any, added: Iterable[str], removed: Iterable[str]) -> None:
        """`workspace/didChangeWorkspaceFolders`: close the removed folders' indexes, open
        and build the added ones' in the background."""
        for uri in removed:
            root = self._path(uri)
            feature = self.folders.pop(root, None) if root else None
            if feature is not None:
                log.info("workspace folder %s removed: closing its index", root)
                feature.stop()
        for uri in added:
            root = self._path(uri)
            if root is None or root in self.folders:
                continue
            # A repository served as "outside" until now becomes a folder.
            feature = self.outside.pop(root, None) or self._make(root)
            self.folders[root] = feature
            if feature.index is None:
                self._spawn(feature.start(ls))

    @staticmethod
    def _path(uri: str) -> Path | None:
        path = to_fs_path(uri)
        return Path(os.path.abspath(path)) if path else None

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("indexing a folder failed", exc_info=task.exception())

    # -- routing -------------------------------------------------------------------------

    def feature_for(self, path: str | os.PathLike[str] | None, open_outside: bool = True):
        """The feature whose root holds `path` (the deepest folder first); for a file
        outside every folder, that of its repository root, opened on first use (None
        when it is in no repository, or `open_outside` is False)."""
        if path is None:
            first = next(iter(self.folders.values()), None)
            return first
        p = Path(os.path.abspath(path))
        best = None
        for root, feature in self.folders.items():
            if _inside(p, root) and (best is None or len(root.parts) > len(best[0].parts)):
                best = (root, feature)
        if best is not None:
            return best[1]
        for root, feature in self.outside.items():
            if _inside(p, root):
                self.outside.move_to_end(root)
                return feature
        if not open_outside or self._stopped:
            return None
        root = repository_root(p)
        if root is None:
            return None
        feature = self._make(root)
        self.outside[root] = feature
        log.info("%s is outside the workspace folders: indexing its repository %s", p, root)
        while len(self.outside) > MAX_OUTSIDE:
            old_root, old = self.outside.popitem(last=False)
            log.info("closing the index of %s (least recently used)", old_root)
            old.stop()
        try:
            self._spawn(feature.start(self.server))
        except RuntimeError:  # no running loop (a synchronous caller): start later
            log.debug("no event loop to index %s now", root)
        return feature

    def index_for(self, path: str | os.PathLike[str] | None) -> Index | None:
        feature = self.feature_for(path)
        return feature.index if feature is not None else None

    @property
    def index(self) -> Index | None:
        """The first folder's index."""
        first = next(iter(self.folders.values()), None)
        return first.index if first is not None else None

    @property
    def roots(self) -> list[Path]:
        return list(self.folders)

    # -- what the server forwards ----------------------------------------------------------

    def workspace_symbol(self, query: str) -> list[types.WorkspaceSymbol]:
        """`workspace/symbol` over every folder: each folder's best matches, taken in
        turns so that one large folder cannot crowd the others out."""
        per = [f.workspace_symbol(query) for f in self.folders.values()]
        out: list[types.WorkspaceSymbol] = []
        i = 0
        while len(out) < SYMBOL_LIMIT and any(i < len(p) for p in per):
            out += [p[i] for p in per if i < len(p)]
            i += 1
        return out[:SYMBOL_LIMIT]

    def _route(self, uri: str, open_outside: bool = False) -> WorkspaceIndexFeature | None:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        return self.feature_for(path, open_outside) if path else None

    def did_open(self, uri: str) -> None:
        """A document opened outside every folder starts the index of its repository;
        inside one, a first build indexes its imports first (see `_index_first`)."""
        feature = self._route(uri, open_outside=True)
        if feature is not None:
            feature.notify_open()

    def did_save(self, uri: str) -> None:
        feature = self._route(uri)
        if feature is not None:
            feature.did_save(uri)

    def did_change(self, uri: str, text: str) -> None:
        feature = self._route(uri)
        if feature is not None:
            feature.did_change(uri, text)

    def did_close(self, uri: str) -> None:
        feature = self._route(uri)
        if feature is not None:
            feature.did_close(uri)

    def stop(self) -> None:
        self._stopped = True
        for feature in [*self.folders.values(), *self.outside.values()]:
            feature.stop()
        for task in self._tasks:
            task.cancel()
