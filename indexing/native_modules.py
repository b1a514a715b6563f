"""Where the module an import names lives, for Rust, Java/Kotlin, C#, C/C++, PHP and Ruby:
each language's own rule over the index's paths (and its manifests), stated per function.
Every function returns workspace-relative files, best first; [] when the rule finds
nothing (the caller then falls back to names)."""

from __future__ import annotations

import posixpath

from indexing import manifests
from indexing.modules import PathMap

_C_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".m", ".mm")
_C_HEADERS = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl")


# -- Rust ----------------------------------------------------------------------------------


def _crates(pm: PathMap) -> list[manifests.Crate]:
    def read():
        if pm.root is None:
            return []
        dirs = {d for d, fs in pm.files_in.items() if any(f.endswith(".rs") for f in fs)}
        return manifests.rust_crates(pm.root, dirs, pm.paths)

    return pm.manifest("rust", read)


def rust_crate_of(pm: PathMap, here: str) -> tuple[manifests.Crate | None, str, list[str], str]:
    """The crate of the file `here`, the directory its module tree is laid out from, the
    module path of `here` in it (`src/a/b.rs` -> `["a", "b"]`, `src/a/mod.rs` -> `["a"]`)
    and the tree's root file. A file outside its crate's root directory (`tests/x.rs`,
    `examples/`, or no `Cargo.toml` at all) is a crate root of its own."""
    best = None
    for c in _crates(pm):
        inside = not c.dir or here.startswith(c.dir + "/")
        if inside and (best is None or len(c.dir) > len(best.dir)):
            best = c
    if best is None or not best.roots:
        return best, posixpath.dirname(here), [], here
    root_file = best.roots[0]
    if here in best.roots:
        return best, posixpath.dirname(here), [], here
    base = posixpath.dirname(root_file)
    if base and not here.startswith(base + "/"):
        return best, posixpath.dirname(here), [], here
    rel = here[len(base) + 1 :] if base else here
    parts = (rel[: -len(".rs")] if rel.endswith(".rs") else rel).split("/")
    if parts and parts[-1] == "mod":
        parts.pop()
    return best, base, parts, root_file


def _rust_files(pm: PathMap, base: str, path: list[str], root_file: str) -> list[str]:
    if not path:
        return [root_file]
    stem = posixpath.join(base, *path) if base else "/".join(path)
    return [p for p in (f"{stem}.rs", f"{stem}/mod.rs") if p in pm.paths]


def rust_module(pm: PathMap, here: str, path: list[str]) -> list[str]:
    """See `_rust_module` (remembered per map)."""
    return pm.memo(("rust", here, *path), lambda: _rust_module(pm, here, path))


def _rust_module(pm: PathMap, here: str, path: list[str]) -> list[str]:
    """Files of the Rust module a path names from the file `here`, by Rust's rules:
    `crate::a::b` from the crate's root (`src/lib.rs` or `src/main.rs`: `a/b.rs` or
    `a/b/mod.rs` beside it), `self::` from this module, each `super::` one module up, a
    crate's name (a `Cargo.toml` in the workspace) from that crate's root; any other first
    name is a child module of this one (2018 edition) or, failing that, of the crate root.
    Modules declared inline (`mod m { .. }`) are inside their parent's file."""
    _, base, mine, root_file = rust_crate_of(pm, here)
    if not path:
        return _rust_files(pm, base, mine, root_file)
    head = path[0]
    if head == "crate":
        return _rust_files(pm, base, list(path[1:]), root_file)
    if head in ("self", "super"):
        cur, segs = list(mine), list(path)
        while segs and segs[0] in ("self", "super"):
            if segs.pop(0) == "super":
                cur = cur[:-1]
        return _rust_files(pm, base, cur + segs, root_file)
    found = _rust_files(pm, base, [*mine, *path], root_file)
    if not found and mine:
        found = _rust_files(pm, base, list(path), root_file)
    if not found:
        # A crate by name: another crate of the workspace, or this package's library
        # as its tests, examples and benches see it (`use tokio::io` in `tests/`).
        for c in _crates(pm):
            if c.name == head and c.roots:
                lib = c.roots[0]
                return _rust_files(pm, posixpath.dirname(lib), list(path[1:]), lib)
    return found


# -- Java, Kotlin, C# ----------------------------------------------------------------------


def java_package(pm: PathMap, package: str, here: str = "", own: str = "") -> list[str]:
    """See `_java_package` (remembered per map)."""
    key = ("java", package, posixpath.dirname(here), own)
    return pm.memo(key, lambda: _java_package(pm, package, here, own))


def _java_package(pm: PathMap, package: str, here: str = "", own: str = "") -> list[str]:
    """Files of a Java/Kotlin package: by Java's rule its directory is the package's
    dotted name under a source root. The source root of `here` is its directory less
    its own package (`src/main/java/` for `a.b` in `src/main/java/a/b/X.java`); other
    roots (other modules of a build) are found by the directory's trailing path."""
    tail = package.replace(".", "/")
    d = posixpath.dirname(here)
    own_tail = own.replace(".", "/")
    if own and (d == own_tail or d.endswith("/" + own_tail)):
        root = d[: len(d) - len(own_tail)].rstrip("/")
        cand = posixpath.join(root, tail) if root else tail
        if cand in pm.files_in:
            return _jvm_files(pm, cand)
    for cand in pm.dirs_ending(tail):
        files = _jvm_files(pm, cand)
        if files:
            return files
    return []


def _jvm_files(pm: PathMap, d: str) -> list[str]:
    return sorted(p for p in pm.files_in.get(d, []) if p.endswith((".java", ".kt", ".kts")))


def java_type_files(pm: PathMap, package: str, name: str, here: str, own: str) -> list[str]:
    """The file of type `name` in a package (Java: `Name.java`, one public type per file),
    then the package's other files (Kotlin puts any declaration in any file)."""
    key = ("java-type", package, name, posixpath.dirname(here), own)
    return pm.memo(key, lambda: _java_type_files(pm, package, name, here, own))


def _java_type_files(pm: PathMap, package: str, name: str, here: str, own: str) -> list[str]:
    files = java_package(pm, package, here, own)
    exact = [f for f in files if posixpath.basename(f).rsplit(".", 1)[0] == name]
    return exact + [f for f in files if f not in exact]


def csharp_namespace(pm: PathMap, namespace: str) -> list[str]:
    """Files of a C# namespace. C# does not tie namespaces to directories; by the common
    layout (and the .NET SDK's default) `A.B.C` is a directory ending `A/B/C`, or `B/C`
    inside a project folder named `A`: the longest trailing match wins."""
    parts = namespace.split(".")
    for i in range(len(parts)):
        for d in pm.dirs_ending("/".join(parts[i:])):
            files = sorted(p for p in pm.files_in.get(d, []) if p.endswith(".cs"))
            if files:
                return files
    return []


# -- C, C++ --------------------------------------------------------------------------------


def c_include(pm: PathMap, spec: str, quoted: bool, here: str) -> list[str]:
    """See `_c_include` (remembered per map)."""
    key = ("c", spec, quoted, posixpath.dirname(here))
    return pm.memo(key, lambda: _c_include(pm, spec, quoted, here))


def _c_include(pm: PathMap, spec: str, quoted: bool, here: str) -> list[str]:
    """A header and its source files, by the preprocessor's rule: a quoted include is
    looked up beside the including file first; both forms then in the include
    directories, which in a workspace are any directory the path's tail matches. The
    header's source is the file of the same stem beside it (`x.h` -> `x.c`), else one of
    that name elsewhere (`include/x.h` -> `src/x.c`)."""
    spec = spec.strip()
    header = None
    if quoted:
        cand = posixpath.normpath(posixpath.join(posixpath.dirname(here), spec))
        if cand in pm.paths:
            header = cand
    if header is None:
        name = posixpath.basename(spec)
        hits = [p for p in pm.named.get(name, []) if p == spec or p.endswith("/" + spec)]
        if hits:
            near = posixpath.dirname(here)
            header = min(hits, key=lambda p: (_distance(near, p), p))
    if header is None:
        return []
    out = [header]
    stem, ext = posixpath.splitext(posixpath.basename(header))
    if ext in _C_HEADERS:
        d = posixpath.dirname(header)
        sources = [p for e in _C_SOURCES for p in pm.named.get(stem + e, [])]
        beside = [p for p in sources if posixpath.dirname(p) == d]
        out += beside or sorted(sources, key=lambda p: (_distance(d, p), p))[:2]
    return out


def _distance(d: str, path: str) -> int:
    """Directory steps between `d` and the file `path` (a tie-breaker for same names)."""
    a = d.split("/") if d else []
    b = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return len(a) + len(b) - 2 * common


# -- PHP, Ruby -----------------------------------------------------------------------------


def _psr4(pm: PathMap) -> list[tuple[str, str]]:
    def read():
        if pm.root is None:
            return []
        dirs = {d for d, fs in pm.files_in.items() if any(f.endswith(".php") for f in fs)}
        return manifests.psr4_roots(pm.root, dirs)

    return pm.manifest("php", read)


def php_class(pm: PathMap, namespace: str, name: str, here: str, own: str = "") -> list[str]:
    """The file of a PHP class by PSR-4 (`composer.json`): the longest namespace prefix
    maps to a directory, the rest of the namespace to its subdirectories, the class to
    `Name.php`. Without a matching root, a file `Name.php` in a directory ending with the
    namespace's path, then the including file's own directory for its own namespace."""
    full = f"{namespace}\\{name}" if namespace else name
    for prefix, d in _psr4(pm):
        if full.startswith(prefix) or f"{full}\\" == prefix:
            rest = full[len(prefix) :].replace("\\", "/")
            cand = posixpath.join(d, rest + ".php") if d else rest + ".php"
            if cand in pm.paths:
                return [cand]
    tail = namespace.replace("\\", "/")
    for p in pm.named.get(name + ".php", []):
        if not tail or posixpath.dirname(p).endswith(tail):
            return [p]
    if namespace == own:
        cand = posixpath.join(posixpath.dirname(here), name + ".php")
        if cand in pm.paths:
            return [cand]
    return []


def ruby_require(pm: PathMap, spec: str, relative: bool, here: str) -> list[str]:
    """The file a `require_relative` (beside this file) or `require` (the load path: in a
    workspace, the file whose path ends with the name, `lib/` ones first) loads."""
    name = spec if spec.endswith(".rb") else spec + ".rb"
    if relative:
        cand = posixpath.normpath(posixpath.join(posixpath.dirname(here), name))
        return [cand] if cand in pm.paths else []
    hits = [
        p for p in pm.named.get(posixpath.basename(name), []) if p == name or p.endswith("/" + name)
    ]
    return sorted(hits, key=lambda p: ("/lib/" not in "/" + p, p.count("/"), p))[:1]
