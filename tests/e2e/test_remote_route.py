"""A team's shared server through Focal's LSP: refused unless allowed, its origin names the
endpoint and the served model, and a server that is down is a clear message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, start, status
from tests.inference.test_remote import ALIAS, _free_port, server  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

SOURCE = "def add(a, b):\n    return "


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def _ready(client: LanguageClient) -> dict:
    for _ in range(300):
        st = await status(client)
        if st["state"] in ("ready", "error"):
            return st
        await asyncio.sleep(0.05)
    raise AssertionError(st)


async def test_remote_engine_answers_when_allowed(
    client: LanguageClient,
    server: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
):
    await start(client, tmp_path, {"privacy": {"allowRemote": True}, "remote": {"url": server}})
    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    line, col = end_of(SOURCE)
    await client.text_document_inline_completion_async(inline_params(uri, line, col))
    st = await _ready(client)
    origin = st["lastSuggestion"]["origin"]
    assert origin["engine"] == "remote"
    assert origin["device"] == server and origin["modelName"] == ALIAS


async def test_remote_engine_is_refused_without_permission(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    # Nothing listens there; it must not even be tried.
    url = f"http://127.0.0.1:{_free_port()}"
    await start(client, tmp_path, {"model": {"path": str(smollm2)}, "remote": {"url": url}})
    st = await _ready(client)
    assert st["state"] == "ready" and st["model"]["quantization"] == "Q4_1"  # the local model
    assert any("allowRemote" in m.message for m in client.messages)


async def test_remote_server_down_is_a_clear_error(client: LanguageClient, tmp_path: Path):
    url = f"http://127.0.0.1:{_free_port()}"
    await start(
        client,
        tmp_path,
        {"privacy": {"allowRemote": True}, "remote": {"url": url, "retries": 0, "timeoutS": 2}},
    )
    st = await _ready(client)
    assert st["state"] == "error" and "not reachable" in st["error"]
    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    line, col = end_of(SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result.items == [] or list(result.items) == []
    assert any(m.type == types.MessageType.Error for m in client.messages)
