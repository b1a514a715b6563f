"""What must never reach the index or a prompt: ignore files, secrets, and `.noai`.

Ignore files use gitignore syntax and nest like .gitignore: `.gitignore`, `.focalignore`,
`.aiignore`, `.aiexclude` in any directory, plus `.git/info/exclude`. Rules from deeper
directories and later lines win; `!pattern` re-includes; `dir/` matches directories only;
a file inside an excluded directory cannot be re-included (as in git).
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

IGNORE_FILES = (".gitignore", ".focalignore", ".aiignore", ".aiexclude")
AI_IGNORE_FILES = (".focalignore", ".aiignore", ".aiexclude")
"""The ignore files that say "no AI here" (as opposed to `.gitignore`'s "not in the repo")."""
NOAI_FILE = ".noai"
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".jj"})

# Files that hold secrets. Matched against the file name (case-insensitive); never indexed,
# never read for context, whatever the ignore files say.
SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.ovpn",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".htpasswd",
    ".git-credentials",
    ".dockercfg",
    "credentials",
    "credentials.*",
    "*credentials*.json",
    "client_secret*.json",
    "service-account*.json",
    "secrets.*",
    "*.secret",
    "*.secrets",
)
# Directories whose every file is a secret.
SECRET_DIRS = frozenset({".ssh", ".aws", ".gnupg", ".docker", ".kube", ".azure"})

_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_NAMES), re.IGNORECASE)


def is_secret(path: str | os.PathLike[str]) -> bool:
    """True for files that commonly hold credentials (`.env`, keys, `.netrc`, ...)."""
    folder, _, name = os.fspath(path).replace(os.sep, "/").rstrip("/").rpartition("/")
    return _SECRET_RE.match(name) is not None or in_secret_dir(folder)


def in_secret_dir(folder: str) -> bool:
    """True when a directory of `folder` ('/'-separated) is one whose files are secrets."""
    return any(part.lower() in SECRET_DIRS for part in folder.split("/"))


def ai_disabled(root: str | os.PathLike[str]) -> bool:
    """A `.noai` file at the workspace root turns Focal's AI features off for the project."""
    return os.path.isfile(os.path.join(root, NOAI_FILE))


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Gitignore lines -> rules matching paths relative to the ignore file's directory."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        # Trailing spaces are ignored unless escaped.
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(line):
            stripped += " "
        line = stripped
        negate = line.startswith("!")
        if negate or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        try:
            regex = re.compile(_translate(line, anchored))
        except re.error:
            continue  # a malformed pattern matches nothing, as in git
        rules.append(Rule(regex, negate, dir_only))
    return tuple(rules)


def _translate(pat: str, anchored: bool) -> str:
    out = [] if anchored else ["(?:.*/)?"]
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                before_ok = i == 0 or pat[i - 1] == "/"
                after = pat[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if before_ok and i + 2 == n:
                    out.append(".*")
                    i += 2
                    continue
                while i < n and pat[i] == "*":
                    i += 1
                out.append("[^/]*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i + 2 if pat[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pat[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + r"\Z"


def _read_rules(path: str) -> tuple[Rule, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_rules(f.read())
    except OSError:
        return ()


class IgnoreRules:
    """The ignore rules of one workspace, read lazily per directory and cached by mtime."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        extra: Iterable[str] = (),
        files: tuple[str, ...] = IGNORE_FILES,
    ) -> None:
        self.root = os.path.abspath(root)
        self._files = files
        self._extra = parse_rules("\n".join(extra))
        self._cache: dict[str, tuple[tuple, tuple[Rule, ...]]] = {}
        self._lock = threading.Lock()

    def rules_in(self, rel_dir: str) -> tuple[Rule, ...]:
        """Rules from the ignore files of one directory (workspace-relative, '' = root)."""
        d = os.path.join(self.root, rel_dir) if rel_dir else self.root
        names = list(self._files)
        if not rel_dir and ".gitignore" in self._files:
            names.append(os.path.join(".git", "info", "exclude"))
        stamp = []
        for name in names:
            try:
                st = os.stat(os.path.join(d, name))
                stamp.append((name, st.st_mtime_ns, st.st_size))
            except OSError:
                continue
        key = tuple(stamp)
        with self._lock:
            hit = self._cache.get(rel_dir)
            if hit is not None and hit[0] == key:
                return hit[1]
        rules: list[Rule] = list(self._extra) if not rel_dir else []
        # git's own exclude file ranks below the .gitignore files.
        for name, _, _ in sorted(stamp, key=lambda s: not s[0].startswith(".git" + os.sep)):
            rules.extend(_read_rules(os.path.join(d, name)))
        result = tuple(rules)
        with self._lock:
            self._cache[rel_dir] = (key, result)
        return result

    def match(self, rel: str, is_dir: bool, layers: Iterable[tuple[str, tuple[Rule, ...]]]) -> bool:
        """Whether `rel` is ignored by `layers` ((dir, rules) from the root down)."""
        ignored = False
        for base, rules in layers:
            if not rules:
                continue
            sub = rel[len(base) + 1 :] if base else rel
            for rule in rules:
                if rule.dir_only and not is_dir:
                    continue
                if rule.negate == ignored and rule.regex.match(sub):
                    ignored = not rule.negate
        return ignored

    def is_ignored(self, rel: str, is_dir: bool = False) -> bool:
        """Whether a workspace-relative path (with '/') is excluded by the ignore files,
        counting its parent directories (a file in an ignored directory is ignored)."""
        parts = rel.split("/")
        layers: list[tuple[str, tuple[Rule, ...]]] = []
        for i in range(len(parts)):
            base = "/".join(parts[:i])
            layers.append((base, self.rules_in(base)))
            sub = "/".join(parts[: i + 1])
            last = i == len(parts) - 1
            if parts[i] in ALWAYS_SKIPPED_DIRS:
                return True
            if self.match(sub, is_dir or not last, layers):
                return True
        return False


_matchers: dict[str, IgnoreRules] = {}
_matchers_lock = threading.Lock()


_real_roots: dict[str, tuple[float, str]] = {}


def _real_root(root: str) -> str:
    """`os.path.realpath(root)`, for a second: a workspace's root is not re-linked while
    every one of its files is being checked (it costs a `lstat` per path component)."""
    now = time.monotonic()
    hit = _real_roots.get(root)
    if hit is None or now - hit[0] > 1.0:
        hit = _real_roots[root] = (now, os.path.realpath(root))
    return hit[1]


def exclusion_reason(
    root: str | os.PathLike[str],
    path: str | os.PathLike[str],
    rules: IgnoreRules | None = None,
) -> str | None:
    """Why `path` must not be indexed or sent to a model, or None when it may be.

    Reasons: `ai disabled (.noai)`, `secret` (by its name or its symlink target's),
    `symlink outside workspace` (a link inside that leads out), `ignored` (an ignore
    file, or `.git`). A path outside the workspace is judged by the secret list only."""
    root_s = os.path.abspath(root)
    if ai_disabled(root_s):
        return "ai disabled (.noai)"
    full = os.path.abspath(os.path.join(root_s, path))
    real = os.path.realpath(full)
    if is_secret(full) or is_secret(real):
        return "secret"
    rel = os.path.relpath(full, root_s)
    inside = rel != ".." and not rel.startswith(".." + os.sep)
    real_root = _real_root(root_s)
    if not inside:
        return None  # outside the workspace: not ours to judge beyond secrets
    if rel == ".":
        return None
    if real != real_root and not real.startswith(real_root + os.sep):
        return "symlink outside workspace"
    if rules is None:
        with _matchers_lock:
            rules = _matchers.get(root_s)
            if rules is None:
                rules = _matchers[root_s] = IgnoreRules(root_s)
    if rules.is_ignored(rel.replace(os.sep, "/"), is_dir=os.path.isdir(full)):
        return "ignored"
    return None


def is_excluded(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """True when `path` must stay out of the index and out of every prompt: the project
    has `.noai`, the file is a secret, or an ignore file (or `.git`) excludes it."""
    return exclusion_reason(root, path) is not None


_ai_matchers: dict[str, IgnoreRules] = {}


def ai_refusal(root: str | os.PathLike[str] | None, path: str | os.PathLike[str]) -> str | None:
    """Why no model may see `path` (a document being edited, a file in a diff), or None.

    Stricter than nothing, looser than `exclusion_reason`: a file only in `.gitignore` (a
    build output, a local script) may still be completed, but `.noai`, a secret, and the
    AI ignore files (`.aiignore`, `.aiexclude`, `.focalignore`) always refuse."""
    full = os.path.abspath(path if root is None else os.path.join(root, path))
    if is_secret(full) or is_secret(os.path.realpath(full)):
        return "it holds secrets"
    if root is None:
        return None
    root_s = os.path.abspath(root)
    if ai_disabled(root_s):
        return "AI features are off for this project (.noai)"
    rel = os.path.relpath(full, root_s)
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
        return None
    with _matchers_lock:
        rules = _ai_matchers.get(root_s)
        if rules is None:
            rules = _ai_matchers[root_s] = IgnoreRules(root_s, files=AI_IGNORE_FILES)
    if rules.is_ignored(rel.replace(os.sep, "/"), is_dir=False):
        return "an AI ignore file (.aiignore, .aiexclude or .focalignore) excludes it"
    return None
