"""The index benchmark runs end to end on a small tree (the real run is on the stdlib)."""

from __future__ import annotations

import json
import shutil

import pytest

from indexing.bench import format_result, run_bench
from lsp_server.cli import main
from tests.indexing.conftest import write_tree


def _tree(root):
    files = {f"pkg/m{i}.py": f"def f{i}(x):\n    return x\n" * (i + 1) for i in range(9)}
    files["pkg/argparse.py"] = "class ArgumentParser:\n    def parse_args(self): pass\n"
    return write_tree(root, files)


def test_bench_reports_every_figure(workspace):
    result = run_bench(_tree(workspace), runs=3, log=lambda m: None)
    assert result.files == 10 and result.symbols == 47
    assert result.one_file.startswith("pkg/m") and result.one_file_ms > 0
    assert result.large_file == "pkg/m8.py"  # the 95th percentile by size
    assert result.peak_rss_mb > 0
    if shutil.which("ctags"):
        assert result.ctags_seconds is not None and result.ratio is not None
    text = format_result(result)
    assert "focal/ctags" in text or "ctags not found" in text
    assert "median" in text
    assert list(workspace.rglob("*.py"))  # the tree itself is left alone


@pytest.mark.parametrize("flag", ["--json"])
def test_focal_index_bench_json(workspace, capsys, flag):
    assert main(["index", "--bench", str(_tree(workspace)), "--runs", "2", flag]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == 10 and data["runs"] == 2
