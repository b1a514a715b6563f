"""The index on disk: one SQLite file per workspace, in WAL mode (one writer, many readers).

It lives under the user cache dir, keyed by a hash of the workspace root, and is only a
cache: deleting it (even while Focal runs) costs a rebuild, nothing else. A file written
by another schema version is deleted and rebuilt, never migrated.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from indexing.extract import FileIndex, FileRows, Import, Symbol

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    has_errors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE symbols (
    file_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    lname TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    line INTEGER, col INTEGER, end_line INTEGER, end_col INTEGER,
    name_line INTEGER, name_col INTEGER,
    signature TEXT, doc TEXT, container TEXT
);
CREATE TABLE imports (
    file_id INTEGER NOT NULL,
    module TEXT NOT NULL,
    names TEXT NOT NULL,
    line INTEGER NOT NULL
);
"""
# Created after the tables, and again after a bulk load into an empty store (loading
# first and indexing once is faster than keeping the indexes current row by row).
_INDEXES = {
    "symbols_name": "symbols (name)",
    "symbols_lname": "symbols (lname)",
    "symbols_qualified": "symbols (qualified_name)",
    "symbols_file": "symbols (file_id)",
    "imports_file": "imports (file_id)",
    "imports_module": "imports (module)",
}

_SYMBOL_COLS = (
    "s.name, s.kind, s.qualified_name, f.path, f.language, s.line, s.col, s.end_line, "
    "s.end_col, s.name_line, s.name_col, s.signature, s.doc, s.container"
)
_FROM = "FROM symbols s JOIN files f ON f.id = s.file_id"


def default_db_path(root: str | os.PathLike[str]) -> Path:
    """`<user cache>/focal/index/<dir name>-<hash of the root>.sqlite3`."""
    root_s = os.path.realpath(root)
    digest = hashlib.sha256(root_s.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(root_s).name)[:40]
    return platformdirs.user_cache_path("focal") / "index" / f"{name or 'root'}-{digest}.sqlite3"


@dataclass(frozen=True)
class FileState:
    """What the store knows of a file, to tell whether it must be parsed again."""

    path: str
    language: str
    hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StoreStats:
    files: int
    symbols: int
    imports: int
    languages: dict[str, int]
    """Files per language."""
    files_with_errors: int
    db_path: str
    db_bytes: int


class Store:
    """Thread-safe: writes go through one connection under a lock; each reading thread
    has its own connection."""

    def __init__(self, path: str | os.PathLike[str], root: str) -> None:
        self.path = Path(path)
        self.root = root
        self._wlock = threading.RLock()
        self._local = threading.local()
        self._generation = 0
        self._closed = False
        self._writer = self._connect_writer()

    # -- connections -------------------------------------------------------------------

    def _connect_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._try_open()
        if conn is None:
            self._delete_files()
            conn = self._try_open()
        if conn is None:  # pragma: no cover - the cache dir itself is broken
            raise sqlite3.DatabaseError(f"cannot create the index database at {self.path}")
        self._generation += 1
        return conn

    def _try_open(self) -> sqlite3.Connection | None:
        conn = None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not tables:
                conn.executescript(_SCHEMA)
                for name, on in _INDEXES.items():
                    conn.execute(f"CREATE INDEX {name} ON {on}")
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("root", self.root)],
                )
                return conn
            row = None
            if "meta" in tables:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                log.info(
                    "index %s has schema %s, this Focal writes %s: rebuilding",
                    self.path,
                    row[0] if row else "unknown",
                    SCHEMA_VERSION,
                )
                conn.close()
                return None
            self._restore_indexes(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            log.warning("index %s is unreadable (%s): rebuilding it", self.path, exc)
            if conn is not None:
                conn.close()
            return None

    def _restore_indexes(self, conn: sqlite3.Connection) -> None:
        """Recreate secondary indexes a bulk load dropped and never got to rebuild (the
        process was killed mid-build): without them every name lookup scans the table."""
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        missing = [name for name in _INDEXES if name not in have]
        if not missing:
            return
        log.info("index %s lost %s in an interrupted build: recreating", self.path, missing)
        try:
            for name in missing:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {_INDEXES[name]}")
        except sqlite3.OperationalError as exc:  # another process holds the write lock
            log.warning("could not recreate the indexes of %s now: %s", self.path, exc)

    def _delete_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def reopen_if_deleted(self) -> bool:
        """Start a fresh database when someone deleted ours; True if that happened."""
        if self.path.exists():
            return False
        with self._wlock:
            log.info("index %s was deleted: starting a new one", self.path)
            with contextlib.suppress(sqlite3.Error):
                self._writer.close()
            self._writer = self._connect_writer()
        return True

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._generation:
            if conn is not None:
                conn.close()
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            self._local.generation = self._generation
        return conn

    def close(self) -> None:
        with self._wlock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA optimize")
                self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writing -----------------------------------------------------------------------

    def file_states(self) -> dict[str, FileState]:
        with self._wlock:
            rows = self._writer.execute(
                "SELECT path, language, hash, size, mtime_ns FROM files"
            ).fetchall()
        return {r[0]: FileState(*r) for r in rows}

    def file_state(self, path: str) -> FileState | None:
        with self._wlock:
            r = self._writer.execute(
                "SELECT path, language, hash, size, mtime_ns FROM files WHERE path=?", (path,)
            ).fetchone()
        return FileState(*r) if r else None

    def put(self, items: Sequence[tuple[FileIndex | FileRows, int, int]]) -> None:
        """Replace what the store knows of each file: (index, size, mtime_ns)."""
        if not items:
            return
        with self._wlock:
            c = self._writer
            c.execute("BEGIN IMMEDIATE")
            try:
                for fi, size, mtime_ns in items:
                    row = c.execute("SELECT id FROM files WHERE path=?", (fi.path,)).fetchone()
                    if row is None:
                        fid = c.execute(
                            "INSERT INTO files (path, language, hash, size, mtime_ns, has_errors)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (fi.path, fi.language, fi.content_hash, size, mtime_ns, fi.has_errors),
                        ).lastrowid
                    else:
                        fid = row[0]
                        c.execute(
                            "UPDATE files SET language=?, hash=?, size=?, mtime_ns=?,"
                            " has_errors=? WHERE id=?",
                            (fi.language, fi.content_hash, size, mtime_ns, fi.has_errors, fid),
                        )
                        c.execute("DELETE FROM symbols WHERE file_id=?", (fid,))
                        c.execute("DELETE FROM imports WHERE file_id=?", (fid,))
                    if isinstance(fi, FileRows):
                        symbols = [(fid, *r) for r in fi.symbols]
                        imports = [(fid, *r) for r in fi.imports]
                    else:
                        symbols = [
                            (
                                fid, s.name, s.name.lower(), s.qualified_name, s.kind,
                                s.line, s.column, s.end_line, s.end_column,
                                s.name_line, s.name_column, s.signature, s.doc, s.container,
                            )
                            for s in fi.symbols
                        ]  # fmt: skip
                        imports = [(fid, i.module, "\n".join(i.names), i.line) for i in fi.imports]
                    c.executemany(
                        "INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", symbols
                    )
                    c.executemany("INSERT INTO imports VALUES (?, ?, ?, ?)", imports)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def touch(self, items: Iterable[tuple[str, int, int]]) -> None:
        """Record a new size/mtime for files whose content hash did not change."""
        rows = [(size, mtime, path) for path, size, mtime in items]
        if not rows:
            return
        with self._wlock:
            c = self._writer
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("UPDATE files SET size=?, mtime_ns=? WHERE path=?", rows)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def remove(self, paths: Iterable[str]) -> int:
        """Forget files; returns how many the store knew."""
        paths = list(paths)
        if not paths:
            return 0
        with self._wlock:
            c = self._writer
            c.execute("BEGIN IMMEDIATE")
            n = 0
            try:
                for p in paths:
                    row = c.execute("SELECT id FROM files WHERE path=?", (p,)).fetchone()
                    if row is None:
                        continue
                    c.execute("DELETE FROM symbols WHERE file_id=?", row)
                    c.execute("DELETE FROM imports WHERE file_id=?", row)
                    c.execute("DELETE FROM files WHERE id=?", row)
                    n += 1
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return n

    def paths_under(self, rel_dir: str) -> list[str]:
        with self._wlock:
            if not rel_dir:
                return [r[0] for r in self._writer.execute("SELECT path FROM files")]
            lo = rel_dir.rstrip("/") + "/"
            rows = self._writer.execute(
                "SELECT path FROM files WHERE path >= ? AND path < ?", (lo, lo[:-1] + "0")
            )
            return [r[0] for r in rows]

    @contextlib.contextmanager
    def bulk(self):
        """Hold the writer for a large load. Into an empty store, the secondary indexes
        are dropped for the load and built once at the end (meanwhile queries scan), and
        commits do not wait for the disk (synchronous=OFF, ~20% of the load's time). Only
        an OS crash or power loss during that first build can then damage the file, and
        the file is a cache: an unreadable one is deleted and rebuilt on open."""
        with self._wlock:
            empty = self._writer.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
            if empty:
                for name in _INDEXES:
                    self._writer.execute(f"DROP INDEX IF EXISTS {name}")
                self._writer.execute("PRAGMA synchronous=OFF")
            try:
                yield
            finally:
                if empty:
                    for name, on in _INDEXES.items():
                        self._writer.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
                    self._writer.execute("PRAGMA synchronous=NORMAL")

    def is_empty(self) -> bool:
        return self._reader().execute("SELECT 1 FROM files LIMIT 1").fetchone() is None

    def file_languages(self) -> list[tuple[str, str]]:
        return list(self._reader().execute("SELECT path, language FROM files ORDER BY path"))

    def clear(self) -> None:
        with self._wlock:
            self._writer.executescript(
                "BEGIN; DELETE FROM symbols; DELETE FROM imports; DELETE FROM files; COMMIT;"
            )

    # -- reading -----------------------------------------------------------------------

    def _symbols(self, where: str, args: Sequence, limit: int | None = None) -> list[Symbol]:
        sql = f"SELECT {_SYMBOL_COLS} {_FROM} WHERE {where}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Symbol(*r) for r in self._reader().execute(sql, args)]

    def by_name(self, name: str, limit: int = 200) -> list[Symbol]:
        return self._symbols("s.name = ? ORDER BY f.path, s.line", (name,), limit)

    def by_qualified_name(self, qualified: str, limit: int = 200) -> list[Symbol]:
        return self._symbols("s.qualified_name = ? ORDER BY f.path, s.line", (qualified,), limit)

    def by_prefix(self, prefix: str, limit: int = 200) -> list[Symbol]:
        """Names starting with `prefix`, ignoring case."""
        lo = prefix.lower()
        return self._symbols(
            "s.lname >= ? AND s.lname < ? ORDER BY s.lname, f.path", (lo, lo + "\U0010ffff"), limit
        )

    def in_file(self, path: str) -> list[Symbol]:
        return self._symbols("f.path = ? ORDER BY s.line, s.col", (path,))

    def containing(self, needle: str, limit: int) -> list[Symbol]:
        """Names or qualified names containing `needle`, ignoring case (a table scan)."""
        pat = "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pat += "%"
        return self._symbols(
            "(s.lname LIKE ? ESCAPE '\\' OR lower(s.qualified_name) LIKE ? ESCAPE '\\')",
            (pat, pat),
            limit,
        )

    def fuzzy(self, query: str, limit: int) -> list[Symbol]:
        """Names holding the query's characters in order (`gtUsr` finds `getUser`)."""
        chars = [c for c in query.lower() if not c.isspace()]
        if not chars:
            return []
        glob = "*" + "*".join("[" + c + "]" if c in "*?[]" else c for c in chars) + "*"
        return self._symbols("s.lname GLOB ?", (glob,), limit)

    def imports_of(self, path: str) -> list[Import]:
        rows = self._reader().execute(
            "SELECT f.path, i.module, i.names, i.line FROM imports i JOIN files f"
            " ON f.id = i.file_id WHERE f.path = ? ORDER BY i.line",
            (path,),
        )
        return [Import(p, m, tuple(n.split("\n")) if n else (), ln) for p, m, n, ln in rows]

    def importers_of(self, module: str, limit: int = 200) -> list[str]:
        rows = self._reader().execute(
            "SELECT DISTINCT f.path FROM imports i JOIN files f ON f.id = i.file_id"
            " WHERE i.module = ? ORDER BY f.path LIMIT ?",
            (module, limit),
        )
        return [r[0] for r in rows]

    def stats(self) -> StoreStats:
        c = self._reader()
        files = c.execute("SELECT count(*) FROM files").fetchone()[0]
        symbols = c.execute("SELECT count(*) FROM symbols").fetchone()[0]
        imports = c.execute("SELECT count(*) FROM imports").fetchone()[0]
        errors = c.execute("SELECT count(*) FROM files WHERE has_errors").fetchone()[0]
        langs = dict(
            c.execute("SELECT language, count(*) FROM files GROUP BY language ORDER BY 2 DESC")
        )
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(f"{self.path}{suffix}")
        return StoreStats(files, symbols, imports, langs, errors, str(self.path), size)
