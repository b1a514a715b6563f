"""The server's document model (`lsp_server.documents`) against the reference model, in
process: many more edits per second than through the wire, and every chunk boundary of the
fast line search exercised by shrinking the chunk to a few characters."""

from __future__ import annotations

import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import PositionCodec

import lsp_server.documents as documents
from inference.rewrite import LineEdit, minimal_edits
from lsp_server.documents import LspTextDocument, clamp, clamp_range, line_start, split_lines
from lsp_server.framing import MAX_MESSAGE_BYTES, FramingGuard
from tests.reliability.conftest import fuzz_examples
from tests.reliability.reference import Document, lines, partial_change, position_at, texts

# The `chunk` fixture only sets a module constant for the whole test: sharing it between
# examples is what is wanted.
EXAMPLES = settings(
    max_examples=fuzz_examples(100),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _pos(p: tuple[int, int]) -> types.Position:
    return types.Position(line=p[0], character=p[1])


@pytest.fixture(params=[1, 2, 3, 1 << 20], ids=lambda n: f"chunk-{n}")
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(documents, "_CHUNK", request.param)
    return request.param


@EXAMPLES
@given(text=texts)
def test_lines_and_line_starts_follow_the_lsp_definition(chunk: int, text: str):
    ls = lines(text)
    assert "".join(split_lines(text)) == text
    for n, (start, _) in enumerate(ls):
        assert line_start(text, n) == start
    assert line_start(text, len(ls)) is None


@EXAMPLES
@given(data=st.data(), text=texts)
def test_incremental_edits_match_the_reference(chunk: int, data: st.DataObject, text: str):
    doc = LspTextDocument("file:///x.py", text, position_codec=PositionCodec("utf-16"))
    ref = Document("file:///x.py", text)
    for _ in range(data.draw(st.integers(1, 6))):
        start, end, new = data.draw(partial_change(ref.text))
        ref.replace(start, end, new)
        doc.apply_change(
            types.TextDocumentContentChangePartial(
                range=types.Range(start=_pos(start), end=_pos(end)), text=new
            )
        )
        assert doc.source == ref.text
    assert "".join(doc.lines) == ref.text


@pytest.mark.parametrize(
    ("encoding", "line", "character", "expected"),
    [
        pytest.param("utf-16", 0, 3, 2, id="utf-16-after-astral"),
        pytest.param("utf-8", 0, 5, 2, id="utf-8-after-astral"),
        pytest.param("utf-32", 0, 2, 2, id="utf-32"),
        pytest.param("utf-16", 0, 99, 3, id="past-the-line-is-its-end"),
        pytest.param("utf-16", 1, 99, 6, id="crlf-line-end-is-before-the-cr"),
        pytest.param("utf-16", 9, 0, 8, id="past-the-last-line-is-the-end"),
    ],
)
def test_offsets_in_each_encoding(encoding: str, line: int, character: int, expected: int):
    doc = LspTextDocument("file:///x.py", "a😀b\r\nc\r\n", position_codec=PositionCodec(encoding))
    assert doc.offset_at_position(types.Position(line=line, character=character)) == expected


class _Trickle(io.RawIOBase):
    """A pipe that hands out at most `n` bytes per read, like a slow client."""

    def __init__(self, data: bytes, n: int) -> None:
        self._data, self._n = data, n

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        chunk, self._data = self._data[: min(self._n, len(b))], self._data[self._n :]
        b[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("n", [1, 7, 4096])
def test_framing_reads_whole_bodies_from_a_slow_pipe(n: int):
    body = b'{"jsonrpc": "2.0", "method": "x", "params": "' + b"z" * 10_000 + b'"}'
    data = b"garbage\r\ncontent-length:%d\n\r\n%s" % (len(body), body)
    guard = FramingGuard(io.BufferedReader(_Trickle(data, n)))
    assert guard.readline() == b"X-Focal-Skipped: garbage\r\n"
    assert guard.readline() == b"Content-Length: %d\r\n" % len(body)
    assert guard.readline() == b"\r\n"
    assert guard.read(len(body)) == body
    assert guard.readline() == b""


def test_framing_refuses_an_impossible_length():
    data = b"Content-Length: %d\r\n\r\n{}" % (MAX_MESSAGE_BYTES + 1)
    guard = FramingGuard(io.BufferedReader(io.BytesIO(data)))
    assert guard.readline() == b"X-Focal-Skipped: length\r\n"


def test_a_position_at_the_end_of_a_50_mb_document_costs_milliseconds():
    """Positions are resolved on the event loop: at the end of a 50 MB document the old
    line-by-line walk took seconds, during which the server answered nothing."""
    text = "".join(f"def f{i}(x):\n    return x\r\n\n" for i in range(1_300_000))
    doc = LspTextDocument("file:///big.py", text, position_codec=PositionCodec("utf-16"))
    last = types.Position(line=3 * 1_300_000, character=0)
    t0 = time.perf_counter()
    assert doc.offset_at_position(last) == len(text)
    assert time.perf_counter() - t0 < 0.5


def test_fix_edits_are_numbered_on_the_editors_lines():
    """A fix rewrites a region; its edits must name the lines the editor has. A form feed
    (GNU C, Python's own sources) is not a line break in LSP."""
    region = "int a;\x0c\nint b;\n"
    rewrite = "int a;\x0c\nint c;\n"
    assert minimal_edits(region, rewrite) == [LineEdit(1, 2, "int c;\n")]


def test_lines_follow_every_edit():
    """`lines` is split once per version of the text (code actions ask for it on every
    cursor move), and an edit is seen at once."""
    doc = LspTextDocument("file:///x.py", "a = 1\nb = 2\n", position_codec=PositionCodec("utf-16"))
    first = doc.lines
    assert first == ("a = 1\n", "b = 2\n") and doc.lines is first
    doc.apply_change(
        types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(1, 0), end=types.Position(1, 0)),
            text="c = 3\x0c\n",
        )
    )
    assert doc.lines == ("a = 1\n", "c = 3\x0c\n", "b = 2\n")


def _doc(text: str, encoding: str = "utf-16") -> LspTextDocument:
    return LspTextDocument("file:///x.py", text, position_codec=PositionCodec(encoding))


@pytest.mark.parametrize(
    ("text", "encoding", "given", "expected"),
    [
        pytest.param("ab\ncd", "utf-16", (0, 1), (0, 1), id="inside"),
        pytest.param("ab\ncd", "utf-16", (0, 9), (0, 2), id="past-line-end"),
        pytest.param("ab\r\ncd", "utf-16", (0, 3), (0, 2), id="past-crlf-line-end"),
        pytest.param("ab\ncd", "utf-16", (1, 9), (1, 2), id="past-last-line-end"),
        pytest.param("ab\ncd", "utf-16", (5, 1), (1, 2), id="past-document-end"),
        pytest.param("ab\ncd\n", "utf-16", (5, 1), (2, 0), id="past-end-after-newline"),
        pytest.param("", "utf-16", (3, 3), (0, 0), id="empty-document"),
        pytest.param("a😀b", "utf-16", (0, 2), (0, 3), id="inside-surrogate-pair"),
        pytest.param("a😀b", "utf-8", (0, 3), (0, 5), id="inside-utf-8-sequence"),
        pytest.param('s = "😀😀"\nval = s + 𝑥ab', "utf-16", (1, 40), (1, 14), id="issue-16-5"),
        pytest.param('s = "😀😀"\nval = s + 𝑥ab', "utf-8", (1, 40), (1, 16), id="issue-16-5-utf8"),
        pytest.param("a\x0cb\nc", "utf-16", (0, 9), (0, 3), id="form-feed-is-no-break"),
    ],
)
def test_clamp(text: str, encoding: str, given, expected):
    assert clamp(_doc(text, encoding), _pos(given)) == _pos(expected)


def test_clamp_range_orders_an_inverted_range():
    doc = _doc("abc\ndef")
    got = clamp_range(doc, types.Range(start=_pos((1, 9)), end=_pos((0, 1))))
    assert got == types.Range(start=_pos((0, 1)), end=_pos((1, 3)))


@EXAMPLES
@given(text=texts, line=st.integers(0, 14), character=st.integers(0, 60))
def test_a_clamped_position_exists_and_names_the_same_place(text: str, line: int, character: int):
    """Any position, valid or not: its clamp is a position the reference model accepts, at
    the same index of the text, and clamping it again changes nothing."""
    doc = _doc(text)
    got = clamp(doc, _pos((line, character)))
    index = doc.offset_at_position(_pos((line, character)))
    assert (got.line, got.character) == position_at(text, index)
    assert doc.offset_at_position(got) == index
    assert clamp(doc, got) == got
