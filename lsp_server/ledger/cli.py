"""`focal audit`, `focal blame` and `focal trailer`: the ledger from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from indexing.git import GitError
from lsp_server.ledger.blame import blame, document_key
from lsp_server.ledger.schema import TASKS
from lsp_server.ledger.store import Ledger, LedgerError, SuggestionRecord
from lsp_server.ledger.trailer import trailers

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m`, `2w` ago, or an ISO date / time (UTC unless it says otherwise)."""
    value = value.strip()
    m = _RELATIVE.match(value)
    if m:
        delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-01, a time like 2026-11-01T09:30, or an age like "
            f"7d, 12h, 30m, 2w; got {value!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _open(args: argparse.Namespace) -> Ledger | None:
    try:
        return Ledger.open(args.ledger, create=False)
    except LedgerError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return None


def _short_doc(uri: str) -> str:
    if not uri.startswith("file:"):
        return uri
    path = Path(document_key(uri))
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {_camel(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def record_json(r: SuggestionRecord) -> dict[str, Any]:
    d = _wire(r)
    d.pop("seq", None)
    for e in d["events"]:
        e.pop("seq", None)
    return d


def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        pairs = enumerate(zip(r, widths, strict=True))
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _events(r: SuggestionRecord) -> str:
    kinds: list[str] = []
    for e in r.events:
        if e.kind not in kinds:
            kinds.append(e.kind)
    return ",".join(kinds) or "-"


def cmd_audit(args: argparse.Namespace) -> int:
    ledger = _open(args)
    if ledger is None:
        return 0
    with ledger:
        records = ledger.query(since=args.since, model=args.model, task=args.task, limit=args.limit)
    if args.json:
        print(json.dumps([record_json(r) for r in records], indent=2))
        return 0
    if not records:
        print("focal: no suggestions match", file=sys.stderr)
        return 0
    rows = [["time (UTC)", "task", "model", "quant", "document:line", "conf", "ms", "events"]]
    for r in records:
        rows.append(
            [
                r.time[:19].replace("T", " "),
                r.task,
                r.model_name,
                r.quantization,
                f"{_short_doc(r.document)}:{r.line + 1}",
                f"{r.confidence:.2f}",
                f"{r.timing.total_ms:.0f}",
                _events(r),
            ]
        )
    print(_table(rows, right={5, 6}))
    return 0


def cmd_blame(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        print(f"focal: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    ledger = _open(args)
    if ledger is None:
        return 0
    with ledger:
        found = {a.line: a for a in blame(ledger, str(path.resolve()), text)}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if args.json:
        out = []
        for i in range(len(lines)):
            a = found.get(i)
            out.append({"line": i + 1, **(_wire(a) if a else {})})
        print(json.dumps(out, indent=2))
        return 0
    width = len(str(len(lines)))
    for i, line in enumerate(lines):
        a = found.get(i)
        if a is None:
            who = " " * 8 + "  " + " " * 36
        else:
            mark = "~" if a.partial else " "
            model = f"{a.model_name} {a.quantization}"[:23]
            who = f"{a.suggestion_id[:8]}{mark} {model:<23} {a.accepted_at[:10]}  "
        print(f"{who}{i + 1:>{width}}│ {line.rstrip(chr(13))}")
    return 0


def cmd_trailer(args: argparse.Namespace) -> int:
    ledger = _open(args)
    if ledger is None:
        return 0
    try:
        with ledger:
            lines = trailers(ledger, Path(args.repo or "."))
    except GitError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `audit`, `blame` and `trailer` on the `focal` command's subparsers."""
    ledger_help = "ledger file (default: focal/ledger.sqlite3 in the user state dir)"

    p = sub.add_parser("audit", help="list recorded suggestions, newest first")
    p.add_argument("--since", type=parse_since, help="2026-11-01, 2026-11-01T09:30, 7d, 12h")
    p.add_argument("--model", help="model name (substring) or digest prefix")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--limit", type=int, default=None, help="at most this many")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--ledger", help=ledger_help)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("blame", help="which lines of FILE came from accepted suggestions")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--ledger", help=ledger_help)
    p.set_defaults(func=cmd_blame)

    p = sub.add_parser(
        "trailer", help="Assisted-by trailers for the models behind the staged changes"
    )
    p.add_argument("--repo", help="repository (default: the current directory)")
    p.add_argument("--ledger", help=ledger_help)
    p.set_defaults(func=cmd_trailer)
