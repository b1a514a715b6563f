"""Repository context for one completion: `indexing.retrieval` asked within the room the
document leaves in the model's window, and its answer turned into the engine's bundle.

The server's completion feature and the `focal context` / `focal complete` commands all
go through `gather` and then `redacted`, so that what `focal context` shows is what a
completion uses, secrets replaced as `privacy.redactSecrets` says.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from indexing.retrieval import Document, Retrieval, RetrievalOptions, Retriever
from inference.redact import Counts, applies, redact_prompt, summary
from inference.templates import (
    FimTemplate,
    PromptLimits,
    RepoContext,
    clip_prefix,
    clip_suffix,
    suffix_chars,
)
from inference.types import CompletionTask, ContextBundle, ContextChunk
from lsp_server.settings import ContextSettings

log = logging.getLogger(__name__)

_ROOM_STEP = 128
_MARKERS = 16
"""Tokens for the FIM markers and the document's own path label."""


@dataclass(frozen=True)
class Room:
    budget: int
    """Tokens the context may take: the setting, or less when the document leaves less."""
    visible: tuple[int, int]
    """The document's lines (0-based, inclusive) the prompt shows anyway."""
    document_tokens: int


def tokenizer_key(engine: Any) -> str:
    """Names the engine's tokenizer: its model's digest (one tokenizer per model file)."""
    return str(getattr(getattr(engine, "card", None), "digest", "") or id(engine))


def token_counter(engine: Any):
    """Counts text in the engine's own tokens (an estimate for remote engines)."""

    def count(text: str) -> int:
        return len(engine.tokenize(text))

    return count


_counted: OrderedDict[tuple[str, int, str], int] = OrderedDict()
_counted_lock = threading.Lock()


def _cached_count(engine: Any, text: str) -> int:
    """Token count of a text the next keystroke will ask about again (the document up to
    the cursor's line changes once per line, not per keystroke)."""
    key = (
        tokenizer_key(engine),
        len(text),
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest(),
    )
    with _counted_lock:
        n = _counted.get(key)
    if n is None:
        n = len(engine.tokenize(text))
        with _counted_lock:
            _counted[key] = n
            while len(_counted) > 64:
                _counted.popitem(last=False)
    return n


def room_for(task: CompletionTask, engine: Any, budget: int, max_tokens: int) -> Room:
    limits = PromptLimits()
    prefix = clip_prefix(task.prefix, limits.max_prefix_chars)
    suffix = clip_suffix(task.suffix, suffix_chars(getattr(engine, "template", None), limits))
    n_ctx = int(engine.n_ctx)
    # The engine caps generation at a quarter of the window.
    generate = min(max_tokens, max(1, n_ctx // 4))
    text = prefix + suffix + task.path
    # Tokenizing the document costs milliseconds; a bound is enough unless the window is
    # tight (code tokenizers make over 2 characters per token of ASCII, and at worst one
    # token per character).
    doc = (len(text) // 2 if text.isascii() else len(text)) + _MARKERS
    if n_ctx - generate - doc < budget:
        cut = prefix.rfind("\n") + 1
        doc = (
            _cached_count(engine, prefix[:cut])
            + len(engine.tokenize(prefix[cut:]))
            + _cached_count(engine, suffix)
            + _cached_count(engine, task.path)
            + _MARKERS
        )
    # In steps, so that the budget does not change with every line typed (a new budget
    # would change the context, and the prompt's head with it).
    room = (n_ctx - generate - doc) // _ROOM_STEP * _ROOM_STEP
    first = task.line - prefix.count("\n")
    last = task.line + suffix.count("\n")
    return Room(max(0, min(budget, room)), (first, last), doc)


def options_for(settings: ContextSettings, budget: int) -> RetrievalOptions:
    return RetrievalOptions(
        budget_tokens=budget,
        definitions=settings.definitions,
        imports=settings.imports,
        similar=settings.similar,
        exclude_globs=tuple(settings.exclude_globs),
    )


def gather(
    retriever: Retriever,
    task: CompletionTask,
    engine: Any,
    settings: ContextSettings,
    max_tokens: int,
    documents: Sequence[Document] = (),
    recent: Sequence[str] = (),
    session: str | None = None,
) -> tuple[Retrieval, Room]:
    """The context for `task` (blocking: run it off the event loop)."""
    room = room_for(task, engine, settings.budget_tokens, max_tokens)
    retrieval = retriever.retrieve(
        task.path,
        task.prefix,
        task.suffix,
        options=options_for(settings, room.budget),
        count_tokens=token_counter(engine),
        open_documents=documents,
        recent=recent,
        visible=room.visible,
        session=session,
        tokenizer=tokenizer_key(engine),
    )
    return retrieval, room


def bundle_of(retrieval: Retrieval, repo: str = "") -> RepoContext:
    """The engine's bundle: the chunks in retrieval's (prompt) order."""
    chunks = tuple(
        ContextChunk(c.path, c.start_line, c.end_line, c.text, c.reason) for c in retrieval.chunks
    )
    return RepoContext(chunks, repo=repo)


def is_remote(engine: Any) -> bool:
    return getattr(engine, "engine_name", "") == "remote"


def redacted(
    task: CompletionTask, bundle: ContextBundle, engine: Any, policy: str
) -> tuple[CompletionTask, ContextBundle, Counts]:
    """`task` and `bundle` as the engine may see them under `privacy.redactSecrets`
    (`policy`): with every secret in the shown part of the document and in each context
    chunk replaced by `<redacted:KIND>`, before anything is tokenized; unchanged when the
    policy does not cover this engine."""
    if not applies(policy, is_remote(engine)):
        return task, bundle, ()
    limits = PromptLimits()
    template = getattr(engine, "template", None)
    task, bundle, counts = redact_prompt(
        task,
        bundle,
        limits.max_prefix_chars,
        suffix_chars(template if isinstance(template, FimTemplate) else None, limits),
    )
    if counts:
        log.info("redacted %s from the prompt for %s", summary(counts), task.path)
    return task, bundle, counts
