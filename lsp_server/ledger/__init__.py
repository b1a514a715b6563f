"""The provenance ledger: what Focal suggested, with which model, and what became of it."""

from lsp_server.ledger.blame import LineAttribution, blame
from lsp_server.ledger.store import (
    EventRecord,
    Ledger,
    LedgerError,
    LedgerMissing,
    SuggestionRecord,
)
from lsp_server.ledger.trailer import trailers

__all__ = [
    "EventRecord",
    "Ledger",
    "LedgerError",
    "LedgerMissing",
    "LineAttribution",
    "SuggestionRecord",
    "blame",
    "trailers",
]
