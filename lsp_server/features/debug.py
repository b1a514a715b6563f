"""Debug requests for tests and bug reports: what the server believes a document holds.

`focal/documentText` `{uri}` -> `{uri, text, version, languageId}` for an open document,
`null` for a document the client has not opened (the server never reads it from disk here).
The reliability suite compares this with its own model of the client's edits.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

DOCUMENT_TEXT_REQUEST = "focal/documentText"


def document_text(server: LanguageServer, params: Any) -> dict[str, Any] | None:
    """The open document named by `params.uri`, as the server's workspace holds it."""
    uri = params.get("uri") if isinstance(params, dict) else getattr(params, "uri", None)
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{DOCUMENT_TEXT_REQUEST} expects {{uri: string}}")
    docs = server.workspace.text_documents
    doc = docs.get(unquote(uri)) or docs.get(uri)
    if doc is None:
        return None
    return {
        "uri": doc.uri,
        "text": doc.source,
        "version": doc.version,
        "languageId": doc.language_id,
    }


def register(server: LanguageServer) -> None:
    """Add the debug requests to `server` (once; a second call is a no-op)."""
    if DOCUMENT_TEXT_REQUEST in server.protocol.fm.features:
        return

    @server.feature(DOCUMENT_TEXT_REQUEST)
    def _document_text(ls: LanguageServer, params: Any = None) -> dict[str, Any] | None:
        return document_text(ls, params)
