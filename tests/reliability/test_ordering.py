"""Completions for one document are superseded in the order the client asked for them.

A keystroke asks for a completion; the next keystroke asks again and the first answer is no
longer wanted. The server cancels the older request, never the newer: otherwise the user's
latest position gets nothing and a stale suggestion is computed instead. Under load the
repository context of an older request can take longer to gather than that of a newer one;
`tests.reliability.faults` makes it so every time.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.reliability.conftest import LiveServer, tiny_settings, wait_ready

TEXT = "def f(x):\n    return x\n\ndef g(y):\n    return y\n"


def test_an_older_request_never_supersedes_a_newer_one(tmp_path: Path, tiny_model: Path):
    root = tmp_path / "ws"
    root.mkdir()
    server = LiveServer(tmp_path / "home")
    server.start(
        root,
        tiny_settings(tiny_model),
        serve=[sys.executable, "-m", "tests.reliability.faults", "serve"],
        env={"FOCAL_FAULT_SLOW_CONTEXT": "1:0.4", "FOCAL_FAULT_SLOW_DECODE": "0.8"},
    )
    try:
        assert server.call(wait_ready)["state"] == "ready"
        uri = (root / "a.py").as_uri()

        async def go(c):
            c.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=TEXT
                    )
                )
            )

            def ask(line: int):
                return asyncio.ensure_future(
                    c.text_document_inline_completion_async(
                        types.InlineCompletionParams(
                            text_document=types.TextDocumentIdentifier(uri=uri),
                            position=types.Position(line=line, character=11),
                            context=types.InlineCompletionContext(
                                trigger_kind=types.InlineCompletionTriggerKind.Automatic
                            ),
                        )
                    )
                )

            older = ask(1)  # its context takes 0.4 s to gather
            await asyncio.sleep(0.05)
            newer = ask(4)
            outcomes = []
            for fut in (older, newer):
                try:
                    outcomes.append(await fut)
                except JsonRpcRequestCancelled as exc:
                    outcomes.append(exc)
            return outcomes

        older, newer = server.call(go)
        assert isinstance(newer, types.InlineCompletionList), f"the newest request got {newer!r}"
        assert isinstance(older, JsonRpcRequestCancelled | types.InlineCompletionList)
    finally:
        server.stop()
