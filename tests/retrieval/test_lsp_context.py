"""Repository context over the real LSP wire: `python -m lsp_server` indexes a multi-file
workspace, and a completion at a call site shows the callee's definition (path, lines,
reason) in its origin, in the item's documentation and in `focal.showOrigin`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, inline_params, open_doc, plain, start, status
from tests.retrieval.conftest import at, forbidden


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _indexed(client: LanguageClient, name: str, timeout: float = 60.0) -> None:
    """Wait until the server's index knows `name` (it builds after `initialized`)."""
    for _ in range(int(timeout / 0.1)):
        found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=name))
        if found:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the index never found {name}")


def _position(text: str, offset: int) -> types.Position:
    head = text[:offset]
    return types.Position(head.count("\n"), len(head) - (head.rfind("\n") + 1))


async def test_completion_at_a_call_site_shows_the_callees_definition(
    client: LanguageClient, tiny_model: Path, repo
):
    root = repo("py_shop")
    await start(client, root, {"model": {"path": str(tiny_model)}})
    await _indexed(client, "apply_discount")
    # The secret is open in the editor too: it must not become "similar code".
    open_doc(client, root / ".env", (root / ".env").read_text(), "dotenv")
    text = (root / "shop" / "cart.py").read_text()
    uri = open_doc(client, root / "shop" / "cart.py", text)
    pos = _position(text, at(text, "apply_discount("))

    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=pos,
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    origin = (await status(client))["lastSuggestion"]["origin"]
    context = origin["context"]
    callee = [c for c in context if c["path"] == "shop/pricing.py" and c["startLine"] == 5]
    assert callee, context
    assert callee[0]["reason"].startswith("definition of `apply_discount` called at the cursor")
    assert "text" not in callee[0]  # the origin names the chunk; it does not copy it
    assert not [c for c in context if forbidden(c["path"])]
    # The editor shows it in the item's documentation.
    (item,) = result.items
    doc = item.documentation.value
    assert "`shop/pricing.py:6-10` — definition of `apply_discount` called at the cursor" in doc

    # Inline completion: `focal.showOrigin` lists the same chunk.
    await client.text_document_inline_completion_async(inline_params(uri, pos.line, pos.character))
    shown = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="focal.showOrigin", arguments=[{}])
    )
    reasons = [c["reason"] for c in plain(shown)["origin"]["context"]]
    assert any(r.startswith("definition of `apply_discount` called at the cursor") for r in reasons)


async def test_context_settings_reach_the_prompt(client: LanguageClient, tiny_model: Path, repo):
    root = repo("py_shop")
    settings = {
        "model": {"path": str(tiny_model)},
        "context": {"excludeGlobs": ["shop/pricing.py"], "similar": False},
    }
    await start(client, root, settings)
    await _indexed(client, "apply_discount")
    text = (root / "shop" / "cart.py").read_text()
    uri = open_doc(client, root / "shop" / "cart.py", text)
    pos = _position(text, at(text, "inventory.reserve("))
    await client.text_document_inline_completion_async(inline_params(uri, pos.line, pos.character))
    context = (await status(client))["lastSuggestion"]["origin"]["context"]
    paths = {c["path"] for c in context}
    assert "shop/inventory.py" in paths and "shop/pricing.py" not in paths

    # Turned off: no context at all.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"focal": {**settings, "context": {"budgetTokens": 0}}}
        )
    )
    await client.text_document_inline_completion_async(inline_params(uri, pos.line, pos.character))
    assert (await status(client))["lastSuggestion"]["origin"]["context"] == []
