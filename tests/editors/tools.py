"""Editors the suite drives but pip does not install (VS Code's packages, code-server, GNU
Emacs): `.ci/run` installs them, and there a missing one is a failure. On a developer's
machine that has not installed them, the test says what to install and is skipped, so that
the README's test command stays true on a fresh machine."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message: str) -> None:
    """Fail in CI, skip elsewhere: `message` says what is missing and how to install it."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
