"""Diff summaries of real git repositories: over the wire, in a commit buffer, and on the
command line; bad repositories get a clear message and the server keeps serving."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, open_doc, plain, start, status

pytestmark = pytest.mark.slow

CALC = "def add(a, b):\n    return a + b\n"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00", "GIT_COMMITTER_DATE": ""}
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout


def make_repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "calc.py").write_text(CALC)
    (root / "notes.md").write_text("# Notes\n\nSome notes about the calculator.\n" * 3)
    git(root, "add", ".")
    git(root, "commit", "-qm", "Initial commit")
    return root


def stage_feature(repo: Path) -> None:
    """A realistic change: an edit, a rename, a binary file and a generated lock file."""
    (repo / "calc.py").write_text(
        CALC + '\n\ndef sub(a, b):\n    """Subtract b from a."""\n    return a - b\n'
    )
    git(repo, "mv", "notes.md", "NOTES.md")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (repo / "package-lock.json").write_text('{"lockfileVersion": 3}\n' * 50)
    git(repo, "add", "-A")


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def summarize(client: LanguageClient, repo: Path, staged: bool = True) -> dict:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="focal.summarizeDiff", arguments=[{"root": str(repo), "staged": staged}]
        )
    )
    return plain(result)


def check_shape(message: str) -> tuple[str, str]:
    subject, blank, body = message.rstrip("\n").partition("\n\n")
    assert blank, f"no blank line after the subject: {message!r}"
    assert 0 < len(subject) <= 72 and "\n" not in subject
    assert body.strip()
    return subject, body


async def test_summary_of_a_staged_change_with_rename_binary_and_generated_files(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    repo = make_repo(tmp_path / "repo")
    stage_feature(repo)
    await start(client, repo, {"model": {"path": str(smollm2)}})
    result = await summarize(client, repo)
    assert "error" not in result, result
    subject, _ = check_shape(result["message"])
    assert result["subject"] == subject
    assert result["files"] == 4 and result["passes"] == 1
    origin = result["origin"]
    assert origin["quantization"] == "Q4_1" and origin["modelDigest"].startswith("b179c952")
    assert origin["template"] == "chat"
    # Binary and generated files are named, never fed to the model: the prompt did not
    # contain them, so the number of prompt tokens is that of the text diff alone.
    prompt_tokens = origin["timing"]["promptTokens"]
    assert prompt_tokens < 400, prompt_tokens


async def test_large_diff_is_summarized_per_file_then_as_a_whole(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    repo = make_repo(tmp_path / "repo")
    (repo / "big.py").write_text("".join(f"VALUE_{i} = {i * 7}\n" for i in range(5000)))
    (repo / "calc.py").write_text(CALC + "\n\ndef mul(a, b):\n    return a * b\n")
    git(repo, "add", "-A")
    await start(client, repo, {"model": {"path": str(smollm2), "contextLength": 2048}})
    result = await summarize(client, repo)
    assert "error" not in result, result
    check_shape(result["message"])
    assert result["passes"] == 3  # one per text file, then the whole
    assert result["clipped"] is True  # 5,000 lines do not fit a 2k context
    assert result["origin"]["timing"]["promptTokens"] <= 2048


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("not-a-repo", "not inside a git repository"),
        ("nothing-staged", "nothing to summarize"),
        ("empty-repo", "nothing to summarize"),
    ],
)
async def test_bad_repositories_give_a_clear_message(
    client: LanguageClient, smollm2: Path, tmp_path: Path, setup: str, expected: str
):
    target = tmp_path / "target"
    if setup == "not-a-repo":
        target.mkdir()
    elif setup == "nothing-staged":
        make_repo(target)
    else:
        target.mkdir()
        git(target, "init", "-q")
    await start(client, tmp_path, {"model": {"path": str(smollm2)}})
    result = await summarize(client, target)
    assert expected in result["error"]
    await asyncio.sleep(0.1)
    assert any(expected in m.message for m in client.messages)
    assert (await status(client))["state"] == "ready"  # still serving


async def test_detached_head_is_summarized(client: LanguageClient, smollm2: Path, tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "--detach")
    stage_feature(repo)
    await start(client, repo, {"model": {"path": str(smollm2)}})
    result = await summarize(client, repo)
    assert "error" not in result, result
    check_shape(result["message"])


async def test_commit_buffer_completion_offers_the_message(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    repo = make_repo(tmp_path / "repo")
    stage_feature(repo)
    await start(client, repo, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, repo / ".git" / "COMMIT_EDITMSG", "\n# Please enter...\n", "gitcommit")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(0, 0),
        )
    )
    (item,) = result.items
    subject, _ = check_shape(item.text_edit.new_text)
    assert item.label == subject
    assert "Q4_1" in item.detail


def test_commit_message_command_line(smollm2: Path, tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    stage_feature(repo)
    focal = [sys.executable, "-m", "lsp_server", "commit-message", "--model", str(smollm2)]
    done = subprocess.run(
        [*focal, "--repo", str(repo)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    check_shape(done.stdout)
    assert "origin:" in done.stderr and "4 files" in done.stderr
    git(repo, "reset", "-q")
    done = subprocess.run(
        [*focal, "--repo", str(repo)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "nothing to summarize: no changes staged" in done.stderr
