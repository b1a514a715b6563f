"""The `focal` command: serve, complete, model-info (and the index commands from `indexing`)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

from inference.defaults import NO_MODEL_HELP, default_model_path
from inference.model_card import ModelError, read_model_card
from inference.types import CompletionTask, GenerationParams, Suggestion
from lsp_server import __version__
from lsp_server.origin_view import origin_dict

log = logging.getLogger("focal")

_LANGS = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".sh": "shellscript",
    ".lua": "lua",
}


def _setup_logging(level: str | None, log_file: str | None = None) -> None:
    level = level or "warning"
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # pygls logs every message body at INFO; that belongs to --log-level debug only.
    if root.level > logging.DEBUG:
        logging.getLogger("pygls").setLevel(logging.WARNING)
        # A client cancelling a request already answered is an ordinary race (VS Code does
        # it while typing); pygls warns about it on stderr, which editors show as an error.
        logging.getLogger("pygls.protocol.json_rpc").addFilter(_not_a_late_cancel)


def _not_a_late_cancel(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Cancel notification for unknown message id")


_UNSUPPORTED_TRANSPORTS = ("--pipe", "--socket", "--node-ipc")
"""Transports other clients ask for (vscode-languageclient's TransportKind.pipe, socket and
ipc): refused with a clear message, never silently answered on stdio, where that client
would wait forever."""


def _unsupported_transport(args: argparse.Namespace) -> str | None:
    for flag in _UNSUPPORTED_TRANSPORTS:
        if getattr(args, f"unsupported_{flag.strip('-').replace('-', '_')}", None) is not None:
            return flag
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    flag = _unsupported_transport(args)
    if flag is not None:
        print(
            f"focal serve: the {flag} transport is not supported; Focal talks LSP on stdio "
            "(the default, or --stdio) or on TCP (--tcp HOST:PORT). Configure the client "
            "for stdio.",
            file=sys.stderr,
        )
        return 2
    if args.stdio and args.tcp:
        print("focal serve: --stdio and --tcp exclude each other; pick one.", file=sys.stderr)
        return 2
    _setup_logging(args.log_level or "info", args.log_file)
    from lsp_server.server import create_server

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        return server.start_tcp(host or "127.0.0.1", int(port))
    # stdout is the JSON-RPC channel: give the protocol its own copy of fd 1 and point fd 1
    # at stderr, so that nothing else (llama.cpp, a stray print) can corrupt the stream.
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return server.start_io(sys.stdin.buffer, proto_out)


def _parse_location(spec: str) -> tuple[Path, int, int]:
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise SystemExit(f"focal: expected FILE:LINE:COL (1-based), got {spec!r}")
    return Path(parts[0]), int(parts[1]), int(parts[2])


def _task_from_file(path: Path, line: int, col: int) -> CompletionTask:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"focal: cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in data[:8192]:
        raise SystemExit(f"focal: {path} looks binary; Focal completes text files only")
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if line < 1 or line > max(1, len(lines)):
        raise SystemExit(f"focal: {path} has {len(lines)} lines; line {line} is out of range")
    row = lines[line - 1] if lines else ""
    body = row.rstrip("\r\n")
    if col < 1 or col > len(body) + 1:
        raise SystemExit(
            f"focal: line {line} has {len(body)} characters; column {col} is out of range"
        )
    offset = sum(len(x) for x in lines[: line - 1]) + col - 1
    return CompletionTask(
        document=path.resolve().as_uri(),
        path=str(path),
        language=_LANGS.get(path.suffix, path.suffix.lstrip(".") or "text"),
        prefix=text[:offset],
        suffix=text[offset:],
        line=line - 1,
        character=col - 1,
        trigger="invoked",
    )


def _resolve_model(arg: str | None) -> Path:
    path = default_model_path(arg)
    if path is None:
        raise SystemExit(f"focal: {NO_MODEL_HELP}")
    return path


def cmd_complete(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level)
    from inference.engine import EngineConfig, LlamaEngine

    path, line, col = _parse_location(args.location)
    task = _task_from_file(path, line, col)
    try:
        engine = LlamaEngine.from_path(
            _resolve_model(args.model),
            EngineConfig(n_gpu_layers=args.gpu_layers, n_ctx=args.ctx),
        )
        engine.wait_loaded()
    except ModelError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return 2
    params = GenerationParams(max_tokens=args.max_tokens, time_budget_ms=args.time_budget_ms)
    try:
        # The same repository context as the server's (and `focal context`'s).
        from lsp_server.cli_context import context_for, settings_from

        root = Path(args.root) if args.root else None
        task, _, _, bundle, _ = context_for(
            task,
            path,
            engine,
            settings_from(args),
            args.max_tokens,
            root,
            not args.no_build,
            args.redact_secrets,
        )
        suggestion = engine.complete(task, params, bundle).future.result()
    finally:
        engine.close()
    recorded = _record_cli_suggestion(suggestion, task)
    origin = suggestion.origin
    if args.json:
        out = {
            "id": suggestion.id,
            "text": suggestion.text,
            "origin": origin_dict(origin),
            "loadSeconds": round(engine.load_seconds, 3),
            "recorded": recorded,
        }
        print(json.dumps(out, indent=2))
        return 0
    t = origin.timing
    print(suggestion.text)
    print(
        f"\n── origin: {origin.model_name} · {origin.quantization} · sha256:{origin.short_digest}"
        f" · {origin.engine} on {origin.device}\n"
        f"   template {origin.template} · load {engine.load_seconds * 1000:.0f} ms · "
        f"completion {t.total_ms:.0f} ms (prefill {t.prefill_ms:.0f}, decode {t.decode_ms:.0f}) · "
        f"{t.tokens_generated} tokens · confidence {origin.confidence:.2f} · "
        f"stopped: {origin.stop_reason}"
    )
    for c in origin.context:
        print(f"   context: {c.path}:{c.start_line + 1}-{c.end_line + 1} — {c.reason}")
    if recorded:
        print(f"   ledger: suggestion {suggestion.id} (focal audit --task cli)")
    return 0


def _record_cli_suggestion(suggestion: Suggestion, task: CompletionTask) -> bool:
    """Record a printed completion in the ledger (task `cli`), as the server records the
    ones it shows. A ledger that cannot be written costs a warning, not the completion."""
    from lsp_server.ledger import Ledger, LedgerError

    try:
        with Ledger.open() as ledger:
            ledger.record_suggestion(
                suggestion, "cli", task.document, task.line, task.character, suggestion.prompt
            )
            ledger.record_event(suggestion.id, "shown", task.document)
    except (LedgerError, OSError, sqlite3.Error) as exc:
        print(f"focal: the suggestion was not recorded in the ledger: {exc}", file=sys.stderr)
        return False
    return True


def cmd_model_info(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level)
    try:
        card = read_model_card(_resolve_model(args.path))
    except ModelError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return 2
    from inference.templates import template_for

    info = {
        "path": str(card.path),
        "name": card.name,
        "architecture": card.architecture,
        "quantization": card.quantization,
        "sizeBytes": card.size_bytes,
        "parameters": card.n_params,
        "experts": card.expert_count,
        "expertsPerToken": card.expert_used_count,
        "layers": card.n_layer,
        "contextLength": card.context_length,
        "vocabulary": card.vocab_size,
        "fimFamily": card.fim_family,
        "template": template_for(card).name,
        "fimTokens": {k: v for k, v in vars(card.fim).items() if v},
        "chatTemplate": card.has_chat_template,
        "sha256": card.digest,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="focal", description="Focal: a local-first AI language server."
    )
    parser.add_argument("--version", action="version", version=f"focal {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        help="debug, info, warning, error (default: info for serve, warning otherwise)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.add_argument("--log-file", help="write the log here instead of stderr")
    # Also after `serve` (`focal serve --log-level debug`, as editor configs write it).
    p.add_argument("--log-level", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    # What LSP client libraries append to a server's command line: vscode-languageclient
    # adds `--stdio` for TransportKind.stdio (and `--clientProcessId=N` for Node modules),
    # other clients copy the convention. Stdio is the default anyway.
    p.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    p.add_argument(
        "--clientProcessId",
        "--client-process-id",
        dest="client_process_id",
        type=int,
        metavar="PID",
        help="the editor's process id (accepted for client libraries that pass it; unused)",
    )
    for flag in _UNSUPPORTED_TRANSPORTS:
        p.add_argument(
            flag,
            dest=f"unsupported_{flag.strip('-').replace('-', '_')}",
            nargs="?",
            const=True,
            default=None,
            help=argparse.SUPPRESS,
        )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("complete", help="complete FILE at LINE:COL (1-based) and show the origin")
    p.add_argument("location", metavar="FILE:LINE:COL")
    p.add_argument("--model", help="GGUF file (default: $FOCAL_MODEL or the embedded SmolLM2)")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--time-budget-ms", type=int, default=10_000)
    p.add_argument("--gpu-layers", type=int, default=-1)
    p.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from lsp_server.cli_context import add_context_arguments

    add_context_arguments(p)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("model-info", help="show a GGUF's card without loading its weights")
    p.add_argument("path", nargs="?", help="GGUF file (default: the embedded model)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_model_info)

    for module in _COMMAND_MODULES:
        # Each package registers its own commands; a module not written yet is skipped,
        # but an error inside one that exists is not hidden.
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its package is not there
            found = False
        if found:
            importlib.import_module(module).add_commands(sub)
    return parser


_COMMAND_MODULES = (
    "lsp_server.cli_summary",
    "indexing.cli",
    "lsp_server.ledger.cli",
    "inference.models_cli",
    "inference.synthetic_cli",
    "lsp_server.cli_bench",
    "lsp_server.doctor",
    "lsp_server.cli_context",
)


def command_names() -> set[str]:
    parser = build_parser()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
