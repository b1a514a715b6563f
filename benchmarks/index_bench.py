"""Index benchmark: full index vs universal-ctags, one-file re-index latency, peak memory.

    python benchmarks/index_bench.py [PATH] [--runs N] [--workers N] [--json]

Same as `focal index --bench [PATH]`. PATH defaults to the running Python's stdlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing.bench import as_dict, format_result, run_bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = run_bench(args.path, runs=args.runs, workers=args.workers)
    print(json.dumps(as_dict(result), indent=2) if args.json else format_result(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
