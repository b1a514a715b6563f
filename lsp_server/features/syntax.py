"""Focal's own syntax diagnostics: tree-sitter's ERROR and MISSING nodes, published with
source `focal` a moment after the user stops typing.

They give "Fix with Focal" something to act on in languages whose own server is not
running, and they come from the grammars the index already loads. A document is parsed off
the event loop; a result for a version the user has since changed is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

import tree_sitter as ts
from lsprotocol import types
from pygls.uris import to_fs_path

from indexing.languages import LanguageSpec, grammar, is_available, language_for, spec_named
from lsp_server.features.completion import units

log = logging.getLogger(__name__)

SOURCE = "focal"
DEBOUNCE_S = 0.4
MAX_DIAGNOSTICS = 50
MAX_BYTES = 2 * 2**20
"""Larger documents are not checked: parsing them on every pause costs more than it tells."""

# LSP language ids that differ from our grammar names.
_LSP_IDS = {
    "javascriptreact": "javascript",
    "bash": "shellscript",
    "sh": "shellscript",
    "zsh": "shellscript",
    "c#": "csharp",
    "c++": "cpp",
}


@dataclass(frozen=True)
class SyntaxProblem:
    """One problem, in (line, code point column) coordinates."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str


def language_of(uri: str, language_id: str) -> LanguageSpec | None:
    """The grammar for a document: by its file name first, then by the client's language id."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    spec = language_for(PurePath(path)) if path else None
    if spec is None and language_id:
        named = spec_named(_LSP_IDS.get(language_id.lower(), language_id.lower()))
        spec = named if named is not None and is_available(named) else None
    return spec


def _column(line: bytes, byte_col: int) -> int:
    return len(line[:byte_col].decode("utf-8", "ignore"))


def _snippet(node: ts.Node) -> str:
    first = node.children[0] if node.children else node
    text = (first.text or b"").decode("utf-8", "replace").split("\n", 1)[0].strip()
    return text if len(text) <= 30 else text[:29] + "…"


def find_problems(
    text: str, spec: LanguageSpec, limit: int = MAX_DIAGNOSTICS
) -> list[SyntaxProblem]:
    """ERROR and MISSING nodes of `text`, outermost first, at most `limit`. An ERROR node's
    range is cut at the end of its first line (a squiggle over half a file helps nobody)."""
    data = text.encode("utf-8", "surrogatepass")
    tree = grammar(spec).parser().parse(data)
    if not tree.root_node.has_error:
        return []
    lines = data.split(b"\n")
    out: list[SyntaxProblem] = []
    stack = [tree.root_node]
    while stack and len(out) < limit:
        node = stack.pop()
        if node.is_missing:
            row, col = node.start_point
            c = _column(lines[row], col)
            out.append(SyntaxProblem(row, c, row, c, f"Syntax error: missing `{node.type}`"))
            continue
        if node.is_error:
            row, col = node.start_point
            end_row, end_col = node.end_point
            start = _column(lines[row], col)
            if end_row != row:
                end_row, end = row, len(lines[row].decode("utf-8", "ignore").rstrip("\r"))
            else:
                end = _column(lines[row], end_col)
            snippet = _snippet(node)
            message = f"Syntax error near `{snippet}`" if snippet else "Syntax error"
            out.append(SyntaxProblem(row, start, end_row, max(start, end), message))
            continue
        # Children in reverse so that the stack pops them in document order.
        stack.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)
    out.sort(key=lambda p: (p.line, p.column))
    return out


class SyntaxDiagnostics:
    """Debounced per document; `publish(uri, version, diagnostics)` sends them."""

    def __init__(
        self,
        publish: Callable[[str, int | None, list[types.Diagnostic]], None],
        enabled: Callable[[], bool],
        position_encoding: Callable[[], str] = lambda: "utf-16",
    ) -> None:
        self._publish = publish
        self._enabled = enabled
        self._encoding = position_encoding
        self._tasks: dict[str, asyncio.Task] = {}
        self._published: set[str] = set()

    def changed(
        self, uri: str, language_id: str, version: int | None, text: Callable[[], str]
    ) -> None:
        """The document was opened or edited: check it once the user pauses."""
        old = self._tasks.pop(uri, None)
        if old is not None:
            old.cancel()
        if not self._enabled():
            self.clear(uri)
            return
        spec = language_of(uri, language_id)
        if spec is None:
            return
        task = asyncio.get_running_loop().create_task(self._check(uri, spec, version, text))
        self._tasks[uri] = task

    async def _check(
        self, uri: str, spec: LanguageSpec, version: int | None, text: Callable[[], str]
    ) -> None:
        try:
            await asyncio.sleep(DEBOUNCE_S)
            source = text()
            if len(source) > MAX_BYTES:  # characters, a lower bound of the bytes
                self.clear(uri)
                return
            loop = asyncio.get_running_loop()
            problems = await loop.run_in_executor(None, find_problems, source, spec)
            if self._tasks.get(uri) is not asyncio.current_task():
                return  # edited meanwhile: the newer check publishes
            lines = source.split("\n")
            diagnostics = [self._diagnostic(p, lines) for p in problems]
            if diagnostics or uri in self._published:
                self._publish(uri, version, diagnostics)
            if diagnostics:
                self._published.add(uri)
            else:
                self._published.discard(uri)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("syntax check of %s failed", uri)
        finally:
            if self._tasks.get(uri) is asyncio.current_task():
                del self._tasks[uri]

    def _diagnostic(self, p: SyntaxProblem, lines: list[str]) -> types.Diagnostic:
        enc = self._encoding()

        def pos(line: int, column: int) -> types.Position:
            text = lines[line] if line < len(lines) else ""
            return types.Position(line=line, character=units(text[:column], enc))

        return types.Diagnostic(
            range=types.Range(start=pos(p.line, p.column), end=pos(p.end_line, p.end_column)),
            message=p.message,
            severity=types.DiagnosticSeverity.Error,
            source=SOURCE,
            code="syntax",
        )

    def clear(self, uri: str) -> None:
        """Withdraw the document's diagnostics (closed, or the check was turned off)."""
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        if uri in self._published:
            self._published.discard(uri)
            self._publish(uri, None, [])

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
