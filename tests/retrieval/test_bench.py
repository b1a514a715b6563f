"""The retrieval benchmark runs end to end (on a small repository; its figures come from
running it on the standard library, see its docstring)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import retrieval_bench

CHECKOUT = '''"""Checking out."""

import shop.inventory as inventory
from shop.pricing import apply_discount


def checkout(cart, sku: str, price: float) -> float:
    """Reserve one item and price it."""
    if not inventory.reserve(sku, 1):
        raise LookupError(sku)
    cart.add(sku, price)
    total = apply_discount(price, 10)
    inventory.restock(sku, 0)
    return total
'''


def test_benchmark_measures_recall_timing_and_kv_reuse(repo, tiny_model: Path, tmp_path, capsys):
    root = repo("py_shop")
    (root / "shop" / "checkout.py").write_text(CHECKOUT)
    sites = retrieval_bench.pick_sites(root, 50, seed=1)
    # The ground truth is found independently (ast), in other files only.
    assert {(s.path, s.callee) for s in sites} >= {
        ("shop/checkout.py", "apply_discount"),
        ("shop/checkout.py", "reserve"),
        ("shop/cart.py", "apply_discount"),
    }
    assert all(s.path != s.target for s in sites)
    code = retrieval_bench.main(
        [
            str(root),
            "--sites", "50",
            "--model", str(tiny_model),
            "--replay", "1",
            "--replay-model", str(tiny_model),
            "--db", str(tmp_path / "bench.db"),
            "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    r = out["retrieval"]
    assert r["sites"] == len(sites) and r["recall"] == 1.0, r["misses"]
    assert 0 < r["coldMs"]["p50"] <= r["coldMs"]["p99"]
    assert r["usedTokens"]["max"] <= r["budgetTokens"]
    replay = out["replay"]
    assert replay["functions"][0]["function"].startswith("shop/checkout.py:")
    # Eight lines typed one by one, a request before each and after the last: most of
    # each prompt came from the KV cache of the one before.
    assert replay["requests"] == 9 and 0.5 < replay["reuseShare"] <= 1.0
