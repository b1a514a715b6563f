"""Multi-file fixture repositories (Python, TypeScript, Go) copied to tmp dirs, with the
files that must never reach a prompt added there: secrets, ignored and excluded files."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexing.indexer import Index
from indexing.retrieval import Retriever

FIXTURES = Path(__file__).parent / "fixtures"

# Files no prompt may contain, whatever the cursor: each mentions the fixture's functions so
# that, if it were ever a candidate, it would rank.
FORBIDDEN = {
    ".env": "API_KEY=sk-live-1234\napply_discount = formatPrice = Open\n",
    "config/credentials.json": '{"token": "apply_discount formatPrice Open"}\n',
    ".gitignore": "build/\n",
    ".aiignore": "private/\n",
    "build/generated.py": "def apply_discount(price, percent):\n    return 0\n",
    "build/generated.ts": "export function formatPrice(c: number): string { return ''; }\n",
    "build/generated.go": "package store\n\nfunc Open(path string) {}\n",
    "private/notes.py": "def apply_discount(price, percent):\n    return -1\n",
    "private/notes.ts": "export function formatPrice(c: number): string { return 'x'; }\n",
}
FORBIDDEN_PREFIXES = (".env", "config/", "build/", "private/")


def forbidden(path: str) -> bool:
    return path.startswith(FORBIDDEN_PREFIXES)


def at(text: str, marker: str, nth: int = 1) -> int:
    """Offset just after the `nth` occurrence of `marker` in `text`."""
    pos = -1
    for _ in range(nth):
        pos = text.index(marker, pos + 1)
    return pos + len(marker)


@pytest.fixture
def repo(tmp_path: Path) -> Callable[[str], Path]:
    """`repo("py_shop")`: a copy of that fixture with the forbidden files added."""

    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(FIXTURES / name, root)
        for rel, text in FORBIDDEN.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def indexed(tmp_path: Path, repo) -> Iterator[Callable[[str], tuple[Path, Index, Retriever]]]:
    """`indexed("py_shop")`: the copy, its built index, and a retriever over it."""
    opened: list[Index] = []

    def make(name: str) -> tuple[Path, Index, Retriever]:
        root = repo(name)
        index = Index.open(root, db_path=tmp_path / f"{name}.sqlite3", workers=1)
        index.build()
        opened.append(index)
        return root, index, Retriever(index)

    yield make
    for index in opened:
        index.close()
