"""Routing by task: a base model completes, an instruct model fixes and summarizes; each
answer's origin says which route chose it; idle routed models leave under a memory budget."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, plain, start, status

pytestmark = pytest.mark.slow

SOURCE = "def mean(xs):\n    total = sum(xs)\n    return total / len(x)\n"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def _repo(root: Path) -> Path:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "dev@example.com")
    git("config", "user.name", "Dev")
    (root / "stats.py").write_text("def mean(xs):\n    return 0\n")
    git("add", ".")
    git("commit", "-qm", "start")
    (root / "stats.py").write_text(SOURCE)
    git("add", ".")
    return root


async def _fix(client: LanguageClient, uri: str) -> types.CodeAction:
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(2, 0), types.Position(2, 0)),
            context=types.CodeActionContext(
                diagnostics=[
                    types.Diagnostic(
                        range=types.Range(types.Position(2, 23), types.Position(2, 24)),
                        message="Undefined name `x`",
                    )
                ]
            ),
        )
    )
    return await client.code_action_resolve_async(actions[0])


async def _summarize(client: LanguageClient, repo: Path) -> dict:
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="focal.summarizeDiff", arguments=[{"root": str(repo)}]
            )
        )
    )


async def test_each_task_is_answered_by_its_route(
    client: LanguageClient, tiny_model: Path, smollm2: Path, tmp_path: Path
):
    repo = _repo(tmp_path)
    await start(
        client,
        repo,
        {
            "model": {"path": str(tiny_model)},
            "routes": {"fix": str(smollm2), "summarize": str(smollm2)},
        },
    )
    uri = open_doc(client, repo / "stats.py", SOURCE)
    line, col = end_of(SOURCE)
    await client.text_document_inline_completion_async(inline_params(uri, line, col))
    completion = (await status(client))["lastSuggestion"]["origin"]
    assert completion["route"] == "default" and completion["architecture"] == "mellum"

    resolved = await _fix(client, uri)
    assert resolved.edit is not None
    (annotation,) = resolved.edit.change_annotations.values()
    assert "sha256:b179c952" in annotation.description
    fix = (await status(client))["lastSuggestion"]["origin"]
    assert fix["route"] == f"fix → {smollm2.name}" and fix["architecture"] == "llama"

    summary = await _summarize(client, repo)
    assert "error" not in summary, summary
    assert summary["origin"]["route"] == f"summarize → {smollm2.name}"
    assert summary["origin"]["modelDigest"].startswith("b179c952")
    # One model serves both routes: it was loaded once.
    loaded = (await status(client))["loaded"]
    assert [m["route"] for m in loaded] == ["default", "fix,summarize"]


async def test_idle_routed_models_are_unloaded_under_the_budget(
    client: LanguageClient, tiny_model: Path, tiny_chat_model: Path, smollm2: Path, tmp_path: Path
):
    repo = _repo(tmp_path)
    await start(
        client,
        repo,
        {
            "model": {"path": str(tiny_model), "memoryBudgetMb": 1},
            "routes": {"fix": str(smollm2), "summarize": str(tiny_chat_model)},
        },
    )
    uri = open_doc(client, repo / "stats.py", SOURCE)
    await _fix(client, uri)
    assert [m["route"] for m in (await status(client))["loaded"]] == ["default", "fix"]
    await _summarize(client, repo)  # the random chat model may write nothing usable
    loaded = (await status(client))["loaded"]
    assert [m["route"] for m in loaded] == ["default", "summarize"]


async def test_a_broken_route_falls_back_to_the_default_model(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    repo = _repo(tmp_path)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    await start(
        client, repo, {"model": {"path": str(smollm2)}, "routes": {"summarize": str(broken)}}
    )
    summary = await _summarize(client, repo)
    assert any("summarize could not be used" in m.message for m in client.messages)
    assert "error" in summary or summary["origin"]["route"] == "default"
