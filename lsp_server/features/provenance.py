"""Provenance: every suggestion and what became of it goes to the ledger; hover and
`focal.showOrigin` answer "which model wrote this line" from it.

Clients that never run a completion item's command (eglot, Helix, Zed, Sublime LSP) still
tell us what was accepted, through the document: when a shown completion's text appears
where it was shown, the acceptance is inferred (`accepted_inferred`). It is recorded a
moment later, so that a client that does run the command records a plain `accepted`
instead, and an acceptance is never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.workspace import TextDocument

from inference.types import Suggestion
from lsp_server.capabilities import markup
from lsp_server.ledger import Ledger, LedgerError, SuggestionRecord
from lsp_server.ledger.blame import warm
from lsp_server.ledger.hover import origin_for_line, origin_markdown
from lsp_server.ledger.schema import ACCEPTING
from lsp_server.settings import LedgerSettings

log = logging.getLogger(__name__)

_PLACED = 512
_WATCHED_PER_DOCUMENT = 8
WATCH_S = 120.0
"""A shown completion whose text appears in the document within this long was accepted."""
INFER_DELAY_S = 1.0
"""How long an inferred acceptance waits for the item's own command (VS Code and Neovim
run it right after their edit)."""
INFERRED_TASKS = ("inline", "complete")


@dataclass(frozen=True)
class _Placement:
    uri: str
    line: int
    character: int
    text: str


def _normalized(text: str) -> list[str]:
    """Lines without trailing blanks, and without the indentation of the lines after the
    first (editors re-indent multi-line insertions)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = [lines[0].rstrip()] + [ln.strip() for ln in lines[1:]]
    while len(out) > 1 and not out[-1]:
        out.pop()
    return out


INFER_MAX_CHARS = 2_000_000
"""Acceptance is not inferred in larger documents: finding the suggestion's line splits the
whole document at every change (a 50 MB file held the server 0.8 s per keystroke)."""


def present(doc: TextDocument, placed: _Placement) -> bool:
    """Whether the document holds the suggestion's text where it was shown."""
    want = _normalized(placed.text)
    if not any(want) or len(doc.source) > INFER_MAX_CHARS:
        return False
    lines = doc.lines
    if placed.line >= len(lines):
        return False
    try:
        offset = doc.offset_at_position(types.Position(placed.line, placed.character))
    except Exception:
        return False
    source = doc.source
    have = source[offset : offset + len(placed.text) + 256 * len(want)]
    got = _normalized(have)[: len(want)]
    if len(got) < len(want):
        return False
    return got[:-1] == want[:-1] and got[-1].startswith(want[-1])


class ProvenanceFeature:
    """Owns the ledger connection for the server; a broken ledger never breaks a feature."""

    def __init__(
        self,
        tell: Callable[[str], None],
        document: Callable[[str], TextDocument | None],
        path: Path | None = None,
    ) -> None:
        self._tell = tell
        self._document = document
        self._path = path
        self._settings: tuple[LedgerSettings, str] | None = None
        self.ledger: Ledger | None = None
        self._placed: OrderedDict[str, _Placement] = OrderedDict()
        self._watched: dict[str, OrderedDict[str, float]] = {}
        self._inferring: dict[str, asyncio.TimerHandle] = {}
        self._accepted: OrderedDict[str, str] = OrderedDict()

    def configure(self, settings: LedgerSettings, redact_secrets: str = "remote") -> None:
        """Open the ledger (again, when `storeText` or `privacy.redactSecrets` changed).
        Stored texts are redacted under every policy but `never`."""
        if (settings, redact_secrets) == self._settings and self.ledger is not None:
            return
        self._settings = (settings, redact_secrets)
        self.close()
        try:
            self.ledger = Ledger.open(
                self._path,
                store_text=settings.store_text,
                redact_secrets=redact_secrets != "never",
            )
        except LedgerError as exc:
            self.ledger = None
            self._tell(
                f"Focal: the provenance ledger is unavailable ({exc}); suggestions still work."
            )
            return
        ledger = self.ledger
        asyncio.get_running_loop().run_in_executor(None, _warm, ledger)

    def suggested(
        self, suggestion: Suggestion, task: str, uri: str, line: int, character: int
    ) -> None:
        """Record a suggestion the user is being shown."""
        placed = _Placement(uri, line, character, suggestion.text)
        self._placed[suggestion.id] = placed
        while len(self._placed) > _PLACED:
            self._placed.popitem(last=False)
        if task in INFERRED_TASKS:
            self._watch(suggestion.id, placed)
        if self.ledger is None:
            return
        try:
            self.ledger.record_suggestion(suggestion, task, uri, line, character, suggestion.prompt)
            self.ledger.record_event(suggestion.id, "shown", uri)
        except Exception:
            log.exception("ledger write failed for %s", suggestion.id)

    def refused(self, suggestion: Suggestion, task: str, uri: str, line: int, reason: str) -> None:
        """Record a suggestion the model made that Focal did not offer, and why."""
        if self.ledger is None:
            return
        try:
            self.ledger.record_suggestion(suggestion, task, uri, line, 0, suggestion.prompt)
            self.ledger.record_event(suggestion.id, "refused", uri, reason=reason)
        except Exception:
            log.exception("ledger write failed for %s", suggestion.id)

    # -- acceptance inferred from the document ----------------------------------------------

    def _watch(self, suggestion_id: str, placed: _Placement) -> None:
        doc = self._document(placed.uri)
        if doc is not None and present(doc, placed):
            return  # already there before it was shown: nothing to infer from
        watched = self._watched.setdefault(placed.uri, OrderedDict())
        watched[suggestion_id] = time.monotonic() + WATCH_S
        while len(watched) > _WATCHED_PER_DOCUMENT:
            watched.popitem(last=False)

    def changed(self, uri: str) -> None:
        """The document changed: a watched completion that now stands where it was shown
        was accepted, whether or not the client says so."""
        watched = self._watched.get(uri)
        if not watched:
            return
        doc = self._document(uri)
        now = time.monotonic()
        for sid, deadline in list(watched.items()):
            placed = self._placed.get(sid)
            if placed is None or now > deadline:
                del watched[sid]
            elif doc is not None and present(doc, placed):
                del watched[sid]
                loop = asyncio.get_running_loop()
                self._inferring[sid] = loop.call_later(INFER_DELAY_S, self._infer, sid)
        if not watched:
            self._watched.pop(uri, None)

    def _infer(self, suggestion_id: str) -> None:
        self._inferring.pop(suggestion_id, None)
        if suggestion_id in self._accepted:
            return
        if self.event(suggestion_id, "accepted_inferred"):
            log.info("suggestion %s accepted (inferred from the document)", suggestion_id)

    def event(self, suggestion_id: str, kind: str, uri: str | None = None) -> bool:
        """Record `kind` (accepted, applied, …) for a suggestion; False if the id is unknown.

        For an acceptance, the lines the suggestion now covers in the document are recorded
        (from column 0), so that blame can find them later even if they move. An
        acceptance already recorded (inferred, or a command run twice) is not recorded
        again."""
        accepting = kind in ACCEPTING
        if accepting:
            pending = self._inferring.pop(suggestion_id, None)
            if pending is not None:
                pending.cancel()
            for watched in self._watched.values():
                watched.pop(suggestion_id, None)
            if suggestion_id in self._accepted:
                log.info(
                    "suggestion %s: %s already recorded as %s",
                    suggestion_id,
                    kind,
                    self._accepted[suggestion_id],
                )
                return True
        if self.ledger is None:
            return suggestion_id in self._placed
        placed = self._placed.get(suggestion_id)
        rng: tuple[int, int, int, int] | None = None
        text: str | None = None
        doc_uri = uri or (placed.uri if placed else None)
        if placed is not None and accepting and kind != "partially_accepted":
            doc = self._document(placed.uri)
            if doc is not None:
                n = placed.text.count("\n") + 1
                lines = doc.lines[placed.line : placed.line + n]
                text = "".join(lines)
                last = lines[-1].rstrip("\r\n") if lines else ""
                rng = (placed.line, 0, placed.line + max(0, len(lines) - 1), len(last))
        try:
            known = self.ledger.record_event(suggestion_id, kind, doc_uri, rng, text)
        except Exception:
            log.exception("ledger event failed for %s", suggestion_id)
            return False
        if known and accepting:
            self._accepted[suggestion_id] = kind
            while len(self._accepted) > _PLACED:
                self._accepted.popitem(last=False)
        return known

    async def origin_at(self, doc: TextDocument, line: int) -> SuggestionRecord | None:
        if self.ledger is None:
            return None
        return await asyncio.to_thread(origin_for_line, self.ledger, doc.uri, doc.source, line)

    async def hover(
        self, doc: TextDocument, pos: types.Position, markdown: bool = True
    ) -> types.Hover | None:
        record = await self.origin_at(doc, pos.line)
        if record is None:
            return None
        return types.Hover(contents=markup(origin_markdown(record), markdown))

    async def latest(self, uri: str | None) -> str | None:
        """The id of the newest suggestion (in document `uri`, or anywhere)."""
        for sid, placed in reversed(self._placed.items()):
            if uri is None or placed.uri == uri:
                return sid
        if self.ledger is None:
            return None
        found = await asyncio.to_thread(self.ledger.query, document=uri, limit=1)
        return found[0].id if found else None

    def record(self, suggestion_id: str) -> SuggestionRecord | None:
        return self.ledger.suggestion(suggestion_id) if self.ledger is not None else None

    def close(self) -> None:
        for pending in self._inferring.values():
            pending.cancel()
        self._inferring.clear()
        if self.ledger is not None:
            try:
                self.ledger.close()
            finally:
                self.ledger = None


def _warm(ledger: Ledger) -> None:
    try:
        warm(ledger)
    except Exception:
        log.debug("ledger warm-up failed", exc_info=True)
