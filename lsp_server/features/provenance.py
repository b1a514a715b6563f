"""Provenance: every suggestion and what became of it goes to the ledger; hover and
`focal.showOrigin` answer "which model wrote this line" from it."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.workspace import TextDocument

from inference.types import Suggestion
from lsp_server.ledger import Ledger, LedgerError, SuggestionRecord
from lsp_server.ledger.blame import warm
from lsp_server.ledger.hover import origin_for_line, origin_markdown
from lsp_server.settings import LedgerSettings

log = logging.getLogger(__name__)

_PLACED = 512


@dataclass(frozen=True)
class _Placement:
    uri: str
    line: int
    character: int
    text: str


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
        self._placed[suggestion.id] = _Placement(uri, line, character, suggestion.text)
        while len(self._placed) > _PLACED:
            self._placed.popitem(last=False)
        if self.ledger is None:
            return
        try:
            self.ledger.record_suggestion(suggestion, task, uri, line, character, suggestion.prompt)
            self.ledger.record_event(suggestion.id, "shown", uri)
        except Exception:
            log.exception("ledger write failed for %s", suggestion.id)

    def event(self, suggestion_id: str, kind: str, uri: str | None = None) -> bool:
        """Record `kind` (accepted, applied, …) for a suggestion; False if the id is unknown.

        For an acceptance, the lines the suggestion now covers in the document are recorded
        (from column 0), so that blame can find them later even if they move."""
        if self.ledger is None:
            return suggestion_id in self._placed
        placed = self._placed.get(suggestion_id)
        rng: tuple[int, int, int, int] | None = None
        text: str | None = None
        doc_uri = uri or (placed.uri if placed else None)
        if placed is not None and kind in ("accepted", "applied"):
            doc = self._document(placed.uri)
            if doc is not None:
                n = placed.text.count("\n") + 1
                lines = doc.lines[placed.line : placed.line + n]
                text = "".join(lines)
                last = lines[-1].rstrip("\r\n") if lines else ""
                rng = (placed.line, 0, placed.line + max(0, len(lines) - 1), len(last))
        try:
            return self.ledger.record_event(suggestion_id, kind, doc_uri, rng, text)
        except Exception:
            log.exception("ledger event failed for %s", suggestion_id)
            return False

    async def origin_at(self, doc: TextDocument, line: int) -> SuggestionRecord | None:
        if self.ledger is None:
            return None
        return await asyncio.to_thread(origin_for_line, self.ledger, doc.uri, doc.source, line)

    async def hover(self, doc: TextDocument, pos: types.Position) -> types.Hover | None:
        record = await self.origin_at(doc, pos.line)
        if record is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=origin_markdown(record)
            )
        )

    def record(self, suggestion_id: str) -> SuggestionRecord | None:
        return self.ledger.suggestion(suggestion_id) if self.ledger is not None else None

    def close(self) -> None:
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
