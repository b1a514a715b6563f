"""Ranking symbols for a name query (`workspace/symbol`, `focal symbols`)."""

from __future__ import annotations

from indexing.extract import Symbol
from indexing.store import Store

KIND_RANK = {
    "class": 0,
    "interface": 0,
    "struct": 0,
    "trait": 0,
    "enum": 1,
    "type": 1,
    "function": 2,
    "method": 3,
    "module": 4,
    "macro": 4,
    "constant": 5,
    "variable": 6,
}


def search_symbols(store: Store, query: str, limit: int = 50) -> list[Symbol]:
    """Symbols matching `query`, best first: exact name, then prefix, then substring,
    then the characters in order (`gtUsr` finds `getUser`); case-insensitive."""
    q = query.strip()
    if limit <= 0:
        return []
    if not q:
        return store.by_prefix("", limit)
    wide = max(limit * 4, 100)
    ql = q.lower()
    ranked: dict[tuple, tuple] = {}

    def add(symbols: list[Symbol], tier: int) -> None:
        for s in symbols:
            key = (s.path, s.line, s.column, s.qualified_name)
            if key in ranked:
                continue
            t: float
            if tier <= 3:
                if s.name == q or s.qualified_name == q:
                    t = 0
                elif s.name.lower() == ql or s.qualified_name.lower() == ql:
                    t = 1
                elif s.name.startswith(q):
                    t = 2
                else:
                    t = 3
            elif tier == 4 and ql not in s.name.lower():
                t = 4.5  # found in the qualified name only (`Cart` in `Cart.add`)
            else:
                t = tier
            rank = (t, len(s.name), KIND_RANK.get(s.kind, 9), s.path, s.line)
            ranked[key] = (rank, s)

    add(store.by_name(q, wide), 0)
    if "." in q:
        add(store.by_qualified_name(q, wide), 0)
    add(store.by_prefix(q, wide), 3)
    if len(ranked) < limit:
        add(store.containing(q, wide), 4)
    if len(ranked) < limit:
        add(store.fuzzy(q, wide), 5)
    return [s for _, s in sorted(ranked.values(), key=lambda rs: rs[0])[:limit]]
