"""Ledger fixtures: real SQLite files in tmp dirs, suggestions built with `inference.types`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference.types import ContextChunk, GenerationParams, Origin, Suggestion, Timing
from lsp_server.ledger import Ledger

DIGEST_A = "a1" * 32
DIGEST_B = "b2" * 32


def make_origin(
    model: str = "SmolLM2-135M", quant: str = "Q4_1", digest: str = DIGEST_A, **kw
) -> Origin:
    fields = {
        "model_name": model,
        "model_path": "/models/m.gguf",
        "model_digest": digest,
        "quantization": quant,
        "architecture": "llama",
        "engine": "llama.cpp",
        "device": "cpu",
        "template": "qwen/psm",
        "sampling": GenerationParams(max_tokens=32, temperature=0.0),
        "timing": Timing(queue_ms=1.0, prefill_ms=20.0, decode_ms=80.0, total_ms=101.0),
        "confidence": 0.81,
        "stop_reason": "eos",
        "context": (ContextChunk("util.py", 3, 9, "def helper(): ...", "definition of `helper`"),),
    }
    fields.update(kw)
    return Origin(**fields)


def make_suggestion(text: str, sid: str | None = None, **origin_kw) -> Suggestion:
    return Suggestion(sid or uuid.uuid4().hex[:16], text, make_origin(**origin_kw))


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ledger.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    led = Ledger.open(ledger_path)
    yield led
    led.close()


Accept = Callable[..., Suggestion]


@pytest.fixture
def accept(ledger: Ledger) -> Accept:
    """Record a suggestion at `doc`:`line`:`character` and an `accepted` event for it."""

    def do(text: str, doc: str = "file:///work/app.py", line: int = 0, character: int = 0, **kw):
        s = make_suggestion(text, **kw)
        ledger.record_suggestion(s, "inline", doc, line, character, "<prompt>")
        assert ledger.record_event(s.id, "accepted", doc)
        return s

    return do
