"""`Assisted-by` trailers from a real git repository's staged changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from indexing.git import GitError
from lsp_server.ledger import Ledger, trailers
from lsp_server.ledger.trailer import added_lines
from tests.ledger.conftest import DIGEST_B, Accept

ORIGINAL = "def main():\n    print('hello')\n"
ACCEPTED = "def load_settings(path):\n    with open(path) as fh:\n        return json.load(fh)\n"


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=Test", "-c", "user.email=t@example.com", "-C", str(repo)]
    return subprocess.run([*cmd, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text(ORIGINAL)
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_trailer_names_the_model_of_staged_accepted_lines(
    ledger: Ledger, accept: Accept, repo: Path
) -> None:
    accept(ACCEPTED, doc=(repo / "app.py").as_uri(), line=2)
    accept("    unrelated_helper(1, 2)\n", model="Other-Model", quant="Q8_0", digest=DIGEST_B)
    assert trailers(ledger, repo) == []  # nothing staged
    (repo / "app.py").write_text(ORIGINAL + "\n\n" + ACCEPTED)
    assert trailers(ledger, repo) == []  # changed but not staged
    git(repo, "add", "app.py")
    assert trailers(ledger, repo) == ["Assisted-by: focal (SmolLM2-135M Q4_1 sha256:a1a1a1a1)"]


def test_one_trailer_per_model_sorted(ledger: Ledger, accept: Accept, repo: Path) -> None:
    accept("    config = load_settings(path)\n", model="Zeta-Coder", quant="Q8_0", digest=DIGEST_B)
    accept("    server = start_server(config)\n")
    accept("    server.wait_forever(timeout=None)\n")
    (repo / "serve.py").write_text(
        "def serve(path):\n    config = load_settings(path)\n    server = start_server(config)\n"
        "    server.wait_forever(timeout=None)\n"
    )
    git(repo, "add", "serve.py")
    assert trailers(ledger, repo) == [
        "Assisted-by: focal (SmolLM2-135M Q4_1 sha256:a1a1a1a1)",
        "Assisted-by: focal (Zeta-Coder Q8_0 sha256:b2b2b2b2)",
    ]


def test_removed_lines_do_not_count(ledger: Ledger, accept: Accept, repo: Path) -> None:
    accept("    print('hello')\n")
    (repo / "app.py").write_text("def main():\n    pass\n")
    git(repo, "add", "app.py")
    assert trailers(ledger, repo) == []


def test_not_a_repository(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        trailers(ledger, tmp_path)


def test_added_lines() -> None:
    patch = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,3 @@\n"
        " keep\n-old\n+new\n++plus\n"
    )
    assert added_lines(patch) == ["new", "+plus"]
