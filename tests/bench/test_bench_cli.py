"""`focal bench`: every scenario runs through Focal's engine and bare llama-cpp-python in one
run and reports both and their ratio. Small sizes on the tiny model: these tests check what
is measured and reported, never how fast anything is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsp_server.cli import main

FAST = ["--repeats", "1", "--steps", "4", "--prompt-tokens", "200", "--ctx", "1024"]


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["bench", "--json", "--quiet", *FAST, *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_scenario_has_both_engines_and_a_ratio(capsys, tiny_model: Path):
    r = bench(capsys, "--model", str(tiny_model), "--new-tokens", "8")
    assert set(r["scenarios"]) == {"cold", "keystroke", "throughput", "lsp"}
    for name, sc in r["scenarios"].items():
        assert sc["focal"] and sc["bare"], name
        assert sc["ratio"] and all(v > 0 for v in sc["ratio"].values()), name
    cold = r["scenarios"]["cold"]
    assert cold["focal"]["tokens_reused_max"] <= 1  # cold: nothing (but a BOS) from the cache
    assert 150 <= cold["prompt_tokens"] <= 200 and cold["same_output"]
    assert cold["ratio"]["total_ms_p50"] > 0 and cold["bare"]["total_ms"]["n"] == 1

    keys = r["scenarios"]["keystroke"]
    assert keys["steps"] == 4 and keys["prompt_mismatches"] == 0
    assert keys["focal"]["reuse_share"] >= 0.9  # the edited tail only is evaluated again
    assert keys["ratio"]["latency_vs_decode_only_p50"] > 0

    thr = r["scenarios"]["throughput"]
    assert {"prefill_tps", "decode_tps"} <= set(thr["focal"]) & set(thr["bare"])

    lsp = r["scenarios"]["lsp"]
    assert lsp["same_output"]  # the server over stdio wrote what the engine writes
    assert {"lsp_vs_bare_p50", "engine_vs_bare_p50"} <= set(lsp["ratio"])

    goals = {g["goal"]: g for g in r["goals"]}
    assert set(goals) == {
        "LSP request vs bare llama-cpp-python",
        "keystroke p50 / decode-only time of the same tokens",
        "keystroke prompt tokens reused",
    }
    assert goals["keystroke prompt tokens reused"]["met"]
    assert r["machine"]["build"] and r["machine"]["cores"] and r["device"] == "cpu"
    assert r["model"]["architecture"] == "mellum" and r["model"]["experts"] == [8, 2]


def test_table_output_names_machine_and_ratios(capsys, tiny_model: Path):
    args = ["bench", "--quiet", *FAST, "--model", str(tiny_model), "--new-tokens", "4"]
    assert main([*args, "--scenarios", "throughput"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "llama.cpp build CPU" in out
    assert "throughput   decode_tps" in out and "plan:    CPU only" in out


def test_levers_report_each_setting(capsys, tiny_model: Path):
    r = bench(
        capsys,
        "--model",
        str(tiny_model),
        "--new-tokens",
        "4",
        "--scenarios",
        "levers",
        "--levers",
        "batch_size",
        "prompt_lookup",
        "time_budget",
    )
    lv = r["scenarios"]["levers"]
    assert [row["batch_size"] for row in lv["batch_size"]] == [64, 128, 256, 512, 1024]
    assert all(row["prefill_tps"] > 0 for row in lv["batch_size"])
    assert [row["draft_tokens"] for row in lv["prompt_lookup"]] == [0, 4, 8]
    assert all(row["edit_decode_tps"] > 0 and "same_text" in row for row in lv["prompt_lookup"])
    shares = [row["finished_share"] for row in lv["time_budget"]]
    assert shares == sorted(shares) and shares[-1] > 0


def test_shaped_model_is_written_once_and_marked_partial(capsys):
    args = ["--shape", "mellum2-mini", "--layers", "2", "--new-tokens", "4"]
    r = bench(capsys, *args, "--scenarios", "throughput")
    m = r["model"]
    assert (m["shape"], m["partial"], m["layers"], m["full_layers"]) == ("mellum2-mini", True, 2, 4)
    assert m["quantization"] == "Q4_K_M" and "2 of its 4 layers" in m["note"]
    assert Path(m["path"]).is_file()
    again = bench(capsys, *args, "--scenarios", "throughput")
    assert again["model"]["path"] == m["path"]


def test_missing_model_is_a_clear_error(capsys, tmp_path: Path):
    assert main(["bench", "--model", str(tmp_path / "nope.gguf")]) == 2
    assert "does not exist" in capsys.readouterr().err
