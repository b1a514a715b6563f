"""The one registry of languages: file names and extensions -> grammar wheel and query.

Adding a language is one `LanguageSpec` entry below plus `queries/<query>.scm`. A grammar
wheel that is not installed makes its language unavailable, not the index broken.

Capture names the queries use (see `extract.py`):

- `@definition.<kind>` on the whole definition and `@name` on its name; kinds are
  function, method, class, interface, struct, enum, trait, type, constant, variable,
  module, macro.
- `@scope` with `@name`: a container that is not itself a symbol (a Rust `impl`).
- `@receiver`: the type a method belongs to when it is written outside it (Go, C++).
- `@import` on an import statement, `@import.module` / `@import.name` inside it.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath

import tree_sitter as ts

log = logging.getLogger(__name__)

QUERY_DIR = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    """Our name for it; also the LSP language id where one exists."""
    module: str
    """The grammar wheel's module."""
    extensions: tuple[str, ...]
    factory: str = "language"
    """The function of `module` that returns the grammar."""
    filenames: tuple[str, ...] = ()
    interpreters: tuple[str, ...] = ()
    """Names after `#!` that mark an extension-less script as this language."""
    query: str = ""
    """Query file stem under `queries/`; defaults to `name`."""
    clauses: bool = False
    """A definition may be written as several clauses in a row (Haskell equations, Elixir
    `def f(0)` / `def f(n)`): adjacent same-named definitions become one symbol."""

    @property
    def query_name(self) -> str:
        return self.query or self.name


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", "tree_sitter_python", (".py", ".pyi", ".pyw"),
                 interpreters=("python", "python3", "python2", "pypy", "pypy3")),
    LanguageSpec("javascript", "tree_sitter_javascript", (".js", ".mjs", ".cjs", ".jsx"),
                 interpreters=("node", "nodejs")),
    LanguageSpec("typescript", "tree_sitter_typescript", (".ts", ".mts", ".cts"),
                 factory="language_typescript", interpreters=("ts-node", "deno", "bun")),
    LanguageSpec("typescriptreact", "tree_sitter_typescript", (".tsx",),
                 factory="language_tsx", query="typescript"),
    LanguageSpec("go", "tree_sitter_go", (".go",)),
    LanguageSpec("rust", "tree_sitter_rust", (".rs",)),
    LanguageSpec("java", "tree_sitter_java", (".java",)),
    LanguageSpec("c", "tree_sitter_c", (".c", ".h")),
    LanguageSpec("cpp", "tree_sitter_cpp",
                 (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".inl")),
    LanguageSpec("csharp", "tree_sitter_c_sharp", (".cs",)),
    LanguageSpec("ruby", "tree_sitter_ruby", (".rb", ".rake", ".gemspec"),
                 filenames=("Rakefile", "Gemfile", "Guardfile"), interpreters=("ruby",)),
    LanguageSpec("php", "tree_sitter_php", (".php", ".phtml"), factory="language_php",
                 interpreters=("php",)),
    LanguageSpec("shellscript", "tree_sitter_bash", (".sh", ".bash"),
                 filenames=(".bashrc", ".bash_profile", ".profile", "PKGBUILD"),
                 interpreters=("sh", "bash", "dash", "ksh"), query="bash"),
    LanguageSpec("kotlin", "tree_sitter_kotlin", (".kt", ".kts")),
    # Optional: used when their wheels are installed.
    LanguageSpec("lua", "tree_sitter_lua", (".lua",), interpreters=("lua", "luajit")),
    LanguageSpec("scala", "tree_sitter_scala", (".scala", ".sc")),
    LanguageSpec("swift", "tree_sitter_swift", (".swift",)),
    LanguageSpec("zig", "tree_sitter_zig", (".zig",)),
    LanguageSpec("haskell", "tree_sitter_haskell", (".hs",), clauses=True),
    LanguageSpec("elixir", "tree_sitter_elixir", (".ex", ".exs"), interpreters=("elixir",),
                 clauses=True),
    LanguageSpec("ocaml", "tree_sitter_ocaml", (".ml",), factory="language_ocaml"),
)  # fmt: skip

_BY_EXT = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
_BY_NAME = {name: spec for spec in LANGUAGES for name in spec.filenames}
_BY_INTERP = {i: spec for spec in LANGUAGES for i in spec.interpreters}
_BY_LANG = {spec.name: spec for spec in LANGUAGES}


def spec_named(name: str) -> LanguageSpec | None:
    return _BY_LANG.get(name)


def language_for(path: str | PurePath, head: bytes | None = None) -> LanguageSpec | None:
    """The language of a file by its name, or for an extension-less file by its `#!` line
    (`head`, the file's first bytes, when the caller has them). None: not a source file we
    parse, or its grammar is not installed."""
    name, suffix = _name_suffix(path)
    spec = _BY_NAME.get(name) or _BY_EXT.get(suffix.lower())
    if spec is None and head and not suffix:
        spec = _shebang(head)
    if spec is None or not is_available(spec):
        return None
    return spec


def needs_head(path: str | PurePath) -> bool:
    """True when only the file's first line can tell its language."""
    name, suffix = _name_suffix(path)
    return not suffix and name not in _BY_NAME


def _name_suffix(path: str | PurePath) -> tuple[str, str]:
    """`PurePath(path)`'s name and suffix; a bare file name (the walker's thousands of
    calls) skips building the PurePath."""
    if not isinstance(path, str):
        return path.name, path.suffix
    bare = (
        path not in ("", ".", "..")
        and "/" not in path
        and os.sep not in path
        and (os.altsep is None or os.altsep not in path)
    )
    if bare:
        i = path.rfind(".")
        return path, path[i:] if 0 < i < len(path) - 1 else ""
    p = PurePath(path)
    return p.name, p.suffix


def _shebang(head: bytes) -> LanguageSpec | None:
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("latin-1").split()
    if not words:
        return None
    prog = words[0].rsplit("/", 1)[-1]
    if prog == "env":
        args = [w for w in words[1:] if not w.startswith("-")]
        prog = args[0] if args else ""
    spec = _BY_INTERP.get(prog)
    if spec is None:
        # python3.12, ruby3.2, ...
        spec = _BY_INTERP.get(prog.rstrip("0123456789.")) if prog else None
    return spec


@dataclass(frozen=True)
class Grammar:
    """A loaded grammar and its compiled queries. Parsers are per thread (see `parser`)."""

    spec: LanguageSpec
    language: ts.Language
    query: ts.Query
    references: ts.Query | None
    """Identifiers of the grammar; None when it has no node kind we know as one."""

    def parser(self) -> ts.Parser:
        """This thread's parser for the grammar (a `Parser` must not be shared by threads)."""
        parsers = _local.__dict__.setdefault("parsers", {})
        p = parsers.get(self.spec.name)
        if p is None:
            p = parsers[self.spec.name] = ts.Parser(self.language)
        return p


_local = threading.local()
_lock = threading.Lock()

# Node kinds that name something; the reference query uses those a grammar has.
_IDENTIFIER_KINDS = (
    "identifier",
    "type_identifier",
    "field_identifier",
    "property_identifier",
    "shorthand_property_identifier",
    "constant",
    "name",
    "simple_identifier",
    "namespace_identifier",
    "package_identifier",
    "variable_name",
    "command_name",
    "variable",
    "constructor",
    "value_name",
    "module_name",
    "type_constructor",
)


@cache
def _module(spec: LanguageSpec):
    try:
        return importlib.import_module(spec.module)
    except ImportError:
        log.info("grammar %s not installed: %s files are not indexed", spec.module, spec.name)
        return None


def is_available(spec: LanguageSpec) -> bool:
    return _module(spec) is not None


def available_languages() -> tuple[LanguageSpec, ...]:
    return tuple(s for s in LANGUAGES if is_available(s))


def grammar(spec: LanguageSpec) -> Grammar:
    """The loaded grammar (cached). Raises ImportError when its wheel is missing."""
    with _lock:
        return _grammar(spec)


@cache
def _grammar(spec: LanguageSpec) -> Grammar:
    mod = _module(spec)
    if mod is None:
        raise ImportError(f"{spec.module} is not installed (pip install {_dist(spec)})")
    language = ts.Language(getattr(mod, spec.factory)())
    source = (QUERY_DIR / f"{spec.query_name}.scm").read_text(encoding="utf-8")
    query = ts.Query(language, source)
    kinds = [k for k in _IDENTIFIER_KINDS if _has_kind(language, k)]
    refs = ts.Query(language, "[" + " ".join(f"({k})" for k in kinds) + "] @ref") if kinds else None
    return Grammar(spec, language, query, refs)


def _has_kind(language: ts.Language, kind: str) -> bool:
    return bool(language.id_for_node_kind(kind, True))


def _dist(spec: LanguageSpec) -> str:
    return spec.module.replace("_", "-")
