"""Open documents as the LSP specification defines them, where pygls' own differ.

A line ends at `\\r\\n`, `\\n` or `\\r`, nothing else. pygls splits with `str.splitlines`,
which also breaks at form feeds, vertical tabs, U+0085, U+2028 and more: an edit after a
form feed (GNU C, Python's own sources) or a U+2028 in a string landed on the wrong line and
corrupted the document. And a `character` past the end of a line "defaults back to the line
length"; pygls stopped one short of it on the last line and, on a CRLF line, could land
between the `\\r` and the `\\n`. Every position of an open document goes through `offset`
here: edits, completions, `lines` for the fix and provenance features; and every position
a request carries is clamped here (`clamp`) before a feature sees it, so that the ranges
Focal answers are computed from a position the document has.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from inference.text import split_lines

log = logging.getLogger(__name__)

_BREAK = re.compile(r"\r\n|\r|\n")
_CHUNK = 1 << 20


def line_start(text: str, line: int) -> int | None:
    """The index in `text` where line `line` (0-based) starts; None past the last line.
    Whole chunks are skipped by counting their line breaks in C: a position at the end of a
    50 MB document costs milliseconds, not seconds, on the event loop."""
    if line <= 0:
        return 0
    has_cr = "\r" in text
    pos, left, n = 0, line, len(text)
    while pos < n:
        end = min(n, pos + _CHUNK)
        if end < n and text[end - 1] == "\r" and text[end] == "\n":
            end += 1  # never split a CRLF between two chunks
        breaks = text.count("\n", pos, end)
        if has_cr:
            breaks += text.count("\r", pos, end) - text.count("\r\n", pos, end)
        if breaks < left:
            left -= breaks
            pos = end
            continue
        for m in _BREAK.finditer(text, pos, end):
            left -= 1
            if left == 0:
                return m.end()
    return None


class LspTextDocument(TextDocument):
    """A pygls document whose lines and positions follow the LSP specification."""

    @property
    def lines(self) -> tuple[str, ...]:  # type: ignore[override]
        """The document's lines, split once per version of its text (code actions ask on
        every cursor move)."""
        source = self.source
        cached = self.__dict__.get("_focal_lines")
        if cached is None or cached[0] is not source:
            cached = self.__dict__["_focal_lines"] = (source, tuple(split_lines(source)))
        return cached[1]

    def offset(self, source: str, position: types.Position) -> int:
        """The index into `source` of a client position (in the negotiated encoding). A
        character past the end of its line means the end of the line; a line past the end
        of the document means the end of the document."""
        start = line_start(source, position.line)
        if start is None:
            return len(source)
        m = _BREAK.search(source, start)
        end = m.start() if m is not None else len(source)
        units = self.position_codec.impl.code_units_for_char
        i, counted = start, 0
        while i < end and counted < position.character:
            counted += units(source[i])
            i += 1
        return i

    def offset_at_position(self, client_position: types.Position) -> int:
        return self.offset(self.source, client_position)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        source = self.source
        a = self.offset(source, change.range.start)
        b = self.offset(source, change.range.end)
        if b < a:
            log.warning("%s: an edit's range ends before it starts; applied as if reversed", self)
            a, b = b, a
        self._source = source[:a] + change.text + source[b:]


def clamp(doc: TextDocument, position: types.Position) -> types.Position:
    """The position `doc` really has for a client's `position`: a character past the end of
    its line is the line's end (LSP), a line past the end of the document is the document's
    end, and a character inside a surrogate pair is the end of that pair. Every position a
    handler takes from the client goes through here before a feature sees it."""
    if not isinstance(doc, LspTextDocument):
        return position
    source = doc.source
    count = doc.position_codec.client_num_units
    start = line_start(source, position.line)
    if start is None:  # past the last line: the end of the document
        last = max(source.rfind("\n"), source.rfind("\r")) + 1
        lines = source.count("\n") + source.count("\r") - source.count("\r\n")
        return types.Position(line=lines, character=count(source[last:]))
    character = count(source[start : doc.offset(source, position)])
    if character == position.character:
        return position
    return types.Position(line=position.line, character=character)


def clamp_range(doc: TextDocument, rng: types.Range) -> types.Range:
    """`clamp` for both ends of a range (an inverted range is put in order)."""
    start, end = clamp(doc, rng.start), clamp(doc, rng.end)
    if (end.line, end.character) < (start.line, start.character):
        start, end = end, start
    return types.Range(start=start, end=end)


class LspWorkspace(Workspace):
    """pygls' workspace, holding `LspTextDocument`s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


def adopt(workspace: Any) -> Any:
    """Make a workspace pygls created hand out `LspTextDocument`s (before any is opened)."""
    if type(workspace) is Workspace:
        workspace.__class__ = LspWorkspace
    return workspace
