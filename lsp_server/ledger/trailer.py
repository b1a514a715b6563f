"""Commit trailers naming the models whose accepted suggestions are in the staged changes.

`focal trailer` prints one `Assisted-by: focal (<model> <quant> sha256:<8 hex>)` line per
model, for a `prepare-commit-msg` hook or `git commit --trailer`.
"""

from __future__ import annotations

from pathlib import Path

from indexing.git import read_diff
from lsp_server.ledger.blame import best_match, document_key, index_for
from lsp_server.ledger.store import Ledger


def added_lines(patch: str) -> list[str]:
    """The lines a unified diff adds (`+` lines inside hunks; the `+++` header is not one)."""
    out: list[str] = []
    in_hunk = False
    for line in patch.split("\n"):
        if line.startswith("@@"):
            in_hunk = True
        elif line.startswith("diff --git"):
            in_hunk = False
        elif in_hunk and line.startswith("+"):
            out.append(line[1:])
    return out


def trailers(ledger: Ledger, repo_root: str | Path) -> list[str]:
    """`Assisted-by` trailers for the staged changes of the repository at `repo_root`,
    sorted by model name, quantization and digest; empty when nothing staged matches."""
    diff = read_diff(Path(repo_root), staged=True)
    idx = index_for(ledger)
    ids: set[str] = set()
    with idx.lock:
        idx.refresh(ledger)
        for f in diff.files:
            doc = document_key(str(diff.root / f.path))
            for line in added_lines(f.patch):
                best = best_match(idx.matches(line), doc)
                if best is not None:
                    ids.add(best[0].suggestion_id)
    models = {
        (r.model_name, r.quantization, r.model_digest[:8]) for r in ledger.records(ids).values()
    }
    return [f"Assisted-by: focal ({n} {q} sha256:{d})" for n, q, d in sorted(models)]
