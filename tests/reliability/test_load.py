"""Load: a burst of completion requests with cancellations, from a real client over stdio.

Every request is answered (a result, or a `RequestCancelled` error when it was cancelled or
superseded by a newer one for the same document), the newest request for each document is
answered with a suggestion, and the server's memory stays bounded: its resident set after the
burst is within a margin of what it was before it.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.reliability.conftest import LiveServer, tiny_settings, wait_ready

BURST = 500
WARM_UP = 60
RSS_MARGIN_KB = 48 * 1024
"""What the resident set may grow by over the burst (measured: under 2 MB). A leak of 100 KB
a request (token buffers, a logits array, a KV-cache snapshot, a gathered context) breaks
it; so does keeping every task alive with its copy of the document."""
ANSWER_S = 180
DOCUMENT = "".join(
    f"def f{i}(values):\n    total = 0\n    return total + {i}\n\n" for i in range(40)
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    root = tmp_path_factory.mktemp("load")
    server = LiveServer(tmp_path_factory.mktemp("home"))
    server.start(root, tiny_settings(tiny_model))
    assert server.call(wait_ready)["state"] == "ready"
    yield server
    server.stop()


def _params(uri: str, line: int, inline: bool) -> tuple[str, Any]:
    pos = types.Position(line=line, character=11)
    doc = types.TextDocumentIdentifier(uri=uri)
    if inline:
        return types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
            text_document=doc,
            position=pos,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    return types.TEXT_DOCUMENT_COMPLETION, types.CompletionParams(
        text_document=doc,
        position=pos,
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
    )


async def _burst(client, uris: list[str], n: int, seed: int, tag: str) -> dict[str, Any]:
    """`n` requests as fast as the client can send them; about a third cancelled by the
    client (at once, or after a few ms), the rest left to supersede each other."""
    rng = random.Random(seed)
    sent: list[tuple[str, str, str, asyncio.Future[Any]]] = []
    cancelled_by_us: set[str] = set()
    lines = DOCUMENT.count("\n")
    for i in range(n):
        uri = rng.choice(uris)
        method, params = _params(uri, rng.randrange(2, lines, 4), rng.random() < 0.7)
        msg_id = f"{tag}-{i}"
        fut = asyncio.ensure_future(client.protocol.send_request_async(method, params, msg_id))
        sent.append((msg_id, uri, method, fut))
        if i < n - len(uris) * 2 and rng.random() < 0.33:
            if rng.random() < 0.5:
                await asyncio.sleep(rng.choice([0.001, 0.005]))
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            cancelled_by_us.add(msg_id)
        if i % 25 == 0:
            await asyncio.sleep(0)  # let the transport drain, as an editor's loop would
    _, pending = await asyncio.wait([f for *_, f in sent], timeout=ANSWER_S)
    outcome: dict[str, str] = {}
    for msg_id, _, _, fut in sent:
        if not fut.done() or fut.cancelled():
            outcome[msg_id] = "unanswered"
        elif isinstance(fut.exception(), JsonRpcRequestCancelled):
            outcome[msg_id] = f"cancelled: {fut.exception()}"
        elif fut.exception() is not None:
            outcome[msg_id] = f"error: {fut.exception()!r}"
        else:
            result = fut.result()
            outcome[msg_id] = "suggestion" if result is not None and result.items else "empty"
    for fut in pending:
        fut.cancel()
    # The newest request of each (document, method) was never superseded: it must carry a
    # suggestion (unless the client cancelled it itself).
    newest: dict[tuple[str, str], str] = {}
    for msg_id, uri, method, _ in sent:
        newest[(uri, method)] = msg_id
    return {"outcome": outcome, "newest": newest, "cancelled_by_us": cancelled_by_us}


def _open_all(server: LiveServer, n: int) -> list[str]:
    assert server.root is not None
    uris = [(server.root / f"doc{i}.py").as_uri() for i in range(n)]

    async def go(c) -> None:
        for uri in uris:
            c.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=DOCUMENT
                    )
                )
            )

    server.call(go)
    return uris


def test_a_burst_of_500_completions_with_cancellations(loaded: LiveServer, record_property):
    uris = _open_all(loaded, 4)
    loaded.call(lambda c: _burst(c, uris, WARM_UP, 1, "warm"), timeout=ANSWER_S + 30)
    time.sleep(0.5)
    rss_before = loaded.rss_kb()
    t0 = time.perf_counter()
    got = loaded.call(lambda c: _burst(c, uris, BURST, 2, "burst"), timeout=ANSWER_S + 30)
    seconds = time.perf_counter() - t0
    time.sleep(0.5)
    rss_after = loaded.rss_kb()
    outcome: dict[str, str] = got["outcome"]
    counts: dict[str, int] = {}
    for o in outcome.values():
        key = o.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    figures = {
        "requests": len(outcome),
        **counts,
        "cancelled_by_client": len(got["cancelled_by_us"]),
        "seconds": round(seconds, 1),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
    }
    for key, value in figures.items():
        record_property(key, value)
    print(f"load: {figures}")

    assert loaded.alive(), "the server died under load"
    assert counts.get("unanswered", 0) == 0, f"requests left unanswered: {figures}"
    errors = [o for o in outcome.values() if o.startswith("error")]
    assert not errors, errors[:5]
    for key, msg_id in got["newest"].items():
        assert msg_id not in got["cancelled_by_us"]
        assert outcome[msg_id] == "suggestion", (key, msg_id, outcome[msg_id])
    # Cancellation does work: not every request ran to the end.
    assert counts.get("cancelled", 0) >= len(got["cancelled_by_us"]) // 2, figures
    assert rss_after - rss_before < RSS_MARGIN_KB, (
        f"the server grew by {(rss_after - rss_before) / 1024:.0f} MB over {BURST} requests"
    )
