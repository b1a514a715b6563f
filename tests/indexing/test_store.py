"""The database: where it lives, that it rebuilds on a schema change, that it is a cache."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from indexing import store as store_mod
from indexing.extract import extract, extract_rows
from indexing.indexer import Index
from indexing.languages import language_for
from indexing.store import Store, default_db_path
from tests.indexing.conftest import write_tree


def test_default_location_is_user_cache_keyed_by_root(workspace, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    a, b = default_db_path(workspace), default_db_path(other)
    assert a != b
    assert str(a).startswith(os.environ["XDG_CACHE_HOME"])  # the tests' isolated cache
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    with Index.open(workspace) as index:
        index.build()
        assert index.db_path == a and a.exists()


def test_schema_version_mismatch_rebuilds(workspace, tmp_path, monkeypatch):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    db = tmp_path / "i.sqlite3"
    with Index.open(workspace, db_path=db) as index:
        index.build()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.execute("CREATE TABLE leftover (x)")
    conn.commit()
    conn.close()
    with Index.open(workspace, db_path=db) as index:
        assert index.stats().files == 0  # nothing kept from the old schema
        summary = index.build()
        assert summary.parsed == 1 and index.definitions("a")
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert "leftover" not in tables


def test_corrupt_database_is_replaced(workspace, tmp_path):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    db = tmp_path / "i.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with Index.open(workspace, db_path=db) as index:
        assert index.build().files == 1


def test_deleting_the_database_while_open_costs_a_rebuild_only(workspace, tmp_path):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    db = tmp_path / "i.sqlite3"
    with Index.open(workspace, db_path=db) as index:
        index.build()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                os.unlink(f"{db}{suffix}")
        summary = index.build()
        assert summary.parsed == 1 and db.exists()
        assert [s.name for s in index.definitions("a")] == ["a"]


def test_readers_in_threads_while_writing(workspace, tmp_path):
    write_tree(workspace, {f"m{i}.py": f"def f{i}(): pass\n" for i in range(30)})
    with Index.open(workspace, db_path=tmp_path / "i.sqlite3") as index:
        index.build()
        errors: list[BaseException] = []

        def read():
            try:
                for _ in range(50):
                    assert index.definitions("f1")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(30):
            (workspace / f"m{i}.py").write_text(f"def f{i}(): pass\ndef g{i}(): pass\n")
            index.update_file(workspace / f"m{i}.py")
        for t in threads:
            t.join()
        assert not errors
        assert index.stats().symbols == 60


def test_schema_constant_is_recorded(workspace, tmp_path):
    db = tmp_path / "i.sqlite3"
    Index.open(workspace, db_path=db).close()
    row = sqlite3.connect(db).execute("SELECT value FROM meta WHERE key='schema_version'")
    assert row.fetchone()[0] == str(store_mod.SCHEMA_VERSION)


def _sample_params():
    from tests.indexing.samples import OPTIONAL_SAMPLES, SAMPLES

    samples = {**SAMPLES, **OPTIONAL_SAMPLES}
    # Columns count code points, not bytes: the rows must agree on that too.
    samples["unicode.py"] = ('"""Ünï."""\nclass Café:\n    def naïve(self): "ß"\n', {}, set())
    for name, (source, _, _) in samples.items():
        yield pytest.param(name, source, id=name)


@pytest.mark.parametrize(("name", "source"), list(_sample_params()))
def test_bulk_rows_store_what_a_single_update_stores(tmp_path, name, source):
    """A full build stores the rows parser processes send (`FileRows`); a saved file
    stores its `FileIndex`. Both must come back as the same symbols and imports."""
    spec = language_for(name)
    if spec is None:
        pytest.skip(f"no grammar for {name}")
    data = source.encode()
    fi = extract(name, data, spec, content_hash="h")
    stored = []
    for i, item in enumerate([fi, extract_rows(name, data, spec, "h")]):
        st = Store(tmp_path / f"{i}.sqlite3", str(tmp_path))
        st.put([(item, len(data), 1)])
        stored.append((st.in_file(name), st.imports_of(name), st.file_state(name)))
        st.close()
    assert stored[0] == stored[1]
    assert sorted(stored[1][0], key=lambda s: (s.line, s.column)) == sorted(
        fi.symbols, key=lambda s: (s.line, s.column)
    )


def test_bulk_load_restores_indexes_and_durability(tmp_path):
    st = Store(tmp_path / "i.sqlite3", str(tmp_path))
    with st.bulk():
        assert st._writer.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    assert st._writer.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    names = {r[0] for r in st._writer.execute("SELECT name FROM sqlite_master")}
    assert set(store_mod._INDEXES) <= names
    st.close()
