"""`focal context FILE:LINE:COL`: what a completion there puts in the prompt, and why.

The same retrieval as the server's completions (`lsp_server.context.gather`), over the
same index (the workspace's, under the user cache dir), with the same model's tokens.
`focal complete` uses it too, so the two commands agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from indexing.indexer import BuildProgress, Index
from indexing.retrieval import Retrieval, Retriever
from inference.model_card import ModelError
from inference.redact import POLICIES, Counts, summary
from inference.templates import RepoContext, build_prompt
from inference.types import CompletionTask, Prompt
from lsp_server.context import Room, bundle_of, gather, redacted
from lsp_server.settings import ContextSettings, PrivacySettings

_ROOT_MARKERS = ("pyproject.toml", "setup.py", "package.json", "go.mod", "Cargo.toml", "pom.xml")


def find_root(path: Path) -> Path:
    """The workspace a file belongs to: the nearest folder above it with `.git`, else the
    nearest with a project file (`pyproject.toml`, `package.json`, `go.mod`, ...), else
    the file's own folder."""
    start = path.resolve().parent
    marked = None
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
        if marked is None and any((d / m).exists() for m in _ROOT_MARKERS):
            marked = d
    return marked or start


def _progress(p: BuildProgress) -> None:
    if sys.stderr.isatty() and (p.done % 50 == 0 or p.done == p.total):
        print(f"\r\x1b[2Kindexing {p.done}/{p.total} {p.path[:60]}", end="", file=sys.stderr)


def open_index(root: Path, build: bool = True) -> Index | None:
    """The workspace's index, brought up to date (None when it cannot be opened)."""
    try:
        index = Index.open(root)
    except Exception as exc:
        print(
            f"focal: cannot open the index of {root} ({exc}); no repository context",
            file=sys.stderr,
        )
        return None
    if build:
        summary = index.build(_progress)
        if sys.stderr.isatty():
            print("\r\x1b[2K", end="", file=sys.stderr)
        if summary.ai_disabled:
            print(f"focal: {root} has .noai: no repository context", file=sys.stderr)
    return index


def settings_from(args: argparse.Namespace) -> ContextSettings:
    return ContextSettings(
        budget_tokens=args.budget,
        definitions=not args.no_definitions,
        imports=not args.no_imports,
        similar=not args.no_similar,
        exclude_globs=tuple(args.exclude or ()),
    )


def context_for(
    task: CompletionTask,
    file: Path,
    engine: Any,
    settings: ContextSettings,
    max_tokens: int,
    root: Path | None = None,
    build: bool = True,
    redact_secrets: str = "remote",
) -> tuple[CompletionTask, Retrieval, Room, RepoContext, Counts]:
    """The task with its workspace-relative path, and the context a completion of it
    gets (nothing when the workspace has no usable index), both with secrets replaced as
    the policy `redact_secrets` says for `engine`, and what was replaced."""
    root = root or find_root(file)
    try:
        rel = file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = str(file.resolve())
    task = replace(task, path=rel)
    off = settings.budget_tokens <= 0 or not (
        settings.definitions or settings.imports or settings.similar
    )
    index = None if off else open_index(root, build)
    try:
        retriever = Retriever(index, root)
        retrieval, room = gather(retriever, task, engine, settings, max_tokens)
    finally:
        if index is not None:
            index.close()
    shown, bundle, counts = redacted(task, bundle_of(retrieval, root.name), engine, redact_secrets)
    return shown, retrieval, room, bundle, counts


def add_context_arguments(p: argparse.ArgumentParser) -> None:
    defaults = ContextSettings()
    p.add_argument("--root", help="workspace root (default: the nearest folder with .git)")
    p.add_argument(
        "--budget",
        type=int,
        default=defaults.budget_tokens,
        help=f"most tokens of repository context (default {defaults.budget_tokens}; 0: none)",
    )
    p.add_argument("--no-definitions", action="store_true", help="leave out definitions")
    p.add_argument("--no-imports", action="store_true", help="leave out imported modules")
    p.add_argument("--no-similar", action="store_true", help="leave out similar code")
    p.add_argument(
        "--exclude", action="append", metavar="GLOB", help="never use these paths (repeatable)"
    )
    p.add_argument("--no-build", action="store_true", help="use the index as it is")
    p.add_argument(
        "--redact-secrets",
        choices=POLICIES,
        default=PrivacySettings().redact_secrets,
        help="replace credentials in the prompt: `remote` (only for a remote engine; the "
        "default, as the setting privacy.redactSecrets), `always` or `never`",
    )


def _healed(task: CompletionTask) -> CompletionTask:
    # As the engine does: a prefix ending in spaces after code leaves them to the model.
    last = task.prefix.rsplit("\n", 1)[-1]
    heal = last[len(last.rstrip(" \t")) :] if last.strip() else ""
    return replace(task, prefix=task.prefix[: len(task.prefix) - len(heal)]) if heal else task


def _show_piece(text: str, control: bool) -> str:
    return f"⟨{text}⟩" if control else text


def cmd_context(args: argparse.Namespace) -> int:
    from inference.engine import EngineConfig, LlamaEngine
    from lsp_server.cli import _parse_location, _resolve_model, _setup_logging, _task_from_file

    _setup_logging(args.log_level)
    file, line, col = _parse_location(args.location)
    task = _task_from_file(file, line, col)
    try:
        engine = LlamaEngine.from_path(
            _resolve_model(args.model), EngineConfig(n_gpu_layers=0, n_ctx=args.ctx)
        )
        engine.wait_loaded()
    except ModelError as exc:
        print(f"focal: {exc}", file=sys.stderr)
        return 2
    try:
        root = Path(args.root) if args.root else None
        task, retrieval, room, bundle, counts = context_for(
            task,
            file,
            engine,
            settings_from(args),
            args.max_tokens,
            root,
            not args.no_build,
            args.redact_secrets,
        )
        prompt = build_prompt(engine.template, _healed(task), bundle)
        tokens = len(engine.prompt_tokens(prompt))
        n_ctx = engine.n_ctx
    finally:
        engine.close()
    texts = [c.text for c in bundle.chunks]
    if args.json:
        out = _as_json(args, task, engine, retrieval, room, prompt, tokens, texts, counts)
        print(json.dumps(out, indent=2))
        return 0
    _print_text(args, task, engine, retrieval, room, prompt, tokens, n_ctx, texts, counts)
    return 0


def _as_json(
    args,
    task,
    engine,
    retrieval: Retrieval,
    room: Room,
    prompt: Prompt,
    tokens: int,
    texts: list[str],
    counts: Counts,
):
    return {
        "location": {"path": task.path, "line": task.line + 1, "column": task.character + 1},
        "model": {"name": engine.card.name, "template": prompt.template},
        "budgetTokens": retrieval.budget_tokens,
        "settingsBudgetTokens": args.budget,
        "usedTokens": retrieval.used_tokens,
        "candidates": retrieval.candidates,
        "retrievalMs": round(retrieval.milliseconds, 3),
        "note": retrieval.note,
        "visibleLines": [room.visible[0] + 1, room.visible[1] + 1],
        "chunks": [
            {
                "path": c.path,
                "startLine": c.start_line + 1,
                "endLine": c.end_line + 1,
                "source": c.source,
                "reason": c.reason,
                "tokens": c.tokens,
                "score": round(c.score, 3),
                "text": text,
            }
            for c, text in zip(retrieval.chunks, texts, strict=True)
        ],
        "redactSecrets": args.redact_secrets,
        "redactions": dict(counts),
        "prompt": {
            "tokens": tokens,
            "pieces": [{"text": p.text, "control": p.control} for p in prompt.pieces],
        },
    }


def _print_text(args, task, engine, retrieval, room, prompt, tokens, n_ctx, texts, counts) -> None:
    print(
        f"context for {task.path}:{task.line + 1}:{task.character + 1} · model "
        f"{engine.card.name} · template {prompt.template}"
    )
    budget = retrieval.budget_tokens
    limit = f"budget {budget}" + (f" (setting {args.budget})" if budget < args.budget else "")
    print(
        f"{len(retrieval.chunks)} chunks, {retrieval.used_tokens} tokens of {limit}; "
        f"{retrieval.candidates} candidates ranked in {retrieval.milliseconds:.1f} ms"
        + (f" · {retrieval.note}" if retrieval.note else "")
    )
    if counts:
        print(f"secrets redacted ({args.redact_secrets}): {summary(counts)}")
    for i, (c, text) in enumerate(zip(retrieval.chunks, texts, strict=True), 1):
        print(f"\n{i:2d}. {c.path}:{c.start_line + 1}-{c.end_line + 1} · {c.tokens} tokens")
        print(f"    why: {c.reason}")
        for ln in text.rstrip("\n").split("\n"):
            print(f"    │ {ln}")
    first, last = room.visible
    print(
        f"\nthen the document itself: lines {first + 1}-{last + 1} around the cursor "
        f"(~{room.document_tokens} tokens)"
    )
    warn = " — over the window: the engine will drop chunks from the end" if tokens > n_ctx else ""
    print(f"prompt: {tokens} tokens in all (window {n_ctx}){warn}")
    if args.prompt:
        print("── prompt (control tokens in ⟨⟩) ──")
        print("".join(_show_piece(p.text, p.control) for p in prompt.pieces))
        print("── end of prompt ──")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "context",
        help="show the repository context a completion at FILE:LINE:COL gets, and why",
    )
    p.add_argument("location", metavar="FILE:LINE:COL", help="1-based line and column")
    p.add_argument("--model", help="GGUF file (default: $FOCAL_MODEL or the embedded SmolLM2)")
    p.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    p.add_argument("--max-tokens", type=int, default=64, help="tokens the completion may write")
    add_context_arguments(p)
    p.add_argument("--prompt", action="store_true", help="also print the whole prompt")
    p.add_argument("--json", action="store_true", help="machine-readable output (lines 1-based)")
    p.set_defaults(func=cmd_context)
