"""Reading and parsing many files: in this process, or in parser processes.

Threads do not help here: tree-sitter parses without the GIL, but the rest of extraction
holds it, and on 2 cores two threads measured no faster than one. Processes did (1.4x
on 2 cores, the Python stdlib). Workers start from a clean forkserver, never as a fork of
this possibly multi-threaded process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import resource
import select
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor

from indexing.extract import FileRows, extract_rows
from indexing.languages import spec_named
from indexing.walker import Candidate, Skip, read_source

log = logging.getLogger(__name__)

PARALLEL_MIN_FILES = 200
"""Fewer files to parse than this: parse in this process (a pool costs ~0.3 s to start)."""
_CHUNK = 32
"""Files per task sent to a parser process, at most."""
_CHUNKS_PER_WORKER = 16
"""Tasks per process if all were the same size: the last one then costs its process at
most ~1/16 of its work in waiting for the others."""


def default_workers() -> int:
    """Parser processes for a large build. Threads do not help: tree-sitter parses
    without the GIL, but the rest of extraction holds it, and on 2 cores two threads
    measured no faster than one; two processes measured 1.4x faster."""
    return max(1, min(8, os.cpu_count() or 1))


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


Job = tuple[str, str, str, str | None, str | None]
"""(absolute path, relative path, language, old content hash, old language)"""


def make_job(cand: Candidate, known: dict) -> Job:
    old = known.get(cand.rel)
    return (cand.path, cand.rel, cand.language.name, old and old.hash, old and old.language)


def read_and_extract(job: Job, max_bytes: int) -> FileRows | str | None:
    """A file's index; None when its content is what the store has; a skip reason."""
    path, rel, language, old_hash, old_language = job
    try:
        data = read_source(path, max_bytes)
    except Skip as s:
        return s.reason
    digest = content_hash(data)
    if digest == old_hash and language == old_language:
        return None
    spec = spec_named(language)
    if spec is None:  # pragma: no cover - the walker only yields known languages
        return "not source"
    try:
        return extract_rows(rel, data, spec, digest)
    except Exception:  # a grammar bug must cost one file, not the build
        log.exception("parsing %s failed", rel)
        return "parse failed"


def _extract_chunk(jobs: list[Job], max_bytes: int) -> list[FileRows | str | None]:
    return [read_and_extract(job, max_bytes) for job in jobs]


def _extract_chunk_in_worker(jobs: list[Job], max_bytes: int):
    """In a parser process: the results and the process's peak RSS in KiB."""
    results = _extract_chunk(jobs, max_bytes)
    return results, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


PARSER_NICENESS = 5
"""How much lower than the server the parser processes run (`nice`)."""


def exit_with(pid: int) -> None:
    """In a parser process: run at a lower priority than the server (a build must not
    slow the completions that wait on the server's own thread), and exit as soon as
    process `pid` (the server) is gone.

    A server killed mid-build (SIGKILL, a crash) cannot stop its pool. Its parser processes
    then block forever writing results nobody reads, and keep the forkserver and the
    resource tracker alive with them: four processes left behind per killed editor session.
    """

    with contextlib.suppress(AttributeError, OSError):
        os.nice(PARSER_NICENESS)

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (not Linux, old kernel): poll instead
            while True:
                time.sleep(1.0)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    os._exit(1)
                except PermissionError:
                    pass
        select.select([fd], [], [])  # readable once the process has exited
        os._exit(1)

    threading.Thread(target=watch, name="focal-exit-with-server", daemon=True).start()


def processes_can_start() -> bool:
    """Parser processes re-import the main module; one read from stdin cannot be."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.exists(path)


def chunked(todo: list[Candidate], workers: int) -> list[list[Candidate]]:
    """`todo` in runs of consecutive files, each of at most _CHUNK files and about an equal
    share of the bytes: a run of 32 large files must not be the one left at the end."""
    cap = sum(c.size for c in todo) // (max(1, workers) * _CHUNKS_PER_WORKER) + 1
    chunks: list[list[Candidate]] = []
    run: list[Candidate] = []
    size = 0
    for cand in todo:
        if run and (len(run) >= _CHUNK or size + cand.size > cap):
            chunks.append(run)
            run, size = [], 0
        run.append(cand)
        size += cand.size
    if run:
        chunks.append(run)
    return chunks


class ParserPool:
    """Parser processes, started on a thread so that the walk goes on meanwhile: starting
    the forkserver and importing tree-sitter in it (~0.15 s) then costs the build nothing."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="focal-parser-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if "forkserver" in methods:
                ctx.set_forkserver_preload(["indexing.extract"])
            executor = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=exit_with, initargs=(os.getpid(),)
            )
            self._executor = executor
            # Each submit to a pool with no idle process starts one: start them all now.
            for _ in range(self.workers):
                executor.submit(os.getpid)
        except BaseException as exc:
            self._error = exc

    def executor(self) -> ProcessPoolExecutor:
        """The started pool; raises what stopped it from starting."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._executor is None:
            raise RuntimeError("the parser processes were shut down")
        return self._executor

    def shutdown(self) -> None:
        """Stop the processes (waiting for them); calling it again does nothing."""
        self._thread.join()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def parse_in_processes(
    todo: list[Candidate],
    known: dict,
    max_bytes: int,
    workers: int,
    peak: list[int],
    started: ParserPool | None = None,
):
    """(candidate, result) for each file, parsed in worker processes (those of `started`
    when given; this then shuts them down). Workers start from a clean forkserver (never a
    fork of this possibly multi-threaded process). If the pool cannot start or breaks, the
    remaining files are parsed here."""
    chunks = chunked(todo, workers)
    pool = started
    futures: list[Future | None]
    try:
        if pool is None:
            pool = ParserPool(min(workers, len(chunks)))
        executor = pool.executor()
        futures = [
            executor.submit(
                _extract_chunk_in_worker, [make_job(c, known) for c in chunk], max_bytes
            )
            for chunk in chunks
        ]
    except Exception:
        log.warning("cannot start parser processes; parsing in this process", exc_info=True)
        futures = [None] * len(chunks)
    broken = False
    try:
        for chunk, fut in zip(chunks, futures, strict=True):
            results = None
            if fut is not None and not broken:
                try:
                    results, rss_kb = fut.result()
                    peak[0] = max(peak[0], rss_kb)
                except Exception as exc:
                    # One failure breaks the whole pool: stop asking it.
                    broken = True
                    log.warning("parser processes failed (%r); parsing here instead", exc)
            if results is None:
                results = _extract_chunk([make_job(c, known) for c in chunk], max_bytes)
            yield from zip(chunk, results, strict=True)
    finally:
        if pool is not None:
            pool.shutdown()
