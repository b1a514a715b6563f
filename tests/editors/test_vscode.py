"""The VS Code extension builds, its unit tests pass, and it offers the server's settings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lsp_server.settings import Settings, settings_to_wire
from tests.editors.tools import missing

EXT = Path(__file__).resolve().parents[2] / "editors" / "vscode"
NPM = shutil.which("npm")
needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not on PATH (Node.js 20+ needed)")


def _npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    proc = subprocess.run(
        [NPM, *args],
        cwd=EXT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"`npm {' '.join(args)}` failed in {EXT} ({proc.returncode}):\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@needs_npm
def test_extension_builds_and_its_unit_tests_pass():
    # Installing the node modules needs the network: .ci/run does it, never the suite.
    if not (EXT / "node_modules" / "vscode-languageclient").is_dir():
        missing(f"the extension's node modules are not installed: run `npm ci` in {EXT}")
    _npm("run", "build", timeout=180)
    assert (EXT / "out" / "src" / "extension.js").is_file()
    proc = _npm("test", timeout=120)
    summary = proc.stdout + proc.stderr
    assert "# fail 0" in summary, summary[-3000:]
    assert "# pass 0" not in summary, "npm test ran no tests"


def _leaves(tree: dict, prefix: str = "focal") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = value
    return out


def test_contributed_settings_are_the_servers_with_the_same_defaults():
    """Every server setting can be set in VS Code's settings UI, with the server's default;
    nothing is offered that the server would reject."""
    pkg = json.loads((EXT / "package.json").read_text())
    props = pkg["contributes"]["configuration"]["properties"]
    server = _leaves(settings_to_wire(Settings()))
    offered = {
        k: v["default"]
        for k, v in props.items()
        if not k.startswith(("focal.server.", "focal.trace."))
    }
    assert offered == server
    assert pkg["engines"]["vscode"] == "^1.91.0"
    client = pkg["dependencies"]["vscode-languageclient"].lstrip("^~>=")
    assert tuple(map(int, client.split("."))) >= (10, 0, 1)


def test_machine_specific_settings_are_read_from_user_settings_in_remote_windows():
    """In a remote window (code-server, SSH, containers) VS Code ignores User settings of
    scope `machine` or `machine-overridable`: `focal.server.path` set there read as empty
    and the extension said `focal` was not on PATH (issue 19). Paths and the remote engine
    are `window`-scoped, never synced to other machines, and restricted: an untrusted
    workspace cannot point them at a binary or turn on a remote engine."""
    pkg = json.loads((EXT / "package.json").read_text())
    props = pkg["contributes"]["configuration"]["properties"]
    scopes = {k: v.get("scope", "window") for k, v in props.items()}
    assert not {k for k, s in scopes.items() if s.startswith("machine")}, scopes
    for key in (
        "focal.server.path",
        "focal.server.pythonPath",
        "focal.model.path",
        "focal.privacy.allowRemote",
        "focal.remote.url",
    ):
        assert props[key]["scope"] == "window", key
        assert props[key]["restricted"] is True, key
        assert props[key]["ignoreSync"] is True, key
