"""The provenance ledger: every suggestion Focal made, and what became of it, in SQLite.

One file under the user state dir, append-only (triggers abort any UPDATE or DELETE of a
row), schema-versioned in a `meta` table. Code is kept only as digests and per-line
fingerprints unless `store_text` is on, so `focal blame` and commit trailers work without
the ledger holding the user's code; with it, secrets in the stored texts are replaced by
`<redacted:KIND>` (unless `privacy.redactSecrets` is `never`) and counted, never kept.

Durability: WAL with `synchronous=NORMAL`. A commit in WAL mode has written its frames to the
`-wal` file with write(2) before it returns; from then on the data is in the kernel's page
cache and survives the death of the process, SIGKILL included. Only an OS crash or power
loss can still lose the last commits (never corrupt the file), which `synchronous=FULL` would
prevent at the price of an fsync per suggestion, several ms instead of tens of µs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from inference.redact import Counts, merge, redact
from inference.types import Suggestion
from lsp_server.ledger.lines import LineMark, marks
from lsp_server.ledger.records import (
    COLUMNS,
    EVENT_COLUMNS,
    Acceptance,
    EventRecord,
    Range,
    SuggestionRecord,
    event_from_row,
    suggestion_from_row,
)
from lsp_server.ledger.schema import (
    ACCEPTING,
    EVENT_KINDS,
    TASKS,
    LedgerError,
    LedgerMissing,
    migrate,
)

__all__ = [
    "Acceptance",
    "EventRecord",
    "Ledger",
    "LedgerError",
    "LedgerMissing",
    "SuggestionRecord",
]

BUSY_TIMEOUT_MS = 5000


def default_path() -> Path:
    return platformdirs.user_state_path("focal", appauthor=False) / "ledger.sqlite3"


def sha256(text: str) -> str:
    # surrogatepass: a document may hold lone surrogates (valid in JSON, so editors send
    # them); its digest must not fail, and must differ from that of a replaced text.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(text: str | None) -> str | None:
    """`text` as SQLite can store it: lone surrogates (which UTF-8 cannot hold) become
    U+FFFD. Digests are taken from the text as it was."""
    return _SURROGATE.sub("\ufffd", text) if text is not None else None


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


# -- the ledger ----------------------------------------------------------------------------


class Ledger:
    """Append-only record of suggestions and their fate. Safe to share between threads:
    one connection writes and one reads, each behind its own lock; other processes (e.g.
    `focal audit` while the server runs) read concurrently thanks to WAL."""

    def __init__(
        self,
        path: Path,
        writer: sqlite3.Connection,
        reader: sqlite3.Connection,
        store_text: bool,
        clock: Callable[[], datetime],
        redact_secrets: bool = True,
    ) -> None:
        self.path = path
        self.store_text = store_text
        self.redact_secrets = redact_secrets
        """With `store_text`: replace secrets in the texts stored (`inference.redact`)."""
        self._w = writer
        self._r = reader
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._clock = clock
        self._closed = False
        self.blame_cache: Any = None
        """Owned by `lsp_server.ledger.blame`: its index of accepted lines, grown by seq."""

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        store_text: bool = False,
        *,
        redact_secrets: bool = True,
        create: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> Ledger:
        """Open (and create, unless `create=False`) the ledger; default path under the user
        state dir. Raises `LedgerMissing` when there is no file and `create` is off, and
        `LedgerError` for a ledger this Focal cannot read."""
        p = Path(path) if path is not None else default_path()
        if not p.exists():
            if not create:
                raise LedgerMissing(f"no suggestions recorded yet (no ledger at {p})")
            try:
                p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # The ledger can hold code (with store_text): readable by its owner only.
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise LedgerError(
                    f"cannot create the Focal ledger at {p}: {exc.strerror or exc}. "
                    "Fix that folder's permissions (on Linux, $XDG_STATE_HOME moves it)."
                ) from exc
        writer = reader = None
        try:
            writer = _connect(p)
            writer.execute("PRAGMA journal_mode = WAL")
            writer.execute("PRAGMA synchronous = NORMAL")
            writer.execute("PRAGMA foreign_keys = ON")
            migrate(writer, p)
            reader = _connect(p)
        except BaseException as exc:
            for db in (writer, reader):
                if db is not None:
                    db.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise LedgerError(
                    f"the Focal ledger at {p} stayed locked by another process for "
                    f"{BUSY_TIMEOUT_MS / 1000:.0f} s; try again."
                ) from exc
            if isinstance(exc, sqlite3.DatabaseError):
                raise LedgerError(
                    f"cannot open the Focal ledger at {p}: {exc}. Move the file aside to "
                    "start a new ledger (Focal did not change it)."
                ) from exc
            raise
        return cls(
            p, writer, reader, store_text, clock or (lambda: datetime.now(UTC)), redact_secrets
        )

    # -- writing -------------------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._wlock:
            if self._closed:
                raise LedgerError("the ledger is closed")
            self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")

    def _stored(self, text: str | None) -> tuple[str | None, Counts]:
        """`text` as the ledger may keep it: only with `store_text`, secrets replaced unless
        redaction is off, lone surrogates as U+FFFD."""
        if text is None or not self.store_text:
            return None, ()
        if self.redact_secrets:
            r = redact(text)
            return _storable(r.text), r.counts
        return _storable(text), ()

    def record_suggestion(
        self,
        suggestion: Suggestion,
        task: str,
        document: str,
        line: int,
        character: int,
        prompt_text: str,
    ) -> None:
        """Record a suggestion made at `document` (URI), `line`:`character` (0-based).
        Recording the same id again is a no-op."""
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
        o = suggestion.origin
        text = suggestion.text
        context = [
            {"path": c.path, "startLine": c.start_line, "endLine": c.end_line, "reason": c.reason}
            for c in o.context
        ]
        stored_text, text_counts = self._stored(text)
        stored_prompt, prompt_counts = self._stored(prompt_text)
        redactions = {
            "prompt": dict(o.redactions),
            "stored": dict(merge(text_counts, prompt_counts)),
        }
        row = (
            suggestion.id,
            self._now(),
            task,
            document,
            line,
            character,
            o.model_name,
            o.model_digest,
            o.quantization,
            o.architecture,
            o.engine,
            o.device,
            o.template,
            o.route,
            json.dumps(dataclasses.asdict(o.sampling)),
            json.dumps(context),
            json.dumps(dataclasses.asdict(o.timing)),
            float(o.confidence),
            o.stop_reason,
            sha256(prompt_text),
            sha256(text),
            len(text),
            json.dumps([m.to_json() for m in marks(text, character > 0)]),
            stored_text,
            stored_prompt,
            json.dumps(redactions),
        )
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO suggestions (id, time, task, document, line, character, "
                "model_name, model_digest, quantization, architecture, engine, device, template, "
                "route, sampling, context, timing, confidence, stop_reason, prompt_digest, "
                "suggestion_digest, suggestion_length, line_marks, text, prompt, redactions) "
                "VALUES (" + ", ".join("?" * len(row)) + ")",
                row,
            )

    def record_event(
        self,
        suggestion_id: str,
        kind: str,
        document: str | None = None,
        range: Range | Any | None = None,
        text: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Record what happened to a suggestion; False (nothing recorded) for an unknown id.

        `text` is what went into the document when it differs from the suggestion (a partial
        accept, an edited fix); without it an accepting event stands for the whole
        suggestion. `range` is a 4-tuple or an lsprotocol `Range`. `reason` says why (a
        refusal's)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
        rng = _as_range(range)
        line_marks = None
        if text is not None:
            mid_line = rng[1] > 0 if rng is not None else False
            line_marks = json.dumps([m.to_json() for m in marks(text, mid_line)])
        row = (
            suggestion_id,
            self._now(),
            kind,
            document,
            json.dumps(rng) if rng is not None else None,
            sha256(text) if text is not None else None,
            len(text) if text is not None else None,
            line_marks,
            self._stored(text)[0],
            reason,
            suggestion_id,
        )
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO events (suggestion_id, time, kind, document, range, text_digest, "
                "text_length, line_marks, text, reason) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM suggestions WHERE id = ?)",
                row,
            )
            return cur.rowcount == 1

    # -- reading -------------------------------------------------------------------------

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._rlock:
            if self._closed:
                raise LedgerError("the ledger is closed")
            return self._r.execute(sql, args).fetchall()

    def suggestion(self, id: str) -> SuggestionRecord | None:
        """One suggestion with its events; an unambiguous id prefix of 6+ characters works too."""
        rows = self._read(f"SELECT {COLUMNS} FROM suggestions WHERE id = ?", (id,))
        if not rows and len(id) >= 6:
            rows = self._read(
                f"SELECT {COLUMNS} FROM suggestions WHERE id >= ? AND id < ? LIMIT 2",
                (id, id + "\U0010ffff"),
            )
            if len(rows) != 1:
                return None
        return self._with_events(rows)[0] if rows else None

    def records(self, ids: set[str] | list[str]) -> dict[str, SuggestionRecord]:
        """Suggestions by id (without their events); unknown ids are left out."""
        ids = list(ids)
        out: dict[str, SuggestionRecord] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for r in self._read(
                f"SELECT {COLUMNS} FROM suggestions WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                out[r[1]] = suggestion_from_row(r, ())
        return out

    def query(
        self,
        since: datetime | str | None = None,
        model: str | None = None,
        task: str | None = None,
        limit: int | None = None,
        document: str | None = None,
    ) -> list[SuggestionRecord]:
        """Suggestions, newest first. `model` matches a name substring (any case) or a digest
        prefix; `since` is a datetime (naive = UTC) or an ISO string."""
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            if isinstance(since, datetime):
                since = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
                since = since.isoformat(timespec="microseconds")
            where.append("time >= ?")
            args.append(since)
        if model:
            where.append("(instr(lower(model_name), lower(?)) > 0 OR model_digest LIKE ? || '%')")
            args += [model, model.lower()]
        if task:
            where.append("task = ?")
            args.append(task)
        if document:
            where.append("document = ?")
            args.append(document)
        sql = f"SELECT {COLUMNS} FROM suggestions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._with_events(self._read(sql, args))

    def _with_events(self, rows: list[tuple]) -> list[SuggestionRecord]:
        events: dict[str, list[EventRecord]] = {}
        ids = [r[1] for r in rows]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for e in self._read(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE suggestion_id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY seq",
                chunk,
            ):
                events.setdefault(e[1], []).append(event_from_row(e))
        return [suggestion_from_row(r, tuple(events.get(r[1], ()))) for r in rows]

    def acceptances(self, after_seq: int = 0) -> list[Acceptance]:
        """Accepting events after `after_seq`, oldest first, with their line fingerprints
        (the event's own, or the suggestion's when the event carried no text)."""
        kinds = ", ".join(f"'{k}'" for k in ACCEPTING)
        rows = self._read(
            "SELECT e.seq, e.suggestion_id, e.kind, e.time, COALESCE(e.document, s.document), "
            "COALESCE(e.line_marks, s.line_marks) FROM events e "
            f"JOIN suggestions s ON s.id = e.suggestion_id WHERE e.kind IN ({kinds}) "
            "AND e.seq > ? ORDER BY e.seq",
            (after_seq,),
        )
        return [
            Acceptance(
                seq, sid, kind, time, doc, tuple(LineMark.from_json(m) for m in json.loads(ms))
            )
            for seq, sid, kind, time, doc, ms in rows
        ]

    def integrity_check(self) -> str:
        return str(self._read("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        with self._wlock, self._rlock:
            if self._closed:
                return
            self._closed = True
            self._r.close()
            self._w.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_range(value: Any) -> Range | None:
    if value is None:
        return None
    if hasattr(value, "start") and hasattr(value, "end"):  # an lsprotocol Range
        s, e = value.start, value.end
        return (int(s.line), int(s.character), int(e.line), int(e.character))
    a, b, c, d = value
    return (int(a), int(b), int(c), int(d))
