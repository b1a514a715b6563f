"""The index follows edits, moves and deletions made on disk while it watches."""

from __future__ import annotations

import shutil

import pytest

from indexing.watcher import IndexWatcher
from tests.indexing.conftest import wait_for, write_tree

# watchdog's inotify backend warns when a directory it already watches is created again
# inside a recursive watch; harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


@pytest.fixture
def watched(workspace, open_index):
    write_tree(workspace, {"pkg/a.py": "def alpha(): pass\n", "b.py": "def beta(): pass\n"})
    index = open_index(workspace)
    index.build()
    watcher = IndexWatcher(index, debounce_s=0.1)
    watcher.start()
    yield workspace, index, watcher
    watcher.stop()


def _has(index, name: str) -> bool:
    return bool(index.definitions(name))


def test_edit_create_and_delete_files(watched):
    ws, index, _ = watched
    (ws / "pkg" / "a.py").write_text("def alpha2(): pass\n")
    wait_for(lambda: _has(index, "alpha2") and not _has(index, "alpha"), what="edit")
    (ws / "new.go").write_text("package x\nfunc Fresh() {}\n")
    wait_for(lambda: _has(index, "Fresh"), what="create")
    (ws / "b.py").unlink()
    wait_for(lambda: not _has(index, "beta"), what="delete")


def test_move_file_and_directory(watched):
    ws, index, _ = watched
    (ws / "b.py").rename(ws / "renamed.py")
    wait_for(lambda: [s.path for s in index.definitions("beta")] == ["renamed.py"], what="move")
    (ws / "pkg").rename(ws / "lib")
    wait_for(lambda: [s.path for s in index.definitions("alpha")] == ["lib/a.py"], what="dir move")
    shutil.rmtree(ws / "lib")
    wait_for(lambda: not _has(index, "alpha"), what="dir delete")


def test_new_directory_and_ignore_rules(watched):
    ws, index, _ = watched
    write_tree(ws, {"fresh/deep/c.py": "def gamma(): pass\n"})
    wait_for(lambda: _has(index, "gamma"), what="new directory")
    (ws / ".aiignore").write_text("fresh/\n")
    wait_for(lambda: not _has(index, "gamma"), what="ignore file change")
    (ws / "fresh" / "deep" / "c.py").write_text("def gamma2(): pass\n")
    (ws / "b.py").write_text("def beta2(): pass\n")
    wait_for(lambda: _has(index, "beta2"), what="later edit")
    assert not _has(index, "gamma2")  # still ignored


def test_secret_created_while_watching_is_not_indexed(watched):
    ws, index, _ = watched
    (ws / ".env").write_text("TOKEN=1\n")
    (ws / "visible.py").write_text("def visible(): pass\n")
    wait_for(lambda: _has(index, "visible"), what="create")
    assert ".env" not in index.store.paths_under("")


def test_bursts_are_debounced_into_few_batches(watched):
    ws, index, watcher = watched
    before = watcher.batches
    for i in range(30):
        (ws / "b.py").write_text(f"def beta_{i}(): pass\n")
    wait_for(lambda: _has(index, "beta_29"), what="last write")
    assert watcher.batches - before <= 5
    assert not _has(index, "beta_3")


def test_stop_is_clean_and_idempotent(workspace, open_index):
    index = open_index(workspace)
    watcher = IndexWatcher(index)
    watcher.start()
    watcher.stop()
    watcher.stop()
    assert watcher._worker is None and watcher._observer is None
