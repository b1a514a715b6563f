"""focal.el in a real GNU Emacs (lsp-mode, batch mode) against `focal serve`: the settings a
user sets reach the server once, as the first model loaded, with nothing ignored.

Needs `emacs` with lsp-mode (Debian: `apt-get install emacs-nox elpa-lsp-mode`; .ci/run
installs them). Without them the test fails in CI and is skipped elsewhere
(`tests/editors/tools.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.editors.tools import missing

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("emacs_driver.el")
EMACS = shutil.which("emacs")

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, model: Path) -> dict:
    if EMACS is None:
        missing("GNU Emacs is not installed: apt-get install emacs-nox elpa-lsp-mode")
    assert EMACS is not None
    root = tmp_path / "project"
    root.mkdir()
    (root / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    home = tmp_path / "emacs-home"
    home.mkdir()
    log = tmp_path / "focal.log"
    config = {
        "elisp": str(ROOT / "editors" / "emacs"),
        "command": [sys.executable, "-m", "lsp_server", "serve", "--log-file", str(log)],
        "model": str(model),
        "root": str(root),
        "file": "stats.py",
        "home": str(home),
        "result": str(tmp_path / "result.json"),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env["PYTHONPATH"]) if p)
    proc = subprocess.run(
        [EMACS, "--batch", "-l", str(DRIVER), str(tmp_path / "config.json")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    result_file = tmp_path / "result.json"
    assert result_file.exists(), (
        f"emacs wrote no result ({proc.returncode}):\n{proc.stderr[-4000:]}"
    )
    result = json.loads(result_file.read_text())
    result["log"] = log.read_text(errors="replace") if log.exists() else ""
    result["stderr"] = proc.stderr
    return result


def test_lsp_mode_sends_the_users_settings_once_and_the_first_model_is_theirs(
    tmp_path: Path, tiny_model: Path
):
    result = _run(tmp_path, tiny_model)
    assert result.get("error") is None, f"{result['error']}\n{result['stderr'][-4000:]}"
    status = result["status"]
    assert status["state"] == "ready", status
    assert status["model"]["path"] == str(tiny_model)
    said = "\n".join(result["messages"]) + "\n" + result["log"]
    assert "Unknown Focal settings" not in said, said[-3000:]
    # The first model loaded is the user's: the embedded demo model was never loaded.
    loaded = [ln for ln in result["log"].splitlines() if "model ready:" in ln]
    assert len(loaded) == 1 and "synthetic-mellum" in loaded[0], loaded
