"""`focal complete` is a suggestion like any other: the ledger records it (task `cli`), as
the README promises for every suggestion Focal makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def focal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_focal_complete_is_recorded_in_the_ledger_with_task_cli(tiny_model: Path, tmp_path: Path):
    source = tmp_path / "scale.py"
    source.write_text("def scale(values, factor):\n    return \n")
    done = focal("complete", f"{source}:2:12", "--model", str(tiny_model), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["recorded"] is True
    audit = focal("audit", "--task", "cli", "--json", cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
    (record,) = json.loads(audit.stdout)
    assert record["id"] == printed["id"] and record["task"] == "cli"
    assert record["document"] == source.resolve().as_uri()
    assert (record["line"], record["character"]) == (1, 11)
    assert record["modelDigest"] == printed["origin"]["modelDigest"]
    assert [e["kind"] for e in record["events"]] == ["shown"]
    # The human-readable answer says where to find it.
    again = focal("complete", f"{source}:2:12", "--model", str(tiny_model), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(focal audit --task cli)" in again.stdout
    assert len(json.loads(focal("audit", "--task", "cli", "--json", cwd=tmp_path).stdout)) == 2


def test_a_ledger_that_cannot_be_written_costs_a_warning_not_the_completion(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocked = tmp_path / "state-is-a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    source = tmp_path / "scale.py"
    source.write_text("def scale(values, factor):\n    return \n")
    done = focal("complete", f"{source}:2:12", "--model", str(tiny_model), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recorded"] is False
    assert "not recorded in the ledger" in done.stderr
