"""What the index leaves out, and that every bad input is a counted skip, not a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexing.ignore import ai_disabled, exclusion_reason, is_excluded, is_secret, parse_rules
from tests.indexing.conftest import write_tree


def _paths(index) -> set[str]:
    return set(index.store.paths_under(""))


def test_nested_gitignore_negation_and_dir_only(workspace, open_index):
    write_tree(
        workspace,
        {
            ".gitignore": "*.gen.py\nbuild/\n!keep.gen.py\nlogs\n/rootonly.py\n",
            "a.py": "def a(): pass\n",
            "x.gen.py": "def gen(): pass\n",
            "keep.gen.py": "def kept(): pass\n",
            "build/out.py": "def out(): pass\n",
            "src/build.py": "def not_a_dir(): pass\n",  # `build/` matches directories only
            "rootonly.py": "def r(): pass\n",
            "src/rootonly.py": "def deeper(): pass\n",  # `/rootonly.py` is anchored
            "logs/l.py": "def l(): pass\n",
            "src/.gitignore": "secret_*.py\n!secret_ok.py\n",
            "src/secret_x.py": "def sx(): pass\n",
            "src/secret_ok.py": "def so(): pass\n",
            "other/secret_x.py": "def other(): pass\n",  # the nested rule stays in src/
            "docs/**/skip.py": "",
        },
    )
    write_tree(workspace, {"deep/a/b/c.py": "def c(): pass\n", "deep/.gitignore": "a/**/c.py\n"})
    index = open_index(workspace)
    summary = index.build()
    assert _paths(index) == {
        "a.py",
        "keep.gen.py",
        "src/build.py",
        "src/rootonly.py",
        "src/secret_ok.py",
        "other/secret_x.py",
        "docs/**/skip.py",
    }
    assert summary.skipped["ignored"] >= 6


@pytest.mark.parametrize("name", [".focalignore", ".aiignore", ".aiexclude"])
def test_ai_ignore_files(workspace, open_index, name):
    write_tree(
        workspace,
        {
            name: "private/\n*.internal.ts\n",
            "private/p.py": "x = 1\n",
            "api.internal.ts": "export const A = 1;\n",
            "ok.ts": "let a = 1;\n",
        },
    )
    index = open_index(workspace)
    index.build()
    assert _paths(index) == {"ok.ts"}
    assert is_excluded(workspace, workspace / "private" / "p.py")
    assert not is_excluded(workspace, workspace / "ok.ts")


def test_cannot_reinclude_a_file_inside_an_ignored_directory(workspace, open_index):
    write_tree(workspace, {".gitignore": "vendor/\n!vendor/keep.py\n", "vendor/keep.py": "x=1\n"})
    index = open_index(workspace)
    index.build()
    assert _paths(index) == set()  # as in git


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        pytest.param("*.log", "a/b/c.log", True, id="basename-any-depth"),
        pytest.param("/a.py", "sub/a.py", False, id="anchored"),
        pytest.param("a/*.py", "a/b/c.py", False, id="star-not-slash"),
        pytest.param("a/**/c.py", "a/c.py", True, id="double-star-zero-dirs"),
        pytest.param("**/tmp", "x/y/tmp", True, id="leading-double-star"),
        pytest.param("out/**", "out/deep/f.py", True, id="trailing-double-star"),
        pytest.param("f[0-9].py", "f7.py", True, id="class"),
        pytest.param("f[!0-9].py", "f7.py", False, id="negated-class"),
        pytest.param("\\#hash.py", "#hash.py", True, id="escaped-hash"),
        pytest.param("sp\\ ", "sp ", True, id="escaped-trailing-space"),
    ],
)
def test_gitignore_patterns(pattern, path, ignored):
    rules = parse_rules(pattern)
    assert any(r.regex.match(path) for r in rules) == ignored


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.local",
        "prod.env",
        "server.pem",
        "tls.key",
        "id_rsa",
        "id_ed25519.pub",
        "credentials",
        "credentials.json",
        ".netrc",
        ".npmrc",
        "cert.p12",
        ".pypirc",
        ".ssh/config",
        ".aws/config",
        "terraform.tfstate",
        "secrets.yaml",
    ],
)
def test_secret_files_are_recognized(name):
    assert is_secret(name)


@pytest.mark.parametrize("name", ["environment.py", "keyboard.js", "tokens.go", "pemfile.rs"])
def test_ordinary_files_are_not_secrets(name):
    assert not is_secret(name)


def test_secrets_never_indexed_even_when_source_like(workspace, open_index):
    write_tree(
        workspace,
        {
            ".env": "API_KEY=sk-live-123\n",
            "config/.env.production": "TOKEN=abc\n",
            "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
            "keys/server.key.py": "SECRET = 'x'\n",  # name ends .py, but .key.* is not a rule
            "deploy.pem": "---\n",
            ".ssh/helper.py": "PASSWORD = 'hunter2'\n",
            "app.py": "def main(): pass\n",
            ".gitignore": "!.env\n",  # an ignore file cannot let a secret in
        },
    )
    index = open_index(workspace)
    summary = index.build()
    paths = _paths(index)
    assert ".ssh/helper.py" not in paths and ".env" not in paths
    assert summary.skipped["secret"] >= 4
    assert not index.search("PASSWORD") and not index.search("API_KEY")
    assert index.update_file(workspace / ".ssh" / "helper.py") is None
    assert index.update_text(workspace / ".env", "X = 1\n") is None
    assert exclusion_reason(workspace, workspace / ".env") == "secret"


def test_noai_turns_everything_off(workspace, open_index):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    index = open_index(workspace)
    assert index.build().files == 1
    (workspace / ".noai").write_text("")
    assert ai_disabled(workspace)
    assert is_excluded(workspace, workspace / "a.py")
    summary = index.build()
    assert summary.ai_disabled and summary.files == 0
    assert index.search("a") == []  # the old index is emptied, not just frozen
    assert index.update_file(workspace / "a.py") is None


def test_bad_inputs_are_skipped_with_reasons(workspace, open_index):
    write_tree(
        workspace,
        {
            "good.py": "def good(): pass\n",
            "latin1.py": "name = 'caf\xe9'\n".encode("latin-1"),
            "nul.py": b"def x():\n    pass\n\x00\x00\x00",
            "image.png": b"\x89PNG\r\n\x1a\n\x00",
        },
    )
    with open(workspace / "huge.py", "wb") as f:  # 50 MB, sparse: created instantly
        f.truncate(50 * 1024 * 1024)
    with open(workspace / "big_text.py", "w") as f:
        f.write("x = 1\n" * 200_000)  # 1.2 MB > the 1 MB cap
    index = open_index(workspace)
    summary = index.build()
    assert _paths(index) == {"good.py"}
    assert summary.skipped["invalid utf-8"] == 1
    assert summary.skipped["binary"] == 1
    assert summary.skipped["too large"] == 2
    assert summary.skipped["not source"] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 files; cannot test as root")
def test_permission_denied_is_skipped(workspace, open_index):
    write_tree(workspace, {"ok.py": "x = 1\n", "locked.py": "y = 2\n", "closed/z.py": "z = 3\n"})
    (workspace / "locked.py").chmod(0)
    (workspace / "closed").chmod(0)
    try:
        index = open_index(workspace)
        summary = index.build()
    finally:
        (workspace / "locked.py").chmod(0o644)
        (workspace / "closed").chmod(0o755)
    assert _paths(index) == {"ok.py"}
    assert summary.skipped["unreadable"] == 2


def test_files_deleted_between_walk_and_parse(workspace, open_index):
    write_tree(workspace, {f"m{i:02}.py": f"def f{i}(): pass\n" for i in range(20)})
    index = open_index(workspace, workers=1)  # files are read one by one, after the walk
    doomed = sorted(workspace.glob("*.py"))[10:]

    def progress(p):
        for f in doomed:
            f.unlink(missing_ok=True)

    summary = index.build(progress=progress)
    assert summary.skipped["vanished"] == len(doomed)
    assert summary.files == 20 - len(doomed)


def test_symlink_loops_and_links_outside(workspace, open_index, tmp_path):
    write_tree(workspace, {"pkg/mod.py": "def mod(): pass\n"})
    outside = tmp_path / "outside"
    write_tree(outside, {"leak.py": "def leak(): pass\n"})
    (workspace / "pkg" / "up").symlink_to("..")  # a directory loop
    (workspace / "self").symlink_to("self")  # a link to itself
    (workspace / "a").symlink_to("b")
    (workspace / "b").symlink_to("a")
    (workspace / "out").symlink_to(outside)
    (workspace / "dangling.py").symlink_to(workspace / "missing.py")
    (workspace / "alias.py").symlink_to(workspace / "pkg" / "mod.py")
    index = open_index(workspace)
    summary = index.build()
    assert _paths(index) == {"pkg/mod.py", "alias.py"}
    assert summary.skipped["symlink loop"] == 4
    assert summary.skipped["symlink outside workspace"] == 1
    assert summary.skipped["broken symlink"] == 1


def test_deep_directories_stop_at_the_depth_limit(workspace, open_index):
    d = workspace
    for i in range(40):
        d = d / f"d{i}"
    d.mkdir(parents=True)
    (d / "bottom.py").write_text("def bottom(): pass\n")
    (workspace / "d0" / "top.py").write_text("def top(): pass\n")
    index = open_index(workspace, max_depth=10)
    summary = index.build()
    assert _paths(index) == {"d0/top.py"}
    assert summary.skipped["too deep"] == 1


def test_dot_git_is_never_walked(workspace, open_index):
    write_tree(workspace, {".git/hooks/pre-commit.py": "x = 1\n", "a.py": "y = 1\n"})
    index = open_index(workspace)
    index.build()
    assert _paths(index) == {"a.py"}
    assert is_excluded(workspace, workspace / ".git" / "hooks" / "pre-commit.py")


def test_is_excluded_follows_changes_to_ignore_files(workspace):
    write_tree(workspace, {"gen/a.py": "x = 1\n"})
    assert not is_excluded(workspace, workspace / "gen" / "a.py")
    (workspace / ".aiexclude").write_text("gen/\n")
    assert is_excluded(workspace, "gen/a.py")
    assert exclusion_reason(workspace, Path("gen/a.py")) == "ignored"


def test_fifo_and_undecodable_names_do_not_hang_or_crash(workspace, open_index):
    write_tree(workspace, {"ok.py": "def ok(): pass\n"})
    os.mkfifo(workspace / "pipe.py")  # opening it for reading would block forever
    os.mkfifo(workspace / "script")  # extension-less: the walker would peek at its #!
    (workspace / os.fsdecode(b"caf\xe9.py")).write_text("def cafe(): pass\n")
    index = open_index(workspace)
    summary = index.build()
    assert _paths(index) == {"ok.py"}
    assert summary.skipped["unreadable"] == 2
    assert summary.skipped["invalid utf-8"] == 1
    assert index.update_file(workspace / "pipe.py") is None
    assert index.update_file(workspace / "script") is None


def test_links_that_lead_out_or_to_secrets_are_excluded(workspace, open_index, tmp_path):
    outside = write_tree(tmp_path / "home", {"notes.py": "TOKEN = 'x'\n", "id_rsa": "KEY\n"})
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    (workspace / "notes.py").symlink_to(outside / "notes.py")
    (workspace / "key.py").symlink_to(outside / "id_rsa")
    write_tree(workspace, {".env": "API_KEY=1\n"})
    (workspace / "settings.py").symlink_to(workspace / ".env")  # a secret by another name
    write_tree(workspace, {"z/.ssh/helper.py": "PASSWORD = 1\n"})
    (workspace / "a_cfg").symlink_to(workspace / "z" / ".ssh")  # walked before z/
    assert exclusion_reason(workspace, workspace / "notes.py") == "symlink outside workspace"
    assert exclusion_reason(workspace, "key.py") == "secret"
    assert exclusion_reason(workspace, outside / "notes.py") is None  # not ours to judge
    assert exclusion_reason(workspace, outside / "id_rsa") == "secret"
    index = open_index(workspace)
    index.build()
    assert index.update_file(workspace / "notes.py") is None
    assert index.update_file(workspace / "key.py") is None
    assert index.update_file(workspace / "settings.py") is None
    assert _paths(index) == {"a.py"}


def test_secret_directories_at_any_depth_and_case(workspace, open_index):
    write_tree(
        workspace,
        {
            "deploy/.AWS/creds.py": "KEY = 'x'\n",
            "a/b/.ssh/sub/helper.py": "PASSWORD = 'x'\n",
            "a/b/ssh/helper.py": "def helper(): pass\n",  # no dot: an ordinary directory
            "a/.env.py/x.py": "def ok(): pass\n",  # only files named like .env are secrets
        },
    )
    index = open_index(workspace)
    summary = index.build()
    assert _paths(index) == {"a/b/ssh/helper.py", "a/.env.py/x.py"}
    assert summary.skipped["secret"] == 2
    for rel in ("deploy/.AWS/creds.py", "a/b/.ssh/sub/helper.py", "a/b/ssh/helper.py"):
        assert (exclusion_reason(workspace, workspace / rel) == "secret") == is_secret(rel)
