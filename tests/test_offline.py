"""The offline guarantee: the suite runs with every non-loopback connection refused (see
tests/offline/sitecustomize.py), and Focal in its default configuration makes none."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _attempts() -> str:
    return Path(os.environ["FOCAL_OFFLINE_LOG"]).read_text()


def test_the_guard_refuses_and_records_what_would_leave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("FOCAL_OFFLINE_LOG", str(log))  # the proxy listener's log too
    code = (
        "import socket, urllib.request\n"
        "for target in [('1.1.1.1', 53), ('127.0.0.1', 9)]:\n"
        "    s = socket.socket()\n"
        "    try:\n"
        "        s.connect(target)\n"
        "    except OSError as e:\n"
        "        print(target[0], type(e).__name__)\n"
        "try:\n"
        "    urllib.request.urlopen('https://huggingface.co', timeout=2)\n"
        "except OSError as e:\n"
        "    print('hf', type(e).__name__)\n"
    )
    env = {**os.environ, "FOCAL_OFFLINE_LOG": str(log)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    ).stdout
    assert "1.1.1.1 ConnectionRefusedError" in out  # refused by the guard, not the network
    assert "127.0.0.1 ConnectionRefusedError" in out  # loopback: really tried (nothing there)
    assert "hf URLError" in out
    recorded = log.read_text()
    assert "connection to 1.1.1.1:53" in recorded
    # urllib honours the proxy variables: the loopback proxy refuses and records it.
    assert "proxy: CONNECT huggingface.co:443" in recorded, recorded
    assert "127.0.0.1:9" not in recorded


def test_this_process_is_guarded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FOCAL_OFFLINE_LOG", str(tmp_path / "attempts.log"))  # expected ones
    with pytest.raises(OSError):
        urllib.request.urlopen("http://example.com", timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("8.8.8.8", 53), timeout=2)
    assert "connection to 8.8.8.8:53" in (tmp_path / "attempts.log").read_text()


def test_focal_in_its_default_configuration_connects_nowhere(tmp_path: Path):
    # The main job end to end (model discovery, load, completion), then the other commands.
    before = _attempts()
    for args in (
        ["complete", "examples/stats.py:12:12"],
        ["model-info", "--json"],
        ["models", "--json"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "lsp_server", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert _attempts() == before


def test_a_child_that_is_not_python_fails_closed_and_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # git (libcurl) has no sitecustomize: the proxy variables are its guard.
    git = shutil.which("git")
    assert git is not None, "git is needed by the suite"
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("FOCAL_OFFLINE_LOG", str(log))  # the listener records there
    done = subprocess.run(
        [git, "ls-remote", "https://github.com/JetBrains/Mellum.git"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    assert done.returncode != 0
    assert "403" in done.stderr, done.stderr  # the listener's refusal, not the network's
    assert "proxy: CONNECT github.com:443" in log.read_text()


def test_the_reliability_suites_servers_keep_the_guard(tmp_path: Path):
    from tests.reliability.conftest import server_env

    env = {**server_env(tmp_path / "home"), "FOCAL_OFFLINE_LOG": str(tmp_path / "attempts.log")}
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert "offline guard" in done.stdout, done.stdout + done.stderr
    assert "connection to 1.1.1.1:53" in (tmp_path / "attempts.log").read_text()
