"""Repository-aware context for a completion: the code the cursor needs, ranked, deduped
and cut to a budget in the model's tokens.

Three sources, each can be turned off:

- definitions: of the names used near the cursor (the call the cursor is in first),
  resolved through the file's imports, the enclosing class and the index;
- imports: the public heads of the workspace modules the file imports;
- similar: the window of an open or recently edited file that shares most words with the
  lines above the cursor.

Nothing excluded from the index (ignore files, `.noai`, secrets) nor matched by the
caller's extra globs is ever returned. With a `session` key, a request keeps the chunks
of the previous one in place and only appends what the cursor now needs, so that the
model's KV cache of the previous prompt stays valid.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from indexing import snippets
from indexing.budget import TokenCounter, TokenCounts, estimate_tokens
from indexing.ignore import ai_disabled
from indexing.indexer import Index
from indexing.languages import language_for
from indexing.lookup import MAX_FILE_BYTES, Lookup
from indexing.resolve import call_at, imports, uses
from indexing.sessions import Held, Sessions, digest, holds
from indexing.similar import WINDOW, SimilarCode, words
from indexing.targets import Resolver, Target

log = logging.getLogger(__name__)

_PROACTIVE = 16
"""Names imported by name whose definitions are candidates even when not used nearby."""
_SOURCES = ("import", "definition", "similar")  # prompt order: least volatile first


@dataclass(frozen=True)
class RetrievalOptions:
    budget_tokens: int = 1024
    """Most tokens (the model's) the chunks may take together, their path labels included."""
    definitions: bool = True
    imports: bool = True
    similar: bool = True
    exclude_globs: tuple[str, ...] = ()
    """Paths never used as context (gitignore syntax), on top of the ignore files."""
    lines_above: int = 40
    lines_below: int = 8
    head_lines: int = 8
    """Body lines a long definition keeps after its signature and docstring."""
    chunk_share: float = 0.4
    """Most of the budget one definition may take."""
    outline_share: float = 0.25
    """Most of the budget one module outline may take."""
    recent_from_disk: bool = True
    """Also look for similar code in files saved in the last hour (from the index)."""


@dataclass(frozen=True)
class Document:
    """An editor buffer: its path (absolute or workspace-relative) and current text."""

    path: str
    text: str


@dataclass(frozen=True)
class Chunk:
    path: str
    """Workspace-relative, `/`-separated."""
    start_line: int
    end_line: int
    """0-based, inclusive."""
    text: str
    reason: str
    source: str
    """`definition`, `import` or `similar`."""
    score: float
    tokens: int
    """Tokens the chunk costs in the prompt: its text and its path label."""


@dataclass(frozen=True)
class Retrieval:
    chunks: tuple[Chunk, ...]
    """In prompt order: module outlines, definitions, similar code; a session's older
    chunks before its newer ones."""
    budget_tokens: int
    used_tokens: int
    candidates: int
    """Candidates ranked before the budget cut."""
    milliseconds: float
    kept: int = 0
    """Chunks kept in place from the session's previous request."""
    note: str = ""
    """Why there is no context, when that is not for lack of candidates."""


class Retriever:
    """Context for completions in one workspace. Thread-safe; caches file text, index
    answers (for a second or two) and per-file word tables."""

    def __init__(self, index: Index | None, root: str | os.PathLike[str] | None = None) -> None:
        if index is None and root is None:
            raise ValueError("give an index or a workspace root")
        self.index = index
        self.root = os.path.abspath(index.root if index is not None else root)  # type: ignore[arg-type]
        self.look = Lookup(index, self.root)
        self.similar = SimilarCode()
        self.counts = TokenCounts()
        self._cuts: OrderedDict[tuple, tuple | None] = OrderedDict()
        self.sessions = Sessions(self.look)

    def clear_caches(self) -> None:
        """Forget cached index answers, file text and token counts (benchmarks measure
        cold requests)."""
        self.look.clear()
        self.counts.clear()
        self._cuts.clear()
        self.similar = SimilarCode()

    def forget_session(self, session: str) -> None:
        self.sessions.forget(session)

    def relpath(self, path: str) -> str | None:
        return self.look.relpath(path)

    # -- the request -------------------------------------------------------------------

    def retrieve(
        self,
        path: str,
        prefix: str,
        suffix: str = "",
        *,
        options: RetrievalOptions | None = None,
        count_tokens: TokenCounter | None = None,
        open_documents: Sequence[Document] = (),
        recent: Sequence[str] = (),
        visible: tuple[int, int] | None = None,
        session: str | None = None,
        tokenizer: str = "",
    ) -> Retrieval:
        """Context for a cursor between `prefix` and `suffix` of the file at `path`.
        `count_tokens` counts in the model's tokens (`tokenizer` names it, for the cache of
        counts); `visible`: the file's lines (0-based, inclusive) the prompt shows anyway;
        `recent`: paths edited lately. Never raises: a failure is logged and gives no
        context."""
        options = options or RetrievalOptions()
        t0 = time.perf_counter()
        try:
            count = self.counts.counter(count_tokens, tokenizer)
            return self._retrieve(
                path, prefix, suffix, options, count, open_documents, recent, visible,
                session, t0,
            )  # fmt: skip
        except Exception:
            log.exception("context retrieval failed for %s; completing without context", path)
            return Retrieval((), options.budget_tokens, 0, 0, _ms(t0), note="retrieval failed")

    def _retrieve(
        self, path, prefix, suffix, options, count, open_documents, recent, visible, session, t0
    ) -> Retrieval:
        budget = options.budget_tokens
        if budget <= 0 or not (options.definitions or options.imports or options.similar):
            return Retrieval((), budget, 0, 0, _ms(t0), note="context is off")
        if ai_disabled(self.root):
            return Retrieval((), budget, 0, 0, _ms(t0), note="AI is off here (.noai)")
        rel = self.relpath(path)
        if rel is not None:
            why = self.look.excluded(rel, options.exclude_globs)
            if why:
                return Retrieval((), budget, 0, 0, _ms(t0), note=f"this file is {why}")
        size = len(prefix) + len(suffix)
        if size > MAX_FILE_BYTES:  # parsing it would hold the server for a second or more
            return Retrieval(
                (),
                budget,
                0,
                0,
                _ms(t0),
                note=f"this file is too large for context ({size / 1e6:.0f} MB of text; "
                f"the cap is {MAX_FILE_BYTES / 1e6:.0f} MB)",
            )
        here = rel or path
        spec = language_for(here)
        language = spec.name if spec else os.path.splitext(here)[1].lstrip(".")
        buffers: dict[str, str] = {}
        for doc in open_documents:
            r = self.relpath(doc.path)
            if r is not None and r != rel and len(doc.text) <= MAX_FILE_BYTES:
                buffers[r] = doc.text
        text = prefix + suffix
        if rel is not None:
            buffers[rel] = text
        lines = (
            (self.look.file_lines(rel, buffers) or ((), []))[1] if rel else text.splitlines(True)
        )
        line = prefix.count("\n")
        column = len(prefix) - (prefix.rfind("\n") + 1)

        cands: dict[tuple, _Cand] = {}
        if (options.definitions or options.imports) and self.index is not None:
            self._symbol_candidates(
                cands, here, language, text, lines, line, column, prefix, options, buffers
            )
        if options.similar:
            self._similar_candidates(cands, rel, prefix, line, options, buffers, recent)
        ranked = sorted(cands.values(), key=lambda c: -c.score)
        picked = self._fit(ranked, rel, visible, options, count, buffers)
        kept = 0
        if session is not None:
            relevant = {c.key for c in ranked}
            picked, kept = self.sessions.stabilize(
                session, picked, relevant, budget, options.exclude_globs, buffers
            )
        used = sum(h.chunk.tokens for h in picked)
        chunks = tuple(h.chunk for h in picked)
        return Retrieval(chunks, budget, used, len(ranked), _ms(t0), kept)

    # -- candidates --------------------------------------------------------------------

    def _symbol_candidates(
        self, cands, here, language, text, lines, line, column, prefix, options, buffers
    ) -> None:
        bindings = imports(text, language)
        resolver = Resolver(self.look, here, language, lines, line, column, bindings, buffers)
        lo = max(0, line - options.lines_above)
        hi = min(len(lines), line + options.lines_below + 1)
        found: list[tuple[float, str, int, Target]] = []
        if options.definitions:
            callee = call_at(prefix, language)
            near = uses("".join(lines[lo:hi]), language, lo)
            resolver.prefetch([u.chain[0] for u in near] + ([callee[0]] if callee else []))
            if callee is not None:
                for t in resolver.resolve(callee):
                    found.append((10.0, "called", -1, t))
            for use in near:
                d = abs(use.line - line)
                if use.line == line:
                    w = 6.0 if use.column <= column else 4.0
                else:
                    w = 4.0 / (1.0 + d / 6.0)
                if use.call:
                    w *= 1.2
                for t in resolver.resolve(use.chain):
                    found.append((w, "called" if use.call else "used", use.line, t))
            # What the file imports by name: cheap to keep in the prompt, and already there
            # when the user starts calling it (the prompt does not change then).
            named = [b for b in bindings if b.name is not None and not b.star]
            for b in named[:_PROACTIVE]:
                for t in resolver.resolve((b.local,)):
                    found.append((0.6, "imported", b.line, t))
        if options.imports:
            for b in bindings:
                if b.name is None and not b.star:
                    for t in resolver.module(b):
                        found.append((0.8, "imported", b.line, t))
        for weight, how, at, t in found:
            if t.sym is None and not options.imports:
                continue
            if t.sym is not None and not options.definitions:
                continue
            score = weight * t.confidence
            if t.sym is None:
                key: tuple = ("import", t.path)
                if how != "imported":
                    score *= 0.3  # `mod.name` near the cursor: the module matters a little
            else:
                # No line number: the definition keeps its identity when edits above it
                # move it (the session keeps it in place then).
                key = ("definition", t.path, t.sym.qualified_name, t.sym.kind)
            c = cands.get(key)
            if c is None:
                cands[key] = _Cand(key, score, t, how, at)
            else:
                c.add(score, how, at)

    def _similar_candidates(self, cands, rel, prefix, line, options, buffers, recent) -> None:
        tail = prefix[-4000:].splitlines()[-WINDOW:]
        query = words("\n".join(tail))
        if len(query) < 3:
            return
        paths = [p for p in buffers if p != rel]
        for p in [*recent, *(self.look.recent_files() if options.recent_from_disk else [])]:
            r = self.relpath(p)
            if r is not None and r != rel and r not in paths:
                paths.append(r)
        for p in paths[:12]:
            if self.look.excluded(p, options.exclude_globs):
                continue
            got = self.look.file_lines(p, buffers)
            if got is None:
                continue
            m = self.similar.best(query, p, got[0], got[1])
            if m is None or m.score < 0.12:
                continue
            where = "open in the editor" if p in buffers else "recently edited"
            t = Target(p, None, 1.0, where)
            cands[("similar", p, m.start_line)] = _Cand(
                ("similar", p, m.start_line), 4.0 * m.score, t, "similar", line, match=m
            )

    # -- ranking and the budget --------------------------------------------------------

    def _fit(self, ranked, rel, visible, options, count, buffers) -> list[Held]:
        budget = options.budget_tokens
        left = budget
        out: list[Held] = []
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for cand in ranked[:80]:
            if left < 24:
                break
            path = cand.target.path
            if self.look.excluded(path, options.exclude_globs):
                continue
            got = self.look.file_lines(path, buffers)
            if got is None:
                continue
            stamp, lines = got
            label = count.label(path)
            made = self._cut(cand, stamp, lines, count, options, budget - label, not out)
            if made is not None and made[3] > left - label:  # too big for what is left
                made = self._cut(cand, stamp, lines, count, options, left - label, not out)
            if made is None:
                continue
            start, end, text, tokens = made
            if path == rel and visible is not None and visible[0] <= start and end <= visible[1]:
                continue  # the prompt shows this part of the file already
            held = spans.setdefault(path, [])
            if _covered(held, start, end, text, cand.source):
                continue
            tokens += label
            # A chunk that holds earlier, smaller ones of its file replaces them.
            inside = [h for h in out if h.chunk.path == path and holds(start, end, text, h.chunk)]
            freed = sum(h.chunk.tokens for h in inside)
            if tokens > left + freed:
                continue
            for h in inside:
                out.remove(h)
                held.remove((h.chunk.start_line, h.chunk.end_line, h.chunk.text))
            left += freed
            reason, source, score = cand.reason(), cand.source, cand.score
            if inside:  # it says why each of them was chosen, best first
                best = max(inside, key=lambda h: h.chunk.score)
                if best.chunk.score > score:
                    reasons = [h.chunk.reason for h in sorted(inside, key=lambda h: -h.chunk.score)]
                    reason = "; also ".join([*reasons, reason])
                    source, score = best.chunk.source, best.chunk.score
            chunk = Chunk(path, start, end, text, reason, source, score, tokens)
            span = lines[start : end + 1]
            out.append(Held(chunk, digest("".join(span)), cand.key, span[0] if span else ""))
            held.append((start, end, text))
            left -= tokens
        # Now the exact counts of what was chosen; drop the least useful if over.
        out = [
            replace(h, chunk=replace(h.chunk, tokens=count.chunk(h.chunk.path, h.chunk.text)))
            for h in out
        ]
        while sum(h.chunk.tokens for h in out) > budget:
            out.remove(min(out, key=lambda h: h.chunk.score))
        order = {s: i for i, s in enumerate(_SOURCES)}
        out.sort(key=lambda h: (order[h.chunk.source], h.chunk.path, h.chunk.start_line))
        return out

    def _cut(self, cand, stamp, lines, count, options, room, first):
        """The chunk's (start, end, text, estimated tokens), cached: the next keystroke
        asks for the same cuts of the same files."""
        key = (cand.key, stamp, room, first, count.ratio())
        hit = self._cuts.get(key)
        if hit is None:
            hit = self._materialize(cand, lines, count.lines(lines), options, room, first)
            self._cuts[key] = hit
            while len(self._cuts) > 1024:
                self._cuts.popitem(last=False)
        return hit

    def _materialize(self, cand, lines, cost, options, room, first=False):
        budget = options.budget_tokens
        t = cand.target
        if cand.source == "similar":
            m = cand.match
            text = "".join(lines[m.start_line : m.end_line + 1])
            if not text.strip():
                return None
            return (
                m.start_line,
                m.end_line,
                text,
                sum(map(cost, range(m.start_line, m.end_line + 1))),
            )
        if t.sym is None:
            cap = min(room, int(budget * options.outline_share))
            return snippets.outline(lines, self.look.members(t.path), t.language, cap, cost)
        sym = t.sym
        start = snippets.locate(lines, sym)
        if start is None:
            return None
        members: list = []
        if sym.kind in snippets.CLASS_KINDS:
            members = self.look.members(t.path, sym.qualified_name)
        # The best candidate may take the whole room; the others a share of the budget.
        cap = room if first else min(room, int(budget * options.chunk_share))
        return snippets.definition(
            lines, sym, start, t.language, members, options.head_lines, cap, cost
        )


class _Cand:
    """A ranked candidate before its text is cut: a definition, a module or a window."""

    __slots__ = ("at", "how", "key", "match", "score", "source", "target")

    def __init__(self, key: tuple, score: float, target: Target, how: str, at: int, match=None):
        self.key = key
        self.source = key[0]
        self.score = score
        self.target = target
        self.how = how
        self.at = at
        self.match = match

    def add(self, score: float, how: str, at: int) -> None:
        if score > self.score:
            self.score, self.how, self.at, score = score, how, at, self.score
        self.score += 0.25 * score

    def reason(self) -> str:
        t = self.target
        where = "at the cursor" if self.at < 0 else f"on line {self.at + 1}"
        if self.source == "similar":
            m = self.match
            return (
                f"similar code ({m.score:.0%} shared words with the lines above the cursor), "
                f"{t.via}"
            )
        if t.sym is None:
            return (
                f"module `{t.module}` imported {where}"
                if self.how == "imported"
                else (f"module `{t.module}`, used {where}")
            )
        name = t.sym.qualified_name
        if self.how == "imported":
            return f"definition of `{name}`, imported {where}"
        return f"definition of `{name}` {self.how} {where} ({t.via})"


def _covered(spans, start: int, end: int, text: str, source: str) -> bool:
    """Already shown: inside a chunk of the same file that holds all its lines (or, for
    similar code, mostly overlapping one)."""
    for s, e, t in spans:
        overlap = min(e, end) - max(s, start) + 1
        if overlap <= 0:
            continue
        if source == "similar" and overlap * 2 >= end - start + 1:
            return True
        if s <= start and end <= e and all(ln in t for ln in text.splitlines() if ln.strip()):
            return True
    return False


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


__all__ = ["Chunk", "Document", "Retrieval", "RetrievalOptions", "Retriever", "estimate_tokens"]
