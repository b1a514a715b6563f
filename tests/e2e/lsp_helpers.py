"""Helpers for end-to-end tests: a real client talking to `python -m lsp_server` over stdio."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "lsp_server"])


def capabilities(editor: str = "visual-studio-code") -> types.ClientCapabilities:
    """A real editor's capabilities, plus LSP 3.18 inline completion and completion label
    details, which VS Code >= 1.91 declares (pytest-lsp's set is 1.65's)."""
    caps = client_capabilities(editor)
    td = caps.text_document or types.TextDocumentClientCapabilities()
    td.inline_completion = types.InlineCompletionClientCapabilities()
    item = td.completion.completion_item if td.completion else None
    if editor == "visual-studio-code" and item is not None:
        item.label_details_support = True
    caps.text_document = td
    return caps


async def start(
    client: LanguageClient,
    root: Path,
    settings: dict[str, Any] | None = None,
    editor: str = "visual-studio-code",
    encodings: list[str] | None = None,
) -> types.InitializeResult:
    caps = capabilities(editor)
    if encodings is not None:
        caps.general = types.GeneralClientCapabilities(position_encodings=encodings)
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"focal": settings or {}},
        )
    )


def open_doc(client: LanguageClient, path: Path, text: str, language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )


def end_of(text: str) -> tuple[int, int]:
    """(line, character) of the end of `text` (ASCII test texts: UTF-16 units = characters)."""
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


def plain(value: Any) -> Any:
    """pygls hands custom results back as namedtuples (`Object`); make them dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def status(client: LanguageClient) -> dict[str, Any]:
    return plain(await client.protocol.send_request_async("focal/status", {}))
