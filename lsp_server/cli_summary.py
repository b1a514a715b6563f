"""`focal commit-message`: the diff summary on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.defaults import NO_MODEL_HELP, default_model_path
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import ModelError
from lsp_server.features.summary import SummaryFailed, summarize_repo


def _progress(message: str, percent: int) -> None:
    if sys.stderr.isatty():
        print(f"\r\x1b[2K{percent:3d}% {message}", end="", file=sys.stderr, flush=True)


def _trailers(root: Path) -> list[str]:
    try:
        from lsp_server.ledger.store import Ledger
        from lsp_server.ledger.trailer import trailers
    except ImportError:
        return []
    ledger = Ledger.open()
    try:
        return trailers(ledger, root)
    finally:
        ledger.close()


def cmd_commit_message(args: argparse.Namespace) -> int:
    path = default_model_path(args.model)
    if path is None:
        print(f"focal: {NO_MODEL_HELP}", file=sys.stderr)
        return 2
    try:
        engine = LlamaEngine.from_path(
            path, EngineConfig(n_gpu_layers=args.gpu_layers, n_ctx=args.ctx)
        )
        engine.wait_loaded()
    except ModelError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return 2
    try:
        summary = summarize_repo(
            engine,
            Path(args.repo),
            staged=not args.working_tree,
            progress=_progress,
            trailers=None if args.no_trailers else _trailers,
        )
    except SummaryFailed as exc:
        print(f"\nfocal: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    if sys.stderr.isatty():
        print("\r\x1b[2K", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_wire(), indent=2))
        return 0
    print(summary.text, end="")
    o = summary.message.origin
    print(
        f"\n── origin: {o.model_name} · {o.quantization} · sha256:{o.short_digest} · "
        f"{summary.message.files} files, {summary.message.passes} model passes, "
        f"{o.timing.total_ms:.0f} ms" + (" · diff clipped" if summary.message.clipped else ""),
        file=sys.stderr,
    )
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "commit-message", help="write a commit message for the staged changes (git diff --cached)"
    )
    p.add_argument("--repo", default=".", help="repository (default: the current directory)")
    p.add_argument("--working-tree", action="store_true", help="summarize unstaged changes instead")
    p.add_argument("--model", help="GGUF file (default: $FOCAL_MODEL or the embedded SmolLM2)")
    p.add_argument("--gpu-layers", type=int, default=-1)
    p.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    p.add_argument("--no-trailers", action="store_true", help="no Assisted-by trailers")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_commit_message)
