"""`focal.context` settings: parsed, defaulted, and wrong values reported."""

from __future__ import annotations

import pytest

from lsp_server.settings import ContextSettings, parse_settings


@pytest.mark.parametrize(
    ("raw", "expected", "problem"),
    [
        pytest.param({}, ContextSettings(), None, id="defaults"),
        pytest.param(
            {"budgetTokens": 256, "similar": False, "excludeGlobs": ["gen/", "*.min.js"]},
            ContextSettings(budget_tokens=256, similar=False, exclude_globs=("gen/", "*.min.js")),
            None,
            id="valid",
        ),
        pytest.param({"budgetTokens": 0}, ContextSettings(budget_tokens=0), None, id="off"),
        pytest.param({"budgetTokens": -5}, ContextSettings(), "budgetTokens must be", id="neg"),
        pytest.param({"excludeGlobs": "gen/"}, ContextSettings(), "list of strings", id="str"),
        pytest.param({"imports": "yes"}, ContextSettings(), "expected bool", id="not-bool"),
        pytest.param({"budget": 5}, ContextSettings(), "unknown keys budget", id="typo"),
    ],
)
def test_context_settings(raw, expected, problem):
    settings, problems = parse_settings({"focal": {"context": raw}})
    assert settings.context == expected
    if problem is None:
        assert problems == []
    else:
        (message,) = problems
        assert "focal.context" in message and problem in message
