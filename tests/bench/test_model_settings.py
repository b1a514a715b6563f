"""The speed-related model settings: parsed from the wire, refused when wrong, and handed to
the engine unchanged."""

from __future__ import annotations

import pytest

from inference.engine import EngineConfig
from lsp_server.models import engine_config
from lsp_server.settings import ModelSettings, parse_settings


@pytest.mark.parametrize(
    ("wire", "field", "value"),
    [
        pytest.param({}, "flash_attn", True, id="flash-attention-on-by-default"),
        pytest.param({}, "moe_experts", "auto", id="experts-auto-by-default"),
        pytest.param({}, "cache_type", "f16", id="f16-cache-by-default"),
        pytest.param({"flashAttn": False}, "flash_attn", False, id="flash-off"),
        pytest.param({"moeExperts": "cpu"}, "moe_experts", "cpu", id="experts-in-ram"),
        pytest.param({"cacheType": "q8_0"}, "cache_type", "q8_0", id="q8-cache"),
    ],
)
def test_parsed(wire: dict, field: str, value: object):
    settings, problems = parse_settings({"model": wire})
    assert problems == [] and getattr(settings.model, field) == value


@pytest.mark.parametrize(
    ("wire", "says"),
    [
        pytest.param({"moeExperts": "ram"}, "moe_experts", id="unknown-placement"),
        pytest.param({"cacheType": "q3"}, "cache_type", id="unknown-cache-type"),
        pytest.param({"flashAttn": "auto"}, "expected bool", id="flash-not-a-bool"),
    ],
)
def test_refused_with_the_section_falling_back(wire: dict, says: str):
    settings, problems = parse_settings({"model": {"path": "/m.gguf", **wire}})
    assert settings.model == ModelSettings()  # the whole section falls back
    assert len(problems) == 1 and "focal.model" in problems[0] and says in problems[0]


def test_engine_gets_every_speed_setting():
    s = ModelSettings(
        gpu_layers=12,
        context_length=8192,
        threads=3,
        flash_attn=False,
        moe_experts="cpu",
        cache_type="q4_0",
        fim_order="spm",
    )
    assert engine_config(s) == EngineConfig(
        n_gpu_layers=12,
        n_ctx=8192,
        n_threads=3,
        flash_attn=False,
        moe_experts="cpu",
        cache_type="q4_0",
        fim_order="spm",
    )
