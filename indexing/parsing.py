"""Reading and parsing many files: in this process, or in parser processes.

Threads do not help here: tree-sitter parses without the GIL, but the rest of extraction
holds it, and on 2 cores two threads measured no faster than one. Processes did (1.4x
on 2 cores, the Python stdlib). Workers start from a clean forkserver, never as a fork of
this possibly multi-threaded process.
"""

from __future__ import annotations

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

from indexing.extract import FileIndex, extract
from indexing.languages import spec_named
from indexing.walker import Candidate, Skip, read_source

log = logging.getLogger(__name__)

PARALLEL_MIN_FILES = 200
"""Fewer files to parse than this: parse in this process (a pool costs ~0.3 s to start)."""
_CHUNK = 32


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


def read_and_extract(job: Job, max_bytes: int) -> FileIndex | str | None:
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
        return extract(rel, data, spec, content_hash=digest)
    except Exception:  # a grammar bug must cost one file, not the build
        log.exception("parsing %s failed", rel)
        return "parse failed"


def _extract_chunk(jobs: list[Job], max_bytes: int) -> list[FileIndex | str | None]:
    return [read_and_extract(job, max_bytes) for job in jobs]


def _extract_chunk_in_worker(jobs: list[Job], max_bytes: int):
    """In a parser process: the results and the process's peak RSS in KiB."""
    results = _extract_chunk(jobs, max_bytes)
    return results, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def exit_with(pid: int) -> None:
    """In a parser process: exit as soon as process `pid` (the server) is gone.

    A server killed mid-build (SIGKILL, a crash) cannot stop its pool. Its parser processes
    then block forever writing results nobody reads, and keep the forkserver and the
    resource tracker alive with them: four processes left behind per killed editor session.
    """

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


def parse_in_processes(
    todo: list[Candidate], known: dict, max_bytes: int, workers: int, peak: list[int]
):
    """(candidate, result) for each file, parsed in worker processes. Workers start from
    a clean forkserver (never a fork of this possibly multi-threaded process). If the
    pool cannot start or breaks, the remaining files are parsed here."""
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    pool = None
    futures: list[Future | None]
    try:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            ctx.set_forkserver_preload(["indexing.extract"])
        pool = ProcessPoolExecutor(
            min(workers, len(chunks)),
            mp_context=ctx,
            initializer=exit_with,
            initargs=(os.getpid(),),
        )
        futures = [
            pool.submit(_extract_chunk_in_worker, [make_job(c, known) for c in chunk], max_bytes)
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
            pool.shutdown(wait=True, cancel_futures=True)
