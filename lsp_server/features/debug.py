"""Debug requests for tests and bug reports: what the server believes a document holds.

`focal/documentText` `{uri, digest?}` -> `{uri, text, version, languageId}` for an open
document, `null` for a document the client has not opened (the server never reads it from
disk here). With `digest: true` the text is replaced by its `length` (code points) and
`sha256` (of its UTF-8, lone surrogates kept), so that a 50 MB document need not travel back.
The reliability suite compares this with its own model of the client's edits.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import unquote

from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

DOCUMENT_TEXT_REQUEST = "focal/documentText"


def text_digest(text: str) -> str:
    """sha256 of `text` as UTF-8, with lone surrogates (valid in JSON strings) encoded as-is."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _field(params: Any, name: str) -> Any:
    return params.get(name) if isinstance(params, dict) else getattr(params, name, None)


def document_text(server: LanguageServer, params: Any) -> dict[str, Any] | None:
    """The open document named by `params.uri`, as the server's workspace holds it."""
    uri = _field(params, "uri")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{DOCUMENT_TEXT_REQUEST} expects {{uri: string}}")
    docs = server.workspace.text_documents
    doc = docs.get(unquote(uri)) or docs.get(uri)
    if doc is None:
        return None
    text = doc.source
    out: dict[str, Any] = {"uri": doc.uri, "version": doc.version, "languageId": doc.language_id}
    if _field(params, "digest") is True:
        out.update(length=len(text), sha256=text_digest(text))
    else:
        out["text"] = text
    return out


def register(server: LanguageServer) -> None:
    """Add the debug requests to `server` (once; a second call is a no-op)."""
    if DOCUMENT_TEXT_REQUEST in server.protocol.fm.features:
        return

    @server.feature(DOCUMENT_TEXT_REQUEST)
    def _document_text(ls: LanguageServer, params: Any = None) -> dict[str, Any] | None:
        return document_text(ls, params)
