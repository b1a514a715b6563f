"""`focal bench`: Focal's engine against bare llama-cpp-python, in one process, one run.

The scenarios live in `benchmarks/` at the root of a source checkout (they are development
tools, not part of the installed package); this module finds them there, picks the model
(a file, the embedded SmolLM2, or a synthetic shape-accurate model it writes once into the
cache), runs the scenarios asked for and prints medians and Focal/bare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_SCENARIOS = ("cold", "keystroke", "throughput", "lsp")
ALL_SCENARIOS = (*DEFAULT_SCENARIOS, "levers")
_REPO = Path(__file__).resolve().parents[1]


class BenchError(Exception):
    """The benchmark cannot run; the message says why and what to do."""


def _import_benchmarks() -> None:
    if not (_REPO / "benchmarks" / "harness.py").is_file():
        raise BenchError(
            "the benchmark scenarios live in benchmarks/ of a source checkout, and this "
            f"installation has none next to {_REPO}. Run `focal bench` from a clone "
            "(pip install -e .)."
        )
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))


def _shaped_model(shape: str, quant: str, layers: int | None, quiet: bool = False) -> Path:
    import platformdirs

    from inference.synthetic import SHAPES, SyntheticError, write_shaped_model

    if shape not in SHAPES:
        raise BenchError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if layers is not None and layers >= SHAPES[shape].n_layer:
        layers = None  # the whole model
    say = (lambda *a, **k: None) if quiet else print
    folder = platformdirs.user_cache_path("focal") / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f"-{layers}L" if layers else ""
    path = folder / f"{shape}{suffix}-{quant.upper()}.gguf"
    if path.is_file():
        say(f"[bench] reusing {path}", file=sys.stderr)
        return path
    say(f"[bench] writing synthetic {shape} ({quant}) to {path} ...", file=sys.stderr)

    def report(stage: str, fraction: float) -> None:
        say(f"\r[bench] {stage} {fraction:4.0%}", end="", file=sys.stderr, flush=True)

    try:
        write_shaped_model(path, shape, quant, layers=layers, progress=report)
    except SyntheticError as exc:
        raise BenchError(str(exc)) from exc
    say(file=sys.stderr)
    return path


def resolve_model(args: argparse.Namespace) -> Path:
    from inference.defaults import NO_MODEL_HELP, default_model_path

    if args.shape:
        return _shaped_model(args.shape, args.quant, args.layers, args.quiet)
    path = default_model_path(args.model)
    if path is None:
        raise BenchError(NO_MODEL_HELP)
    if not path.is_file():
        raise BenchError(
            f"model file {path} does not exist. Pass --model PATH to a .gguf file, or "
            "--shape mellum2 to benchmark a synthetic model of Mellum2's shape."
        )
    return path


def machine_info() -> dict[str, Any]:
    import llama_cpp

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from inference.offload import build_info

    build = build_info()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "build": build.kind,
        "gpus": [
            {"name": d.name, "description": d.description, "total_bytes": d.total_bytes}
            for d in build.devices
            if d.kind != "cpu"
        ],
        "gpu_offload": build.gpu_offload,
        "llama_cpp_python": getattr(llama_cpp, "__version__", "?"),
        "python": platform.python_version(),
    }


def _model_info(model: Path, card: Any, args: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {
        "path": str(model),
        "name": card.name,
        "architecture": card.architecture,
        "quantization": card.quantization,
        "size_bytes": card.size_bytes,
        "parameters": card.n_params,
        "layers": card.n_layer,
        "experts": [card.expert_count, card.expert_used_count],
    }
    if args.shape:
        from inference.synthetic import SHAPES

        full = SHAPES[args.shape].n_layer
        info["shape"] = args.shape
        info["partial"] = card.n_layer < full
        info["full_layers"] = full
        info["note"] = (
            f"random weights of {args.shape}'s shape; {card.n_layer} of its {full} layers "
            "(times per token scale about linearly with layers)"
            if card.n_layer < full
            else f"random weights of {args.shape}'s shape"
        )
    return info


def run(args: argparse.Namespace) -> dict[str, Any]:
    _import_benchmarks()
    from benchmarks import engine_vs_llama, levers, lsp_overhead
    from benchmarks.harness import (
        Bare,
        BenchConfig,
        open_bare,
        open_focal,
        progress,
        warm_up,
    )
    from inference.model_card import ModelError, read_model_card
    from inference.offload import flash_attn_for

    model = resolve_model(args)
    try:
        card = read_model_card(model, with_digest=False)
    except ModelError as exc:
        raise BenchError(str(exc)) from exc
    cfg = BenchConfig(
        model=model,
        n_ctx=args.ctx,
        threads=args.threads,
        gpu_layers=args.gpu_layers,
        repeats=args.repeats,
        n_batch=args.n_batch,
        new_tokens=args.new_tokens,
        long_prompt=args.prompt_tokens,
        steps=args.steps,
        flash_attn=not args.no_flash_attn,
        moe_experts=args.moe_experts,
        cache_type=args.cache_type,
        quiet=args.quiet,
    )
    wanted = list(dict.fromkeys(args.scenarios))
    result: dict[str, Any] = {
        "machine": machine_info(),
        "model": _model_info(model, card, args),
        "settings": {
            "n_ctx": min(cfg.n_ctx, card.context_length or cfg.n_ctx),
            "threads_decode": cfg.decode_threads,
            "threads_batch": cfg.batch_threads,
            "gpu_layers": cfg.gpu_layers,
            "n_batch": cfg.n_batch,
            "flash_attn": cfg.flash_attn,
            "moe_experts": cfg.moe_experts,
            "cache_type": cfg.cache_type,
            "repeats": cfg.repeats,
            "new_tokens": cfg.new_tokens,
        },
        "scenarios": {},
    }
    t0 = time.perf_counter()
    progress(cfg, f"loading {model.name} twice (Focal's engine and a bare Llama)")
    try:
        engine = open_focal(cfg)
    except ModelError as exc:
        raise BenchError(str(exc)) from exc
    bare = Bare(open_bare(cfg, engine.plan), card.add_bos)
    warm_up(engine, bare)
    result["device"] = engine.device
    result["plan"] = engine.plan.describe() if engine.plan else None
    mode = flash_attn_for(cfg.flash_attn, engine.plan, cfg.cache_type)
    result["settings"]["flash_attn_mode"] = {-1: "auto", 0: "off", 1: "on"}[mode]
    try:
        for name in wanted:
            progress(cfg, f"scenario {name}")
            if name in engine_vs_llama.SCENARIOS:
                out = engine_vs_llama.SCENARIOS[name](cfg, engine, bare)
            elif name == "lsp":
                out = lsp_overhead.lsp(cfg, engine, bare)
            elif name == "levers":
                out = levers.levers(cfg, engine, args.levers)
            else:
                raise BenchError(f"unknown scenario {name!r}")
            result["scenarios"][name] = out
    finally:
        engine.close()
        bare.close()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def _fmt(v: Any) -> str:
    if isinstance(v, dict) and "p50" in v:
        return f"{v['p50']:.1f} (p95 {v['p95']:.1f})"
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


GOALS = (
    # (scenario, value key, goal key, at most?, label)
    ("lsp", "overhead_vs_bare", "overhead_vs_bare", True, "LSP request vs bare llama-cpp-python"),
    ("keystroke", "latency_vs_decode_only_p50", "latency_vs_decode_only_p50", True,
     "keystroke p50 / decode-only time of the same tokens"),
    ("keystroke", "reuse_share", "reuse_share", False, "keystroke prompt tokens reused"),
)  # fmt: skip


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, as measured in this run."""
    out = []
    for scenario, key, goal_key, at_most, label in GOALS:
        sc = result["scenarios"].get(scenario)
        if not sc:
            continue
        value = sc.get("ratio", {}).get(key, sc.get(key, sc.get("focal", {}).get(key)))
        goal = sc.get("goals", {}).get(goal_key)
        if value is None or goal is None:
            continue
        met = value <= goal if at_most else value >= goal
        out.append(
            {
                "goal": label,
                "key": f"{scenario}.{key}",
                "value": value,
                "target": goal,
                "at_most": at_most,
                "met": met,
            }
        )
    return out


def format_table(result: dict[str, Any]) -> str:
    m, mdl, st = result["machine"], result["model"], result["settings"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, llama.cpp build {m.get('build', '?')}, "
        f"device {result.get('device', '?')}, llama-cpp-python {m['llama_cpp_python']}",
        f"model:   {mdl['name']} ({mdl['architecture']}, {mdl['quantization']}, "
        f"{mdl['size_bytes'] / 2**20:.0f} MiB, {mdl['layers']} layers)",
    ]
    if mdl.get("note"):
        lines.append(f"         {mdl['note']}")
    if result.get("plan"):
        lines.append(f"plan:    {result['plan']}")
    lines += [
        f"settings: ctx {st['n_ctx']}, threads {st['threads_decode']}/{st['threads_batch']}, "
        f"gpu layers {st['gpu_layers']}, batch {st['n_batch']}, flash attn "
        f"{st.get('flash_attn_mode', st['flash_attn'])}, KV {st['cache_type']}, "
        f"repeats {st['repeats']}",
        "",
        f"{'scenario':<12} {'metric':<28} {'focal':>22} {'bare':>22} {'ratio':>8}",
    ]
    for name, sc in result["scenarios"].items():
        if name == "levers":
            continue
        focal, bare, ratios = sc.get("focal", {}), sc.get("bare", {}), dict(sc.get("ratio", {}))
        for key in dict.fromkeys([*focal, *bare]):
            stem = key.rsplit("_ms", 1)[0]
            rkey = next((k for k in ratios if k.startswith(stem)), None)
            r = ratios.pop(rkey) if rkey else ""
            f = _fmt(focal.get(key, ""))
            b = _fmt(bare.get(key, ""))
            lines.append(f"{name:<12} {key:<28} {f:>22} {b:>22} {_fmt(r):>8}")
        for k, v in ratios.items():
            lines.append(f"{name:<12} {'ratio ' + k:<51} {'':>22} {_fmt(v):>8}")
        if "note" in sc:
            lines.append(f"{'':<12} ({sc['note']})")
    if "levers" in result["scenarios"]:
        lines += ["", "levers (same model, same run):"]
        for lever, rows in result["scenarios"]["levers"].items():
            for row in rows if isinstance(rows, list) else [rows]:
                cells = ", ".join(f"{k} {_fmt(v)}" for k, v in row.items())
                lines.append(f"  {lever:<15} {cells}")
    met = goals(result)
    if met:
        lines += ["", "goals:"]
        for g in met:
            sign = "<=" if g["at_most"] else ">="
            mark = "met" if g["met"] else "NOT met"
            value, target = _fmt(g["value"]), g["target"]
            if "overhead" in g["key"] or "reuse" in g["key"]:
                value, target = f"{g['value']:+.1%}", f"{g['target']:.0%}"
                value = value.lstrip("+") if "reuse" in g["key"] else value
            lines.append(f"  {g['goal']}: {value} (goal {sign} {target}): {mark}")
    lines.append(f"\n{result['seconds']} s in all")
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=getattr(logging, (args.log_level or "warning").upper(), 30))
    if not args.log_level:
        # Each load of a sliding-window model warns that its SWA cache is full-size (as Focal
        # wants it: see DESIGN.md); a benchmark loads many.
        logging.getLogger("llama.cpp").setLevel(logging.ERROR)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"focal bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nfocal bench: interrupted", file=sys.stderr)
        return 130
    result["goals"] = goals(result)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


def _register(p: argparse.ArgumentParser) -> None:
    from inference.offload import CACHE_TYPES, SETTINGS

    p.add_argument("--model", help="GGUF file (default: $FOCAL_MODEL or the embedded SmolLM2)")
    p.add_argument(
        "--shape",
        help="benchmark a synthetic random-weight model of a real one's shape, written once "
        "into the cache: mellum2, qwen2.5-7b, mellum2-mini",
    )
    p.add_argument("--layers", type=int, help="with --shape: keep only the first N layers")
    p.add_argument("--quant", default="Q4_K_M", help="with --shape: quantization (Q4_K_M)")
    p.add_argument(
        "--scenarios",
        nargs="+",
        default=list(DEFAULT_SCENARIOS),
        choices=ALL_SCENARIOS,
        metavar="NAME",
        help=f"some of {', '.join(ALL_SCENARIOS)} (default: all but levers)",
    )
    p.add_argument(
        "--levers",
        nargs="+",
        metavar="NAME",
        help="with levers: only these of flash_attn, kv_cache_type, batch_size, "
        "decode_threads, prompt_lookup, time_budget",
    )
    p.add_argument("--repeats", type=int, default=3, help="repeats per scenario (medians)")
    p.add_argument("--ctx", type=int, default=8192, help="context window (capped at the model's)")
    p.add_argument("--prompt-tokens", type=int, default=4096, help="long prompt for `cold`")
    p.add_argument("--new-tokens", type=int, default=48, help="tokens generated per request")
    p.add_argument("--steps", type=int, default=24, help="keystrokes replayed")
    p.add_argument("--threads", type=int, help="CPU threads (default: as Focal's engine)")
    p.add_argument(
        "--gpu-layers", type=int, default=-1, help="layers on the GPU (-1: all, as Focal; 0: none)"
    )
    p.add_argument(
        "--moe-experts",
        choices=SETTINGS,
        default="auto",
        help="where a MoE's expert tensors go when offloading (focal.model.moeExperts)",
    )
    p.add_argument("--cache-type", choices=CACHE_TYPES, default="f16", help="KV cache type (f16)")
    p.add_argument("--n-batch", type=int, default=512, help="prompt tokens per batch (512)")
    p.add_argument(
        "--no-flash-attn",
        action="store_true",
        help="never flash attention (default: where it helps, i.e. on a GPU)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_bench)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `focal bench`."""
    _register(sub.add_parser("bench", help="benchmark Focal's engine against bare llama.cpp"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="focal bench", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None)
    _register(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
