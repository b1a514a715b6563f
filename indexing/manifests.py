"""What a workspace's build manifests say about where code lives: Go modules (`go.mod`),
Rust crates (`Cargo.toml`) and PHP autoload roots (`composer.json`).

They are read from disk beside the indexed files (a manifest is not source, so the index
does not hold it), once per module map, and only for directories that hold files of the
manifest's language. A manifest that cannot be read or parsed is skipped: resolution then
falls back to matching paths by their trailing components.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

_MAX_MANIFEST_BYTES = 1_000_000


@dataclass(frozen=True)
class GoModule:
    """A Go module: the directory of its `go.mod` ('' = the workspace root) and its path."""

    dir: str
    path: str
    replaces: tuple[tuple[str, str], ...] = ()
    """`replace` directives to local directories: (module path, workspace-relative dir)."""


@dataclass(frozen=True)
class Crate:
    """A Rust crate: its `Cargo.toml`'s directory, its name as code spells it (`-` -> `_`)
    and the files its module tree starts from (`src/lib.rs`, `src/main.rs`, `[lib] path`)."""

    dir: str
    name: str
    roots: tuple[str, ...]


def _read(root: str, rel: str) -> str | None:
    try:
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read(_MAX_MANIFEST_BYTES)
    except OSError:
        return None
    return data.decode("utf-8", "replace")


def find_upwards(root: str, dirs: Iterable[str], name: str) -> dict[str, str | None]:
    """For each directory, the nearest one at or above it (inside the workspace) holding a
    file called `name`; None when there is none. One `stat` per directory visited."""
    has: dict[str, bool] = {}
    out: dict[str, str | None] = {}
    for d in dirs:
        chain = []
        cur = d
        found: str | None = None
        while True:
            if cur in out:
                found = out[cur]
                break
            hit = has.get(cur)
            if hit is None:
                hit = has[cur] = os.path.isfile(os.path.join(root, cur, name))
            chain.append(cur)
            if hit:
                found = cur
                break
            if not cur:
                break
            cur = posixpath.dirname(cur)
        for c in chain:
            out[c] = found
    return out


# -- Go ------------------------------------------------------------------------------------

_GO_MODULE = re.compile(r'^module[ \t]+"?([^\s"]+)"?', re.MULTILINE)
_GO_REPLACE_ONE = re.compile(r"^replace[ \t]+(?!\()([^\n]+)$", re.MULTILINE)
_GO_REPLACE_BLOCK = re.compile(r"^replace[ \t]*\(([^)]*)\)", re.MULTILINE)


def parse_go_mod(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The module path of a `go.mod` and its `replace` directives that point at a local
    directory (`old [version] => ./dir`): Go's rule is that a replacement starting with
    `./`, `../` or `/` is a directory, anything else another module."""
    text = re.sub(r"//[^\n]*", "", text)
    m = _GO_MODULE.search(text)
    lines = [r.group(1) for r in _GO_REPLACE_ONE.finditer(text)]
    for block in _GO_REPLACE_BLOCK.finditer(text):
        lines += block.group(1).splitlines()
    replaces = []
    for line in lines:
        if "=>" not in line:
            continue
        old, new = line.split("=>", 1)
        old_words, new_words = old.split(), new.split()
        if not old_words or not new_words:
            continue
        target = new_words[0].strip('"')
        if target.startswith(("./", "../", "/")) or target in (".", ".."):
            replaces.append((old_words[0].strip('"'), target))
    return (m.group(1) if m else None), replaces


def go_modules(root: str, go_dirs: Iterable[str]) -> tuple[list[GoModule], dict[str, str | None]]:
    """The Go modules whose `go.mod` is at or above a directory holding `.go` files, and
    for each such directory the directory of its module (None: outside any module)."""
    owner = find_upwards(root, go_dirs, "go.mod")
    modules = []
    for d in sorted({d for d in owner.values() if d is not None}):
        text = _read(root, posixpath.join(d, "go.mod") if d else "go.mod")
        if text is None:
            continue
        path, replaces = parse_go_mod(text)
        if not path:
            log.debug("go.mod in %r names no module", d)
            continue
        local = []
        for old, new in replaces:
            if new.startswith("/"):
                rel = os.path.relpath(new, root).replace(os.sep, "/")
            else:
                rel = posixpath.normpath(posixpath.join(d, new))
            if rel == ".":
                rel = ""
            if not rel.startswith(".."):  # a directory outside the workspace is not indexed
                local.append((old, rel))
        modules.append(GoModule(d, path, tuple(local)))
    return modules, owner


# -- Rust ----------------------------------------------------------------------------------

_TOML_SECTION = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)
_TOML_KEY = re.compile(r'^[ \t]*(name|path)[ \t]*=[ \t]*"([^"]*)"', re.MULTILINE)


def _toml_sections(text: str) -> dict[str, dict[str, str]]:
    """`name` and `path` keys of each top-level table (all a crate's layout needs; a full
    TOML parser would read the same two strings)."""
    out: dict[str, dict[str, str]] = {}
    marks = list(_TOML_SECTION.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end() : end]
        out.setdefault(m.group(1).strip(), {}).update(
            {k.group(1): k.group(2) for k in _TOML_KEY.finditer(body)}
        )
    return out


def rust_crates(root: str, rs_dirs: Iterable[str], paths: set[str]) -> list[Crate]:
    """The crates whose `Cargo.toml` is at or above a directory holding `.rs` files."""
    owner = find_upwards(root, rs_dirs, "Cargo.toml")
    crates = []
    for d in sorted({d for d in owner.values() if d is not None}):
        text = _read(root, posixpath.join(d, "Cargo.toml") if d else "Cargo.toml")
        if text is None:
            continue
        sections = _toml_sections(text)
        name = sections.get("package", {}).get("name") or posixpath.basename(d) or "crate"
        lib = sections.get("lib", {})
        name = lib.get("name") or name
        roots = []
        for rel in (lib.get("path"), "src/lib.rs", "src/main.rs"):
            if rel:
                full = posixpath.normpath(posixpath.join(d, rel))
                if full in paths and full not in roots:
                    roots.append(full)
        crates.append(Crate(d, name.replace("-", "_"), tuple(roots)))
    return crates


# -- PHP -----------------------------------------------------------------------------------


def psr4_roots(root: str, php_dirs: Iterable[str]) -> list[tuple[str, str]]:
    """PSR-4 autoload roots of the `composer.json` files at or above PHP directories:
    (namespace prefix with a trailing `\\`, workspace-relative directory), longest first."""
    owner = find_upwards(root, php_dirs, "composer.json")
    out = []
    for d in sorted({d for d in owner.values() if d is not None}):
        text = _read(root, posixpath.join(d, "composer.json") if d else "composer.json")
        try:
            data = json.loads(text) if text else None
        except ValueError:
            log.debug("composer.json in %r is not JSON", d)
            continue
        if not isinstance(data, dict):
            continue
        for section in ("autoload", "autoload-dev"):
            psr4 = (data.get(section) or {}).get("psr-4") or {}
            if not isinstance(psr4, dict):
                continue
            for prefix, dirs in psr4.items():
                for sub in [dirs] if isinstance(dirs, str) else dirs or []:
                    if isinstance(prefix, str) and isinstance(sub, str):
                        rel = posixpath.normpath(posixpath.join(d, sub)) if sub else d
                        out.append((prefix, "" if rel == "." else rel))
    out.sort(key=lambda x: -len(x[0]))
    return out
