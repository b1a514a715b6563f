"""How an origin is shown: markdown for editors, a dict for JSON, a line for labels."""

from __future__ import annotations

import dataclasses
from typing import Any

from inference.redact import summary
from inference.types import Origin


def origin_text(origin: Origin, suggestion_id: str | None = None) -> str:
    """The markdown origin as plain text, for `window/showMessage` (shown unrendered)."""
    return origin_markdown(origin, suggestion_id).replace("**", "").replace("`", "")


def origin_markdown(origin: Origin, suggestion_id: str | None = None) -> str:
    t = origin.timing
    reuse = f"{t.tokens_reused}/{t.prompt_tokens}" if t.prompt_tokens else "0/0"
    lines = [
        f"**{origin.model_name}** · {origin.quantization} · `sha256:{origin.short_digest}`",
        "",
        f"- engine: {origin.engine} on {origin.device}",
        f"- model: {origin.architecture}, template `{origin.template}`, route {origin.route}",
        f"- timing: {t.total_ms:.0f} ms (queue {t.queue_ms:.0f}, prefill {t.prefill_ms:.0f}, "
        f"decode {t.decode_ms:.0f}); prompt tokens reused {reuse}, "
        f"{t.tokens_generated} generated",
        f"- confidence: {origin.confidence:.2f} · stopped: {origin.stop_reason}",
    ]
    if origin.redactions:
        lines.append(f"- secrets redacted from the prompt: {summary(origin.redactions)}")
    if origin.context:
        lines.append("- context:")
        lines += [
            f"  - `{c.path}:{c.start_line + 1}-{c.end_line + 1}` — {c.reason}"
            for c in origin.context
        ]
    if suggestion_id:
        lines += ["", f"suggestion `{suggestion_id}`"]
    return "\n".join(lines)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_camel_keys(v) for v in value]
    return value


def origin_dict(origin: Origin) -> dict[str, Any]:
    """The origin as JSON-ready data, camelCase like the rest of the wire. Context chunk text
    is left out: paths, lines and reasons say what was used."""
    d = dataclasses.asdict(origin)
    for chunk in d["context"]:
        chunk.pop("text", None)
    return _camel_keys(d)


def origin_label(origin: Origin) -> str:
    return f"{origin.model_name} {origin.quantization}"
