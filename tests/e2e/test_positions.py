"""Positions at the edges, through the wire: past the end of a line, past the end of the
document, inside a surrogate pair, in UTF-16 and UTF-8. LSP: "If the character value is
greater than the line length it defaults back to the line length"; Focal clamps every
position a client sends before any feature sees it, and the ranges it answers are computed
from the clamped position."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, inline_params, open_doc, start, status

TEXT = 's = "😀😀"\nval = s + 𝑥ab'
# The last line in code units: "val = s + " is 10; 𝑥 (U+1D465) is 2 in UTF-16, 4 in UTF-8.
WORD_START = 10
LINE_END = {"utf-16": 14, "utf-8": 16}


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _ready(client: LanguageClient, root: Path, model: Path, encoding: str) -> str:
    result = await start(
        client,
        root,
        {"model": {"path": str(model)}, "completion": {"maxTokens": 8}},
        encodings=[encoding],
    )
    assert result.capabilities.position_encoding == encoding
    for _ in range(600):
        if (await status(client))["state"] in ("ready", "error"):
            break
    return open_doc(client, root / "edges.py", TEXT)


def _completion(uri: str, line: int, character: int) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
    )


def _range(a: tuple[int, int], b: tuple[int, int]) -> types.Range:
    return types.Range(start=types.Position(*a), end=types.Position(*b))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
@pytest.mark.parametrize(
    "where",
    [
        pytest.param((1, 40), id="past-the-line-end"),
        pytest.param((7, 3), id="past-the-document-end"),
        pytest.param((1, 10_000), id="far-past-the-line-end"),
    ],
)
async def test_a_completion_past_the_end_replaces_the_typed_word_where_it_is(
    client: LanguageClient, tmp_path: Path, tiny_model: Path, encoding: str, where
):
    uri = await _ready(client, tmp_path, tiny_model, encoding)
    result = await client.text_document_completion_async(_completion(uri, *where))
    assert isinstance(result, types.CompletionList)
    assert result.items, "the tiny model suggested nothing here"
    (item,) = result.items
    end = LINE_END[encoding]
    # The range a clamping client sees: the typed word `𝑥ab`, from where it starts to the
    # line's end — not "the position minus the word's length" (which pasted `𝑥ab𝑥ab…`).
    assert item.text_edit.range == _range((1, WORD_START), (1, end)), item.text_edit.range
    assert item.text_edit.new_text.startswith("𝑥ab")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_inline_completion_past_the_end_is_placed_at_the_end(
    client: LanguageClient, tmp_path: Path, tiny_model: Path, encoding: str
):
    uri = await _ready(client, tmp_path, tiny_model, encoding)
    for line, character in ((1, 40), (9, 0)):
        result = await client.text_document_inline_completion_async(
            inline_params(uri, line, character)
        )
        assert isinstance(result, types.InlineCompletionList)
        assert result.items, "the tiny model suggested nothing here"
        end = LINE_END[encoding]
        assert result.items[0].range == _range((1, end), (1, end))


async def test_a_position_inside_a_surrogate_pair_counts_the_whole_character(
    client: LanguageClient, tmp_path: Path, tiny_model: Path
):
    """UTF-16 character 11 of the last line falls between the two halves of 𝑥: it stands
    for the end of 𝑥, never for half a character."""
    uri = await _ready(client, tmp_path, tiny_model, "utf-16")
    result = await client.text_document_completion_async(_completion(uri, 1, 11))
    assert result.items, "the tiny model suggested nothing here"
    (item,) = result.items
    assert item.text_edit.range == _range((1, WORD_START), (1, 12))
    assert item.text_edit.new_text.startswith("𝑥") and not item.text_edit.new_text.startswith("𝑥ab")


async def test_other_requests_past_the_end_are_answered(
    client: LanguageClient, tmp_path: Path, tiny_model: Path
):
    uri = await _ready(client, tmp_path, tiny_model, "utf-16")
    doc = types.TextDocumentIdentifier(uri=uri)
    far = types.Position(line=99, character=99)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=far)
    )
    assert hover is None  # nothing recorded there: no origin to show, and no error
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc,
            range=types.Range(start=types.Position(0, 2), end=far),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    # "Fix with Focal" on the selection, which ends at the end of the document's last line.
    (action,) = actions
    assert action.data["start"] == 0 and action.data["end"] == 2, action.data
    assert (await status(client))["failures"]["count"] == 0
