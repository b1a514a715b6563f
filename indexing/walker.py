"""Which files of a workspace the index reads, and why it leaves the others out.

Nothing here raises on a bad file or directory: each is skipped with a reason (the keys of
`SKIP_REASONS`) and counted, so the summary can say what was left out and why.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from indexing.ignore import ALWAYS_SKIPPED_DIRS, IgnoreRules, Rule, in_secret_dir, is_secret
from indexing.languages import LanguageSpec, language_for, needs_head

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 256
"""Directory levels below the root; deeper ones are skipped ("too deep")."""

SKIP_REASONS = {
    "ignored": "excluded by .gitignore, .focalignore, .aiignore or .aiexclude",
    "secret": "may hold credentials (.env, keys, .netrc, ...): never indexed",
    "not source": "no grammar for this file type",
    "too large": "over the size limit",
    "binary": "contains NUL bytes",
    "invalid utf-8": "not valid UTF-8 text",
    "unreadable": "permission denied or not a regular file",
    "vanished": "deleted while the index was being built",
    "symlink loop": "a symlink that leads back into a directory already walked",
    "symlink outside workspace": "a symlink to a place outside the workspace",
    "broken symlink": "a symlink to nothing",
    "too deep": "nested deeper than the walker goes",
    "parse failed": "the parser failed on it (a bug: please report it)",
}


class Skip(Exception):
    """A file left out; `reason` is a key of SKIP_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Candidate:
    """A source file the index should read."""

    path: str
    """Absolute path."""
    rel: str
    """Workspace-relative path with `/` separators: the file's key in the index."""
    language: LanguageSpec
    size: int
    mtime_ns: int


def walk(
    root: str,
    rules: IgnoreRules,
    skipped: Counter[str],
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_depth: int = MAX_DEPTH,
    start: str = "",
) -> Iterator[Candidate]:
    """Source files under `root` (or its subdirectory `start`, workspace-relative) that
    may be indexed, in no particular order. Skips are counted into `skipped`."""
    root = os.path.abspath(root)
    real_root = os.path.realpath(root)
    try:
        st = os.stat(root)
    except OSError:
        skipped["vanished"] += 1
        return
    visited = {(st.st_dev, st.st_ino)}
    layers: list[tuple[str, tuple[Rule, ...]]] = []
    if start:
        parts = start.split("/")
        for i in range(len(parts)):
            base = "/".join(parts[:i])
            layers.append((base, rules.rules_in(base)))
        if rules.is_ignored(start, is_dir=True):
            skipped["ignored"] += 1
            return
    # (directory, depth, ignore layers above it, reached through a symlink)
    stack = [(start, start.count("/") + 1 if start else 0, layers, False)]
    while stack:
        rel_dir, depth, parent_layers, via_link = stack.pop()
        abs_dir = os.path.join(root, rel_dir) if rel_dir else root
        layers = [*parent_layers, (rel_dir, rules.rules_in(rel_dir))]
        # is_secret(rel) is this or is_secret(name): check the directories once, not per file
        secret_dir = in_secret_dir(rel_dir)
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except FileNotFoundError:
            skipped["vanished"] += 1
            continue
        except OSError as exc:
            skipped["symlink loop" if exc.errno == errno.ELOOP else "unreadable"] += 1
            continue
        for entry in entries:
            name = entry.name
            if not _utf8(name):
                # An undecodable name cannot be a key in the index (nor shown in an editor).
                skipped["invalid utf-8"] += 1
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    kind = _link_kind(entry.path, real_root)
                elif entry.is_dir(follow_symlinks=False):
                    kind = "dir"
                else:
                    # FIFOs, sockets, devices: opening one could block the walk forever.
                    kind = "file" if entry.is_file(follow_symlinks=False) else "other"
            except Skip as s:
                skipped[s.reason] += 1
                continue
            except OSError:
                skipped["vanished"] += 1
                continue
            if kind == "dir":
                if name in ALWAYS_SKIPPED_DIRS:
                    continue
                if rules.match(rel, True, layers):
                    skipped["ignored"] += 1
                    continue
                if depth + 1 > max_depth:
                    skipped["too deep"] += 1
                    continue
                try:
                    dst = entry.stat(follow_symlinks=True)
                except OSError:
                    skipped["vanished"] += 1
                    continue
                key = (dst.st_dev, dst.st_ino)
                if key in visited:
                    skipped["symlink loop"] += 1
                    continue
                visited.add(key)
                stack.append((rel, depth + 1, layers, via_link or is_link))
                continue
            if kind != "file":
                skipped["unreadable"] += 1
                continue
            linked = is_link or via_link
            if (
                secret_dir
                or is_secret(name)
                or (linked and is_secret(os.path.realpath(entry.path)))
            ):
                skipped["secret"] += 1
                continue
            if rules.match(rel, False, layers):
                skipped["ignored"] += 1
                continue
            spec = language_for(name)
            if spec is None and needs_head(name):
                spec = language_for(name, read_head(entry.path))
            if spec is None:
                skipped["not source"] += 1
                continue
            try:
                fst = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                skipped["vanished"] += 1
                continue
            except OSError:
                skipped["unreadable"] += 1
                continue
            if fst.st_size > max_bytes:
                skipped["too large"] += 1
                continue
            yield Candidate(entry.path, rel, spec, fst.st_size, fst.st_mtime_ns)


def _link_kind(path: str, real_root: str) -> str:
    """`dir` or `file` for a symlink we may follow; Skip for one we must not."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Skip("symlink loop") from None
        raise Skip("broken symlink") from None
    target = os.path.realpath(path)
    if target != real_root and not target.startswith(real_root + os.sep):
        raise Skip("symlink outside workspace")
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def read_head(path: str, n: int = 128) -> bytes:
    """The first bytes of a regular file (for its `#!` line); b"" for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, n) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_source(path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes, checked to be UTF-8 text within the size limit; raises Skip."""
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the walk must not hang the index.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Skip("vanished", path) from None
    except OSError as exc:
        reason = "symlink loop" if exc.errno == errno.ELOOP else "unreadable"
        raise Skip(reason, f"{path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Skip("unreadable", f"{path}: not a regular file")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise Skip("unreadable", f"{path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return check_source(data, max_bytes, path)


def check_source(data: bytes, max_bytes: int = MAX_FILE_BYTES, path: str = "") -> bytes:
    """`data` if it is UTF-8 text within the size limit; raises Skip otherwise."""
    if len(data) > max_bytes:
        raise Skip("too large", path)
    if b"\0" in data:
        raise Skip("binary", path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Skip("invalid utf-8", f"{path}: byte {exc.start}") from None
    return data
