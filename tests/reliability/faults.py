"""`focal serve` with faults injected, to reproduce timing races deterministically.

A race that needs one thread to be slower than another shows up now and then under load;
here the slowness is put where the race needs it, so that a test fails every time the code
is wrong. Everything else is the real server. Faults, from the environment:

- `FOCAL_FAULT_SLOW_CONTEXT=LINE:SECONDS`: gathering repository context for a completion at
  line LINE takes SECONDS longer (as it does on a large repository or a cold disk).
- `FOCAL_FAULT_SLOW_DECODE=SECONDS`: every generation (completion, fix, commit message)
  takes SECONDS before its first token (as a real model's prefill does), still stopping at
  once when cancelled.
- `FOCAL_FAULT_RAISE=module:Class.method,…`: each named method raises
  `RuntimeError("injected fault in Class.method")`, as a bug in it would.

`python -m tests.reliability.faults serve [--log-file …]`
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time

import inference.engine as engine_module
import lsp_server.features.completion as completion_module
from lsp_server.cli import main


def _slow_context(line: int, seconds: float) -> None:
    gather = completion_module.gather  # the name `CompletionFeature.context` calls

    def slow_gather(retriever, task, *args, **kwargs):
        if task.line == line:
            time.sleep(seconds)
        return gather(retriever, task, *args, **kwargs)

    completion_module.gather = slow_gather  # type: ignore[assignment]


def _slow_decode(seconds: float) -> None:
    engine = engine_module.LlamaEngine
    for name in ("_run_completion", "_run_text"):
        run = getattr(engine, name)

        def slow_run(self, job, *args, _run=run, **kwargs):
            job.cancel.wait(seconds)  # a cancel or a supersede ends the wait, as between tokens
            return _run(self, job, *args, **kwargs)

        setattr(engine, name, slow_run)


def _raise_in(spec: str) -> None:
    module_name, _, qualname = spec.partition(":")
    owner_name, _, method = qualname.rpartition(".")
    owner = getattr(importlib.import_module(module_name), owner_name)
    original = getattr(owner, method)
    message = f"injected fault in {qualname}"
    if asyncio.iscoroutinefunction(original):

        async def broken_async(*args, **kwargs):
            raise RuntimeError(message)

        setattr(owner, method, broken_async)
    else:

        def broken(*args, **kwargs):
            raise RuntimeError(message)

        setattr(owner, method, broken)


def install() -> None:
    spec = os.environ.get("FOCAL_FAULT_SLOW_CONTEXT")
    if spec:
        line, seconds = spec.split(":")
        _slow_context(int(line), float(seconds))
    decode = os.environ.get("FOCAL_FAULT_SLOW_DECODE")
    if decode:
        _slow_decode(float(decode))
    for spec in filter(None, os.environ.get("FOCAL_FAULT_RAISE", "").split(",")):
        _raise_in(spec.strip())


if __name__ == "__main__":
    install()
    sys.exit(main(sys.argv[1:]))
