"""`focal synth tiny|shaped` and `python -m inference.synthetic`: write synthetic GGUF models."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from inference.synthetic import (
    ARCHS,
    FIM_VARIANTS,
    SHAPES,
    SyntheticError,
    write_shaped_model,
    write_tiny_model,
)


def _fim(value: str) -> str | None:
    if value == "none":
        return None
    if value not in FIM_VARIANTS:
        raise argparse.ArgumentTypeError(
            f"unknown FIM variant {value!r}; choose one of {', '.join(FIM_VARIANTS)}, none"
        )
    return value


def _progress(stage: str, fraction: float) -> None:
    if sys.stderr.isatty():
        end = "\n" if stage == "done" else ""
        print(f"\r\x1b[2K{stage} {fraction:4.0%}", end=end, file=sys.stderr, flush=True)


def cmd_tiny(args: argparse.Namespace) -> int:
    try:
        path = write_tiny_model(
            args.out, arch=args.arch, fim=args.fim, chat_template=args.chat, seed=args.seed
        )
    except SyntheticError as exc:
        print(f"focal synth: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0


def cmd_shaped(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    try:
        path = write_shaped_model(
            args.out,
            args.shape,
            args.quant,
            layers=args.layers,
            seed=args.seed,
            progress=_progress,
        )
    except SyntheticError as exc:
        print(f"focal synth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nfocal synth: interrupted; partial files removed", file=sys.stderr)
        return 130
    size = path.stat().st_size
    print(f"{path} ({size / 2**30:.2f} GiB, {time.perf_counter() - t0:.0f} s)")
    return 0


def _register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tiny", help="a tiny random model for tests (loads in milliseconds)")
    p.add_argument("out", type=Path, help="the .gguf file to write")
    p.add_argument("--arch", choices=ARCHS, default="mellum")
    p.add_argument(
        "--fim",
        type=_fim,
        default="spm",
        metavar="VARIANT",
        help=f"FIM tokens: {', '.join(FIM_VARIANTS)} or none (default: spm, Mellum-style)",
    )
    p.add_argument("--chat", action="store_true", help="add a ChatML chat template")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_tiny)

    p = sub.add_parser("shaped", help="a random-weight model with a real model's tensor shapes")
    p.add_argument("out", type=Path, help="the .gguf file to write")
    p.add_argument("--shape", default="mellum2", help=f"one of {', '.join(SHAPES)}")
    p.add_argument("--quant", default="Q4_K_M", help="llama.cpp file type, e.g. Q4_K_M, Q8_0, F16")
    p.add_argument("--layers", type=int, help="write only the first N layers (quick tests)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_shaped)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `focal synth tiny|shaped`."""
    p = sub.add_parser("synth", help="write a synthetic GGUF model (tests and benchmarks)")
    _register(p.add_subparsers(dest="synth_command", required=True, metavar="KIND"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.synthetic", description="Write a synthetic GGUF model."
    )
    _register(parser.add_subparsers(dest="synth_command", required=True, metavar="KIND"))
    args = parser.parse_args(argv)
    return int(args.func(args))
