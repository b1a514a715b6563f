"""`focal doctor`: the build, the devices, and the plan it would use for a model."""

from __future__ import annotations

import json
from pathlib import Path

import llama_cpp
import pytest

from lsp_server.cli import main


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["doctor", *args]) == 0
    return capsys.readouterr().out


def test_names_the_build_and_devices(capsys, tiny_model: Path):
    r = json.loads(doctor(capsys, "--model", str(tiny_model), "--json"))
    gpu_build = bool(llama_cpp.llama_supports_gpu_offload())
    assert (r["build"] != "CPU") == gpu_build == r["gpuOffload"]
    assert f"llama.cpp build: {r['build']} (backends: " in doctor(capsys)
    assert "CPU" in r["backends"] and r["llamaCppPython"] == llama_cpp.__version__
    cpu = [d for d in r["devices"] if d["kind"] == "cpu"]
    assert cpu and cpu[0]["totalBytes"] > 0
    if not r["gpuOffload"]:
        assert 'CMAKE_ARGS="-DGGML_CUDA=on" pip install' in r["gpuHint"]
        assert r["model"]["plan"]["gpuLayers"] == 0 and r["model"]["plan"]["gpu"] is None


def test_plans_experts_on_cpu_for_a_12b_moe_on_an_8gb_card(capsys, mellum2_header: Path):
    out = doctor(capsys, "--model", str(mellum2_header), "--assume-gpu-gib", "8")
    assert "mellum, Q4_K_M" in out and "28 layers, 64 experts (8 per token)" in out
    assert "on an assumed GPU with 8.0 GiB free" in out
    assert "plan: all layers on assumed GPU (experts in system RAM" in out
    assert r"tensors kept in RAM: \.ffn_(up|down|gate|gate_up)_(ch|)exps" in out

    r = json.loads(
        doctor(capsys, "--model", str(mellum2_header), "--assume-gpu-gib", "8", "--json")
    )
    plan = r["model"]["plan"]
    assert plan["expertsOnCpu"] and plan["gpuLayers"] == -1
    assert plan["gpuBytes"] < 8 * 2**30 < plan["ramBytes"] + plan["gpuBytes"]
    assert plan["ramBytes"] >= r["model"]["needs"]["experts"]


def test_plans_everything_on_an_h100(capsys, mellum2_header: Path):
    r = json.loads(
        doctor(capsys, "--model", str(mellum2_header), "--assume-gpu-gib", "80", "--json")
    )
    plan = r["model"]["plan"]
    assert (plan["expertsOnCpu"], plan["gpuLayers"], plan["tensorOverrides"]) == (False, -1, [])
    assert "fits" in plan["reason"]


def test_settings_flags_change_the_plan(capsys, mellum2_header: Path):
    args = ["--model", str(mellum2_header), "--assume-gpu-gib", "80", "--json"]
    forced = json.loads(doctor(capsys, *args, "--moe-experts", "cpu"))["model"]["plan"]
    assert forced["expertsOnCpu"] and "moeExperts: cpu" in forced["reason"]
    none = json.loads(doctor(capsys, *args, "--gpu-layers", "0"))["model"]["plan"]
    assert none["gpu"] is None and none["summary"].startswith("CPU only")


def test_a_bad_model_is_reported_not_raised(capsys, tmp_path: Path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    out = doctor(capsys, "--model", str(bad))
    assert f"model: {bad}:" in out and "llama.cpp build:" in out
