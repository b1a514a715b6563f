"""What the ledger hands out: frozen records of suggestions and events, built from rows."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from inference.types import ContextChunk, GenerationParams, Origin, Timing
from lsp_server.ledger.lines import LineMark

Range = tuple[int, int, int, int]
"""(start line, start character, end line, end character), 0-based as in LSP."""


@dataclass(frozen=True)
class ContextRef:
    """A context chunk as the ledger keeps it: where it came from and why, not its text."""

    path: str
    start_line: int
    end_line: int
    reason: str


@dataclass(frozen=True)
class EventRecord:
    seq: int
    suggestion_id: str
    time: str
    kind: str
    document: str | None
    range: Range | None
    text_digest: str | None
    text_length: int | None
    text: str | None
    """Only with `store_text`."""
    reason: str | None = None
    """Why, for a `refused` event."""


@dataclass(frozen=True)
class SuggestionRecord:
    seq: int
    id: str
    time: str
    """UTC, ISO 8601."""
    task: str
    document: str
    line: int
    character: int
    model_name: str
    model_digest: str
    quantization: str
    architecture: str
    engine: str
    device: str
    template: str
    route: str
    sampling: GenerationParams
    context: tuple[ContextRef, ...]
    timing: Timing
    confidence: float
    stop_reason: str
    prompt_digest: str
    suggestion_digest: str
    suggestion_length: int
    text: str | None
    """The suggestion's text, only with `store_text`."""
    prompt: str | None
    """The prompt's text, only with `store_text`."""
    events: tuple[EventRecord, ...] = ()
    redactions: tuple[tuple[str, int], ...] = ()
    """Secrets replaced in the prompt the model saw: (kind, count)."""
    stored_redactions: tuple[tuple[str, int], ...] = ()
    """Secrets replaced in the texts stored here (`privacy.redactSecrets`): (kind, count)."""

    def origin(self) -> Origin:
        """The origin as `inference` describes it (context chunks without their text)."""
        return Origin(
            model_name=self.model_name,
            model_path="",
            model_digest=self.model_digest,
            quantization=self.quantization,
            architecture=self.architecture,
            engine=self.engine,
            device=self.device,
            template=self.template,
            sampling=self.sampling,
            timing=self.timing,
            confidence=self.confidence,
            stop_reason=self.stop_reason,
            context=tuple(
                ContextChunk(c.path, c.start_line, c.end_line, "", c.reason) for c in self.context
            ),
            route=self.route,
            redactions=self.redactions,
        )


@dataclass(frozen=True)
class Acceptance:
    """An accepting event with the fingerprints of the lines it put in a file."""

    seq: int
    suggestion_id: str
    kind: str
    time: str
    document: str | None
    marks: tuple[LineMark, ...]


COLUMNS = (
    "seq, id, time, task, document, line, character, model_name, model_digest, quantization, "
    "architecture, engine, device, template, route, sampling, context, timing, confidence, "
    "stop_reason, prompt_digest, suggestion_digest, suggestion_length, text, prompt, redactions"
)
EVENT_COLUMNS = (
    "seq, suggestion_id, time, kind, document, range, text_digest, text_length, text, reason"
)


def known(cls: type, data: dict[str, Any]) -> Any:
    """A dataclass from stored JSON, ignoring fields an older or newer Focal wrote."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def suggestion_from_row(r: tuple, events: tuple[EventRecord, ...]) -> SuggestionRecord:
    context = tuple(
        ContextRef(
            c.get("path", ""), c.get("startLine", 0), c.get("endLine", 0), c.get("reason", "")
        )
        for c in json.loads(r[16])
    )
    (seq, id, time, task, document, line, character, model_name, model_digest, quantization,
     architecture, engine, device, template, route, _, _, _, confidence, stop_reason,
     prompt_digest, suggestion_digest, suggestion_length, text, prompt, redactions) = r  # fmt: skip
    red = json.loads(redactions) if redactions else {}
    return SuggestionRecord(
        seq=seq,
        id=id,
        time=time,
        task=task,
        document=document,
        line=line,
        character=character,
        model_name=model_name,
        model_digest=model_digest,
        quantization=quantization,
        architecture=architecture,
        engine=engine,
        device=device,
        template=template,
        route=route,
        sampling=known(GenerationParams, json.loads(r[15])),
        context=context,
        timing=known(Timing, json.loads(r[17])),
        confidence=confidence,
        stop_reason=stop_reason,
        prompt_digest=prompt_digest,
        suggestion_digest=suggestion_digest,
        suggestion_length=suggestion_length,
        text=text,
        prompt=prompt,
        events=events,
        redactions=_counts(red.get("prompt")),
        stored_redactions=_counts(red.get("stored")),
    )


def _counts(data: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(data, dict):
        return ()
    return tuple(sorted((str(k), int(n)) for k, n in data.items()))


def event_from_row(e: tuple) -> EventRecord:
    rng = json.loads(e[5]) if e[5] else None
    return EventRecord(
        seq=e[0],
        suggestion_id=e[1],
        time=e[2],
        kind=e[3],
        document=e[4],
        range=tuple(rng) if rng else None,  # type: ignore[arg-type]  # stored as 4 ints
        text_digest=e[6],
        text_length=e[7],
        text=e[8],
        reason=e[9],
    )
