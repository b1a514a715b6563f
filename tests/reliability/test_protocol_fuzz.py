"""Protocol fuzzing: random editing sessions against one real server process.

Each hypothesis example is one session (open, incremental and full changes, completions,
inline completions, cancellations, code actions, close) on fresh documents. Invariants:
the server's view of every document equals a reference model of the edits
(`reference.py`, written from the LSP specification), and every request is answered with a
result or a proper JSON-RPC error within a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

from tests.reliability.conftest import LiveServer, document_text, fuzz_examples
from tests.reliability.reference import (
    Document,
    lines,
    partial_change,
    position_at,
    positions,
    texts,
    utf16,
)

ANSWER_S = 30  # the most any one request may take before the test calls it a hang
FUZZ = settings(
    max_examples=fuzz_examples(60),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAMES = ["a.py", "with space.py", "ünï😀.py", "notes.txt", "COMMIT_EDITMSG"]
LANGUAGES = {"a.py": "python", "notes.txt": "plaintext", "COMMIT_EDITMSG": "gitcommit"}
OPS = [
    "incremental",
    "incremental",
    "incremental",
    "full",
    "completion",
    "inline",
    "fire_inline",
    "cancel",
    "code_action",
    "check",
    "bad_position",
]

_ids = itertools.count()
FIGURES: dict[str, int] = {
    "sessions": 0,
    "operations": 0,
    "requests": 0,
    "cancelled": 0,
    "resolved": 0,
}


def _tdi(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def _pos(p: tuple[int, int]) -> types.Position:
    return types.Position(line=p[0], character=p[1])


class Session:
    """One editing session: the reference documents and what is still in flight."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.docs: list[Document] = []
        self.in_flight: list[tuple[str, asyncio.Future[Any]]] = []
        self.trace: list[str] = []
        """The operations so far, for the report of a failure."""

    def do(self, coro: Any) -> Any:
        FIGURES["operations"] += 1
        return self.live.run(coro, ANSWER_S)

    # -- notifications ---------------------------------------------------------------------

    def open(self, name: str, text: str) -> Document:
        assert self.live.root is not None
        folder = self.live.root / f"s{next(_ids)}"
        uri = (folder / name).as_uri()
        doc = Document(uri, text)
        language = LANGUAGES.get(name, "python")

        async def go() -> None:
            self.live.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id=language, version=1, text=text
                    )
                )
            )

        self.do(go())
        self.docs.append(doc)
        return doc

    def change(self, doc: Document, changes: list[types.TextDocumentContentChangeEvent]):
        doc.version += 1

        async def go() -> None:
            self.live.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=doc.uri, version=doc.version
                    ),
                    content_changes=changes,
                )
            )

        self.do(go())

    def close_all(self) -> None:
        async def go() -> None:
            for doc in self.docs:
                self.live.client.text_document_did_close(
                    types.DidCloseTextDocumentParams(text_document=_tdi(doc.uri))
                )
            for doc in self.docs:
                assert await document_text(self.live.client, doc.uri) is None, doc.uri

        self.do(go())

    # -- requests --------------------------------------------------------------------------

    async def _request(self, method: str, params: Any, msg_id: str | None = None):
        FIGURES["requests"] += 1
        return await self.live.client.protocol.send_request_async(method, params, msg_id)

    def check(self, doc: Document) -> None:
        view = self.do(document_text(self.live.client, doc.uri))
        assert view is not None, f"{doc.uri} is not open on the server"
        assert view["text"] == doc.text, (
            f"the server's document differs from the client's edits\n"
            f"server: {view['text']!r}\nclient: {doc.text!r}"
        )
        assert view["version"] == doc.version

    def request(self, method: str, params: Any, may_fail: bool = False) -> Any:
        """A request answered with a result (or, when `may_fail`, any JSON-RPC error)."""
        try:
            return self.do(self._request(method, params))
        except JsonRpcException:
            if not may_fail:
                raise
            return None

    def fire(self, method: str, params: Any) -> None:
        """Send without waiting: edits and more requests follow while it runs."""

        async def go() -> asyncio.Future[Any]:
            fut = asyncio.ensure_future(self._request(method, params))
            await asyncio.sleep(0)
            return fut

        self.in_flight.append((method, self.do(go())))

    def cancel(self, params: types.InlineCompletionParams, delay: float, queued: bool) -> None:
        msg_id = f"fuzz-{next(_ids)}"

        async def go() -> None:
            if queued:  # a list completion first: the inline one waits behind it
                blocker = asyncio.ensure_future(
                    self._request(
                        types.TEXT_DOCUMENT_COMPLETION,
                        types.CompletionParams(
                            text_document=params.text_document, position=params.position
                        ),
                    )
                )
                self.in_flight.append((types.TEXT_DOCUMENT_COMPLETION, blocker))
            fut = asyncio.ensure_future(
                self._request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id)
            )
            await asyncio.sleep(delay)  # 0 still lets the request go out first
            self.live.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            try:
                result = await fut
            except JsonRpcRequestCancelled:
                FIGURES["cancelled"] += 1
                return
            assert isinstance(result, types.InlineCompletionList), result

        self.do(go())

    def abandon(self) -> None:
        """The session ended early (a failure, or hypothesis gave up on an example): let
        what is still in flight finish unobserved, without "never retrieved" noise."""

        def forget(fut: asyncio.Future[Any]) -> None:
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())

        for _, fut in self.in_flight:
            self.live.loop.call_soon_threadsafe(forget, fut)
        self.in_flight.clear()

    def settle(self) -> None:
        """Every request still in flight is answered: a result, or cancelled (superseded)."""

        async def go() -> None:
            for method, fut in self.in_flight:
                try:
                    result = await fut
                except JsonRpcRequestCancelled:
                    FIGURES["cancelled"] += 1
                    continue
                assert result is not None, method
            self.in_flight.clear()

        self.do(go())


def _inline(doc: Document, p: tuple[int, int]) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=_tdi(doc.uri),
        position=_pos(p),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


def _completion(doc: Document, p: tuple[int, int]) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=_tdi(doc.uri),
        position=_pos(p),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
    )


def _assert_edit_within(action: types.CodeAction, doc: Document) -> None:
    edit = action.edit
    if edit is None:
        return
    ls = lines(doc.text)
    edits: list[Any] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            assert change.text_document.uri == doc.uri, change.text_document.uri
            edits += change.edits
    for uri, changes in (edit.changes or {}).items():
        assert uri == doc.uri, uri
        edits += changes
    for e in edits:
        for p in (e.range.start, e.range.end):
            assert p.line < len(ls), (p, doc.text)
            start, end = ls[p.line]
            assert p.character <= utf16(doc.text[start:end]), (p, doc.text)


def _assert_within(rng: types.Range | None, doc: Document) -> None:
    """A range a client can apply to `doc` as it is: on its lines, within their length."""
    assert rng is not None
    ls = lines(doc.text)
    for p in (rng.start, rng.end):
        assert p.line < len(ls), (p, doc.text)
        start, end = ls[p.line]
        assert p.character <= utf16(doc.text[start:end]), (p, doc.text)


def step(data: st.DataObject, s: Session) -> None:
    op = data.draw(st.sampled_from(OPS), label="op")
    doc = data.draw(st.sampled_from(s.docs), label="doc")
    s.trace.append(f"{op} {doc.uri.rsplit('/', 2)[-2]}")
    if op == "incremental":
        changes: list[types.TextDocumentContentChangeEvent] = []
        for _ in range(data.draw(st.integers(1, 3), label="changes")):
            start, end, new = data.draw(partial_change(doc.text), label="change")
            doc.replace(start, end, new)  # each change applies to the previous result
            changes.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=_pos(start), end=_pos(end)), text=new
                )
            )
        s.change(doc, changes)
    elif op == "full":
        doc.text = data.draw(texts, label="text")
        s.change(doc, [types.TextDocumentContentChangeWholeDocument(text=doc.text)])
    elif op == "completion":
        p = data.draw(positions(doc.text), label="at")
        result = s.request(types.TEXT_DOCUMENT_COMPLETION, _completion(doc, p))
        assert isinstance(result, types.CompletionList), result
    elif op == "inline":
        p = data.draw(positions(doc.text), label="at")
        result = s.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(doc, p))
        assert isinstance(result, types.InlineCompletionList), result
    elif op == "fire_inline":
        p = data.draw(positions(doc.text), label="at")
        method = data.draw(
            st.sampled_from([types.TEXT_DOCUMENT_INLINE_COMPLETION, types.TEXT_DOCUMENT_COMPLETION])
        )
        params = _inline(doc, p) if "inline" in method else _completion(doc, p)
        s.fire(method, params)
    elif op == "cancel":
        p = data.draw(positions(doc.text), label="at")
        delay = data.draw(st.sampled_from([0.0, 0.001, 0.01, 0.05]), label="delay")
        s.cancel(_inline(doc, p), delay, data.draw(st.booleans(), label="queued"))
    elif op == "code_action":
        start, end, _ = data.draw(partial_change(doc.text), label="range")
        diagnostics = []
        if data.draw(st.booleans(), label="diagnostic"):
            diagnostics.append(
                types.Diagnostic(
                    range=types.Range(start=_pos(start), end=_pos(end)),
                    message=data.draw(st.sampled_from(["undefined name 'y'", "😀\r\n"])),
                )
            )
        result = s.request(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionParams(
                text_document=_tdi(doc.uri),
                range=types.Range(start=_pos(start), end=_pos(end)),
                context=types.CodeActionContext(diagnostics=diagnostics),
            ),
        )
        assert result is None or isinstance(result, list | tuple), result
        if result and data.draw(st.booleans(), label="resolve"):
            # The model runs now; whatever it writes, the answer is a code action whose
            # edit (if any) stays inside the document.
            action = result[0]
            resolved = s.request(types.CODE_ACTION_RESOLVE, action)
            assert isinstance(resolved, types.CodeAction), resolved
            FIGURES["resolved"] += 1
            _assert_edit_within(resolved, doc)
    elif op == "bad_position":
        # Past the end of the document or of a line: clamped (LSP), so answered like any
        # position, with ranges inside the document.
        line = len(doc.text.splitlines()) + data.draw(st.integers(0, 3), label="beyond")
        inline = s.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(doc, (line, 7)))
        assert isinstance(inline, types.InlineCompletionList), inline
        for item in inline.items:
            _assert_within(item.range, doc)
        for at in ((0, 10_000), (line, 7)):
            listed = s.request(types.TEXT_DOCUMENT_COMPLETION, _completion(doc, at))
            assert isinstance(listed, types.CompletionList), listed
            for item in listed.items:
                if item.text_edit is not None:
                    _assert_within(item.text_edit.range, doc)
    else:
        s.check(doc)


@FUZZ
@given(data=st.data())
def test_random_sessions_keep_documents_in_sync_and_answer_every_request(
    live: LiveServer, data: st.DataObject
):
    s = Session(live)
    for _ in range(data.draw(st.integers(1, 2), label="documents")):
        s.open(data.draw(st.sampled_from(NAMES), label="name"), data.draw(texts, label="text"))
    try:
        for _ in range(data.draw(st.integers(1, 16), label="steps")):
            step(data, s)
            assert live.alive(), "the server died"
        s.settle()
    except BaseException:
        print("session trace:", s.trace)
        s.abandon()
        raise
    for doc in s.docs:
        s.check(doc)
    s.close_all()
    FIGURES["sessions"] += 1


def test_zz_fuzz_figures(live: LiveServer, record_property):
    """After the fuzzing: the same process is alive and still answers (and the figures)."""
    assert live.alive()
    s = Session(live)
    doc = s.open("a.py", "def f(x):\n    return ")
    result = s.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(doc, (1, 11)))
    assert isinstance(result, types.InlineCompletionList)
    for key, value in FIGURES.items():
        record_property(key, value)
    print(f"fuzz figures: {FIGURES}")


def test_reference_model_itself():
    """The reference is only as good as its own arithmetic."""
    d = Document("file:///x", "a😀b\r\nc\rd\n")
    assert [position_at(d.text, i) for i in (1, 2, 3, 5, 7)] == [
        (0, 1),
        (0, 3),  # 😀 is two UTF-16 units
        (0, 4),
        (1, 0),  # CRLF is one line break
        (2, 0),  # so is a lone CR
    ]
    d.replace((0, 1), (0, 3), "")
    assert d.text == "ab\r\nc\rd\n"
    d.replace((1, 1), (2, 0), "")
    assert d.text == "ab\r\ncd\n"
    d.replace((2, 0), (2, 0), "z")
    assert d.text == "ab\r\ncd\nz"


@pytest.mark.parametrize(
    ("text", "start", "end", "new", "expected"),
    [
        # LSP: "\n", "\r\n" and "\r" end a line, nothing else (a form feed is common in
        # GNU-style C and in Python's own sources; U+2028/U+0085 appear in string data).
        pytest.param("a\x0cb\nc", (1, 0), (1, 0), "X", "a\x0cb\nXc", id="form-feed"),
        pytest.param("a\u2028b\nc", (1, 0), (1, 0), "X", "a\u2028b\nXc", id="U+2028"),
        pytest.param("a\x85b\nc", (1, 0), (1, 0), "X", "a\x85b\nXc", id="U+0085"),
        pytest.param("a\x0bb\nc", (1, 0), (1, 0), "X", "a\x0bb\nXc", id="vertical-tab"),
        # LSP: "If the character value is greater than the line length it defaults back to
        # the line length."
        pytest.param("abc", (0, 99), (0, 99), "X", "abcX", id="char-past-end-last-line"),
        pytest.param("abc\nd", (0, 99), (0, 99), "X", "abcX\nd", id="char-past-end"),
    ],
)
def test_edits_follow_the_lsp_definition_of_a_line(
    live: LiveServer, text: str, start, end, new: str, expected: str
):
    s = Session(live)
    doc = s.open("a.py", text)
    s.change(
        doc,
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(start=_pos(start), end=_pos(end)), text=new
            )
        ],
    )
    doc.text = expected
    s.check(doc)
    s.close_all()
