"""The files a file's imports name, and theirs in turn: what a completion in that file
needs indexed first, before the rest of a large repository (`Index.index_first`).

Module files are found by the same rules as retrieval's (`modules`, `native_modules`),
from a module map of the workspace's paths, so this needs no index.
"""

from __future__ import annotations

import os
import posixpath

from indexing import native_modules as nm
from indexing.languages import language_for
from indexing.modules import PathMap
from indexing.native_imports import PACKAGE, PHP_NAMESPACE
from indexing.resolve import Binding, imports

_MAX_READ = 2_000_000


def _read(root: str, rel: str) -> str | None:
    try:
        with open(os.path.join(root, rel), "rb") as f:
            return f.read(_MAX_READ).decode("utf-8", "replace")
    except OSError:
        return None


def module_files(pm: PathMap, rel: str, text: str, language: str, b: Binding) -> list[str]:
    """The workspace files one import binding of `rel` names (its module, or the module
    of the imported name when that is itself a module)."""
    if language == "python":
        found = pm.python_module(b.module, b.level, rel)
        if b.name:
            sub = ".".join(x for x in (b.module, b.name) if x)
            found = found + pm.python_module(sub, b.level, rel)
        return found
    if language in ("javascript", "typescript", "typescriptreact", "javascriptreact"):
        return pm.js_module(b.module, rel)
    if language == "go":
        return pm.go_package(b.module, rel)
    if language == "rust":
        path = b.module.split("::") if b.module else []
        return nm.rust_module(pm, rel, path) + (
            nm.rust_module(pm, rel, [*path, b.name]) if b.name else []
        )
    if language in ("java", "kotlin"):
        m = PACKAGE.search(text[:20_000])
        own = m.group(1) if m else ""
        if b.star or not b.name:
            return nm.java_package(pm, b.module, rel, own)
        return nm.java_type_files(pm, b.module, b.name, rel, own)[:1]
    if language == "csharp":
        return nm.csharp_namespace(pm, b.module)
    if language in ("c", "cpp", "objective-c"):
        return nm.c_include(pm, b.module, b.level == 1, rel)
    if language == "ruby":
        return nm.ruby_require(pm, b.module, b.level == 1, rel)
    if language == "php" and b.name:
        m = PHP_NAMESPACE.search(text[:20_000])
        return nm.php_class(pm, b.module, b.name, rel, m.group(1) if m else "")
    return []


def import_closure(
    pm: PathMap, root: str, rels: list[str], depth: int = 2, limit: int = 40
) -> list[str]:
    """`rels` and the files their imports name, breadth first to `depth` levels (and, in
    Go, the other files of each package reached), at most `limit` files."""
    out: list[str] = []
    seen: set[str] = set()
    level = [r for r in rels if r in pm.paths or os.path.isfile(os.path.join(root, r))]
    for d in range(depth + 1):
        nxt: list[str] = []
        for rel in level:
            if rel in seen or len(out) >= limit:
                continue
            seen.add(rel)
            out.append(rel)
            if d == depth:
                continue
            spec = language_for(rel)
            text = _read(root, rel) if spec is not None else None
            if text is None or spec is None:
                continue
            for b in imports(text, spec.name):
                nxt += module_files(pm, rel, text, spec.name, b)
            if spec.name == "go":
                nxt += pm.go_files(posixpath.dirname(rel))
        level = nxt
    return out[:limit]
