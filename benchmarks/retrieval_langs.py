"""Call sites in real public repositories of Go, Rust, Java and C, for the retrieval
benchmark (`python benchmarks/retrieval_bench.py --lang go|rust|java|c|all`).

Corpora come from package registries, installed beforehand; nothing is downloaded here. A
missing corpus is reported with the command that installs it.

- Go: go-chi/chi v5, a module whose root directory is a package (Debian
  `golang-github-go-chi-chi-dev`);
- Rust: tokio 1.x (Debian `librust-tokio-dev`);
- Java: OpenJDK 17's `java.base/java/util`, extracted from its `src.zip` (Debian
  `openjdk-17-source`);
- C: brotli 1.2's C library, `c/` (the `brotli` sdist from PyPI).

The sites are chosen by a rule, per language, with tree-sitter and the language's own
rule for which definition a call means (written here independently of `indexing`; the
index is only asked where definitions are):

- Go: `pkg.F(` where `pkg` is an import of the file and the import path names a package
  of the corpus through its `go.mod` (module path prefix -> directory); `F(` where `F` is
  defined at the top level of another (non-test) file of the caller's package.
- Rust: `f(`, `m::f(` and `T::f(` where the crate has exactly one definition of `f` (a
  free function; for `T::f` a function of an `impl T`), in another file than the call,
  and the call is not reached through another crate (a name `use`d from `std::` or a
  dependency, a path starting with another crate's name). Rust forbids two items of one
  name in a module, so a name the crate defines once is what any path to it means.
- Java: `T.m(` (a static call) and `new T(` where `T` is found by Java's rule: a
  single-type import `a.b.T` (the file `a/b/T.java`), the caller's own package, `java.lang`,
  then the wildcard imports; the truth is `T`'s method `m` (its first overload) or `T`.
- C: `f(` where the corpus defines the function `f` exactly once, in another file than
  the call (C's rule for external names: one definition per program).

All sites of a corpus are collected, shuffled with a fixed seed and cut to `--sites`
(at most 10 per file: these corpora are smaller than CPython's `Lib`).
"""

from __future__ import annotations

import glob
import os
import posixpath
import random
import re
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts

from benchmarks.retrieval_bench import Site
from indexing.indexer import Index
from indexing.languages import grammar, language_for

CORPORA = Path(tempfile.gettempdir()) / "focal-bench-corpora"


@dataclass(frozen=True)
class Corpus:
    language: str
    name: str
    install: str
    """How to get it, said when it is missing."""
    locate: Callable[[], Path | None]
    ignores: tuple[str, ...] = ()


def _first(pattern: str) -> Path | None:
    found = sorted(glob.glob(pattern))
    return Path(found[-1]) if found else None


def _java_util() -> Path | None:
    src = Path("/usr/lib/jvm/java-17-openjdk-amd64/lib/src.zip")
    if not src.is_file():
        return None
    out = CORPORA / "jdk17-java.util"
    if not (out / ".complete").exists():
        with zipfile.ZipFile(src) as z:
            for info in z.infolist():
                name = info.filename
                if name.startswith("java.base/java/util/") and name.endswith(".java"):
                    # With the archive's times, as unzip does: files written now would all
                    # look "recently edited" to retrieval.
                    when = time.mktime((*info.date_time, 0, 0, -1))
                    os.utime(z.extract(info, out), (when, when))
        (out / ".complete").write_text("ok\n")
    return out / "java.base"


def _brotli() -> Path | None:
    done = _first(str(CORPORA / "brotli-*" / "c"))
    if done is not None:
        return done
    sdist = _first(str(CORPORA / "brotli-*.tar.gz"))
    if sdist is None:
        return None
    with tarfile.open(sdist) as tar:
        tar.extractall(CORPORA, filter="data")
    return _first(str(CORPORA / "brotli-*" / "c"))


CORPUS = {
    "go": Corpus(
        "go",
        "go-chi/chi v5",
        "apt-get install golang-github-go-chi-chi-dev",
        lambda: _first("/usr/share/gocode/src/github.com/go-chi/chi"),
    ),
    "rust": Corpus(
        "rust",
        "tokio 1.x",
        "apt-get install librust-tokio-dev",
        lambda: _first("/usr/share/cargo/registry/tokio-1.*"),
    ),
    "java": Corpus(
        "java",
        "OpenJDK 17 java.util",
        "apt-get install openjdk-17-source",
        _java_util,
    ),
    "c": Corpus(
        "c",
        "brotli C library",
        f"pip download --no-binary :all: --no-deps brotli==1.2.1 -d {CORPORA}",
        _brotli,
    ),
}


# -- reading the corpus --------------------------------------------------------------------


class _Files:
    def __init__(self, root: Path, exts: tuple[str, ...]) -> None:
        self.root = root
        self.rels = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.name.endswith(exts)
        )
        self.set = set(self.rels)
        self._text: dict[str, bytes] = {}

    def data(self, rel: str) -> bytes:
        d = self._text.get(rel)
        if d is None:
            d = self._text[rel] = (self.root / rel).read_bytes()
        return d


def _captures(rel: str, data: bytes, query: str) -> Iterator[dict[str, list[ts.Node]]]:
    spec = language_for(rel)
    if spec is None:
        return
    g = grammar(spec)
    tree = g.parser().parse(data)
    q = ts.Query(g.language, query)
    for _, caps in ts.QueryCursor(q).matches(tree.root_node):
        yield caps


def _text(data: bytes, node: ts.Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _site(files: _Files, rel: str, callee_node: ts.Node, call: ts.Node, name: str, target):
    """A site with the cursor just after the call's `(` (None when the `(` is not on
    the callee's line)."""
    data = files.data(rel)
    args = call.child_by_field_name("arguments")
    if args is None or args.start_point[0] != callee_node.end_point[0]:
        return None
    offset = len(data[: args.start_byte + 1].decode("utf-8", "replace"))
    return Site(rel, offset, name, target.path, target.line)


def _defs(index: Index, name: str, where: str = "", args: tuple = ()) -> list:
    return index.store._symbols(f"s.name = ?{where} ORDER BY f.path, s.line", (name, *args))


# -- Go ------------------------------------------------------------------------------------

_GO_CALLS = """
(call_expression function: (identifier) @callee) @call
(call_expression
  function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @callee)
) @call
"""
_GO_IMPORTS = "(import_spec name: (_)? @alias path: (interpreted_string_literal) @path) @spec"


def _go_modules(root: Path) -> list[tuple[str, str]]:
    out = []
    for mod in root.rglob("go.mod"):
        m = re.search(r"^module\s+(\S+)", mod.read_text(errors="replace"), re.MULTILINE)
        if m:
            d = mod.parent.relative_to(root).as_posix()
            out.append((m.group(1), "" if d == "." else d))
    return sorted(out, key=lambda x: -len(x[0]))


def go_sites(root: Path, index: Index) -> list[Site]:
    files = _Files(root, (".go",))
    modules = _go_modules(root)
    out = []
    for rel in files.rels:
        if rel.endswith("_test.go"):
            continue
        data = files.data(rel)
        imports: dict[str, str] = {}
        for caps in _captures(rel, data, _GO_IMPORTS):
            path = _text(data, caps["path"][0]).strip('"')
            parts = path.split("/")
            name = parts[-2] if re.fullmatch(r"v\d+", parts[-1]) and len(parts) > 1 else parts[-1]
            alias = _text(data, caps["alias"][0]) if caps.get("alias") else name
            imports[alias.replace("-", "_")] = path
        here = posixpath.dirname(rel)
        for caps in _captures(rel, data, _GO_CALLS):
            name = _text(data, caps["callee"][0])
            if caps.get("pkg"):
                path = imports.get(_text(data, caps["pkg"][0]))
                if path is None:
                    continue
                d = None
                for mod, mdir in modules:
                    if path == mod or path.startswith(mod + "/"):
                        d = posixpath.join(mdir, path[len(mod) + 1 :]) if path != mod else mdir
                        break
                if d is None:
                    continue
            else:
                d = here
            found = [
                s
                for s in _defs(index, name, " AND s.container = ''")
                if posixpath.dirname(s.path) == d
                and s.path != rel
                and not s.path.endswith("_test.go")
                and s.kind in ("function", "struct", "type", "interface")
            ]
            if not caps.get("pkg") and any(
                s.path == rel for s in _defs(index, name, " AND s.container = ''")
            ):
                continue  # the file's own definition
            if found:
                site = _site(files, rel, caps["callee"][0], caps["call"][0], name, found[0])
                if site:
                    out.append(site)
    return out


# -- Rust ----------------------------------------------------------------------------------

_RUST_CALLS = """
(call_expression function: (identifier) @callee) @call
(call_expression function: (scoped_identifier path: (_) @path name: (identifier) @callee)) @call
"""


_RUST_USE = re.compile(r"\buse\s+([^;]+);")
_RUST_LEAF = re.compile(r"(\w+)(?:\s+as\s+(\w+))?\s*(?=[,}]|$)")


def _rust_bound(text: str, own: set[str]) -> tuple[set[str], set[str]]:
    """Names the file's `use` declarations bind from this crate, and from other crates
    (`use std::..`, `use loom::thread`): a call through the latter is not the corpus's."""
    inside: set[str] = set()
    outside: set[str] = set()
    for m in _RUST_USE.finditer(text):
        tree = m.group(1).strip()
        head = tree.lstrip(":").split("::", 1)[0].strip()
        names = {a or n for n, a in _RUST_LEAF.findall(tree)}
        (inside if head in own else outside).update(names)
    return inside, outside


def rust_sites(root: Path, index: Index) -> list[Site]:
    files = _Files(root, (".rs",))
    crate = "crate"
    cargo = root / "Cargo.toml"
    if cargo.is_file():
        m = re.search(r'^name\s*=\s*"([^"]+)"', cargo.read_text(errors="replace"), re.MULTILINE)
        crate = m.group(1).replace("-", "_") if m else crate
    own = {"crate", "self", "super", crate}
    out = []
    for rel in files.rels:
        data = files.data(rel)
        inside, outside = _rust_bound(data.decode("utf-8", "replace"), own)
        for caps in _captures(rel, data, _RUST_CALLS):
            name = _text(data, caps["callee"][0])
            path = _text(data, caps["path"][0]) if caps.get("path") else ""
            head = path.split("::", 1)[0]
            if (name if not path else head) in outside:
                continue  # reached through another crate
            if head[:1].islower() and head not in own and head not in inside:
                continue  # `std::..`, `loom::model`: another crate's path
            last = path.split("::")[-1].split("<")[0] if path else ""
            if last[:1].isupper() and last != "Self":
                found = _defs(index, name, " AND s.container = ?", (last,))
            elif last in ("", "crate", "self", "super") or last[:1].islower():
                found = [
                    s for s in _defs(index, name, " AND s.container = ''") if s.kind == "function"
                ]
            else:
                continue
            found = [s for s in found if s.path.endswith(".rs")]
            if len(found) != 1 or found[0].path == rel:
                continue
            site = _site(files, rel, caps["callee"][0], caps["call"][0], name, found[0])
            if site:
                out.append(site)
    return out


# -- Java ----------------------------------------------------------------------------------

_JAVA_CALLS = """
(method_invocation object: (identifier) @type name: (identifier) @callee) @call
(object_creation_expression type: (type_identifier) @callee) @call
"""
_JAVA_HEAD = re.compile(r"^\s*(package|import)\s+(static\s+)?([\w.]+)(\.\*)?\s*;", re.MULTILINE)


def _java_type(files: _Files, rel: str, data: bytes, name: str) -> str | None:
    """The file of type `name` as seen from `rel`, by Java's rule."""
    text = data.decode("utf-8", "replace")
    package, singles, stars = "", {}, []
    for m in _JAVA_HEAD.finditer(text):
        if m.group(1) == "package":
            package = m.group(3)
        elif not m.group(2):
            if m.group(4):
                stars.append(m.group(3))
            else:
                singles[m.group(3).rsplit(".", 1)[-1]] = m.group(3).rsplit(".", 1)[0]
    candidates = []
    if name in singles:
        candidates.append(singles[name])
    candidates += [package, "java.lang", *stars]
    for pkg in candidates:
        f = pkg.replace(".", "/") + f"/{name}.java"
        if f in files.set:
            return f
    return None


def java_sites(root: Path, index: Index) -> list[Site]:
    files = _Files(root, (".java",))
    out = []
    for rel in files.rels:
        data = files.data(rel)
        for caps in _captures(rel, data, _JAVA_CALLS):
            name = _text(data, caps["callee"][0])
            typ = _text(data, caps["type"][0]) if caps.get("type") else name
            if not typ[:1].isupper():
                continue
            f = _java_type(files, rel, data, typ)
            if f is None or f == rel:
                continue
            if caps.get("type"):
                found = _defs(index, name, " AND s.container = ? AND f.path = ?", (typ, f))
            else:
                found = _defs(index, name, " AND s.container = '' AND f.path = ?", (f,))
            if found:
                site = _site(files, rel, caps["callee"][0], caps["call"][0], name, found[0])
                if site:
                    out.append(site)
    return out


# -- C -------------------------------------------------------------------------------------

_C_CALLS = "(call_expression function: (identifier) @callee) @call"


def c_sites(root: Path, index: Index) -> list[Site]:
    files = _Files(root, (".c", ".h"))
    out = []
    for rel in files.rels:
        data = files.data(rel)
        for caps in _captures(rel, data, _C_CALLS):
            name = _text(data, caps["callee"][0])
            found = [s for s in _defs(index, name) if s.kind == "function"]
            if len(found) != 1 or found[0].path == rel:
                continue
            site = _site(files, rel, caps["callee"][0], caps["call"][0], name, found[0])
            if site:
                out.append(site)
    return out


SITES = {"go": go_sites, "rust": rust_sites, "java": java_sites, "c": c_sites}


def pick(sites: list[Site], n: int, seed: int, per_file: int = 10) -> list[Site]:
    """A fixed-seed sample of at most `n` sites, at most `per_file` from one file."""
    rng = random.Random(seed)
    by_file: dict[str, list[Site]] = {}
    for s in sites:
        by_file.setdefault(s.path, []).append(s)
    paths = sorted(by_file)
    rng.shuffle(paths)
    out: list[Site] = []
    for p in paths:
        group = by_file[p]
        rng.shuffle(group)
        out += group[:per_file]
    return out[:n]


def corpus_root(language: str) -> tuple[Corpus, Path | None]:
    CORPORA.mkdir(parents=True, exist_ok=True)
    corpus = CORPUS[language]
    root = corpus.locate()
    return corpus, (root.resolve() if root is not None and os.path.isdir(root) else None)
