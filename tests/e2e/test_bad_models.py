"""Broken models give a clear error, completions answer empty, and the server keeps serving."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, start, status

SOURCE = "def add(a, b):\n    return "


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _not_gguf(tmp: Path, smollm2: Path) -> Path:
    p = tmp / "model.gguf"
    p.write_text("this is a text file, not a model\n" * 10)
    return p


def _truncated(tmp: Path, smollm2: Path) -> Path:
    p = tmp / "truncated.gguf"
    with open(smollm2, "rb") as f:
        p.write_bytes(f.read(3_000_000))
    return p


def _missing(tmp: Path, smollm2: Path) -> Path:
    return tmp / "nowhere" / "model.gguf"


def _directory(tmp: Path, smollm2: Path) -> Path:
    return tmp


async def _wait_for_error(client: LanguageClient) -> types.ShowMessageParams:
    for _ in range(200):
        errors = [m for m in client.messages if m.type == types.MessageType.Error]
        if errors:
            return errors[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no error shown; messages: {client.messages}")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(_not_gguf, "is not a GGUF model", id="not-gguf"),
        pytest.param(_truncated, "is truncated", id="truncated"),
        pytest.param(_missing, "does not exist", id="missing"),
        pytest.param(_directory, "is a folder", id="directory"),
    ],
)
async def test_bad_model_is_reported_and_server_recovers(
    client: LanguageClient, smollm2: Path, tmp_path: Path, make, expected: str
):
    bad = make(tmp_path, smollm2)
    await start(client, tmp_path, {"model": {"path": str(bad)}})
    error = await _wait_for_error(client)
    assert expected in error.message and "Focal" in error.message

    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    line, col = end_of(SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result is not None and not result.items
    st = await status(client)
    assert st["state"] == "error" and expected in st["error"]

    # The user fixes the setting: the next request is answered by the good model.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"focal": {"model": {"path": str(smollm2)}}})
    )
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result is not None and len(result.items) == 1 and result.items[0].insert_text
    assert (await status(client))["model"]["quantization"] == "Q4_1"


async def test_invalid_settings_warn_and_keep_serving(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(
        client,
        tmp_path,
        {"model": {"path": str(smollm2)}, "completion": {"maxTokens": "lots"}},
    )
    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    line, col = end_of(SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result is not None and len(result.items) == 1
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert any("focal.completion" in w and "expected int" in w for w in warnings), warnings
