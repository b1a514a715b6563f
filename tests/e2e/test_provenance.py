"""Which model touched this code: accept a suggestion over the wire, then find its owner
by hover, `focal blame` (after unrelated edits and after moving the lines) and `focal trailer`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.lsp_helpers import SERVER, end_of, inline_params, open_doc, plain, start

pytestmark = pytest.mark.slow

SOURCE = '''def mean(values):
    """Arithmetic mean."""
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return '''


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def focal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


async def _accept(client: LanguageClient, uri: str, text: str) -> tuple[str, str]:
    """Ask for an inline completion, insert it as an editor does, run its command."""
    line, col = end_of(text)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
    (item,) = result.items
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, col), types.Position(line, col)),
                    text=item.insert_text,
                )
            ],
        )
    )
    known = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=item.command.command, arguments=list(item.command.arguments)
        )
    )
    assert known is True
    return text + item.insert_text, plain(item.command.arguments[0])["suggestionId"]


async def test_accepted_code_is_attributed_to_its_model(
    client: LanguageClient, smollm2: Path, tmp_path: Path
):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    path = repo / "stats.py"
    path.write_text(SOURCE)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")

    await start(client, repo, {"model": {"path": str(smollm2)}})
    uri = open_doc(client, path, SOURCE)
    text, sid = await _accept(client, uri, SOURCE)
    accepted_line = len(SOURCE.split("\n")) - 1
    accepted = text.split("\n")[accepted_line]
    assert len(accepted.strip()) > len("return")

    # Hover on the accepted line names the model; on the user's own code, nothing.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(accepted_line, 6),
        )
    )
    assert hover is not None and "Q4_1" in hover.contents.value
    own = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 4)
        )
    )
    assert own is None
    origin = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="focal.showOrigin", arguments=[{"uri": uri, "line": accepted_line}]
        )
    )
    assert plain(origin)["id"] == sid

    # Unrelated edits above, then blame from the command line.
    edited = "import math\nimport statistics\n\n\n" + text + "\n"
    path.write_text(edited)
    blame = focal("blame", str(path), "--json", cwd=repo)
    assert blame.returncode == 0, blame.stderr
    lines = json.loads(blame.stdout)
    owned = {entry["line"]: entry for entry in _attributed(lines)}
    assert accepted_line + 4 in owned, lines
    assert owned[accepted_line + 4]["suggestionId"].startswith(sid[:8])
    assert "smollm2" in owned[accepted_line + 4]["model"].lower()
    assert 0 not in owned and 5 not in owned  # the user's own lines stay the user's

    # Move the accepted line into another function: still attributed.
    moved = f"def spread(values):\n    m = mean(values)\n{accepted}\n\n\n" + SOURCE + "\n"
    path.write_text(moved)
    lines = json.loads(focal("blame", str(path), "--json", cwd=repo).stdout)
    owned = {entry["line"]: entry for entry in _attributed(lines)}
    assert 2 in owned and owned[2]["suggestionId"].startswith(sid[:8])

    # Stage the change: the trailer names the model.
    path.write_text(text + "\n")
    git(repo, "add", "stats.py")
    trailer = focal("trailer", "--repo", str(repo), cwd=repo)
    assert trailer.returncode == 0, trailer.stderr
    assert "Assisted-by: focal (" in trailer.stdout
    assert "Q4_1 sha256:b179c952" in trailer.stdout

    # And the audit lists the suggestion with its acceptance.
    audit = json.loads(focal("audit", "--json", cwd=repo).stdout)
    entry = next(e for e in _records(audit) if e["id"] == sid)
    assert "accepted" in json.dumps(entry)


def _attributed(blame_json) -> list[dict]:
    rows = blame_json["lines"] if isinstance(blame_json, dict) else blame_json
    return [
        {
            "line": r.get("line"),
            "suggestionId": r.get("suggestionId") or r.get("suggestion_id") or "",
            "model": r.get("model") or r.get("modelName") or r.get("model_name") or "",
        }
        for r in rows
        if r.get("suggestionId") or r.get("suggestion_id")
    ]


def _records(audit_json) -> list[dict]:
    return audit_json["suggestions"] if isinstance(audit_json, dict) else audit_json
