"""Context before the index is done, over the LSP wire: the time from `didOpen` in a
repository Focal has never indexed to the first completion whose origin lists a
definition from another file.

    python benchmarks/first_context.py [LIB] [--runs N] [--json]

LIB defaults to a copy of the running Python's standard library (1,796 source files).
Each run copies nothing again but starts `python -m lsp_server` with an empty cache
directory (so the repository is unindexed), sends `initialize`, `initialized`, then at
once `didOpen` of a file holding a cross-file call (the retrieval bench's sites, fixed
seed) and asks for a completion just after the call's `(` every 50 ms until the origin's
context holds a definition chunk of another file. The model is a tiny synthetic GGUF
(its generation takes milliseconds: what is measured is the context). Also reported:
when the full build's `$/progress` ended, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.retrieval_bench import IGNORES, pick_sites


def _position(text: str, offset: int) -> types.Position:
    head = text[:offset]
    return types.Position(head.count("\n"), len(head) - (head.rfind("\n") + 1))


def _plain(value):
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def one_run(root: Path, site, model: Path, timeout: float = 60.0) -> dict:
    cache = Path(tempfile.mkdtemp(prefix="focal-first-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "XDG_STATE_HOME": str(cache)}
    client = LanguageClient("first-context", "1")
    progress_end: list[float] = []

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def _create(params):
        return None

    @client.feature(types.PROGRESS)
    def _progress(params):
        value = params.value
        kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
        if kind == "end":
            progress_end.append(time.perf_counter())

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def _log(params):
        return None

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def _show(params):
        return None

    extra = os.environ.get("FOCAL_FIRST_CONTEXT_ARGS", "").split()
    await client.start_io(sys.executable, "-m", "lsp_server", *extra, env=env)
    drain = asyncio.create_task(_drain(client._server.stderr))  # type: ignore[union-attr]
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True)
                ),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                initialization_options={
                    "focal": {
                        "model": {"path": str(model)},
                        "completion": {"maxTokens": 1},
                        "index": {"enabled": True},
                    }
                },
            )
        )
        client.initialized(types.InitializedParams())
        text = (root / site.path).read_text(encoding="utf-8")
        uri = (root / site.path).as_uri()
        t0 = time.perf_counter()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        pos = _position(text, site.offset)
        found_at = None
        requests = 0
        chunk = None
        while time.perf_counter() - t0 < timeout:
            await client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=pos,
                    context=types.CompletionContext(
                        trigger_kind=types.CompletionTriggerKind.Invoked
                    ),
                )
            )
            requests += 1
            status = _plain(await client.protocol.send_request_async("focal/status", {}))
            last = (status or {}).get("lastSuggestion") or {}
            context = (last.get("origin") or {}).get("context") or []
            other = [
                c
                for c in context
                if c["path"] != site.path and c["reason"].startswith("definition")
            ]
            if other:
                found_at = time.perf_counter()
                chunk = other[0]
                break
            await asyncio.sleep(0.05)
        # Wait for the full build to end, to report it beside.
        while not progress_end and time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.1)
        return {
            "site": f"{site.path}:{text[: site.offset].count(chr(10)) + 1} {site.callee}",
            "firstContextS": None if found_at is None else found_at - t0,
            "requests": requests,
            "chunk": chunk,
            "fullBuildEndS": progress_end[0] - t0 if progress_end else None,
        }
    finally:
        try:
            await asyncio.wait_for(client.shutdown_async(None), 10)
            client.exit(None)
        except Exception:
            pass
        await client.stop()
        drain.cancel()
        shutil.rmtree(cache, ignore_errors=True)


async def _drain(stream) -> None:
    log = os.environ.get("FOCAL_FIRST_CONTEXT_LOG")
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        while stream is not None and (data := await stream.read(65536)):
            out.write(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib", nargs="?", help="repository (default: a copy of the stdlib)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from inference.synthetic import write_tiny_model

    work = Path(tempfile.mkdtemp(prefix="focal-first-repo-"))
    try:
        if args.lib:
            root = Path(args.lib).resolve()
        else:
            root = work / "Lib"
            shutil.copytree(
                Path(os.__file__).parent,
                root,
                ignore=shutil.ignore_patterns("site-packages", "__pycache__"),
            )
        for ignore in IGNORES:  # as the retrieval bench indexes it
            shutil.rmtree(root / ignore.rstrip("/"), ignore_errors=True)
        model = write_tiny_model(work / "tiny.gguf", arch="mellum", fim="spm")
        sites = pick_sites(root, args.runs, args.seed, per_file=1)
        runs = [asyncio.run(one_run(root, s, model)) for s in sites]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    times = [r["firstContextS"] for r in runs if r["firstContextS"] is not None]
    builds = [r["fullBuildEndS"] for r in runs if r["fullBuildEndS"] is not None]
    out = {
        "runs": runs,
        "firstContextS": {
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
            "found": len(times),
        },
        "fullBuildEndS": {"median": statistics.median(builds) if builds else None},
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for r in runs:
            first = r["firstContextS"]
            print(
                f"{r['site']}: context with another file's definition after "
                f"{'never' if first is None else f'{first:.2f} s'} ({r['requests']} requests); "
                f"full build ended at {r['fullBuildEndS'] and round(r['fullBuildEndS'], 2)} s"
            )
        f = out["firstContextS"]
        print(
            f"first context: median {f['median']:.2f} s, max {f['max']:.2f} s "
            f"({f['found']}/{len(runs)}); full build: median "
            f"{out['fullBuildEndS']['median']:.2f} s"
            if times and builds
            else "no run found context"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
