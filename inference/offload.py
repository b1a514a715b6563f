"""Where a model's weights go: the GPU, or system RAM for a MoE's expert tensors.

A Mixture-of-Experts model runs only a few experts per token, so its expert matrices (most of
its bytes) can stay in system RAM while attention, norms and the router run on the GPU: this
is llama.cpp's `--cpu-moe`, a buffer-type override for the tensors whose names match
`LLM_FFN_EXPS_REGEX`. It is how a 12B MoE fits on a consumer card.

llama-cpp-python 0.3.36 has the field (`llama_model_params.tensor_buft_overrides`) but its
`Llama` never sets it, and it can only switch flash attention on or off, not to llama.cpp's
own "auto" (on where the device supports it). `LoadOptions.applied()` sets both, and
whether llama.cpp may use its extra CPU buffer types (`inference.cpu_check`), on the params
`Llama` passes to llama.cpp, for the loads of the calling thread only. The devices and
their free memory come from ggml's backend device API, bound here with ctypes from the same
libraries.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.gguf_header import GGUFHeader, read_header
from inference.types import ModelCard

log = logging.getLogger(__name__)

EXPERT_PATTERN = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"
"""llama.cpp's `--cpu-moe` pattern (`LLM_FFN_EXPS_REGEX`): the experts' projections."""
SETTINGS = ("auto", "gpu", "cpu")
CACHE_TYPES = ("f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "f32")
_KV_BYTES = {
    "f16": 2.0,
    "bf16": 2.0,
    "f32": 4.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
}
_HEADROOM = 0.9  # use at most this share of a GPU's free memory
_COMPUTE_MARGIN = 256 * 2**20  # llama.cpp's scratch buffers beyond the logits, roughly

# ggml_backend_dev_type
_DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}
# llama_flash_attn_type
FLASH_ATTN_AUTO, FLASH_ATTN_OFF, FLASH_ATTN_ON = -1, 0, 1


@dataclass(frozen=True)
class Device:
    """A ggml backend device, as llama.cpp sees it."""

    name: str
    description: str
    kind: str
    """`cpu`, `gpu`, `igpu` or `accel`."""
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class BuildInfo:
    """What this llama.cpp was built with, and what it finds on this machine."""

    llama_cpp_python: str
    backends: tuple[str, ...]
    """Registered ggml backends, e.g. `("CUDA", "CPU")`."""
    gpu_offload: bool
    """`llama_supports_gpu_offload()`: a GPU backend is built in *and* found a device."""
    devices: tuple[Device, ...]
    system_info: str

    @property
    def kind(self) -> str:
        """`CUDA`, `Metal`, `Vulkan`, `ROCm`, `SYCL`… or `CPU` for a CPU-only build."""
        gpu = [b for b in self.backends if b not in ("CPU", "BLAS", "RPC")]
        return "+".join(gpu) if gpu else "CPU"


@dataclass(frozen=True)
class MemoryEstimate:
    """What a model needs, in bytes, at a given context."""

    weights: int
    experts: int
    """Of `weights`, the expert tensors (0 for a dense model)."""
    input_embedding: int
    """Of `weights`, the token embedding table: llama.cpp always keeps it in system RAM."""
    kv_cache: int
    compute: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute


@dataclass(frozen=True)
class LoadOptions:
    """What llama-cpp-python's `Llama` cannot pass to llama.cpp by itself."""

    cpu_patterns: tuple[str, ...] = ()
    """Tensors whose names match one of these regexes are kept in a CPU buffer."""
    flash_attn: int = FLASH_ATTN_AUTO
    """`FLASH_ATTN_AUTO` (on where the device supports it), `_ON` or `_OFF`."""
    extra_bufts: bool = True
    """llama.cpp's extra CPU buffer types (AMX, repacked weights); off where the CPU probe
    saw them fail (`inference.cpu_check`)."""

    def applied(self) -> contextlib.AbstractContextManager[None]:
        """Wrap `llama_cpp.Llama(...)` in this to load with these options."""
        return load_options(self)


@dataclass(frozen=True)
class OffloadPlan:
    """How to load a model: layers on the GPU, and whether expert tensors stay in RAM."""

    setting: str
    n_gpu_layers: int
    """What to pass to llama.cpp: -1 all layers, 0 CPU only."""
    experts_on_cpu: bool
    reason: str
    estimate: MemoryEstimate
    gpu: Device | None
    gpu_bytes: int
    """Estimated bytes on the GPU with this plan (0 when nothing is offloaded)."""
    patterns: tuple[str, ...] = field(default=())

    @property
    def offload(self) -> bool:
        return self.n_gpu_layers != 0 and self.gpu is not None

    @property
    def cpu_patterns(self) -> tuple[str, ...]:
        return self.patterns if self.experts_on_cpu else ()

    def describe(self) -> str:
        """One line for logs and `focal doctor`."""
        if not self.offload:
            return f"CPU only: {self.reason}"
        layers = "all layers" if self.n_gpu_layers < 0 else f"{self.n_gpu_layers} layers"
        where = "experts in system RAM" if self.experts_on_cpu else "experts on the GPU"
        if not self.estimate.experts:
            where = "dense model"
        assert self.gpu is not None
        return (
            f"{layers} on {self.gpu.name} ({where}; about {gib(self.gpu_bytes)} of "
            f"{gib(self.gpu.free_bytes)} free): {self.reason}"
        )


# -- ggml backend devices -----------------------------------------------------------------


class _Lib:
    """ggml's device API from the libraries llama-cpp-python ships (loaded once)."""

    _instance: _Lib | None = None

    def __init__(self) -> None:
        import llama_cpp

        folder = Path(llama_cpp.__file__).parent / "lib"
        self.ggml = _load(folder, "ggml")
        self.base = _load(folder, "ggml-base")
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        memory_args = [vp, ctypes.POINTER(sz), ctypes.POINTER(sz)]
        for lib, name, res, args in (
            (self.ggml, "ggml_backend_dev_count", sz, []),
            (self.ggml, "ggml_backend_dev_get", vp, [sz]),
            (self.base, "ggml_backend_dev_name", ctypes.c_char_p, [vp]),
            (self.base, "ggml_backend_dev_description", ctypes.c_char_p, [vp]),
            (self.base, "ggml_backend_dev_type", ctypes.c_int, [vp]),
            (self.base, "ggml_backend_dev_memory", None, memory_args),
            (self.ggml, "ggml_backend_reg_count", sz, []),
            (self.ggml, "ggml_backend_reg_get", vp, [sz]),
            (self.base, "ggml_backend_reg_name", ctypes.c_char_p, [vp]),
            (self.base, "ggml_backend_cpu_buffer_type", vp, []),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        llama_cpp.llama_backend_init()

    @classmethod
    def get(cls) -> _Lib:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _load(folder: Path, name: str) -> ctypes.CDLL:
    for candidate in (f"lib{name}.so", f"lib{name}.dylib", f"{name}.dll"):
        if (folder / candidate).exists():
            return ctypes.CDLL(str(folder / candidate))
    return ctypes.CDLL(f"lib{name}.so")  # a system-wide llama.cpp


def devices() -> list[Device]:
    """The devices llama.cpp can use, with free and total memory (system RAM for the CPU)."""
    lib = _Lib.get()
    out = []
    for i in range(lib.ggml.ggml_backend_dev_count()):
        dev = lib.ggml.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        lib.base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        out.append(
            Device(
                name=(lib.base.ggml_backend_dev_name(dev) or b"?").decode(),
                description=(lib.base.ggml_backend_dev_description(dev) or b"").decode().strip(),
                kind=_DEVICE_TYPES.get(lib.base.ggml_backend_dev_type(dev), "other"),
                free_bytes=int(free.value),
                total_bytes=int(total.value),
            )
        )
    return out


def backends() -> list[str]:
    """The backends compiled into (or loaded by) this llama.cpp: `CPU`, `CUDA`, `Metal`…"""
    lib = _Lib.get()
    names = []
    for i in range(lib.ggml.ggml_backend_reg_count()):
        name = lib.base.ggml_backend_reg_name(lib.ggml.ggml_backend_reg_get(i))
        names.append((name or b"?").decode())
    return names


def build_info() -> BuildInfo:
    import llama_cpp

    return BuildInfo(
        llama_cpp_python=str(getattr(llama_cpp, "__version__", "?")),
        backends=tuple(backends()),
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        devices=tuple(devices()),
        system_info=llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
    )


def best_gpu(devs: list[Device] | None = None) -> Device | None:
    """The GPU with the most free memory (llama.cpp splits layers across them; one is enough
    for a plan)."""
    gpus = [d for d in (devices() if devs is None else devs) if d.kind in ("gpu", "igpu")]
    return max(gpus, key=lambda d: d.free_bytes, default=None)


# -- load options: tensor overrides, flash attention, extra buffer types ------------------


class _BuftOverride(ctypes.Structure):
    # struct llama_model_tensor_buft_override {
    #     const char * pattern; ggml_backend_buffer_type_t buft; }
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


_KEEP: list[Any] = []  # llama.cpp keeps the pointers past the load: never freed
_load_lock = threading.Lock()


def override_array(patterns: tuple[str, ...]) -> Any:
    """The NULL-terminated `llama_model_tensor_buft_override` array keeping `patterns` in a
    CPU buffer (kept alive for the life of the process)."""
    for p in patterns:
        re.compile(p)  # llama.cpp would throw std::regex_error and abort the process
    buft = _Lib.get().base.ggml_backend_cpu_buffer_type()
    arr = (_BuftOverride * (len(patterns) + 1))()
    keep = [p.encode() for p in patterns]
    for i, raw in enumerate(keep):
        arr[i].pattern = raw  # type: ignore[assignment]  # a c_char_p field takes bytes
        arr[i].buft = buft
    _KEEP.append((arr, keep))
    return arr


@contextlib.contextmanager
def load_options(opts: LoadOptions) -> Iterator[None]:
    """Every `llama_cpp.Llama` that *this thread* creates inside gets `opts`. Other threads'
    loads are left alone; loads with options are serialized (the hook is a module attribute
    of llama-cpp-python while it is in place)."""
    import llama_cpp.llama_cpp as lc

    arr = override_array(opts.cpu_patterns) if opts.cpu_patterns else None
    owner = threading.get_ident()
    with _load_lock:
        real_load, real_init = lc.llama_model_load_from_file, lc.llama_init_from_model

        def load(path: bytes, params: Any) -> Any:
            if threading.get_ident() == owner:
                if arr is not None:
                    params.tensor_buft_overrides = ctypes.cast(arr, ctypes.c_void_p)
                params.use_extra_bufts = opts.extra_bufts
            return real_load(path, params)

        def init(model: Any, params: Any) -> Any:
            if threading.get_ident() == owner:
                params.flash_attn_type = opts.flash_attn
            return real_init(model, params)

        lc.llama_model_load_from_file, lc.llama_init_from_model = load, init
        try:
            yield
        finally:
            lc.llama_model_load_from_file, lc.llama_init_from_model = real_load, real_init


def flash_attn_for(enabled: bool, plan: OffloadPlan | None, cache_type: str = "f16") -> int:
    """llama.cpp's flash-attention mode for a load. `auto` (on where the device supports it)
    when layers go to a GPU, or when a quantized V cache needs it; otherwise off: on the CPU
    it measured 20-25% slower per generated token, prefill about even (docs/benchmarks.md)."""
    if not enabled:
        return FLASH_ATTN_OFF
    if (plan is not None and plan.offload) or cache_type.lower() not in ("f16", "bf16", "f32"):
        return FLASH_ATTN_AUTO
    return FLASH_ATTN_OFF


# -- the plan -----------------------------------------------------------------------------


def _arch_value(md: dict, arch: str, key: str, default: int) -> int:
    v = md.get(f"{arch}.{key}", default)
    if isinstance(v, list):  # per-layer values
        v = max(v) if v else default
    return int(v)


def estimate_memory(
    card: ModelCard,
    n_ctx: int,
    cache_type: str = "f16",
    n_ubatch: int = 512,
    header: GGUFHeader | None = None,
) -> MemoryEstimate:
    """Weights (from the tensor table), KV cache (every layer at full context, as llama.cpp
    allocates it with its default full-size SWA cache) and a compute margin."""
    h = header or read_header(card.path)
    md, arch = h.metadata, card.architecture
    rx = re.compile(EXPERT_PATTERN)
    weights = experts = embed = 0
    for t in h.tensors:
        n = t.n_bytes()
        weights += n
        if rx.search(t.name):
            experts += n
        elif t.name == "token_embd.weight":
            embed = n
    n_embd = _arch_value(md, arch, "embedding_length", 0)
    n_head = max(1, _arch_value(md, arch, "attention.head_count", 1))
    n_head_kv = _arch_value(md, arch, "attention.head_count_kv", n_head)
    k_len = _arch_value(md, arch, "attention.key_length", n_embd // n_head)
    v_len = _arch_value(md, arch, "attention.value_length", n_embd // n_head)
    n_ctx = min(n_ctx, card.context_length or n_ctx)
    per_elem = _KV_BYTES.get(cache_type.lower(), 2.0)
    kv = int(card.n_layer * n_ctx * n_head_kv * (k_len + v_len) * per_elem)
    compute = n_ubatch * (card.vocab_size + 4 * n_embd) * 4 + _COMPUTE_MARGIN
    return MemoryEstimate(
        weights=weights, experts=experts, input_embedding=embed, kv_cache=kv, compute=compute
    )


def gib(n: float) -> str:
    """Bytes for people: GiB, or MiB under one GiB."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _gpu_bytes(est: MemoryEstimate, n_layer: int, layers: int, experts_on_cpu: bool) -> int:
    """Bytes on the GPU with `layers` repeating layers offloaded (-1: all, and the output)."""
    share = 1.0 if layers < 0 or layers >= n_layer else layers / max(1, n_layer)
    weights = est.weights - est.input_embedding - (est.experts if experts_on_cpu else 0)
    return int((weights + est.kv_cache) * share + est.compute)


def plan_offload(
    card: ModelCard,
    setting: str = "auto",
    *,
    n_gpu_layers: int = -1,
    n_ctx: int = 4096,
    cache_type: str = "f16",
    gpu: Device | None = None,
    gpu_offload: bool | None = None,
    header: GGUFHeader | None = None,
) -> OffloadPlan:
    """Decide where `card`'s weights go. `setting`: `gpu` (everything offloaded goes to the
    GPU), `cpu` (expert tensors in RAM), `auto` (experts in RAM only when the model would not
    fit in the GPU's free memory; then, if attention and the KV cache still do not fit, as
    many layers as fit). `gpu` and `gpu_offload` default to what this machine has."""
    if setting not in SETTINGS:
        raise ValueError(f"moeExperts must be one of {', '.join(SETTINGS)}, not {setting!r}")
    est = estimate_memory(card, n_ctx, cache_type, header=header)
    if gpu_offload is None:
        import llama_cpp

        gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
    if gpu is None and gpu_offload:
        gpu = best_gpu()
    on_gpu = gpu_offload and gpu is not None and n_gpu_layers != 0
    patterns = (EXPERT_PATTERN,) if est.experts else ()

    def plan(experts_on_cpu: bool, reason: str, layers: int = n_gpu_layers) -> OffloadPlan:
        used = on_gpu and layers != 0
        gpu_bytes = _gpu_bytes(est, card.n_layer, layers, experts_on_cpu) if used else 0
        return OffloadPlan(
            setting, layers if used else 0, experts_on_cpu and used, reason, est,
            gpu if used else None, gpu_bytes, patterns,
        )  # fmt: skip

    if not on_gpu:
        if not gpu_offload:
            why = "this llama.cpp build has no GPU backend (or found no GPU)"
        else:
            why = "gpuLayers is 0"
        return plan(False, why)
    assert gpu is not None
    budget = gpu.free_bytes * _HEADROOM
    full = plan(False, "")
    if not est.experts:
        if full.gpu_bytes <= budget or n_gpu_layers >= 0:
            return plan(False, "not a mixture-of-experts model")
        return _fewer_layers(
            est, card.n_layer, budget, lambda n, r: plan(False, r, n), full.gpu_bytes
        )
    if setting == "cpu":
        return plan(True, "expert tensors kept in system RAM (moeExperts: cpu)")
    if setting == "gpu":
        return plan(False, "expert tensors on the GPU (moeExperts: gpu)")
    if full.gpu_bytes <= budget:
        return plan(False, f"the whole model fits ({gib(full.gpu_bytes)})")
    lean = plan(True, "")
    reason = (
        f"the model needs about {gib(full.gpu_bytes)} on the GPU, more than the "
        f"{gib(gpu.free_bytes)} free: expert tensors ({gib(est.experts)}) stay in system RAM"
    )
    if lean.gpu_bytes <= budget or n_gpu_layers >= 0:
        return plan(True, reason)
    return _fewer_layers(
        est, card.n_layer, budget, lambda n, r: plan(True, r, n), lean.gpu_bytes, reason
    )


def _fewer_layers(
    est: MemoryEstimate,
    n_layer: int,
    budget: float,
    make: Callable[[int, str], OffloadPlan],
    need: int,
    reason: str = "",
) -> OffloadPlan:
    """The plan with as many layers on the GPU as fit in `budget` (0: CPU only)."""
    per_layer = max(1.0, (need - est.compute) / max(1, n_layer))
    layers = max(0, min(n_layer, int((budget - est.compute) // per_layer)))
    why = f"all layers need about {gib(need)}; {layers} of {n_layer} layers fit"
    return make(layers, f"{reason}; {why}" if reason else why)
