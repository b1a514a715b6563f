"""The ledger's schema, its version in the `meta` table, and the migrations between versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 3
TASKS = ("complete", "inline", "fix", "summarize", "cli")
"""`cli`: a suggestion printed by `focal complete`."""
_V1_EVENT_KINDS = (
    "shown",
    "accepted",
    "partially_accepted",
    "superseded",
    "cancelled",
    "rejected",
    "applied",
)
EVENT_KINDS = (*_V1_EVENT_KINDS, "accepted_inferred", "refused")
"""`accepted_inferred`: the document changed to contain the suggestion where it was shown,
though the client never ran the item's command (eglot, Helix, Zed, Sublime LSP).
`refused`: Focal itself did not offer the suggestion (a fix that does not parse); the
event's `reason` says why."""
ACCEPTING = ("accepted", "partially_accepted", "applied", "accepted_inferred")
"""Events after which the suggestion's text is in a file (what blame and trailers look for)."""


class LedgerError(Exception):
    """A ledger problem the user can act on; the message says what and what to do."""


class LedgerMissing(LedgerError):
    """No ledger file yet: nothing has been recorded."""


_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
BEGIN SELECT RAISE(ABORT, 'the Focal ledger is append-only: {t} rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
BEGIN SELECT RAISE(ABORT, 'the Focal ledger is append-only: {t} rows cannot be deleted'); END;
"""


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: `executescript` would commit the migration's transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {statement!r}")


def _create_v1(db: sqlite3.Connection) -> None:
    kinds = ", ".join(f"'{k}'" for k in _V1_EVENT_KINDS)
    _run_script(
        db,
        f"""
        CREATE TABLE suggestions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            time TEXT NOT NULL,
            task TEXT NOT NULL,
            document TEXT NOT NULL,
            line INTEGER NOT NULL,
            character INTEGER NOT NULL,
            model_name TEXT NOT NULL,
            model_digest TEXT NOT NULL,
            quantization TEXT NOT NULL,
            architecture TEXT NOT NULL,
            engine TEXT NOT NULL,
            device TEXT NOT NULL,
            template TEXT NOT NULL,
            route TEXT NOT NULL,
            sampling TEXT NOT NULL,
            context TEXT NOT NULL,
            timing TEXT NOT NULL,
            confidence REAL NOT NULL,
            stop_reason TEXT NOT NULL,
            prompt_digest TEXT NOT NULL,
            suggestion_digest TEXT NOT NULL,
            suggestion_length INTEGER NOT NULL,
            line_marks TEXT NOT NULL,
            text TEXT,
            prompt TEXT
        );
        CREATE INDEX suggestions_time ON suggestions(time);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            suggestion_id TEXT NOT NULL REFERENCES suggestions(id),
            time TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ({kinds})),
            document TEXT,
            range TEXT,
            text_digest TEXT,
            text_length INTEGER,
            line_marks TEXT,
            text TEXT
        );
        CREATE INDEX events_suggestion ON events(suggestion_id);
        CREATE INDEX events_kind ON events(kind, seq);
        """
        + _APPEND_ONLY.format(t="suggestions")
        + _APPEND_ONLY.format(t="events"),
    )


_V1_EVENT_COLUMNS = (
    "seq, suggestion_id, time, kind, document, range, text_digest, text_length, line_marks, text"
)


def _v2_events(db: sqlite3.Connection) -> None:
    """Events gain the kinds `accepted_inferred` and `refused`, and a `reason`. SQLite cannot
    change a CHECK constraint in place: the table is rebuilt, every row kept in order."""
    kinds = ", ".join(f"'{k}'" for k in EVENT_KINDS)
    _run_script(
        db,
        f"""
        DROP TRIGGER IF EXISTS events_no_update;
        DROP TRIGGER IF EXISTS events_no_delete;
        CREATE TABLE events_v2 (
            seq INTEGER PRIMARY KEY,
            suggestion_id TEXT NOT NULL REFERENCES suggestions(id),
            time TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ({kinds})),
            document TEXT,
            range TEXT,
            text_digest TEXT,
            text_length INTEGER,
            line_marks TEXT,
            text TEXT,
            reason TEXT
        );
        INSERT INTO events_v2 ({_V1_EVENT_COLUMNS}) SELECT {_V1_EVENT_COLUMNS} FROM events;
        DROP TABLE events;
        ALTER TABLE events_v2 RENAME TO events;
        CREATE INDEX events_suggestion ON events(suggestion_id);
        CREATE INDEX events_kind ON events(kind, seq);
        """
        + _APPEND_ONLY.format(t="events"),
    )


def _v3_redactions(db: sqlite3.Connection) -> None:
    # How many secrets of which kinds were replaced: in the prompt the model saw, and in
    # the texts stored here (JSON; never the values). NULL for suggestions recorded before.
    db.execute("ALTER TABLE suggestions ADD COLUMN redactions TEXT")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _create_v1,
    1: _v2_events,
    2: _v3_redactions,
}
"""`MIGRATIONS[n]` takes a schema-`n` ledger to `n + 1`; 0 is an empty file."""


def _read_version(db: sqlite3.Connection) -> int:
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _check_not_newer(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"the Focal ledger at {path} has schema version {version}, newer than this "
            f"Focal understands ({SCHEMA_VERSION}). It was written by a newer Focal: "
            "upgrade Focal, or set another ledger path. The file was left unchanged."
        )


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger to `SCHEMA_VERSION`, or refuse one from a newer Focal."""
    # The common case, an up-to-date ledger, takes no write lock: `focal audit` can open it
    # while the server writes.
    version = _read_version(db)
    _check_not_newer(version, path)
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _read_version(db)  # another process may have migrated it meanwhile
        _check_not_newer(version, path)
        if version == 0:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](db)
            version += 1
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(version),),
            )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
