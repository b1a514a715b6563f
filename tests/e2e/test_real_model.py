"""The real SmolLM2-135M through the real protocol: the product working end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, plain, start, status

pytestmark = pytest.mark.slow

SOURCE = '''def mean(values):
    """Arithmetic mean."""
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return '''


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_smollm2_inline_completion_carries_its_origin(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    await start(client, tmp_path, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, tmp_path / "stats.py", SOURCE)
    line, col = end_of(SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result is not None and len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert item.command is not None and item.command.command == "focal.accepted"
    st = await status(client)
    origin = st["lastSuggestion"]["origin"]
    assert origin["quantization"] == "Q4_1"
    assert origin["modelDigest"].startswith("b179c952")
    assert origin["template"] == "prefix-only"  # SmolLM2 has no FIM tokens
    assert st["lastSuggestion"]["id"] == plain(item.command.arguments[0])["suggestionId"]
    assert not [m for m in client.messages if m.type == types.MessageType.Error]
