"""Several workspace folders over the real LSP wire: each is indexed (its symbols answer
`workspace/symbol`, its files get context from their own folder), folders added and
removed at run time follow, and a file outside every folder gets context from its git
repository."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, capabilities, open_doc, status
from tests.retrieval.conftest import FIXTURES, at


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _folder(path: Path) -> types.WorkspaceFolder:
    return types.WorkspaceFolder(uri=path.as_uri(), name=path.name)


async def _names(client: LanguageClient, query: str) -> set[str]:
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    return {s.location.uri for s in found or []}


async def _until(client: LanguageClient, query: str, want, timeout: float = 60.0) -> set[str]:
    """Ask `workspace/symbol` until `want(uris)` holds (indexes build in the background)."""
    uris: set[str] = set()
    for _ in range(int(timeout / 0.1)):
        uris = await _names(client, query)
        if want(uris):
            return uris
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query}: {sorted(uris)}")


def _position(text: str, offset: int) -> types.Position:
    head = text[:offset]
    return types.Position(head.count("\n"), len(head) - (head.rfind("\n") + 1))


async def _context_of_completion(client: LanguageClient, path: Path, marker: str, lang: str):
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path, text, lang)
    await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=_position(text, at(text, marker)),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    return (await status(client))["lastSuggestion"]["origin"]["context"]


async def _start(client: LanguageClient, folders: list[Path], model: Path):
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(),
            root_uri=folders[0].as_uri() if folders else None,
            workspace_folders=[_folder(f) for f in folders] or None,
            initialization_options={"focal": {"model": {"path": str(model)}}},
        )
    )


async def test_every_folder_is_indexed_and_folders_follow_changes(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    shop = shutil.copytree(FIXTURES / "py_shop", tmp_path / "shop")
    router = shutil.copytree(FIXTURES / "go_mod", tmp_path / "router")
    crate = shutil.copytree(FIXTURES / "rust_crate", tmp_path / "crate")
    result = await _start(client, [shop, router], tiny_model)
    ws = result.capabilities.workspace
    assert ws.workspace_folders.supported and ws.workspace_folders.change_notifications

    # Both folders answer `workspace/symbol`.
    await _until(client, "apply_discount", lambda u: any("/shop/" in x for x in u))
    await _until(client, "NewRouter", lambda u: any("/router/router.go" in x for x in u))

    # A call in the second folder gets its callee from the second folder's index, with
    # the path relative to that folder.
    context = await _context_of_completion(
        client, router / "_examples/hello/main.go", "router.NewRouter(", "go"
    )
    head = (router / "router.go").read_text().splitlines().index("func NewRouter() *Mux {")
    callee = [
        c for c in context if c["path"] == "router.go" and c["startLine"] <= head <= c["endLine"]
    ]
    assert callee and "github.com/acme/router/v2" in callee[0]["reason"], context
    assert not [c for c in context if "pricing" in c["path"]]  # nothing of the other folder

    # A folder added at run time is indexed; a removed one's symbols are gone.
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[_folder(crate)], removed=[_folder(shop)])
        )
    )
    await _until(client, "origin", lambda u: any("/crate/src/geometry/mod.rs" in x for x in u))
    assert await _until(client, "apply_discount", lambda u: not u) == set()
    assert any("/router/" in x for x in await _names(client, "NewRouter"))


async def test_a_file_outside_every_folder_gets_context_from_its_repository(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
):
    folder = shutil.copytree(FIXTURES / "py_shop", tmp_path / "shop")
    outside = shutil.copytree(FIXTURES / "rust_crate", tmp_path / "elsewhere" / "crate")
    subprocess.run(["git", "init", "-q", str(outside)], check=True)
    await _start(client, [folder], tiny_model)
    await _until(client, "apply_discount", bool)

    path = outside / "src/util.rs"
    # The first completion may come before the repository's index is built: ask again
    # until its origin names the callee (the build of 7 files takes well under a second).
    for _ in range(100):
        context = await _context_of_completion(client, path, "Circle::new(", "rust")
        if any(c["path"] == "src/geometry/area.rs" for c in context):
            break
        await asyncio.sleep(0.1)
    assert any(
        c["path"] == "src/geometry/area.rs"
        and c["reason"].startswith(
            "definition of `Circle.new` called at the cursor (`use crate::geometry::area::Circle`"
        )
        for c in context
    ), context
    # The outside repository is not a workspace folder: `workspace/symbol` stays the
    # folders' own.
    assert await _names(client, "unit_area") == set()
