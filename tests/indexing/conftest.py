"""Real files in tmp dirs and real SQLite databases; nothing mocked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexing.indexer import Index


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def open_index(tmp_path: Path) -> Iterator[Callable[..., Index]]:
    opened: list[Index] = []

    def _open(root: Path, **options) -> Index:
        options.setdefault("db_path", tmp_path / f"index-{len(opened)}.sqlite3")
        idx = Index.open(root, **options)
        opened.append(idx)
        return idx

    yield _open
    for idx in opened:
        idx.close()
