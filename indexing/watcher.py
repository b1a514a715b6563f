"""Keep an `Index` current as files change on disk.

watchdog delivers events on its own thread; they are collected per path and, once the
tree has been quiet for `debounce_s`, applied as incremental jobs on one worker thread.
A change to an ignore file (or `.noai`) re-runs the incremental build instead, since it
can include or exclude any file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from indexing.ignore import ALWAYS_SKIPPED_DIRS, IGNORE_FILES, NOAI_FILE
from indexing.indexer import Index

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.2
_RULE_FILES = frozenset({*IGNORE_FILES, NOAI_FILE})
# What a path needs: re-read it (file), re-walk it (dir), or forget it.
_UPDATE, _TREE, _REMOVE = "update", "tree", "remove"


class IndexWatcher:
    """Watches the index's root; `start()` once, `stop()` to end (joins its threads)."""

    def __init__(
        self,
        index: Index,
        debounce_s: float = DEBOUNCE_S,
        on_update: Callable[[int], None] | None = None,
    ) -> None:
        self.index = index
        self.debounce_s = debounce_s
        self.on_update = on_update
        """Called on the worker thread after each batch with the number of paths handled."""
        self.batches = 0
        self._pending: dict[str, str] = {}
        self._rebuild = False
        self._last_event = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._worker: threading.Thread | None = None
        self._skip_prefixes = tuple(
            os.path.join(index.root, d) + os.sep for d in ALWAYS_SKIPPED_DIRS
        )
        db = os.path.abspath(index.db_path)
        self._db_prefix = db

    def start(self) -> None:
        if self._observer is not None:
            return
        handler = _Handler(self)
        observer = Observer()
        observer.schedule(handler, self.index.root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._worker = threading.Thread(target=self._run, name="focal-index-watch", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; pending changes are dropped (the next build picks them up)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    # -- events (watchdog thread) ------------------------------------------------------

    def _relevant(self, path: str) -> bool:
        if path.startswith(self._skip_prefixes) or path.startswith(self._db_prefix):
            return False
        return os.path.basename(path) not in ALWAYS_SKIPPED_DIRS

    def _note(self, path: str, action: str) -> None:
        if not path or not self._relevant(path):
            return
        with self._cond:
            if os.path.basename(path) in _RULE_FILES:
                self._rebuild = True
            else:
                self._pending[path] = action
            self._last_event = time.monotonic()
            self._cond.notify_all()

    def event(self, ev: FileSystemEvent) -> None:
        src = os.fsdecode(ev.src_path)
        is_dir = ev.is_directory
        if ev.event_type in ("opened", "closed_no_write"):
            return
        if ev.event_type == "moved":
            dest = os.fsdecode(ev.dest_path)
            self._note(src, _REMOVE)
            self._note(dest, _TREE if isinstance(ev, DirMovedEvent) else _UPDATE)
        elif ev.event_type == "deleted":
            self._note(src, _REMOVE)
        elif isinstance(ev, DirCreatedEvent):
            self._note(src, _TREE)
        elif isinstance(ev, DirDeletedEvent) or is_dir:
            return  # a directory's mtime changed: its files report themselves
        else:
            self._note(src, _UPDATE)

    # -- jobs (worker thread) ----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._pending or self._rebuild):
                    self._cond.wait()
                # Debounce: wait until nothing has arrived for debounce_s.
                while not self._stopping:
                    quiet = time.monotonic() - self._last_event
                    if quiet >= self.debounce_s:
                        break
                    self._cond.wait(self.debounce_s - quiet)
                if self._stopping:
                    return
                pending, self._pending = self._pending, {}
                rebuild, self._rebuild = self._rebuild, False
            try:
                self._apply(pending, rebuild)
            except Exception:
                log.exception("re-indexing after file changes failed")
            self.batches += 1
            if self.on_update is not None:
                try:
                    self.on_update(len(pending) + int(rebuild))
                except Exception:
                    log.exception("index update callback failed")

    def _apply(self, pending: dict[str, str], rebuild: bool) -> None:
        if rebuild:
            summary = self.index.build()
            log.info("ignore rules changed: index rebuilt (%d parsed)", summary.parsed)
            return
        for path, action in pending.items():
            if self._stopping:
                return
            if action == _REMOVE or not os.path.exists(path):
                self.index.remove_file(path)
            elif action == _TREE or os.path.isdir(path):
                self.index.update_tree(path)
            else:
                self.index.update_file(path)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: IndexWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._watcher.event(event)
        except Exception:  # never let one odd event kill the observer thread
            log.exception("file event %r not handled", event)
