"""`workspace/symbol`, `$/progress`, didChange and didSave through the wire: a real client
talking to `python -m lsp_server` over stdio."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_server.server import create_server
from tests.e2e.lsp_helpers import SERVER, open_doc, start


def test_the_index_feature_is_wired():
    """The features below need it; unwired, they must fail, not skip."""
    assert types.WORKSPACE_SYMBOL in create_server().protocol.fm.features


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _symbols(client: LanguageClient, query: str, timeout: float = 15.0):
    """Ask until the index has an answer (it builds in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
        if found or asyncio.get_running_loop().time() > deadline:
            return found or []
        await asyncio.sleep(0.1)


async def test_workspace_symbol_progress_and_edits(client: LanguageClient, tmp_path):
    (tmp_path / "shop.py").write_text("class Cart:\n    def add(self, item): pass\n")
    (tmp_path / "web.ts").write_text("export function renderCart(): void {}\n")
    (tmp_path / ".env").write_text("CART_SECRET=1\n")
    result = await start(client, tmp_path)
    assert result.capabilities.workspace_symbol_provider

    found = await _symbols(client, "Cart")
    assert [(s.name, s.kind) for s in found][:2] == [
        ("Cart", types.SymbolKind.Class),
        ("renderCart", types.SymbolKind.Function),
    ]
    assert found[0].location.uri == (tmp_path / "shop.py").as_uri()
    assert await _symbols(client, "CART_SECRET", timeout=0.5) == []

    [(_, events)] = client.progress_reports.items()
    assert events[0].kind == "begin" and events[-1].kind == "end"
    assert events[-1].message == "2 files, 3 symbols"

    uri = open_doc(client, tmp_path / "shop.py", "class Cart:\n    pass\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(text="def checkout(): pass\n")
            ],
        )
    )
    assert [s.name for s in await _symbols(client, "checkout")] == ["checkout"]

    (tmp_path / "late.py").write_text("def saved_later(): pass\n")
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=(tmp_path / "late.py").as_uri())
        )
    )
    assert [s.name for s in await _symbols(client, "saved_later")] == ["saved_later"]
