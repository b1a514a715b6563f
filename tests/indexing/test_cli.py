"""`focal index` and `focal symbols` as a user runs them."""

from __future__ import annotations

import io
import json

from indexing.cli import ProgressBar
from indexing.indexer import BuildProgress
from lsp_server.cli import main
from tests.indexing.conftest import write_tree


def _tree(ws):
    return write_tree(
        ws,
        {
            "app.py": "class Server:\n    def start(self): pass\n",
            "web/main.ts": "export function startServer(): void {}\n",
            ".env": "KEY=1\n",
            "logo.png": b"\x89PNG\x00",
        },
    )


def test_index_prints_a_summary(workspace, tmp_path, capsys):
    _tree(workspace)
    assert main(["index", str(workspace), "--db", str(tmp_path / "i.db")]) == 0
    out = capsys.readouterr()
    assert "Indexed 2 files, 3 symbols" in out.out
    assert "python 1" in out.out and "typescript 1" in out.out
    assert "secret" in out.out and "not source" in out.out
    assert "\r" not in out.err  # no progress bar when stderr is not a terminal


def test_index_json(workspace, tmp_path, capsys):
    _tree(workspace)
    main(["index", str(workspace), "--json", "--db", str(tmp_path / "i.db")])
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == 2 and data["symbols"] == 3
    assert data["skipped"] == {"secret": 1, "not source": 1}
    assert data["languages"] == {"python": 1, "typescript": 1}
    assert data["db"].endswith("i.db")


def test_index_of_missing_dir_is_an_error(tmp_path, capsys):
    assert main(["index", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_symbols(workspace, tmp_path, capsys):
    _tree(workspace)
    db = str(tmp_path / "i.db")
    assert main(["symbols", "start", "--root", str(workspace), "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("app.py:2:5  method    Server.start  def start(self)")
    assert lines[1].startswith("web/main.ts:1:8  function  startServer")
    assert main(["symbols", "startServer", "--root", str(workspace), "--db", db, "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert found["path"] == "web/main.ts" and found["kind"] == "function"
    assert main(["symbols", "zzzz", "--root", str(workspace), "--db", db]) == 1


def test_noai_project(workspace, tmp_path, capsys):
    _tree(workspace)
    (workspace / ".noai").touch()
    assert main(["index", str(workspace), "--db", str(tmp_path / "i.db")]) == 0
    assert "AI features are off" in capsys.readouterr().out


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only():
    tty = _Tty()
    bar = ProgressBar(tty)
    bar(BuildProgress(5, 10, "src/a.py"))
    bar(BuildProgress(10, 10, "src/b.py"))
    bar.close()
    assert "[###############---------------] 5/10 src/a.py" in tty.getvalue()
    assert "10/10" in tty.getvalue()
    plain = io.StringIO()
    bar = ProgressBar(plain)
    bar(BuildProgress(5, 10, "a.py"))
    bar.close()
    assert plain.getvalue() == ""


def test_unwritable_database_is_a_clear_error(workspace, tmp_path, capsys):
    _tree(workspace)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["index", str(workspace), "--db", str(blocker / "sub" / "i.db")]) == 2
    err = capsys.readouterr().err
    assert "cannot open the index database" in err and "--db" in err
