"""The settings converter: camelCase wire format, per-section fallback with a clear message."""

from __future__ import annotations

import pytest

from lsp_server.settings import Settings, parse_settings, settings_to_wire


@pytest.mark.parametrize(
    ("raw", "path", "value"),
    [
        pytest.param({"model": {"gpuLayers": 0}}, ("model", "gpu_layers"), 0, id="camel-case"),
        pytest.param(
            {"focal": {"model": {"path": "/m.gguf"}}}, ("model", "path"), "/m.gguf", id="wrapped"
        ),
        pytest.param(
            {"completion": {"maxTokens": 128}}, ("completion", "max_tokens"), 128, id="max-tokens"
        ),
        pytest.param(
            {"completion": {"temperature": 1}},
            ("completion", "temperature"),
            1.0,
            id="int-for-float",
        ),
        pytest.param({"model": {"fimOrder": "spm"}}, ("model", "fim_order"), "spm", id="fim-order"),
        pytest.param(None, ("model", "gpu_layers"), -1, id="none-is-defaults"),
        pytest.param(None, ("privacy", "redact_secrets"), "remote", id="redact-default"),
        pytest.param(
            {"privacy": {"redactSecrets": "always"}},
            ("privacy", "redact_secrets"),
            "always",
            id="redact-always",
        ),
    ],
)
def test_valid_settings(raw, path, value) -> None:
    settings, problems = parse_settings(raw)
    section, field = path
    assert getattr(getattr(settings, section), field) == value
    assert problems == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"completion": {"maxTokens": 0}}, "maxTokens must be between 1 and 4096", id="range"
        ),
        pytest.param(
            {"index": {"enabled": "yes"}}, "expected bool, got 'yes'", id="no-truthy-strings"
        ),
        pytest.param({"model": {"gpuLayers": "all"}}, "expected int", id="type"),
        pytest.param({"model": {"fimOrder": "middle"}}, "fim_order", id="choice"),
        pytest.param(
            {"privacy": {"redactSecrets": "sometimes"}}, "redact_secrets", id="redact-choice"
        ),
        pytest.param({"model": {"pth": "/x"}}, "unknown keys pth", id="typo"),
        pytest.param({"modle": {}}, "Unknown Focal settings ignored: modle", id="unknown-section"),
        pytest.param(["not", "an", "object"], "must be an object", id="not-an-object"),
    ],
)
def test_invalid_settings_fall_back_and_say_why(raw, message) -> None:
    settings, problems = parse_settings(raw)
    assert any(message in p for p in problems), problems
    assert settings == Settings() or isinstance(raw, dict)


def test_one_bad_section_keeps_the_good_ones() -> None:
    settings, problems = parse_settings(
        {"model": {"path": "/m.gguf"}, "completion": {"maxTokens": -5}}
    )
    assert settings.model.path == "/m.gguf"
    assert settings.completion.max_tokens == Settings().completion.max_tokens
    assert len(problems) == 1 and "focal.completion" in problems[0]


def test_round_trip_through_the_wire_format() -> None:
    wire = settings_to_wire(Settings())
    assert wire["model"]["gpuLayers"] == -1 and wire["completion"]["timeBudgetMs"] == 3000
    assert parse_settings(wire) == (Settings(), [])
