"""Where the weights go: offload plans for full-size model headers on GPUs of several sizes,
and the load options (expert tensors in RAM, flash attention "auto") really reaching llama.cpp,
as its own load log reports them. The GPUs in the plans are described, not present: this
machine's llama.cpp is a CPU build; what llama.cpp does with a plan is checked on the CPU."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import llama_cpp
import pytest

from inference import llama_log, offload
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import read_model_card
from inference.offload import EXPERT_PATTERN, Device, LoadOptions, plan_offload

GIB = 2**30


def card_gpu(gib: float) -> Device:
    return Device("CUDA0", f"a card with {gib:g} GiB free", "gpu", int(gib * GIB), int(gib * GIB))


@pytest.mark.parametrize(
    ("gib", "setting", "layers", "experts_on_cpu"),
    [
        pytest.param(80, "auto", -1, False, id="h100-everything-on-gpu"),
        pytest.param(12, "auto", -1, False, id="12gb-q4km-fits"),
        pytest.param(8, "auto", -1, True, id="8gb-experts-in-ram"),
        pytest.param(80, "cpu", -1, True, id="forced-experts-in-ram"),
        pytest.param(8, "gpu", -1, False, id="forced-experts-on-gpu"),
        pytest.param(1, "auto", 17, True, id="1gb-experts-in-ram-and-fewer-layers"),
    ],
)
def test_mellum2_plan_by_card_size(
    mellum2_header: Path, gib: float, setting: str, layers: int, experts_on_cpu: bool
):
    card = read_model_card(mellum2_header, with_digest=False)
    assert (card.n_layer, card.expert_count, card.expert_used_count) == (28, 64, 8)
    plan = plan_offload(card, setting, gpu=card_gpu(gib), gpu_offload=True)
    assert (plan.n_gpu_layers, plan.experts_on_cpu) == (layers, experts_on_cpu)
    assert plan.offload and plan.gpu is not None
    # The experts are most of a 12B-A2.5B MoE: keeping them in RAM is what makes it fit.
    assert plan.estimate.experts > 0.85 * plan.estimate.weights
    if setting == "auto":
        assert plan.gpu_bytes <= 0.9 * gib * GIB
    if experts_on_cpu:
        assert plan.cpu_patterns == (EXPERT_PATTERN,)
        assert plan.gpu_bytes < 1.5 * GIB  # attention, router, output, KV cache, scratch
    else:
        assert plan.cpu_patterns == ()


def test_dense_model_offloads_what_fits(qwen7b_header: Path):
    card = read_model_card(qwen7b_header, with_digest=False)
    big = plan_offload(card, gpu=card_gpu(24), gpu_offload=True)
    assert (big.n_gpu_layers, big.experts_on_cpu, big.estimate.experts) == (-1, False, 0)
    small = plan_offload(card, gpu=card_gpu(4), gpu_offload=True)
    assert 0 < small.n_gpu_layers < card.n_layer and not small.experts_on_cpu
    assert "not a mixture-of-experts" in big.reason


@pytest.mark.parametrize(
    ("gpu_offload", "gpu_layers", "why"),
    [
        pytest.param(False, -1, "no GPU backend", id="cpu-build"),
        pytest.param(True, 0, "gpuLayers is 0", id="gpu-layers-0"),
    ],
)
def test_cpu_only_plans(mellum2_header: Path, gpu_offload: bool, gpu_layers: int, why: str):
    card = read_model_card(mellum2_header, with_digest=False)
    gpu = card_gpu(80) if gpu_offload else None
    plan = plan_offload(card, "cpu", n_gpu_layers=gpu_layers, gpu=gpu, gpu_offload=gpu_offload)
    assert (plan.offload, plan.n_gpu_layers, plan.gpu_bytes, plan.cpu_patterns) == (
        False,
        0,
        0,
        (),
    )
    assert why in plan.reason and plan.describe().startswith("CPU only")


def test_quantized_kv_cache_shrinks_the_plan(mellum2_header: Path):
    card = read_model_card(mellum2_header, with_digest=False)
    f16 = plan_offload(card, n_ctx=32768, gpu=card_gpu(80), gpu_offload=True)
    q8 = plan_offload(card, n_ctx=32768, cache_type="q8_0", gpu=card_gpu(80), gpu_offload=True)
    # 28 layers x 32k tokens x 4 KV heads x (128 + 128) x 2 bytes
    assert f16.estimate.kv_cache == 28 * 32768 * 4 * 256 * 2
    assert q8.estimate.kv_cache < 0.55 * f16.estimate.kv_cache


def test_unknown_setting_is_refused(mellum2_header: Path):
    card = read_model_card(mellum2_header, with_digest=False)
    with pytest.raises(ValueError, match="moeExperts must be one of auto, gpu, cpu"):
        plan_offload(card, "ram", gpu_offload=False)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def llama_lines():
    """llama.cpp's own log lines (its DEBUG ones included) while the test runs."""
    llama_log.install()
    handler = _Lines()
    logger = logging.getLogger("llama.cpp")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def _overridden(lines: list[str]) -> set[str]:
    return {
        m.group(1)
        for line in lines
        if (m := re.match(r"tensor (\S+) .* buffer type overridden to CPU", line))
    }


def test_expert_override_reaches_llama_cpp(tiny_model: Path, llama_lines: list[str]):
    opts = LoadOptions(cpu_patterns=(EXPERT_PATTERN,), flash_attn=offload.FLASH_ATTN_AUTO)
    with opts.applied():
        llama = llama_cpp.Llama(str(tiny_model), n_ctx=128, n_threads=1, verbose=False)
    llama.close()
    expected = {f"blk.{i}.ffn_{p}_exps.weight" for i in range(4) for p in ("gate", "up", "down")}
    assert _overridden(llama_lines) == expected  # the experts, and nothing else
    assert any(re.search(r"flash_attn\s+= auto", line) for line in llama_lines)


def test_options_apply_to_the_calling_thread_only(tiny_model: Path, llama_lines: list[str]):
    loaded = threading.Event()
    release = threading.Event()

    def other() -> None:  # a load on another thread while the hook is in place
        with opts_ready:
            pass
        llama_cpp.Llama(str(tiny_model), n_ctx=128, n_threads=1, verbose=False).close()
        loaded.set()

    opts_ready = threading.Lock()
    opts_ready.acquire()
    t = threading.Thread(target=other)
    t.start()
    with LoadOptions(cpu_patterns=(EXPERT_PATTERN,)).applied():
        opts_ready.release()
        assert loaded.wait(30)
        release.set()
    t.join(30)
    assert _overridden(llama_lines) == set()
    assert any(re.search(r"flash_attn\s+= disabled", line) for line in llama_lines)
    # and the hook is gone afterwards
    import llama_cpp.llama_cpp as lc

    assert lc.llama_model_load_from_file.__name__ == "llama_model_load_from_file"


def test_engine_loads_with_the_plan(tiny_model: Path, llama_lines, monkeypatch):
    """`moeExperts: cpu` reaches llama.cpp through the engine's plan. On a GPU machine the
    plan sees the real card; here a stand-in card is described to the planner (the device
    query is the only thing faked), and llama.cpp, having no GPU, keeps the rest on the CPU."""
    real = offload.plan_offload

    def plan_as_on_a_gpu(card, setting="auto", **kw):
        kw.update(gpu=card_gpu(8), gpu_offload=True)
        return real(card, setting, **kw)

    monkeypatch.setattr(offload, "plan_offload", plan_as_on_a_gpu)
    config = EngineConfig(n_ctx=256, n_threads=1, moe_experts="cpu")
    eng = LlamaEngine(read_model_card(tiny_model), config)
    try:
        eng.wait_loaded(30)
        assert eng.plan is not None and eng.plan.experts_on_cpu
        assert "experts in RAM" in eng.device
        assert any(re.search(r"flash_attn\s+= auto", line) for line in llama_lines)
    finally:
        eng.close()
    assert len(_overridden(llama_lines)) == 12


@pytest.mark.parametrize(
    ("flash", "cache", "expect"),
    [
        pytest.param(True, "f16", "disabled", id="cpu-only-runs-without"),
        pytest.param(True, "q8_0", "enabled", id="quantized-cache-needs-it"),
        pytest.param(False, "f16", "disabled", id="off"),
    ],
)
def test_engine_flash_attention_on_the_cpu(
    smollm2: Path, llama_lines, flash: bool, cache: str, expect: str
):
    # SmolLM2: its 64-wide heads take a quantized cache (the tiny models' 16 do not).
    config = EngineConfig(n_ctx=256, n_threads=1, flash_attn=flash, cache_type=cache)
    eng = LlamaEngine(read_model_card(smollm2, with_digest=False), config)
    try:
        eng.wait_loaded(30)
    finally:
        eng.close()
    assert any(re.search(rf"flash_attn\s+= {expect}", line) for line in llama_lines)
    assert eng.device == "cpu" and eng.plan is not None and not eng.plan.offload


def test_flash_attention_auto_when_offloading(mellum2_header: Path):
    card = read_model_card(mellum2_header, with_digest=False)
    gpu = plan_offload(card, gpu=card_gpu(80), gpu_offload=True)
    cpu = plan_offload(card, gpu_offload=False)
    assert offload.flash_attn_for(True, gpu) == offload.FLASH_ATTN_AUTO
    assert offload.flash_attn_for(True, cpu) == offload.FLASH_ATTN_OFF
    assert offload.flash_attn_for(True, cpu, "q4_0") == offload.FLASH_ATTN_AUTO
    assert offload.flash_attn_for(False, gpu) == offload.FLASH_ATTN_OFF


def test_build_info_names_this_build():
    info = offload.build_info()
    assert "CPU" in info.backends and info.kind in ("CPU", "CUDA", "Metal", "Vulkan")
    assert info.gpu_offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert any(d.kind == "cpu" and d.total_bytes > 0 for d in info.devices)
