"""Similar code, as editors' "neighbouring tabs" find it: the window of another file whose
set of words overlaps most (Jaccard) with the lines just above the cursor."""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from indexing.resolve import KEYWORDS

_WORD = re.compile(r"[^\W\d]\w+")
WINDOW = 12
"""Lines per window, as in the query (the lines up to the cursor)."""
_CACHE = 64


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text) if w not in KEYWORDS}


@dataclass(frozen=True)
class Match:
    path: str
    start_line: int
    end_line: int
    score: float
    """Jaccard similarity of the two word sets, 0..1."""


class _Doc:
    __slots__ = ("lines", "postings")

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = [words(ln) for ln in lines]
        postings: dict[str, list[int]] = {}
        for i, ws in enumerate(self.lines):
            for w in ws:
                postings.setdefault(w, []).append(i)
        self.postings = postings


class SimilarCode:
    """Finds similar windows in a set of documents; per-document word tables are cached
    by a stamp the caller gives (a content hash or the file's size and mtime)."""

    def __init__(self) -> None:
        self._docs: OrderedDict[str, tuple[object, _Doc]] = OrderedDict()
        self._lock = threading.Lock()

    def _doc(self, path: str, stamp: object, lines: Sequence[str]) -> _Doc:
        with self._lock:
            hit = self._docs.get(path)
            if hit is not None and hit[0] == stamp:
                self._docs.move_to_end(path)
                return hit[1]
        doc = _Doc(lines)
        with self._lock:
            self._docs[path] = (stamp, doc)
            while len(self._docs) > _CACHE:
                self._docs.popitem(last=False)
        return doc

    def best(
        self,
        query: set[str],
        path: str,
        stamp: object,
        lines: Sequence[str],
        window: int = WINDOW,
        anchors: int = 4,
    ) -> Match | None:
        """The most similar window of one document, or None when nothing overlaps."""
        if len(query) < 3 or not lines:
            return None
        doc = self._doc(path, stamp, lines)
        n = len(doc.lines)
        common = max(40, n // 5)  # a word on most lines says nothing about where to look
        hits: Counter[int] = Counter()
        for w in query:
            post = doc.postings.get(w)
            if post and len(post) <= common:
                hits.update(post)
        best: Match | None = None
        tried: set[int] = set()
        for anchor, count in hits.most_common(anchors):
            if count < 2:
                break
            start = max(0, min(anchor - window // 2, n - window))
            if start in tried:
                continue
            tried.add(start)
            seen: set[str] = set()
            for ws in doc.lines[start : start + window]:
                seen |= ws
            inter = len(query & seen)
            score = inter / (len(query) + len(seen) - inter)
            if best is None or score > best.score:
                best = Match(path, start, min(n, start + window) - 1, score)
        return best
