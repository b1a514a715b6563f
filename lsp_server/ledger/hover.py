"""The ledger in the editor: a hover on an accepted line, and `focal.showOrigin` by id."""

from __future__ import annotations

from lsp_server.ledger.blame import match_lines, split_lines
from lsp_server.ledger.store import Ledger, SuggestionRecord
from lsp_server.origin_view import origin_markdown as _origin_markdown

_TASK_WORDS = {
    "complete": "completion",
    "inline": "inline completion",
    "fix": "fix",
    "summarize": "commit summary",
}


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC"


def origin_markdown(record: SuggestionRecord) -> str:
    """Markdown for a hover or `focal.showOrigin`: what was suggested, when, what became of
    it, and the full origin."""
    task = _TASK_WORDS.get(record.task, record.task)
    head = f"✦ Written with Focal: {task} suggested {_when(record.time)}"
    accepted = [e for e in record.events if e.kind in ("accepted", "partially_accepted", "applied")]
    if accepted:
        last = accepted[-1]
        head += f", {last.kind.replace('_', ' ')} {_when(last.time)}"
    return head + "\n\n" + _origin_markdown(record.origin(), record.id)


def origin_for_line(ledger: Ledger, uri: str, text: str, line: int) -> SuggestionRecord | None:
    """The accepted suggestion that wrote `line` (0-based) of the document, matched as
    `blame` matches; None when the line is not from an accepted suggestion."""
    found = match_lines(ledger, uri, split_lines(text), range(line, line + 1))
    if line not in found:
        return None
    return ledger.suggestion(found[line][0].suggestion_id)
