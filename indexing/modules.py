"""Where a module an import names lives in the workspace: Python dotted names, JS/TS
import specifiers, Go import paths (through `go.mod`), matched against the index's file
paths; the languages that follow other rules are in `native_modules`."""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Iterable

from indexing import manifests

_PY_EXT = (".py", ".pyi")
_JS_EXT = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")


class PathMap:
    """Where modules live: the index's paths by Python module name, by JS/TS module path
    (extension-less), and Go package directories by their trailing path components."""

    def __init__(self, paths: Iterable[str], root: str | None = None) -> None:
        self.root = root
        """The workspace on disk, where manifests (`go.mod`, ...) are read; None: none."""
        self._lock = threading.Lock()
        self._manifests: dict[str, object] = {}
        self._memo: dict[tuple, list[str] | str | None] = {}
        self.paths: set[str] = set()
        self.py: dict[str, list[str]] = {}
        self.py_exact: dict[str, list[str]] = {}
        self.js: dict[str, list[str]] = {}
        self.dirs: dict[str, set[str]] = {}
        self.files_in: dict[str, list[str]] = {}
        self.named: dict[str, list[str]] = {}
        """Paths by file name (`util.h` -> every `.../util.h`)."""
        for p in paths:
            self.paths.add(p)
            d = posixpath.dirname(p)
            self.files_in.setdefault(d, []).append(p)
            self.named.setdefault(p[len(d) + 1 :] if d else p, []).append(p)
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

    def dirs_ending(self, tail: str) -> list[str]:
        """Directories whose path is `tail` or ends with `/tail`, shortest first."""
        found = self._dir_tails().get(tail.strip("/"), set())
        return sorted(found, key=lambda d: (d.count("/"), d))

    def _dir_tails(self) -> dict[str, set[str]]:
        def build():
            tails: dict[str, set[str]] = {}
            for d in self.files_in:
                parts = d.split("/") if d else []
                for i in range(len(parts)):
                    tails.setdefault("/".join(parts[i:]), set()).add(d)
            return tails

        return self.manifest("dir-tails", build)

    def memo(self, key: tuple, compute):
        """`compute()`, remembered under `key` for the life of this map (the map does not
        change once built: a newer index gives a new map)."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = compute()
        if len(self._memo) > 20_000:
            self._memo.clear()
        self._memo[key] = value
        return value

    def manifest(self, key: str, read):
        """What `read()` finds in the workspace's manifests, read once per map."""
        with self._lock:
            if key in self._manifests:
                return self._manifests[key]
        value = read()
        with self._lock:
            return self._manifests.setdefault(key, value)

    def go_files(self, d: str) -> list[str]:
        """The Go files of the package in directory `d`, tests last."""

        def compute():
            files = [p for p in self.files_in.get(d, []) if p.endswith(".go")]
            return sorted(files, key=lambda p: (p.endswith("_test.go"), p))

        return self.memo(("go-files", d), compute)

    def _go(self) -> tuple[list[manifests.GoModule], dict[str, str | None]]:
        def read():
            if self.root is None:
                return [], {}
            dirs = {d for d, fs in self.files_in.items() if any(f.endswith(".go") for f in fs)}
            return manifests.go_modules(self.root, dirs)

        return self.manifest("go", read)

    def go_module_of(self, here: str) -> manifests.GoModule | None:
        """The module whose `go.mod` is nearest above the file `here`."""
        mods, owner = self._go()
        d = owner.get(posixpath.dirname(here))
        return next((m for m in mods if m.dir == d), None)

    def go_dir(self, import_path: str, here: str = "") -> str | None:
        """The directory of the package an import path names, by Go's rules: the importing
        module's `replace` directives to local directories first, then the module whose
        path is the longest prefix of the import path (nested modules included), then the
        importing module's `vendor/` directory. None when no module of the workspace has it."""
        mods, _ = self._go()
        if not mods:
            return None
        own = self.go_module_of(here) if here else None
        for m in ([own] if own else []) + [m for m in mods if m is not own]:
            for old, new in m.replaces:
                rest = _under(import_path, old)
                if rest is not None:
                    d = posixpath.join(new, rest) if rest else new
                    if self.go_files(d):
                        return d
        best: tuple[int, str] | None = None
        for m in mods:
            rest = _under(import_path, m.path)
            if rest is not None and (best is None or len(m.path) > best[0]):
                best = (len(m.path), posixpath.join(m.dir, rest) if rest else m.dir)
        if best is not None and self.go_files(best[1]):
            return best[1]
        if own is not None:
            d = posixpath.join(own.dir, "vendor", import_path)
            if self.go_files(d):
                return d
        return None

    def go_package(self, import_path: str, here: str = "") -> list[str]:
        """Files of the Go package an import path names: through the workspace's `go.mod`
        files (see `go_dir`), else by the longest trailing match of the path's directories
        (a library whose module file is not in the workspace)."""
        d = self.memo(("go-dir", import_path, posixpath.dirname(here)),
                      lambda: self.go_dir(import_path, here))  # fmt: skip
        if d is not None:
            return self.go_files(d)
        parts = [p for p in import_path.split("/") if p]
        for i in range(len(parts)):
            dirs = self.dirs.get("/".join(parts[i:]))
            if dirs:
                d = min(dirs, key=lambda x: (x.count("/"), x))
                return self.go_files(d)
        return []


def _under(import_path: str, module: str) -> str | None:
    """The rest of `import_path` below the module path `module` ('' for the module
    itself), or None when it is not inside it."""
    if import_path == module:
        return ""
    if import_path.startswith(module + "/"):
        return import_path[len(module) + 1 :]
    return None


def _js_stem(path: str) -> str:
    for ext in (".d.ts", *_JS_EXT):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path
