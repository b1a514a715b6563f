"""Sessions: the chunks one document's previous request used, kept in place.

A model reuses its KV cache for the longest common prefix of two prompts, and the context
comes first in the prompt. So a request keeps the chunks the previous one had, in the
same order (their lines may have moved), and appends what the cursor now needs; it evicts
for lack of room only, the least useful first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexing.lookup import Lookup
    from indexing.retrieval import Chunk

REQUIRED = 5.0
"""Score from which a new chunk changes a session's context: the definition of the call
the cursor is in, or of a name called before the cursor on its line. Below it, a chunk
only joins when the context changes anyway."""
HEADROOM = 0.8
"""Share of the budget a session fills with chunks that are not required, leaving room
for the required ones later requests bring."""


def _within(picked: list[Held], budget: int) -> list[Held]:
    """`picked` (in its order) without its least useful optional chunks beyond `budget`."""
    out = list(picked)
    used = sum(h.chunk.tokens for h in out)
    for h in sorted(out, key=lambda h: h.chunk.score):
        if used <= budget or h.chunk.score >= REQUIRED:
            break
        out.remove(h)
        used -= h.chunk.tokens
    return out


@dataclass(frozen=True)
class Held:
    """A chunk as a session remembers it: with what tells whether it is still true."""

    chunk: Chunk
    digest: str
    """Of the file's lines the chunk spans (its text may be an outline of them)."""
    key: tuple
    first: str = ""
    """The first of those lines, to find them again when edits above moved them."""


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def holds(start: int, end: int, text: str, c: Chunk) -> bool:
    """The new chunk (start, end, text) shows all of the older chunk `c`."""
    if not (start <= c.start_line and c.end_line <= end):
        return False
    return all(ln in text for ln in c.text.splitlines() if ln.strip())


class Sessions:
    """The last chunks of each document (by its key), at most 64 documents."""

    def __init__(self, look: Lookup) -> None:
        self.look = look
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[Held, ...]] = OrderedDict()

    def forget(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    def stabilize(
        self,
        session: str,
        picked: list[Held],
        relevant: set,
        budget: int,
        globs: tuple,
        buffers: dict[str, str],
    ) -> tuple[list[Held], int]:
        """Keep the previous request's chunks where they were; append what is new and
        needed; evict the least useful only for lack of room. `relevant`: the keys of all
        of this request's candidates, chosen or not."""
        with self._lock:
            prev = self._sessions.get(session, ())
        fresh = {h.key: h for h in picked}
        kept: list[Held] = []
        changed = False
        for h in prev:
            now = fresh.get(h.key)
            if now is not None and now.chunk.text == h.chunk.text:
                kept.append(now)  # the same text, maybe moved: the prompt does not change
                continue
            moved = self._still_true(h, globs, buffers)
            if moved is None:
                changed = True
            else:
                kept.append(moved)
        known = {h.key for h in kept}
        new = [h for h in picked if h.key not in known and not shown(h, kept)]
        required = sorted(
            (h for h in new if h.chunk.score >= REQUIRED), key=lambda h: -h.chunk.score
        )
        used = sum(h.chunk.tokens for h in kept)
        while kept and used > budget:  # less room than before: the newest go first
            used -= kept.pop().chunk.tokens
            changed = True
        stale = sum(h.chunk.tokens for h in kept if h.key not in relevant)
        if not prev or stale > budget // 2:
            # A fresh start (nothing kept, or mostly about other code): room is left for
            # what the next requests will need, so that they need not evict.
            result = _within(picked, int(budget * HEADROOM))
        elif not required and not changed:
            result = kept
        else:
            result = list(kept)
            for h in required:
                while used + h.chunk.tokens > budget:
                    # Evict from the tail: the prompt before the evicted chunks stays.
                    victims = [k for k in result if k not in required]
                    if not victims:
                        break
                    result.remove(victims[-1])
                    used -= victims[-1].chunk.tokens
                if used + h.chunk.tokens <= budget:
                    result.append(h)
                    used += h.chunk.tokens
            # The tail of the prompt is new anyway: fill some of the room left.
            for h in sorted(new, key=lambda h: -h.chunk.score):
                if h not in result and used + h.chunk.tokens <= budget * HEADROOM:
                    result.append(h)
                    used += h.chunk.tokens
        with self._lock:
            self._sessions[session] = tuple(result)
            self._sessions.move_to_end(session)
            while len(self._sessions) > 64:
                self._sessions.popitem(last=False)
        before = {h.key for h in prev}
        n_kept = sum(1 for h in result if h.key in before)
        return list(result), n_kept

    def _still_true(self, h: Held, globs: tuple, buffers: dict[str, str]) -> Held | None:
        """The held chunk, with its lines moved if edits above it moved it; None when its
        file no longer has those lines (or may no longer be used)."""
        c = h.chunk
        if self.look.excluded(c.path, globs):
            return None
        got = self.look.file_lines(c.path, buffers)
        if got is None:
            return None
        lines = got[1]
        n = c.end_line - c.start_line + 1
        first = h.first
        for d in range(0, 201):
            for start in (c.start_line + d, c.start_line - d) if d else (c.start_line,):
                if start < 0 or start >= len(lines) or lines[start] != first:
                    continue
                if digest("".join(lines[start : start + n])) == h.digest:
                    if start == c.start_line:
                        return h
                    moved = replace(c, start_line=start, end_line=start + n - 1)
                    return replace(h, chunk=moved, first=first)
        return None


def shown(h: Held, kept: list[Held]) -> bool:
    """A kept chunk of the same file already shows all of `h`."""
    c = h.chunk
    return any(
        k.chunk.path == c.path and holds(k.chunk.start_line, k.chunk.end_line, k.chunk.text, c)
        for k in kept
    )
