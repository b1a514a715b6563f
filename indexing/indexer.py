"""The repository index: build it, keep it current, ask it questions.

`Index` is the one object the rest of Focal holds. It knows nothing of LSP or models; what
it returns are frozen dataclasses (`Symbol`, `Import`, `Reference`, `IndexSummary`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexing import parsing
from indexing.extract import (
    FileIndex,
    FileRows,
    Import,
    Reference,
    Symbol,
    extract,
    references_in,
)
from indexing.ignore import IgnoreRules, ai_disabled, exclusion_reason
from indexing.languages import LanguageSpec, language_for, needs_head
from indexing.search import search_symbols
from indexing.store import Store, StoreStats, default_db_path
from indexing.walker import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    Candidate,
    Skip,
    check_source,
    read_head,
    read_source,
    walk,
)

log = logging.getLogger(__name__)

IndexStats = StoreStats
_BATCH = 256


@dataclass(frozen=True)
class BuildProgress:
    done: int
    total: int
    """Files that needed reading; unchanged files are not counted."""
    path: str


@dataclass(frozen=True)
class IndexSummary:
    root: str
    files: int
    """Source files in the index after the build."""
    symbols: int
    languages: dict[str, int] = field(default_factory=dict)
    """Files per language."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Files and directories left out, by reason (see `walker.SKIP_REASONS`)."""
    seconds: float = 0.0
    parsed: int = 0
    """Files parsed by this build (new or changed)."""
    unchanged: int = 0
    removed: int = 0
    ai_disabled: bool = False
    """The project has `.noai`: nothing was indexed and the index was emptied."""
    cancelled: bool = False


class Index:
    """One workspace's index. Safe to use from several threads: writes are serialized,
    reads run concurrently (SQLite WAL)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        store: Store,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_depth: int = MAX_DEPTH,
        workers: int | None = None,
        extra_ignores: Sequence[str] = (),
    ) -> None:
        self.root = os.path.abspath(root)
        self.store = store
        self.max_file_bytes = max_file_bytes
        self.max_depth = max_depth
        self.workers = workers if workers is not None else parsing.default_workers()
        self.rules = IgnoreRules(self.root, extra_ignores)
        self.parse_count = 0
        self.worker_peak_rss_kb = 0
        """Largest peak RSS of a parser process so far (0: none was used)."""
        """Files parsed since this object was made (tests and benchmarks read it)."""
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str],
        db_path: str | os.PathLike[str] | None = None,
        **options,
    ) -> Index:
        """Open (or create) the index of the workspace at `root`. `db_path` defaults to a
        file under the user cache dir keyed by the root; options go to `Index`."""
        root = os.path.abspath(root)
        if not os.path.isdir(root):
            raise NotADirectoryError(f"{root} is not a directory; give the workspace root")
        store = Store(db_path or default_db_path(root), root)
        return cls(root, store, **options)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building ----------------------------------------------------------------------

    def _walk(self, skipped: Counter[str], start: str = "") -> Iterator[Candidate]:
        """The files to index under the root (or its subdirectory `start`)."""
        return walk(
            self.root,
            self.rules,
            skipped,
            max_bytes=self.max_file_bytes,
            max_depth=self.max_depth,
            start=start,
        )

    def build(
        self,
        progress: Callable[[BuildProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IndexSummary:
        """Bring the index up to date with the files on disk: parse new and changed files
        (by size/mtime, then content hash), forget deleted ones. `progress` is called
        from this thread; `should_stop` returning True ends the build early."""
        t0 = time.perf_counter()
        with self._lock:
            if ai_disabled(self.root):
                self.store.clear()
                return IndexSummary(
                    self.root, 0, 0, seconds=time.perf_counter() - t0, ai_disabled=True
                )
            self.store.reopen_if_deleted()
            skipped: Counter[str] = Counter()
            known = self.store.file_states()
            kept: set[str] = set()
            todo: list[Candidate] = []
            pool = None
            try:
                for cand in self._walk(skipped):
                    old = known.get(cand.rel)
                    if (
                        old is not None
                        and old.size == cand.size
                        and old.mtime_ns == cand.mtime_ns
                        and old.language == cand.language.name
                    ):
                        kept.add(cand.rel)
                        continue
                    todo.append(cand)
                    # Enough to parse in processes: start them while the walk goes on.
                    if (
                        pool is None
                        and len(todo) == parsing.PARALLEL_MIN_FILES
                        and self.workers > 1
                        and parsing.processes_can_start()
                    ):
                        pool = parsing.ParserPool(self.workers)
                unchanged = len(kept)
                with self.store.bulk() if len(todo) > _BATCH else contextlib.nullcontext():
                    parsed, cancelled = self._process(
                        todo, known, kept, skipped, progress, should_stop, pool
                    )
            finally:
                if pool is not None:
                    pool.shutdown()  # done already unless the build failed
            removed = 0
            if not cancelled:
                removed = self.store.remove(p for p in known if p not in kept)
            stats = self.store.stats()
        return IndexSummary(
            root=self.root,
            files=stats.files,
            symbols=stats.symbols,
            languages=stats.languages,
            skipped=dict(skipped.most_common()),
            seconds=time.perf_counter() - t0,
            parsed=parsed,
            unchanged=unchanged,
            removed=removed,
            cancelled=cancelled,
        )

    def _process(self, todo, known, kept, skipped, progress, should_stop, pool) -> tuple[int, bool]:
        total = len(todo)
        done = parsed = 0
        batch: list[tuple[FileRows, int, int]] = []
        touched: list[tuple[str, int, int]] = []
        peak = [0]  # the parser processes' peak RSS (KiB), as they report it
        if pool is not None:
            results = parsing.parse_in_processes(
                todo, known, self.max_file_bytes, self.workers, peak, pool
            )
        else:
            results = (
                (c, parsing.read_and_extract(parsing.make_job(c, known), self.max_file_bytes))
                for c in todo
            )
        cancelled = False
        try:
            for cand, result in results:
                done += 1
                if isinstance(result, str):
                    skipped[result] += 1
                elif result is None:
                    kept.add(cand.rel)
                    touched.append((cand.rel, cand.size, cand.mtime_ns))
                else:
                    kept.add(cand.rel)
                    parsed += 1
                    self.parse_count += 1
                    batch.append((result, cand.size, cand.mtime_ns))
                    if len(batch) >= _BATCH:
                        self.store.put(batch)
                        batch = []
                if progress is not None:
                    progress(BuildProgress(done, total, cand.rel))
                if should_stop is not None and should_stop():
                    cancelled = True
                    break
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # stops the worker processes
            self.worker_peak_rss_kb = max(self.worker_peak_rss_kb, peak[0])
            self.store.put(batch)
            self.store.touch(touched)
        return parsed, cancelled

    def index_first(self, paths: Sequence[str | os.PathLike[str]], depth: int = 2) -> list[str]:
        """Index these files and the files their imports name (to `depth` levels) now,
        before a full build: what completions in files open in the editor need first.
        Returns the workspace-relative paths indexed. Lists the workspace (no parsing)
        to know where modules are."""
        from indexing.closure import import_closure  # a leaf of this module's users
        from indexing.modules import PathMap

        rels = [r for r in (self.relpath(p) for p in paths) if r is not None]
        if not rels or ai_disabled(self.root):
            return []
        skipped: Counter[str] = Counter()
        with self._lock:
            listed = [c.rel for c in self._walk(skipped)]
        pm = PathMap(listed, self.root)
        done = []
        for rel in import_closure(pm, self.root, rels, depth):
            if self.update_file(os.path.join(self.root, rel)) is not None:
                done.append(rel)
        return done

    def _extract(self, rel: str, data: bytes, spec: LanguageSpec, digest: str) -> FileIndex:
        self.parse_count += 1
        return extract(rel, data, spec, content_hash=digest)

    # -- keeping it current ------------------------------------------------------------

    def relpath(self, path: str | os.PathLike[str]) -> str | None:
        """The index key of `path` (workspace-relative, `/`-separated), or None when the
        path is outside the workspace."""
        p = os.path.abspath(os.path.join(self.root, path))
        rel = os.path.relpath(p, self.root)
        if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
            return None
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:  # an undecodable name cannot be a key in the index
            return None
        return rel.replace(os.sep, "/")

    def excluded(self, rel: str) -> str | None:
        """Why a workspace-relative path stays out of the index, or None."""
        return exclusion_reason(self.root, rel, self.rules)

    def update_file(self, path: str | os.PathLike[str]) -> FileIndex | None:
        """Re-index one file after it was saved (or created). Returns its new index, or
        None when it is not indexed (excluded, not source, unreadable, unchanged)."""
        rel = self.relpath(path)
        if rel is None:
            return None
        full = os.path.join(self.root, rel)
        with self._lock:
            try:
                spec = self._spec(rel, full)
                st = os.stat(full)
                data = read_source(full, self.max_file_bytes)
            except (Skip, OSError) as exc:
                log.debug("not indexing %s: %s", rel, exc)
                self.store.remove([rel])
                return None
            digest = parsing.content_hash(data)
            old = self.store.file_state(rel)
            if old is not None and old.hash == digest and old.language == spec.name:
                self.store.touch([(rel, st.st_size, st.st_mtime_ns)])
                return None
            fi = self._extract(rel, data, spec, digest)
            self.store.put([(fi, st.st_size, st.st_mtime_ns)])
            return fi

    def update_text(self, path: str | os.PathLike[str], text: str) -> FileIndex | None:
        """Index an editor's unsaved buffer for `path`. The next build re-reads the file
        from disk (the disk copy is the truth once the buffer is closed)."""
        rel = self.relpath(path)
        if rel is None:
            return None
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            try:
                spec = self._spec(rel, os.path.join(self.root, rel), data[:128])
                check_source(data, self.max_file_bytes, rel)
            except Skip as exc:
                log.debug("not indexing buffer %s: %s", rel, exc)
                return None
            fi = self._extract(rel, data, spec, parsing.content_hash(data))
            # size -1: never equal to the file on disk, so a build parses the disk copy.
            self.store.put([(fi, -1, -1)])
            return fi

    def _spec(self, rel: str, full: str, head: bytes | None = None) -> LanguageSpec:
        reason = self.excluded(rel)
        if reason:
            raise Skip(reason, rel)
        spec = language_for(rel)
        if spec is None and needs_head(rel):
            if head is None:
                head = read_head(full)
            spec = language_for(rel, head)
        if spec is None:
            raise Skip("not source", rel)
        return spec

    def remove_file(self, path: str | os.PathLike[str]) -> bool:
        """Forget a deleted file (or a whole deleted directory). True if it was known."""
        rel = self.relpath(path)
        if rel is None:
            return False
        with self._lock:
            paths = [rel, *self.store.paths_under(rel)]
            return self.store.remove(paths) > 0

    def update_tree(self, path: str | os.PathLike[str]) -> int:
        """Index a directory that appeared (created or moved in); returns files indexed."""
        rel = self.relpath(path)
        if rel is None:
            return 0
        n = 0
        with self._lock:
            if ai_disabled(self.root):
                return 0
            skipped: Counter[str] = Counter()
            for cand in self._walk(skipped, start=rel):
                if self.update_file(cand.path) is not None:
                    n += 1
        return n

    # -- questions ---------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[Symbol]:
        """Symbols matching `query`, best first: exact name, then prefix, then substring,
        then the characters in order (`gtUsr` finds `getUser`); case-insensitive."""
        return search_symbols(self.store, query, limit)

    def definitions(self, name: str) -> list[Symbol]:
        """Where `name` is defined: by name, or by qualified name (`Class.method`)."""
        found = self.store.by_name(name)
        if "." in name:
            found += [s for s in self.store.by_qualified_name(name) if s not in found]
        return found

    def symbols_in(self, path: str | os.PathLike[str]) -> list[Symbol]:
        rel = self.relpath(path)
        return self.store.in_file(rel) if rel else []

    def imports_of(self, path: str | os.PathLike[str]) -> list[Import]:
        rel = self.relpath(path)
        return self.store.imports_of(rel) if rel else []

    def importers_of(self, module: str) -> list[str]:
        """Workspace-relative paths of the files that import `module` (as written)."""
        return self.store.importers_of(module)

    def references_near(
        self,
        path: str | os.PathLike[str],
        line: int,
        radius: int = 20,
        text: str | None = None,
    ) -> tuple[Reference, ...]:
        """Identifiers used within `radius` lines of `line` (0-based) in `path`, from the
        editor's `text` when given: what the code near the cursor uses."""
        rel = self.relpath(path)
        if rel is None or self.excluded(rel):
            return ()
        full = os.path.join(self.root, rel)
        try:
            data = text.encode("utf-8", "surrogatepass") if text is not None else None
            spec = self._spec(rel, full, data[:128] if data is not None else None)
            if data is None:
                data = read_source(full, self.max_file_bytes)
        except (Skip, OSError):
            return ()
        return references_in(data, spec, max(0, line - radius), line + radius + 1)

    def stats(self) -> IndexStats:
        return self.store.stats()

    @property
    def db_path(self) -> Path:
        return self.store.path
