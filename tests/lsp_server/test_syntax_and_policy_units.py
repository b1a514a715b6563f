"""The pieces under the syntax diagnostics and the AI policy, without a server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from indexing.git import read_diff
from indexing.ignore import ai_refusal
from indexing.languages import spec_named
from inference.summarize import describe
from lsp_server.features.syntax import find_problems, language_of


def test_valid_code_has_no_problems():
    assert find_problems("def f(x):\n    return x\n", spec_named("python")) == []


def test_missing_token_is_named_at_its_position():
    problems = find_problems("fn main() {\n    let x = 1\n}\n", spec_named("rust"))
    assert problems
    assert any("missing `;`" in p.message for p in problems), problems
    assert problems[0].line == 1


def test_error_range_stays_on_one_line_and_counts_code_points():
    # An astral character on the line: columns are code points, not UTF-8 bytes (14 here).
    text = 'x = "😀" + )\nclass A:\n    pass\n'
    problems = find_problems(text, spec_named("python"))
    assert len(problems) == 1
    p = problems[0]
    assert (p.line, p.end_line) == (0, 0)
    assert p.end_column == len('x = "😀" + )') == 11


def test_error_spanning_lines_is_cut_at_the_end_of_its_first_line():
    text = "def f(:\n    x = [1,\n  2\n"
    problems = find_problems(text, spec_named("python"))
    assert problems
    assert all(p.line == p.end_line for p in problems)


def test_many_errors_are_capped():
    text = "".join(f"def f{i}(:\n" for i in range(200))
    assert len(find_problems(text, spec_named("python"), limit=50)) == 50


def test_language_by_file_name_then_language_id():
    assert language_of("file:///w/app.ts", "").name == "typescript"
    assert language_of("untitled:Untitled-1", "python").name == "python"
    assert language_of("untitled:Untitled-2", "shellscript").name == "shellscript"
    assert language_of("file:///w/notes.txt", "plaintext") is None


@pytest.mark.parametrize(
    ("rel", "expect"),
    [
        ("src/app.py", None),
        (".env", "secrets"),
        ("config/prod.pem", "secrets"),
        ("private/algo.py", "AI ignore file"),
        ("vendor/lib.py", "AI ignore file"),
        ("build/out.py", None),  # only .gitignore'd: may be completed
    ],
)
def test_ai_refusal(tmp_path: Path, rel: str, expect: str | None):
    (tmp_path / ".aiignore").write_text("private/\n")
    (tmp_path / ".aiexclude").write_text("vendor/\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    reason = ai_refusal(tmp_path, tmp_path / rel)
    assert (reason is None) if expect is None else (expect in (reason or "")), reason


def test_noai_refuses_everything(tmp_path: Path):
    (tmp_path / ".noai").write_text("")
    assert ".noai" in (ai_refusal(tmp_path, tmp_path / "a.py") or "")


def test_secret_outside_any_workspace_is_refused(tmp_path: Path):
    assert ai_refusal(None, tmp_path / "id_rsa") is not None
    assert ai_refusal(None, tmp_path / "main.go") is None


def test_diff_names_secrets_but_withholds_their_content(tmp_path: Path):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".aiignore").write_text("private/\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "algo.py").write_text("SECRET_SAUCE = 42\n")
    (tmp_path / ".env").write_text("API_KEY=sk-live-123\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    git("add", "-A")
    diff = read_diff(tmp_path)
    by_path = {f.path: f for f in diff.files}
    assert by_path[".env"].withheld and by_path[".env"].patch == ""
    assert by_path["private/algo.py"].withheld and by_path["private/algo.py"].patch == ""
    assert "print('hi')" in by_path["app.py"].patch and not by_path["app.py"].withheld
    assert "content withheld" in describe(by_path[".env"])
    assert "sk-live" not in "".join(f.patch for f in diff.files)
