"""Over the wire: a CPU probe that dies by SIGILL leaves the server serving completions with
llama.cpp's extra CPU buffer types off; the user is told once; the verdict is cached and
`focal doctor` reports it. A probe that passes keeps the normal path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from inference import cpu_check
from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, start, status

SOURCE = "def add(a, b):\n    return "
SIGILL = f"{sys.executable} -c 'import os, signal; os.kill(os.getpid(), signal.SIGILL)'"
PASS = f"{sys.executable} -c 'print(1)'"

pytestmark = pytest.mark.skipif(
    not cpu_check.buffer_types(),
    reason="this llama.cpp build has no extra CPU buffer types to probe",
)


@pytest.fixture
def probe(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """No cached verdict, and the probe child replaced (set before the server starts)."""
    command = request.param
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "focal" / cpu_check.CACHE_FILE
    cache.unlink(missing_ok=True)
    monkeypatch.setenv(cpu_check.ENV_PROBE_COMMAND, command)
    monkeypatch.delenv(cpu_check.ENV_SETTING, raising=False)
    return command


@pytest_asyncio.fixture
async def client(probe: str):
    """The server started after `probe` set its environment (pytest-lsp's own fixture would
    start it before any other fixture of the test ran)."""
    config = ClientServerConfig(server_command=SERVER.server_command, server_env=dict(os.environ))
    lsp_client = await config.start()
    yield lsp_client
    await lsp_client.shutdown_session()
    await lsp_client.stop()


def _probe_messages(client: LanguageClient) -> list[str]:
    return [
        m.message
        for m in client.messages
        if m.type == types.MessageType.Warning and "special CPU kernels" in m.message
    ]


async def _complete(client: LanguageClient, uri: str) -> str:
    line, col = end_of(SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    assert result is not None and len(result.items) == 1
    text = result.items[0].insert_text
    assert isinstance(text, str) and text
    return text


@pytest.mark.parametrize("probe", [SIGILL], indirect=True)
async def test_a_crashing_probe_leaves_the_server_serving_without_extra_buffers(
    client: LanguageClient, probe: str, smollm2: Path, tmp_path: Path
):
    # SmolLM2's Q4_1 weights are what llama.cpp puts in AMX tiles on an AMX host.
    await start(client, tmp_path, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    await _complete(client, uri)
    st = await status(client)
    cpu = st["model"]["cpuExtraBuffers"]
    assert cpu["used"] is False and cpu["setting"] == "auto"
    assert cpu["verdict"]["reason"].startswith("killed by SIGILL")
    messages = _probe_messages(client)
    assert len(messages) == 1 and "SIGILL" in messages[0], client.messages

    # A reload (another context length) reads the remembered verdict: served, not re-told.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"focal": {"model": {"path": str(smollm2), "contextLength": 2048}}}
        )
    )
    for _ in range(200):
        st = await status(client)
        if st["state"] == "ready" and st["model"]["contextLength"] and st["loaded"]:
            break
        await asyncio.sleep(0.05)
    await _complete(client, uri)
    await asyncio.sleep(0.2)
    assert len(_probe_messages(client)) == 1

    # Cached per host, and `focal doctor` reports it without probing again.
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "focal" / cpu_check.CACHE_FILE
    saved = json.loads(cache.read_text())
    assert [v["ok"] for v in saved.values()] == [False]
    out = subprocess.run(
        [sys.executable, "-m", "lsp_server", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=os.environ | {cpu_check.ENV_PROBE_COMMAND: PASS},
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)["cpu"]
    assert report["extraBuffersUsed"] is False
    assert report["probe"]["ok"] is False and report["probe"]["ranNow"] is False
    assert report["probe"]["reason"].startswith("killed by SIGILL")
    assert set(report["bufferTypes"]) == set(cpu_check.buffer_types())


@pytest.mark.parametrize("probe", [PASS], indirect=True)
async def test_a_passing_probe_keeps_the_normal_path(
    client: LanguageClient, probe: str, tiny_model: Path, tmp_path: Path
):
    # The tiny model's F16 weights stay on the plain kernels, so this runs on any host.
    await start(client, tmp_path, {"model": {"path": str(tiny_model)}})
    uri = open_doc(client, tmp_path / "a.py", SOURCE)
    await _complete(client, uri)
    cpu = (await status(client))["model"]["cpuExtraBuffers"]
    assert cpu["used"] is True and cpu["verdict"]["ok"] is True
    assert not _probe_messages(client)
