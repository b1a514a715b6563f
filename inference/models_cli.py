"""`focal models` (what is on this machine) and `focal pull` (fetch one GGUF, on request)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from inference.discovery import DiscoveredModel, discover

_COLUMNS = ("name", "source", "arch", "size", "quant", "experts", "fim", "ctx")


def _size(n: int) -> str:
    if n <= 0:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]  # int becomes float on purpose
    raise AssertionError


def _row(m: DiscoveredModel) -> tuple[str, ...]:
    if not m.ok:
        return (m.name, m.source, "-", _size(m.size_bytes), "-", "-", "-", "-")
    experts = f"{m.expert_used_count}/{m.expert_count}" if m.is_moe else "-"
    ctx = f"{m.context_length // 1024}k" if m.context_length >= 1024 else str(m.context_length)
    fim = m.fim_family if m.supports_fim else "no"
    name = f"{m.name} ({m.file})" if m.source in ("huggingface", "lmstudio") and m.file else m.name
    return (name, m.source, m.architecture, _size(m.size_bytes), m.quantization, experts, fim, ctx)


def _as_json(m: DiscoveredModel) -> dict[str, Any]:
    return {
        "name": m.name,
        "source": m.source,
        "path": str(m.path),
        "file": m.file,
        "modelName": m.model_name,
        "architecture": m.architecture,
        "sizeBytes": m.size_bytes,
        "quantization": m.quantization,
        "parameters": m.n_params,
        "experts": m.expert_count,
        "expertsPerToken": m.expert_used_count,
        "fimFamily": m.fim_family,
        "contextLength": m.context_length,
        "chatTemplate": m.has_chat_template,
        "sha256": m.digest,
        "parts": m.parts,
        "error": m.error or None,
    }


def format_table(models: list[DiscoveredModel]) -> str:
    """An aligned table, then one line per unusable file saying why."""
    rows = [tuple(c.upper() for c in _COLUMNS), *(_row(m) for m in models)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    problems = [f"  {m.path}: {m.error}" for m in models if not m.ok]
    if problems:
        lines += ["", "Not usable:", *problems]
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    models = discover([Path(f) for f in args.folder or []], with_digest=args.digest)
    took = time.perf_counter() - t0
    if args.json:
        print(json.dumps([_as_json(m) for m in models], indent=2))
        return 0
    if not models:
        print(
            "No models found. Looked in the Hugging Face cache, LM Studio and Ollama; add "
            "folders with --folder DIR, or fetch one with `focal pull REPO FILE`."
        )
        return 0
    print(format_table(models))
    usable = sum(m.ok for m in models)
    print(f"\n{usable} usable of {len(models)} found in {took * 1000:.0f} ms", file=sys.stderr)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from inference.pull import PullError, pull

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and done < total:
            return
        last[0] = now
        pct = f" {100 * done / total:5.1f}%" if total else ""
        print(f"\r{args.file}: {done / 2**20:,.0f} MiB{pct}", end="", file=sys.stderr, flush=True)

    try:
        result = pull(args.repo, args.file, args.dest, args.revision, progress)
    except PullError as exc:
        print(f"\nfocal: {exc}", file=sys.stderr)
        return 2
    check = "verified" if result.verified else "not published by the Hub, not verified"
    print(f"\nsha256 {result.sha256} ({check})", file=sys.stderr)
    print(result.path)
    return 0


def add_commands(sub: Any) -> None:
    """Register `models` and `pull` on the `focal` command's subparsers."""
    p = sub.add_parser("models", help="list GGUF models on this machine (folders, HF, LM Studio…)")
    p.add_argument("--folder", action="append", metavar="DIR", help="also look here (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--digest", action="store_true", help="hash files to show their sha256 (slow)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("pull", help="download a GGUF from the Hugging Face Hub and verify it")
    p.add_argument("repo", metavar="REPO", help="e.g. Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF")
    p.add_argument("file", metavar="FILE", help="e.g. qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    p.add_argument("--dest", help="download into this folder (default: the Hugging Face cache)")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.set_defaults(func=cmd_pull)
