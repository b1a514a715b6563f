"""`focal blame`: which lines of a file came from an accepted suggestion, and from which model.

Lines are matched by content (see `lines.py`), not by position: an accepted line keeps its
attribution when it is moved or re-indented and when other lines are edited, and loses it
once it is itself changed. When several accepted suggestions match a line, one accepted in
the same document wins over one from another file, and then the latest wins.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsp_server.ledger.lines import (
    FULL,
    HEAD,
    TAIL,
    is_trivial,
    line_hash,
    normalize,
    strip_closers,
)
from lsp_server.ledger.store import Acceptance, Ledger

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class LineAttribution:
    line: int
    """0-based line in the text that was blamed."""
    suggestion_id: str
    model_name: str
    quantization: str
    model_digest: str
    task: str
    accepted_at: str
    """UTC ISO time of the accepting event."""
    document: str
    """Where the suggestion was accepted (lines may have moved since)."""
    partial: bool
    """Only part of the line came from the suggestion (a completion that began or ended
    mid-line)."""


def document_key(path_or_uri: str) -> str:
    """A file path or `file:` URI as one comparable absolute path; other URIs as they are."""
    if path_or_uri.startswith("file:"):
        return str(Path(unquote(urlparse(path_or_uri).path)))
    if "://" in path_or_uri:
        return path_or_uri
    return str(Path(path_or_uri).resolve())


def split_lines(text: str) -> list[str]:
    """Lines as LSP counts them (`\\n`, `\\r\\n` and `\\r` end a line)."""
    return _LINE_BREAK.split(text)


def _boundary(s: str, i: int) -> bool:
    """Whether a fragment may start or end at index `i` of `s` (not inside a word)."""
    return i <= 0 or i >= len(s) or not (_WORD.match(s[i - 1]) and _WORD.match(s[i]))


class _Index:
    """Fingerprints of every accepted line, grown incrementally: the ledger is append-only,
    so reading the events after the last seen `seq` is all an update needs."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.lock = threading.Lock()
        self.full: dict[str, list[Acceptance]] = defaultdict(list)
        self.tail: dict[int, dict[str, list[Acceptance]]] = defaultdict(lambda: defaultdict(list))
        self.head: dict[int, dict[str, list[Acceptance]]] = defaultdict(lambda: defaultdict(list))

    def refresh(self, ledger: Ledger) -> None:
        for acc in ledger.acceptances(self.last_seq):
            for m in acc.marks:
                if m.kind == FULL:
                    self.full[m.hash].append(acc)
                elif m.kind == TAIL:
                    self.tail[m.length][m.hash].append(acc)
                elif m.kind == HEAD:
                    self.head[m.length][m.hash].append(acc)
            self.last_seq = acc.seq

    def matches(self, raw_line: str) -> list[tuple[Acceptance, bool]]:
        """Acceptances whose fingerprints match this line, with whether the match is partial."""
        norm = normalize(raw_line)
        if is_trivial(norm):
            return []
        hits = [(a, False) for a in self.full.get(line_hash(norm), ())]
        n = len(norm)
        for k, table in self.head.items():
            # A head must end at a word boundary: `return x` is not the start of `return xs`.
            if k <= n and _boundary(norm, k):
                hits += [(a, k < n) for a in table.get(line_hash(norm[:k]), ())]
        body = strip_closers(norm)
        b = len(body)
        for k, table in self.tail.items():
            # ... and a tail start at one: `order` is not the end of `border`.
            if k <= b and _boundary(body, b - k):
                hits += [(a, k < b) for a in table.get(line_hash(body[b - k :]), ())]
        return hits


def index_for(ledger: Ledger) -> _Index:
    idx = ledger.blame_cache
    if not isinstance(idx, _Index):
        idx = ledger.blame_cache = _Index()
    return idx


def warm(ledger: Ledger) -> None:
    """Build the index of accepted lines now (e.g. on a thread at start-up), so that the
    first hover does not pay for reading the whole ledger."""
    idx = index_for(ledger)
    with idx.lock:
        idx.refresh(ledger)


def best_match(hits: list[tuple[Acceptance, bool]], doc: str) -> tuple[Acceptance, bool] | None:
    if not hits:
        return None
    return max(
        hits,
        key=lambda h: (h[0].document is not None and document_key(h[0].document) == doc, h[0].seq),
    )


def match_lines(
    ledger: Ledger, path_or_uri: str, lines: list[str], wanted: range | None = None
) -> dict[int, tuple[Acceptance, bool]]:
    """The best acceptance for each line (of `wanted`, default all) that has one."""
    idx = index_for(ledger)
    doc = document_key(path_or_uri)
    out: dict[int, tuple[Acceptance, bool]] = {}
    with idx.lock:
        idx.refresh(ledger)
        for i in wanted if wanted is not None else range(len(lines)):
            if 0 <= i < len(lines):
                best = best_match(idx.matches(lines[i]), doc)
                if best is not None:
                    out[i] = best
    return out


def blame(ledger: Ledger, path_or_uri: str, current_text: str) -> list[LineAttribution]:
    """The attributed lines of `current_text` (the file's content now), in line order;
    lines that no accepted suggestion wrote are left out."""
    found = match_lines(ledger, path_or_uri, split_lines(current_text))
    records = ledger.records({acc.suggestion_id for acc, _ in found.values()})
    out = []
    for i in sorted(found):
        acc, partial = found[i]
        r = records.get(acc.suggestion_id)
        if r is None:  # cannot happen in an append-only ledger; be safe anyway
            continue
        out.append(
            LineAttribution(
                line=i,
                suggestion_id=r.id,
                model_name=r.model_name,
                quantization=r.quantization,
                model_digest=r.model_digest,
                task=r.task,
                accepted_at=acc.time,
                document=acc.document or r.document,
                partial=partial,
            )
        )
    return out
