"""A separate process for the durability tests: `write` records a burst and acknowledges each
record on stdout after `record_*` returned; `read` queries and blames in a loop.

Run as `python -m tests.ledger.ledger_worker write|read LEDGER COUNT` from the project root.
"""

from __future__ import annotations

import sys
import time

from lsp_server.ledger import Ledger, blame
from tests.ledger.conftest import make_suggestion


def write(path: str, count: int) -> None:
    led = Ledger.open(path, store_text=True)  # bigger rows: checkpoints happen mid-burst
    for i in range(count):
        s = make_suggestion(f"value_{i} = compute({i})\n" + "    pad = 'x' * 80\n" * 8)
        led.record_suggestion(s, "inline", "file:///w/burst.py", i, 0, "prompt " * 200)
        print(f"S {s.id}", flush=True)
        if led.record_event(s.id, "accepted", "file:///w/burst.py"):
            print(f"E {s.id}", flush=True)
    led.close()
    print("DONE", flush=True)


def read(path: str, seconds: float) -> None:
    led = Ledger.open(path, create=False)
    end = time.monotonic() + seconds
    reads = 0
    while time.monotonic() < end:
        led.query(limit=50)
        blame(led, "file:///w/burst.py", "value_1 = compute(1)\nvalue_2 = compute(2)\n")
        reads += 1
    led.close()
    print(f"READS {reads}", flush=True)


if __name__ == "__main__":
    mode, path, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "write":
        write(path, int(arg))
    else:
        read(path, float(arg))
