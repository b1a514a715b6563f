"""Index benchmark: full index of a tree vs universal-ctags on the same tree, the latency
of re-indexing one saved file, and peak memory. `focal index --bench [PATH]` and
`benchmarks/index_bench.py` both run it; PATH defaults to the running Python's stdlib."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from indexing.indexer import Index
from indexing.languages import available_languages

# Our language names -> universal-ctags' names, to make ctags parse what we parse.
_CTAGS_NAMES = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "go": "Go",
    "rust": "Rust",
    "java": "Java",
    "c": "C",
    "cpp": "C++",
    "csharp": "C#",
    "ruby": "Ruby",
    "php": "PHP",
    "shellscript": "Sh",
    "kotlin": "Kotlin",
    "lua": "Lua",
    "scala": "Scala",
    "swift": "Swift",
    "zig": "Zig",
    "haskell": "Haskell",
    "elixir": "Elixir",
    "ocaml": "OCaml",
}


@dataclass(frozen=True)
class BenchResult:
    tree: str
    files: int
    symbols: int
    seconds: float
    """Full index into an empty database."""
    workers: int
    noop_seconds: float
    """A second build with nothing changed."""
    ctags_seconds: float | None
    ctags_tags: int | None
    ratio: float | None
    """Our full index time / ctags' time (goal: <= 2)."""
    parse_only_seconds: float
    """tree-sitter parsing alone, one core, same files: the floor under our time."""
    floor_ratio: float | None
    """parse_only_seconds split perfectly over the parser processes (at most one per
    CPU), / ctags' time: no tree-sitter index of this tree can beat this ratio here."""
    one_file: str
    one_file_bytes: int
    one_file_ms: float
    """Median time to re-index that file after a save (goal: <= 30 ms)."""
    large_file: str
    large_file_bytes: int
    large_file_ms: float
    runs: int
    peak_rss_mb: float
    """Peak RSS of this process (the index, its database writes, the queries)."""
    worker_peak_rss_mb: float
    """Peak RSS of the largest parser process (0 when parsing ran in this process)."""
    ctags_peak_rss_mb: float | None
    cpus: int


def stdlib_dir() -> Path:
    return Path(os.__file__).parent


def _ctags() -> str | None:
    exe = shutil.which("ctags")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if "Universal Ctags" in out.stdout else None


def _ctags_run(exe: str, tree: Path, excludes: list[str]) -> tuple[float, int, float]:
    """ctags' seconds, tag count and peak RSS (MiB) over the same tree and languages."""
    known = subprocess.run(
        [exe, "--list-languages"], capture_output=True, text=True, timeout=10
    ).stdout.split()
    langs = sorted(
        {_CTAGS_NAMES[s.name] for s in available_languages() if s.name in _CTAGS_NAMES} & set(known)
    )
    cmd = [exe, "-R", "--fields=+n", f"--languages={','.join(langs)}", "-f", "-"]
    cmd += [f"--exclude={e}" for e in excludes]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, str(tree)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout
    assert out is not None
    tags = 0
    while chunk := out.read(1 << 16):
        tags += chunk.count(b"\n")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.close()
    return seconds, tags, usage.ru_maxrss / 1024


def _warm(tree: Path, excludes: list[str]) -> None:
    """Read the tree once so that neither contestant pays for a cold page cache."""
    for dirpath, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d not in excludes]
        for name in files:
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    while f.read(1 << 20):
                        pass
            except OSError:
                pass


def run_bench(
    tree: str | os.PathLike[str] | None = None,
    runs: int = 50,
    workers: int | None = None,
    log=lambda msg: print(msg, file=sys.stderr),
) -> BenchResult:
    tree = Path(tree) if tree else stdlib_dir()
    excludes = ["site-packages"] if tree == stdlib_dir() else []
    tmp = Path(tempfile.mkdtemp(prefix="focal-bench-"))
    try:
        db = tmp / "index.sqlite3"
        _warm(tree, excludes)
        log(f"focal full index of {tree} ...")
        index = Index.open(
            tree, db_path=db, workers=workers, extra_ignores=[f"/{e}/" for e in excludes]
        )
        summary = index.build()
        noop = index.build()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workers_peak = index.worker_peak_rss_kb / 1024
        exe = _ctags()
        ctags_s = ctags_tags = ctags_rss = None
        if exe:
            log(f"ctags on {tree} ...")
            ctags_s, ctags_tags, ctags_rss = _ctags_run(exe, tree, excludes)

        parse_only = _parse_only(tree, index)
        # The saved-file latency is measured against the full database: a scratch
        # workspace holds a copy of one file under the same relative path.
        files = [(p, tree / p) for p in index.store.paths_under("") if p.endswith(".py")]
        rows = [(p, f, f.stat().st_size) for p, f in files if f.is_file()]
        rows.sort(key=lambda r: r[2])
        typical = rows[len(rows) // 2] if rows else None
        large = max(
            (r for r in rows if r[0] in ("argparse.py", "typing.py", "inspect.py")),
            key=lambda r: r[2],
            default=rows[int(len(rows) * 0.95)] if rows else None,
        )
        index.close()
        one = _save_latency(tmp, db, typical, runs) if typical else (0.0, "", 0)
        big = _save_latency(tmp, db, large, runs) if large else (0.0, "", 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BenchResult(
        tree=str(tree),
        files=summary.files,
        symbols=summary.symbols,
        seconds=round(summary.seconds, 3),
        workers=index.workers,
        noop_seconds=round(noop.seconds, 3),
        ctags_seconds=round(ctags_s, 3) if ctags_s is not None else None,
        ctags_tags=ctags_tags,
        ratio=round(summary.seconds / ctags_s, 2) if ctags_s else None,
        parse_only_seconds=round(parse_only, 3),
        floor_ratio=(
            round(parse_only / min(index.workers, os.cpu_count() or 1) / ctags_s, 2)
            if ctags_s
            else None
        ),
        one_file=one[1],
        one_file_bytes=one[2],
        one_file_ms=round(one[0], 2),
        large_file=big[1],
        large_file_bytes=big[2],
        large_file_ms=round(big[0], 2),
        runs=runs,
        peak_rss_mb=round(peak, 1),
        worker_peak_rss_mb=round(workers_peak, 1),
        ctags_peak_rss_mb=round(ctags_rss, 1) if ctags_rss is not None else None,
        cpus=os.cpu_count() or 1,
    )


def _parse_only(tree: Path, index: Index) -> float:
    """Seconds tree-sitter alone takes to parse the indexed files on one core: the floor
    under any tree-sitter index, to read the ctags ratio against."""
    from indexing.extract import parse
    from indexing.languages import spec_named

    jobs = []
    for rel, lang in index.store.file_languages():
        spec = spec_named(lang)
        if spec is not None:
            with contextlib.suppress(OSError):
                jobs.append(((tree / rel).read_bytes(), spec))
    t0 = time.perf_counter()
    for data, spec in jobs:
        parse(data, spec)
    return time.perf_counter() - t0


def _save_latency(tmp: Path, db: Path, row, runs: int) -> tuple[float, str, int]:
    rel, src, size = row
    ws = tmp / f"ws-{abs(hash(rel))}"
    target = ws / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    original = src.read_bytes()
    index = Index.open(ws, db_path=db)
    try:
        times = []
        for i in range(runs):
            # A real edit each time, so the content hash differs and the file is parsed.
            target.write_bytes(original + f"\n# edit {i}\n".encode())
            t0 = time.perf_counter()
            fi = index.update_file(target)
            times.append((time.perf_counter() - t0) * 1000)
            assert fi is not None
    finally:
        index.close()
    return statistics.median(times), rel, size


def format_result(r: BenchResult) -> str:
    lines = [
        f"tree            {r.tree}",
        f"full index      {r.files} files, {r.symbols} symbols in {r.seconds:.2f} s "
        f"({r.workers} parser processes, {r.cpus} CPUs)",
    ]
    if r.ctags_seconds is not None:
        lines.append(
            f"ctags -R        {r.ctags_tags} tags in {r.ctags_seconds:.2f} s; "
            f"focal/ctags = {r.ratio:.2f}x (goal <= 2x)"
        )
    else:
        lines.append("ctags -R        universal-ctags not found: no comparison")
    floor = f"= {r.parse_only_seconds / r.ctags_seconds:.1f}x ctags" if r.ctags_seconds else ""
    lines.append(
        f"parse only      tree-sitter alone, one core: {r.parse_only_seconds:.2f} s {floor}"
    )
    if r.floor_ratio is not None:
        lanes = min(r.workers, r.cpus)
        lines.append(
            f"floor           that parse split perfectly over {lanes} processes: "
            f"{r.floor_ratio:.2f}x ctags (no tree-sitter index does better here)"
        )
    lines += [
        f"no-op rebuild   {r.noop_seconds * 1000:.0f} ms",
        f"save, typical   {r.one_file} ({r.one_file_bytes // 1024} KiB): median "
        f"{r.one_file_ms:.1f} ms over {r.runs} runs (goal <= 30 ms)",
        f"save, large     {r.large_file} ({r.large_file_bytes // 1024} KiB): median "
        f"{r.large_file_ms:.1f} ms",
        f"peak RSS        {r.peak_rss_mb:.0f} MiB, each parser process "
        f"{r.worker_peak_rss_mb:.0f} MiB (ctags {r.ctags_peak_rss_mb} MiB)",
    ]
    return "\n".join(lines)


def as_dict(r: BenchResult) -> dict:
    return asdict(r)
