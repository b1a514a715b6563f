"""What changed in a git repository: the staged (or working-tree) diff, file by file.

git runs as a subprocess with an argument list, never through a shell, with a timeout.
Binary and generated files are named but their content is not returned (it must not reach
a model: it is noise at best, a secret at worst).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from indexing.ignore import ai_refusal

# Files whose diff says nothing a commit message needs; they are listed by name only.
GENERATED_GLOBS = (
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "poetry.lock",
    "Cargo.lock",
    "go.sum",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*_pb2.py",
    "*.pb.go",
    "*.generated.*",
    "dist/*",
    "build/*",
)

GIT_TIMEOUT_S = 30


class GitError(Exception):
    """A git problem the user can act on; the message says what and what to do."""


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str
    """`added`, `modified`, `deleted`, `renamed`, `copied`, `type changed`."""
    added: int
    removed: int
    binary: bool
    generated: bool
    patch: str
    """The unified diff of this file; empty for binary, generated and withheld files."""
    old_path: str | None = None
    withheld: str = ""
    """Why the content must not reach a model (a secret, an AI ignore file); "" when it may."""


@dataclass(frozen=True)
class RepoDiff:
    root: Path
    branch: str | None
    """Current branch, or None on a detached HEAD."""
    head: str | None
    """Short commit id of HEAD; None in a repository without commits."""
    staged: bool
    files: tuple[FileDiff, ...]

    @property
    def is_empty(self) -> bool:
        return not self.files


_STATUS = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type changed",
}


def _git(root: Path, *args: str, check: bool = True) -> str:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed or not on PATH; Focal needs it to read diffs.")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(
            [exe, "-C", str(root), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT_S} s in {root}") from exc
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {args[0]} failed in {root}: {msg}")
    return proc.stdout.decode("utf-8", "replace")


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing `path`, or a `GitError` saying it is none."""
    start = path if path.is_dir() else path.parent
    if not start.exists():
        raise GitError(f"{path} does not exist.")
    try:
        out = _git(start, "rev-parse", "--show-toplevel")
    except GitError as exc:
        raise GitError(
            f"{path} is not inside a git repository; "
            "run `git init` or open the repository's folder."
        ) from exc
    return Path(out.strip())


def is_generated(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(name, g) for g in GENERATED_GLOBS)


def read_diff(path: Path, staged: bool = True, max_patch_chars: int = 200_000) -> RepoDiff:
    """The staged (or working-tree) changes of the repository containing `path`."""
    root = repo_root(path)
    head_out = _git(root, "rev-parse", "--short", "HEAD", check=False).strip()
    head = head_out if head_out and " " not in head_out else None
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD", check=False).strip() or None
    base = ["diff", "--cached"] if staged else ["diff"]
    common = ["--no-color", "--no-ext-diff", "-M"]
    numstat = _git(root, *base, *common, "--numstat", "-z")
    names = _git(root, *base, *common, "--name-status", "-z")
    stats = _parse_numstat(numstat)
    files: list[FileDiff] = []
    for status, p, old in _parse_name_status(names):
        added, removed, binary = stats.get(p, (0, 0, False))
        generated = is_generated(p)
        withheld = ai_refusal(root, p) or (ai_refusal(root, old) if old else None) or ""
        patch = ""
        if not binary and not generated and not withheld:
            patch = _git(root, *base, *common, "--", *([old] if old else []), p)
            if len(patch) > max_patch_chars:
                patch = patch[:max_patch_chars] + "\n[... diff truncated ...]\n"
        files.append(FileDiff(p, status, added, removed, binary, generated, patch, old, withheld))
    return RepoDiff(root, branch, head, staged, tuple(files))


def _parse_numstat(out: str) -> dict[str, tuple[int, int, bool]]:
    stats: dict[str, tuple[int, int, bool]] = {}
    parts = out.split("\0")
    i = 0
    while i < len(parts) - 1:
        field = parts[i]
        if not field:
            i += 1
            continue
        cols = field.split("\t")
        if len(cols) < 3:
            i += 1
            continue
        a, r, p = cols[0], cols[1], cols[2]
        if p == "":  # rename: the next two NUL-separated fields are old and new paths
            p = parts[i + 2]
            i += 3
        else:
            i += 1
        binary = a == "-" and r == "-"
        stats[p] = (0 if binary else int(a), 0 if binary else int(r), binary)
    return stats


def _parse_name_status(out: str) -> list[tuple[str, str, str | None]]:
    parts = out.split("\0")
    result = []
    i = 0
    while i < len(parts) and parts[i]:
        code = parts[i]
        kind = _STATUS.get(code[0], code)
        if code[0] in "RC":
            result.append((kind, parts[i + 2], parts[i + 1]))
            i += 3
        else:
            result.append((kind, parts[i + 1], None))
            i += 2
    return result
