"""What retrieval reads, cached for a second or two: files (from the editor's buffers or
disk), the index's answers, which paths may be used at all, the workspace's module map.

The index is queried through `Store._symbols` with narrow conditions (a name in given
files, the members of one class): one indexed query each, where `Index.definitions`
would return every definition of a common name.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from indexing.ignore import exclusion_reason, parse_rules
from indexing.indexer import Index
from indexing.modules import PathMap

CACHE_S = 2.0
"""How long an index answer or a path's exclusion is reused."""
MAX_FILE_BYTES = 2_000_000


class _Globs:
    """The caller's extra exclusions, in gitignore syntax, matched from the root."""

    def __init__(self, globs: Sequence[str]) -> None:
        self.rules = parse_rules("\n".join(globs))

    def match(self, rel: str) -> bool:
        if not self.rules:
            return False
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            sub, is_dir = "/".join(parts[:i]), i < len(parts)
            ignored = False
            for rule in self.rules:
                if rule.dir_only and not is_dir:
                    continue
                if rule.negate == ignored and rule.regex.match(sub):
                    ignored = not rule.negate
            if ignored:
                return True
        return False


class Lookup:
    """One workspace's files and index, as retrieval reads them. Thread-safe."""

    def __init__(self, index: Index | None, root: str | os.PathLike[str]) -> None:
        self.index = index
        self.root = os.path.abspath(root)
        self._lock = threading.Lock()
        self._paths: PathMap | None = None
        self._paths_at = 0.0
        self._refreshing = False
        self._files: OrderedDict[str, tuple[object, list[str]]] = OrderedDict()
        self._defs: dict[tuple, tuple[float, list]] = {}
        self._excluded: dict[str, tuple[float, str | None]] = {}
        self._globs: dict[tuple[str, ...], _Globs] = {}
        self._recent: tuple[float, list[str]] = (0.0, [])

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._defs.clear()
            self._excluded.clear()

    def path_map(self) -> PathMap:
        """The workspace's module map, rebuilt from the index in the background when a few
        seconds old (the first one is built at once)."""
        now = time.monotonic()
        with self._lock:
            current = self._paths
            stale = now - self._paths_at > 5.0 and not self._refreshing
            if current is not None and stale:
                self._refreshing = True
        if current is None:
            current = self._build_paths()
        elif stale:
            threading.Thread(target=self._build_paths, daemon=True, name="focal-paths").start()
        return current

    def _build_paths(self) -> PathMap:
        paths = [p for p, _ in self.index.store.file_languages()] if self.index else []
        pm = PathMap(paths, self.root)
        with self._lock:
            self._paths, self._paths_at, self._refreshing = pm, time.monotonic(), False
        return pm

    def _symbols(self, where: str, args: tuple, limit: int | None = None) -> list:
        """Index symbols matching a condition (see `Store`), cached for a second or two."""
        if self.index is None:
            return []
        key = (where, args, limit)
        now = time.monotonic()
        hit = self._defs.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        found = self.index.store._symbols(where, args, limit)
        self._defs[key] = (now, found)
        if len(self._defs) > 8192:
            self._defs.clear()
        return found

    def definitions_in(self, name: str, files: Sequence[str], container: str = "") -> list:
        """Definitions of `name` inside `container` ('' = top level) in these files."""
        files = sorted(set(files))
        if not files:
            return []
        marks = ",".join("?" * len(files))
        return self._symbols(
            f"s.name = ? AND s.container = ? AND f.path IN ({marks}) ORDER BY f.path, s.line",
            (name, container, *files),
        )

    def names_in_files(
        self, names: Sequence[str], files: Sequence[str], any_depth: bool = False
    ) -> dict[str, list]:
        """Top-level definitions (with `any_depth`: inside namespaces too, members left
        out) of any of `names` in any of `files`, by name (one query per 400 names; every
        name asked is a key)."""
        out: dict[str, list] = {n: [] for n in names}
        files = sorted(set(files))
        if not files or not names:
            return out
        fmarks = ",".join("?" * len(files))
        names = sorted(set(names))
        for i in range(0, len(names), 400):
            part = names[i : i + 400]
            marks = ",".join("?" * len(part))
            depth = "s.kind NOT IN ('method', 'field')" if any_depth else "s.container = ''"
            for sym in self._symbols(
                f"s.name IN ({marks}) AND f.path IN ({fmarks}) AND {depth} ORDER BY f.path, s.line",
                (*part, *files),
            ):
                out[sym.name].append(sym)
        return out

    def anywhere_in(self, name: str, files: Sequence[str]) -> list:
        """Definitions of `name` in these files at any depth (inside namespaces too)."""
        files = sorted(set(files))
        if not files:
            return []
        marks = ",".join("?" * len(files))
        return self._symbols(
            f"s.name = ? AND f.path IN ({marks}) ORDER BY length(s.container), f.path, s.line",
            (name, *files),
        )

    def members_anywhere(self, name: str, container: str, folder: str = "", limit: int = 4) -> list:
        """Members `name` of a type `container` in the files below `folder` (Rust `impl`
        blocks and C++ out-of-class definitions live apart from their type)."""
        lo = folder.rstrip("/") + "/" if folder else ""
        return self._symbols(
            "s.name = ? AND s.container = ? AND f.path >= ? AND f.path < ? ORDER BY f.path, s.line",
            (name, container, lo, lo[:-1] + "0" if lo else "\U0010ffff"),
            limit,
        )

    def imports_of(self, path: str) -> list:
        """The modules one file imports, as the index recorded them (cached)."""
        if self.index is None:
            return []
        key = ("imports", path)
        now = time.monotonic()
        hit = self._defs.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        found = self.index.store.imports_of(path)
        self._defs[key] = (now, found)
        return found

    def names_in(self, names: Sequence[str], path: str) -> dict[str, list]:
        """Top-level definitions of any of `names` in one file, by name (one query)."""
        names = sorted(set(names))
        out: dict[str, list] = {n: [] for n in names}
        for i in range(0, len(names), 400):
            part = names[i : i + 400]
            marks = ",".join("?" * len(part))
            for sym in self._symbols(
                f"s.name IN ({marks}) AND f.path = ? AND s.container = '' ORDER BY s.line",
                (*part, path),
            ):
                out[sym.name].append(sym)
        return out

    def definitions_under(self, name: str, folder: str, direct: bool = False) -> list:
        """Top-level definitions of `name` in the files below `folder` (or right in it)."""
        lo = folder.rstrip("/") + "/" if folder else ""
        found = self._symbols(
            "s.name = ? AND s.container = '' AND f.path >= ? AND f.path < ? ORDER BY f.path",
            (name, lo, lo[:-1] + "0" if lo else "\U0010ffff"),
            50,
        )
        if direct:
            found = [s for s in found if "/" not in s.path[len(lo) :]]
        return found

    def few_definitions(self, name: str, member: bool, limit: int = 5) -> list:
        """Up to `limit` definitions of `name` (members of a class or top-level ones)."""
        where = "s.name = ? AND s.container != ''" if member else "s.name = ? AND s.container = ''"
        return self._symbols(where, (name,), limit)

    def members(self, path: str, container: str = "") -> list:
        """The definitions directly inside `container` ('' = the module) of one file."""
        return self._symbols("f.path = ? AND s.container = ? ORDER BY s.line", (path, container))

    def excluded(self, rel: str, exclude_globs: tuple[str, ...] = ()) -> str | None:
        """Why `rel` must stay out of prompts (ignored, secret, `.noai`, a context glob)."""
        globs = self._globs.get(exclude_globs)
        if globs is None:
            globs = self._globs[exclude_globs] = _Globs(exclude_globs)
        if globs.match(rel):
            return "excluded by context.excludeGlobs"
        now = time.monotonic()
        hit = self._excluded.get(rel)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        rules = self.index.rules if self.index is not None else None
        reason = exclusion_reason(self.root, rel, rules)
        self._excluded[rel] = (now, reason)
        if len(self._excluded) > 4096:
            self._excluded.clear()
        return reason

    def file_lines(self, rel: str, buffers: dict[str, str]) -> tuple[object, list[str]] | None:
        """A file's lines (keeping their ends) and a stamp that changes with its text: from
        the editor's buffer when it is open, else from disk."""
        text = buffers.get(rel)
        if text is not None:
            stamp: object = ("buffer", len(text), hash(text))
        else:
            full = os.path.join(self.root, rel)
            try:
                st = os.stat(full)
            except OSError:
                return None
            if st.st_size > MAX_FILE_BYTES:
                return None
            stamp = ("disk", st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._files.get(rel)
            if hit is not None and hit[0] == stamp:
                self._files.move_to_end(rel)
                return hit
        if text is None:
            try:
                with open(os.path.join(self.root, rel), "rb") as f:
                    text = f.read(MAX_FILE_BYTES + 1).decode("utf-8", "replace")
            except OSError:
                return None
        entry = (stamp, text.splitlines(keepends=True))
        with self._lock:
            self._files[rel] = entry
            while len(self._files) > 128:
                self._files.popitem(last=False)
        return entry

    def relpath(self, path: str) -> str | None:
        full = os.path.abspath(os.path.join(self.root, path))
        rel = os.path.relpath(full, self.root)
        if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
            return None
        return rel.replace(os.sep, "/")

    def recent_files(self) -> list[str]:
        """Up to five files saved in the last hour, newest first (looked up twice a minute)."""
        if self.index is None:
            return []
        now = time.monotonic()
        at, found = self._recent
        if now - at < 30.0:
            return found
        cutoff = (time.time() - 3600) * 1e9
        states = self.index.store.file_states().values()
        fresh = sorted((s for s in states if s.mtime_ns > cutoff), key=lambda s: -s.mtime_ns)
        found = [s.path for s in fresh[:5]]
        self._recent = (now, found)
        return found
