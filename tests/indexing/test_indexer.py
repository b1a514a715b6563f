"""Building incrementally, keeping up with edits, and answering queries."""

from __future__ import annotations

import os

import pytest

from tests.indexing.conftest import write_tree
from tests.indexing.samples import SAMPLES


def test_multi_language_tree(workspace, open_index):
    write_tree(workspace, {f"src/{name}": src for name, (src, _, _) in SAMPLES.items()})
    index = open_index(workspace)
    summary = index.build()
    assert summary.files == len(SAMPLES)
    assert len(summary.languages) >= 12
    assert summary.symbols == index.stats().symbols > 50
    for name, (_, expected, _) in SAMPLES.items():
        got = {s.qualified_name: s.kind for s in index.symbols_in(workspace / "src" / name)}
        assert expected.items() <= got.items(), name


def test_incremental_build_parses_only_what_changed(workspace, open_index):
    write_tree(
        workspace, {"a.py": "def a(): pass\n", "b.py": "def b(): pass\n", "c.py": "def c(): pass\n"}
    )
    index = open_index(workspace)
    assert index.build().parsed == 3
    assert index.parse_count == 3

    second = index.build()
    assert (second.parsed, second.unchanged) == (0, 3)
    assert index.parse_count == 3

    # Touched but identical: the content hash says there is nothing to parse.
    st = os.stat(workspace / "a.py")
    os.utime(workspace / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    (workspace / "b.py").write_text("def b2(): pass\n")
    (workspace / "c.py").unlink()
    third = index.build()
    assert (third.parsed, third.removed) == (1, 1)
    assert index.parse_count == 4
    assert index.definitions("b2") and not index.definitions("b") and not index.definitions("c")


def test_reopening_keeps_the_index(workspace, tmp_path, open_index):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    db = tmp_path / "keep.sqlite3"
    first = open_index(workspace, db_path=db)
    first.build()
    first.close()
    again = open_index(workspace, db_path=db)
    assert again.build().parsed == 0
    assert again.definitions("a")


def test_update_file_and_remove_file(workspace, open_index):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    index = open_index(workspace)
    index.build()
    (workspace / "a.py").write_text("def a(): pass\n\ndef added(): pass\n")
    fi = index.update_file(workspace / "a.py")
    assert fi is not None and {s.name for s in fi.symbols} == {"a", "added"}
    assert index.update_file(workspace / "a.py") is None  # unchanged: not parsed again
    assert index.remove_file(workspace / "a.py")
    assert index.symbols_in("a.py") == []
    assert index.update_file("/elsewhere/x.py") is None


def test_update_text_indexes_an_unsaved_buffer(workspace, open_index):
    write_tree(workspace, {"a.py": "def on_disk(): pass\n"})
    index = open_index(workspace)
    index.build()
    index.update_text(workspace / "a.py", "def in_editor(): pass\n")
    assert index.definitions("in_editor") and not index.definitions("on_disk")
    # Once the buffer is gone, the next build goes back to the file on disk.
    index.build()
    assert index.definitions("on_disk") and not index.definitions("in_editor")


def test_search_ranks_exact_then_prefix_then_substring_then_fuzzy(workspace, open_index):
    write_tree(
        workspace,
        {
            "a.py": "def get_user(): pass\ndef get_user_by_id(): pass\n"
            "def forget_user_cache(): pass\ndef g_e_t_u(): pass\n",
            "b.ts": "export class UserStore { getUser(): void {} }\n",
        },
    )
    index = open_index(workspace)
    index.build()
    names = [s.name for s in index.search("get_user")]
    assert names[:3] == ["get_user", "get_user_by_id", "forget_user_cache"]
    assert index.search("UserStore.getUser")[0].qualified_name == "UserStore.getUser"
    assert "getUser" in [s.name for s in index.search("gtusr")]
    assert index.search("GETUSER")[0].name == "getUser"
    assert len(index.search("", limit=3)) == 3
    assert index.search("zzz_nothing") == []


def test_definitions_by_name_and_qualified_name(workspace, open_index):
    write_tree(
        workspace,
        {
            "a.py": "class A:\n    def run(self): pass\n",
            "b.py": "class B:\n    def run(self): pass\n",
        },
    )
    index = open_index(workspace)
    index.build()
    assert {s.qualified_name for s in index.definitions("run")} == {"A.run", "B.run"}
    assert [s.path for s in index.definitions("B.run")] == ["b.py"]


def test_imports_and_references_near_the_cursor(workspace, open_index):
    src = "import json\n\ndef load(p):\n    data = json.loads(p)\n    return parse(data)\n"
    write_tree(workspace, {"a.py": src})
    index = open_index(workspace)
    index.build()
    assert [i.module for i in index.imports_of("a.py")] == ["json"]
    assert index.importers_of("json") == ["a.py"]
    near = {r.name for r in index.references_near("a.py", 4, radius=0)}
    assert near == {"parse", "data"}
    edited = src + "    helper_from_buffer()\n"
    near = {r.name for r in index.references_near("a.py", 5, radius=0, text=edited)}
    assert near == {"helper_from_buffer"}


def test_progress_reports_every_parsed_file(workspace, open_index):
    write_tree(workspace, {f"m{i}.py": f"def f{i}(): pass\n" for i in range(12)})
    seen = []
    open_index(workspace).build(progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 13))
    assert all(p.total == 12 for p in seen)


def test_build_can_be_stopped(workspace, open_index):
    write_tree(workspace, {f"m{i}.py": f"def f{i}(): pass\n" for i in range(30)})
    index = open_index(workspace, workers=1)
    summary = index.build(should_stop=lambda: True)
    assert summary.cancelled and summary.files < 30
    assert index.build().files == 30  # the next build finishes the job


def test_parser_processes_give_the_same_index(workspace, tmp_path, open_index, monkeypatch):
    from indexing import parsing

    files = {f"d{i % 7}/m{i}.py": f"class C{i}:\n    def m(self): pass\n" for i in range(70)}
    files["bad.py"] = b"\xff\xfe not utf-8"
    write_tree(workspace, files)
    monkeypatch.setattr(parsing, "PARALLEL_MIN_FILES", 10)
    multi = open_index(workspace, workers=2)
    summary = multi.build()
    single = open_index(workspace, workers=1, db_path=tmp_path / "single.sqlite3")
    expected = single.build()
    assert (summary.files, summary.symbols, summary.skipped) == (
        expected.files,
        expected.symbols,
        expected.skipped,
    )
    assert multi.worker_peak_rss_kb > 0  # the work really ran in other processes
    assert multi.parse_count == 70
    assert multi.symbols_in("d3/m10.py") == single.symbols_in("d3/m10.py")
    assert multi.build().parsed == 0


def test_parser_processes_stop_when_the_build_fails(workspace, open_index, monkeypatch):
    """They start while the walk goes on; a build that fails before using them must not
    leave them running."""
    import multiprocessing

    from indexing import indexer, parsing
    from indexing.store import Store

    write_tree(workspace, {f"m{i}.py": f"def f{i}(): pass\n" for i in range(40)})
    monkeypatch.setattr(parsing, "PARALLEL_MIN_FILES", 10)
    monkeypatch.setattr(indexer, "_BATCH", 10)  # a bulk load, which is what fails here
    before = set(multiprocessing.active_children())
    started, stopped = [], []

    class Recorded(parsing.ParserPool):
        def __init__(self, workers: int) -> None:
            super().__init__(workers)
            started.append(self)

        def shutdown(self) -> None:
            super().shutdown()
            stopped.append(self)

    def broken_bulk(self):
        raise OSError("disk full")

    monkeypatch.setattr(parsing, "ParserPool", Recorded)
    monkeypatch.setattr(Store, "bulk", broken_bulk)
    index = open_index(workspace, workers=2)
    with pytest.raises(OSError, match="disk full"):
        index.build()
    assert len(started) == 1 and stopped == started
    assert set(multiprocessing.active_children()) <= before
    monkeypatch.undo()
    assert index.build().files == 40


@pytest.mark.parametrize(
    ("sizes", "workers"),
    [
        pytest.param([100] * 100, 2, id="even"),
        pytest.param([10] * 50 + [5000] * 3 + [10] * 50, 2, id="a-run-of-large-files"),
        pytest.param([1_000_000] + [1] * 40, 4, id="one-huge-file"),
        pytest.param([0] * 70, 2, id="empty-files"),
        pytest.param([], 2, id="nothing"),
    ],
)
def test_parser_tasks_share_the_bytes(sizes, workers):
    from indexing.languages import language_for
    from indexing.parsing import _CHUNK, chunked
    from indexing.walker import Candidate

    spec = language_for("a.py")
    todo = [Candidate(f"/w/m{i}.py", f"m{i}.py", spec, n, 0) for i, n in enumerate(sizes)]
    chunks = chunked(todo, workers)
    assert [c for chunk in chunks for c in chunk] == todo  # all of them, in order
    cap = sum(sizes) / (workers * 16)
    for chunk in chunks:
        assert 1 <= len(chunk) <= _CHUNK
        assert len(chunk) == 1 or sum(c.size for c in chunk) <= cap + 1
