"""`focal doctor`: what llama.cpp was built with, what it finds here, and where a model would go.

It loads no weights (the CPU kernel probe, when it has not run on this machine yet, loads a
tiny synthetic model in a child process): the build and devices come from ggml's backend
API, the model's needs from its GGUF header, and the plan from the same `plan_offload` the
engine uses when it loads the model, so what it prints is what `focal serve` will do.
`--assume-gpu-gib N` asks what Focal would do on a GPU with N GiB free (sizing hardware
before buying it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

CUDA_INSTALL = (
    'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python'
)
_INSTALL_HINTS = {
    "linux": CUDA_INSTALL + "  (NVIDIA; Vulkan: -DGGML_VULKAN=on; AMD: -DGGML_HIP=on)",
    "win32": CUDA_INSTALL + "  (NVIDIA; Vulkan: -DGGML_VULKAN=on)",
    "darwin": 'CMAKE_ARGS="-DGGML_METAL=on" pip install --force-reinstall --no-cache-dir '
    "llama-cpp-python  (Metal is on by default on Apple silicon)",
}


def _gib(n: float) -> str:
    from inference.offload import gib

    return gib(n)


def report(args: argparse.Namespace) -> dict[str, Any]:
    """Everything `focal doctor` prints, as a dict (`--json`)."""
    from inference.engine import memory_available
    from inference.offload import Device, build_info

    build = build_info()
    out: dict[str, Any] = {
        "llamaCppPython": build.llama_cpp_python,
        "build": build.kind,
        "backends": list(build.backends),
        "gpuOffload": build.gpu_offload,
        "systemInfo": build.system_info,
        "devices": [
            {
                "name": d.name,
                "description": d.description,
                "kind": d.kind,
                "freeBytes": d.free_bytes,
                "totalBytes": d.total_bytes,
            }
            for d in build.devices
        ],
        "memoryAvailableBytes": memory_available(),
        "cpu": _cpu_report(args),
    }
    if not build.gpu_offload:
        out["gpuHint"] = (
            "this llama.cpp build runs on the CPU only. For a GPU, reinstall llama-cpp-python "
            "with its backend: " + _INSTALL_HINTS.get(sys.platform, CUDA_INSTALL)
        )
    assumed = None
    if args.assume_gpu_gib is not None:
        size = int(args.assume_gpu_gib * 2**30)
        assumed = Device("assumed GPU", f"{args.assume_gpu_gib:g} GiB free", "gpu", size, size)
        out["assumedGpu"] = {"freeBytes": size}
    model = _model_plan(args, assumed)
    if model is not None:
        out["model"] = model
    return out


def _cpu_report(args: argparse.Namespace) -> dict[str, Any]:
    """The CPU llama.cpp runs on, what it was built for, and whether its extra buffer types
    (AMX, repacked weights) are used here: the probe's verdict (run now if none is cached)."""
    import time

    from inference import cpu_check

    model, flags = cpu_check.host_cpu()
    decision = cpu_check.decide(args.cpu_extra_buffers, reprobe=args.reprobe)
    v = decision.verdict
    return {
        "model": model,
        "flags": list(flags),
        "builtFor": [k for k, val in cpu_check.build_features().items() if val not in ("0", "")],
        "bufferTypes": list(decision.buffer_types),
        "setting": decision.setting,
        "extraBuffersUsed": decision.extra_bufts,
        "summary": decision.describe(),
        "probe": None
        if v is None
        else {
            "ok": v.ok,
            "reason": v.reason,
            "seconds": v.seconds,
            "checkedAt": v.checked_at,
            "age": v.age(time.time()),
            "host": v.host,
            "ranNow": decision.fresh,
            "cache": str(cpu_check.cache_path()),
        },
    }


def _model_plan(args: argparse.Namespace, assumed: Any) -> dict[str, Any] | None:
    from inference.defaults import default_model_path
    from inference.model_card import ModelError, read_model_card
    from inference.offload import plan_offload

    path = default_model_path(args.model)
    if path is None:
        return None
    try:
        card = read_model_card(path, with_digest=False)
    except ModelError as exc:
        return {"path": str(path), "error": str(exc)}
    plan = plan_offload(
        card,
        args.moe_experts,
        n_gpu_layers=args.gpu_layers,
        n_ctx=args.ctx,
        cache_type=args.cache_type,
        gpu=assumed,
        gpu_offload=True if assumed is not None else None,
    )
    est = plan.estimate
    return {
        "path": str(card.path),
        "name": card.name,
        "architecture": card.architecture,
        "quantization": card.quantization,
        "sizeBytes": card.size_bytes,
        "layers": card.n_layer,
        "experts": card.expert_count,
        "expertsPerToken": card.expert_used_count,
        "contextLength": min(args.ctx, card.context_length or args.ctx),
        "needs": {k: v for k, v in asdict(est).items()} | {"total": est.total},
        "plan": {
            "gpuLayers": plan.n_gpu_layers,
            "expertsOnCpu": plan.experts_on_cpu,
            "gpu": plan.gpu.name if plan.offload and plan.gpu else None,
            "gpuBytes": plan.gpu_bytes,
            "ramBytes": max(0, est.weights - _weights_on_gpu(plan)),
            "tensorOverrides": list(plan.cpu_patterns),
            "reason": plan.reason,
            "summary": plan.describe(),
        },
    }


def _weights_on_gpu(plan: Any) -> int:
    est = plan.estimate
    if not plan.offload:
        return 0
    return max(0, plan.gpu_bytes - est.kv_cache - est.compute)


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"llama-cpp-python {r['llamaCppPython']}; llama.cpp build: {r['build']} "
        f"(backends: {', '.join(r['backends'])}); GPU offload: "
        f"{'yes' if r['gpuOffload'] else 'no'}",
        f"system: {r['systemInfo']}",
        "devices:",
    ]
    for d in r["devices"]:
        lines.append(
            f"  {d['name']:<10} {d['kind']:<5} {d['description'][:40]:<40} "
            f"free {_gib(d['freeBytes'])} of {_gib(d['totalBytes'])}"
        )
    if r.get("memoryAvailableBytes"):
        lines.append(f"system memory available: {_gib(r['memoryAvailableBytes'])}")
    cpu = r["cpu"]
    lines += [
        f"cpu: {cpu['model']}",
        f"  flags: {' '.join(cpu['flags']) or 'none of note'}",
        f"  llama.cpp built for: {' '.join(cpu['builtFor']) or '?'}",
        f"  {cpu['summary']}",
    ]
    if cpu["probe"]:
        pr = cpu["probe"]
        when = "just now" if pr["ranNow"] else f"{pr['age']} ago"
        lines.append(
            f"  probe: {'passed' if pr['ok'] else 'FAILED'} {when} ({pr['seconds']:.1f} s), "
            f"cached in {pr['cache']}"
        )
        if not pr["ok"]:
            lines.append(
                "  models load without them: slower for Q4_0/Q4_1/Q8_0, safe. A portable "
                "build avoids the failing kernels (README, CPU builds)."
            )
    if r.get("gpuHint"):
        lines.append(f"note: {r['gpuHint']}")
    m = r.get("model")
    if m is None:
        lines.append("model: none configured (pass --model PATH)")
        return "\n".join(lines)
    if "error" in m:
        lines.append(f"model: {m['path']}: {m['error']}")
        return "\n".join(lines)
    n, p = m["needs"], m["plan"]
    moe = f", {m['experts']} experts ({m['expertsPerToken']} per token)" if m["experts"] else ""
    lines += [
        f"model: {m['path']}",
        f"  {m['architecture']}, {m['quantization']}, {_gib(m['sizeBytes'])}, "
        f"{m['layers']} layers{moe}",
        f"  needs: weights {_gib(n['weights'])}"
        + (f" (experts {_gib(n['experts'])})" if n["experts"] else "")
        + f", KV cache at {m['contextLength']} tokens {_gib(n['kv_cache'])}, "
        f"compute about {_gib(n['compute'])}",
    ]
    if r.get("assumedGpu"):
        lines.append(f"  on an assumed GPU with {_gib(r['assumedGpu']['freeBytes'])} free:")
    lines.append(f"  plan: {p['summary']}")
    if p["gpu"]:
        lines.append(
            f"        GPU about {_gib(p['gpuBytes'])}, system RAM about {_gib(p['ramBytes'])}"
        )
    if p["tensorOverrides"]:
        lines.append(f"        tensors kept in RAM: {' '.join(p['tensorOverrides'])}")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    r = report(args)
    print(json.dumps(r, indent=2) if args.json else format_report(r))
    return 0


def _register(p: argparse.ArgumentParser) -> None:
    from inference.offload import CACHE_TYPES, SETTINGS

    p.add_argument("--model", help="GGUF file (default: $FOCAL_MODEL or the embedded SmolLM2)")
    p.add_argument("--ctx", type=int, default=4096, help="context window in tokens (4096)")
    p.add_argument("--gpu-layers", type=int, default=-1, help="as focal.model.gpuLayers (-1)")
    p.add_argument(
        "--moe-experts", choices=SETTINGS, default="auto", help="as focal.model.moeExperts"
    )
    p.add_argument(
        "--cache-type", choices=CACHE_TYPES, default="f16", help="as focal.model.cacheType"
    )
    p.add_argument(
        "--assume-gpu-gib",
        type=float,
        metavar="N",
        help="plan for a GPU with N GiB free instead of this machine's",
    )
    p.add_argument(
        "--cpu-extra-buffers",
        choices=("auto", "on", "off"),
        default="auto",
        help="as focal.model.cpuExtraBuffers (auto)",
    )
    p.add_argument(
        "--reprobe",
        action="store_true",
        help="run the CPU kernel probe again instead of reading its cached verdict",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `focal doctor`."""
    _register(
        sub.add_parser(
            "doctor", help="show the llama.cpp build, devices, and where a model's weights go"
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="focal doctor", description=__doc__.splitlines()[0])
    _register(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
