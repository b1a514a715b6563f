"""`focal index` and `focal symbols`: build the index and ask it from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from dataclasses import asdict
from typing import TextIO

from indexing.indexer import BuildProgress, Index, IndexSummary
from indexing.store import default_db_path
from indexing.walker import SKIP_REASONS


def add_commands(sub) -> None:
    """Register the index commands on the `focal` argument parser's subparsers."""
    p = sub.add_parser("index", help="index a workspace (or benchmark the index with --bench)")
    p.add_argument(
        "path",
        nargs="?",
        help="workspace root (default: the current directory; "
        "with --bench: the Python standard library)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.add_argument("--db", help="index database file (default: under the user cache dir)")
    p.add_argument("--workers", type=int, default=None, help="parser threads")
    p.add_argument(
        "--bench",
        action="store_true",
        help="time a full index against universal-ctags and a one-file re-index",
    )
    p.add_argument("--runs", type=int, default=50, help="re-index runs for --bench")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("symbols", help="search the index for symbols by name")
    p.add_argument("query")
    p.add_argument("--root", default=None, help="workspace root (default: current directory)")
    p.add_argument("--db", help="index database file (default: under the user cache dir)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_symbols)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, p: BuildProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.done < p.total:
            return
        self._last = now
        frac = p.done / p.total if p.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        cols = _columns(self.stream) - self.width - 20
        path = p.path if len(p.path) <= cols else "…" + p.path[-max(cols - 1, 0) :]
        self.stream.write(f"\r\x1b[2K[{bar}] {p.done}/{p.total} {path}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 100


def summary_dict(s: IndexSummary, db_path: str) -> dict:
    d = asdict(s)
    d["seconds"] = round(s.seconds, 3)
    d["db"] = db_path
    return d


def format_summary(s: IndexSummary, db_path: str) -> str:
    if s.ai_disabled:
        return (
            f"AI features are off for {s.root} (.noai at its root): nothing indexed.\n"
            "Delete .noai to index it."
        )
    lang = ", ".join(f"{k} {v}" for k, v in s.languages.items()) or "none"
    lines = [
        f"Indexed {s.files} files, {s.symbols} symbols in {s.seconds:.2f} s "
        f"({s.parsed} parsed, {s.unchanged} unchanged, {s.removed} removed)"
        + (" — cancelled" if s.cancelled else ""),
        f"Languages: {lang}",
    ]
    if s.skipped:
        lines.append("Skipped:")
        for reason, n in s.skipped.items():
            lines.append(f"  {n:>7}  {reason} ({SKIP_REASONS.get(reason, reason)})")
    lines.append(f"Index: {db_path}")
    return "\n".join(lines)


def _open(root: str, db: str | None, **options) -> Index | None:
    if not os.path.isdir(root):
        print(f"focal: {root} is not a directory; give the workspace root", file=sys.stderr)
        return None
    try:
        return Index.open(root, db_path=db, **options)
    except (OSError, sqlite3.Error) as exc:
        where = db or default_db_path(root)
        print(
            f"focal: cannot open the index database {where}: {exc}\n"
            "Nothing was indexed. Pass --db with a writable path, or fix the cache dir.",
            file=sys.stderr,
        )
    return None


def cmd_index(args: argparse.Namespace) -> int:
    if args.bench:
        from indexing.bench import as_dict, format_result, run_bench

        quiet = args.json or not sys.stderr.isatty()
        result = run_bench(
            args.path,
            runs=args.runs,
            workers=args.workers,
            log=(lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr)),
        )
        print(json.dumps(as_dict(result), indent=2) if args.json else format_result(result))
        return 0
    root = args.path or os.getcwd()
    index = _open(root, args.db, workers=args.workers)
    if index is None:
        return 2
    bar = ProgressBar()
    try:
        summary = index.build(progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print("focal: interrupted; the index keeps what was done", file=sys.stderr)
        return 130
    finally:
        bar.close()
        index.close()
    db = str(index.db_path)
    if args.json:
        print(json.dumps(summary_dict(summary, db), indent=2))
    else:
        print(format_summary(summary, db))
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    root = args.root or os.getcwd()
    index = _open(root, args.db)
    if index is None:
        return 2
    bar = ProgressBar()
    try:
        summary = index.build(progress=bar)  # cheap when current; makes a first query work
        bar.close()
        if summary.ai_disabled:
            print(f"focal: AI features are off for {index.root} (.noai)", file=sys.stderr)
            return 1
        found = index.search(args.query, args.limit)
    finally:
        index.close()
    if args.json:
        print(json.dumps([asdict(s) for s in found], indent=2))
        return 0
    if not found:
        print(f"no symbol matches {args.query!r}", file=sys.stderr)
        return 1
    for s in found:
        print(
            f"{s.path}:{s.line + 1}:{s.column + 1}  {s.kind:<9} {s.qualified_name}  {s.signature}"
        )
    return 0
