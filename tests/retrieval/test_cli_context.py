"""`focal context FILE:LINE:COL`: the chunks, their reasons and token counts, exactly what
the prompt gets; and `focal complete` uses the same context."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lsp_server.cli import main
from tests.retrieval.conftest import at

ROOT = Path(__file__).resolve().parents[2]


def _focal(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done


def _location(root: Path, rel: str, marker: str) -> str:
    text = (root / rel).read_text()
    head = text[: at(text, marker)]
    line = head.count("\n") + 1
    col = len(head) - (head.rfind("\n") + 1) + 1
    return f"{root / rel}:{line}:{col}"


def test_focal_context_shows_each_chunk_why_and_its_tokens(repo, tiny_model: Path, capsys):
    root = repo("ts_shop")
    loc = _location(root, "src/cart.ts", "return formatPrice(")
    model = ("--model", str(tiny_model))
    out = json.loads(_focal("context", loc, "--root", str(root), "--json", *model).stdout)
    chunks = out["chunks"]
    callee = next(c for c in chunks if c["path"] == "src/util/format.ts")
    assert callee["reason"].startswith("definition of `formatPrice` called at the cursor")
    assert callee["startLine"] == 1 and callee["text"].startswith("/** Formats an amount")
    assert "export function formatPrice(" in callee["text"]
    assert all(c["tokens"] > 0 for c in chunks)
    assert out["usedTokens"] == sum(c["tokens"] for c in chunks) <= out["budgetTokens"]
    # What it shows is what the prompt holds, in that order, before the document.
    prompt = "".join(p["text"] for p in out["prompt"]["pieces"])
    positions = [prompt.index(c["text"]) for c in chunks]
    assert positions == sorted(positions)
    assert positions[-1] < prompt.index("export class Cart")
    assert out["prompt"]["tokens"] > out["usedTokens"]
    assert not [c for c in chunks if c["path"].startswith((".env", "build/", "private/"))]

    # The text form (in this process: the command line is the same).
    assert main(["context", loc, "--root", str(root), *model]) == 0
    text = capsys.readouterr().out
    assert "why: definition of `formatPrice` called at the cursor" in text
    assert "│ export function formatPrice(cents: number" in text
    assert f"{callee['tokens']} tokens" in text

    # `focal complete` puts the same chunks in its prompt and lists them in its origin.
    done = _focal("complete", loc, "--root", str(root), "--json", "--max-tokens", "4", *model)
    used = json.loads(done.stdout)["origin"]["context"]
    assert [(c["path"], c["startLine"] + 1, c["reason"]) for c in used] == [
        (c["path"], c["startLine"], c["reason"]) for c in chunks
    ]


def test_focal_context_budget_and_sources_flags(repo, tiny_model: Path):
    root = repo("go_shop")
    loc = _location(root, "cmd/shop/main.go", "store.Open(")
    out = json.loads(
        _focal(
            "context",
            loc,
            "--root",
            str(root),
            "--json",
            "--budget",
            "300",
            "--no-imports",
            "--model",
            str(tiny_model),
        ).stdout
    )
    assert out["budgetTokens"] == 300 and out["usedTokens"] <= 300
    assert out["chunks"] and {c["source"] for c in out["chunks"]} <= {"definition", "similar"}
    best = max(out["chunks"], key=lambda c: c["score"])
    assert best["reason"].startswith("definition of `Open` called at the cursor")
