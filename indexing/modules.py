"""Where a module an import names lives in the workspace: Python dotted names, JS/TS
import specifiers, Go import paths, matched against the index's file paths."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

_PY_EXT = (".py", ".pyi")
_JS_EXT = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")


class PathMap:
    """Where modules live: the index's paths by Python module name, by JS/TS module path
    (extension-less), and Go package directories by their trailing path components."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths: set[str] = set()
        self.py: dict[str, list[str]] = {}
        self.py_exact: dict[str, list[str]] = {}
        self.js: dict[str, list[str]] = {}
        self.dirs: dict[str, set[str]] = {}
        self.files_in: dict[str, list[str]] = {}
        for p in paths:
            self.paths.add(p)
            d = posixpath.dirname(p)
            self.files_in.setdefault(d, []).append(p)
            if p.endswith(_PY_EXT):
                parts = p.rsplit(".", 1)[0].split("/")
                if parts[-1] == "__init__":
                    parts.pop()
                if not parts or not all(x.isidentifier() for x in parts[-1:]):
                    continue
                self.py_exact.setdefault(".".join(parts), []).append(p)
                for i in range(len(parts)):
                    self.py.setdefault(".".join(parts[i:]), []).append(p)
            elif p.endswith(_JS_EXT):
                stem = _js_stem(p)
                parts = stem.split("/")
                for i in range(len(parts)):
                    self.js.setdefault("/".join(parts[i:]), []).append(p)
            elif p.endswith(".go"):
                parts = d.split("/") if d else []
                for i in range(len(parts)):
                    self.dirs.setdefault("/".join(parts[i:]), set()).add(d)

    def python_module(self, module: str, level: int = 0, here: str = "") -> list[str]:
        """Files of a Python module (`a.b` -> `a/b.py` or `a/b/__init__.py`), relative to
        the importing file `here` when `level` > 0. Best match first."""
        if level:
            base = posixpath.dirname(here)
            for _ in range(level - 1):
                base = posixpath.dirname(base)
            rel = "/".join(x for x in [base, *module.split(".")] if x) if module else base
            found = [
                p for p in (f"{rel}.py", f"{rel}.pyi", f"{rel}/__init__.py") if p in self.paths
            ]
            return found
        exact = self.py_exact.get(module)
        if exact:
            return exact
        found = self.py.get(module, [])
        if len(found) <= 1:
            return found
        # Several: a vendored or test copy; prefer the one nearest the root.
        return sorted(found, key=lambda p: (p.count("/"), p))

    def js_module(self, spec: str, here: str) -> list[str]:
        """Files a JS/TS import specifier names: relative ones from the importing file,
        bare ones by their trailing path (`@app/util` -> `.../app/util.ts`)."""
        if spec.startswith("."):
            stem = posixpath.normpath(posixpath.join(posixpath.dirname(here), spec))
            stem = _js_stem(stem) if stem.endswith(_JS_EXT) else stem
            hits = self.js.get(stem, [])
            return [p for p in hits if _js_stem(p) == stem] or [
                p for p in self.js.get(stem + "/index", []) if _js_stem(p) == stem + "/index"
            ]
        key = spec.lstrip("@")
        while key:
            hits = self.js.get(key) or self.js.get(key + "/index")
            if hits:
                return hits
            key = key.split("/", 1)[1] if "/" in key else ""
        return []

    def go_package(self, import_path: str) -> list[str]:
        """Files of the Go package an import path names (by its longest trailing match)."""
        parts = [p for p in import_path.split("/") if p]
        for i in range(len(parts)):
            dirs = self.dirs.get("/".join(parts[i:]))
            if dirs:
                d = min(dirs, key=lambda x: (x.count("/"), x))
                return [p for p in self.files_in.get(d, []) if p.endswith(".go")]
        return []


def _js_stem(path: str) -> str:
    for ext in (".d.ts", *_JS_EXT):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path
