"""What the import statements of Rust, Java, Kotlin, C#, C/C++, PHP and Ruby bind, as
`Binding`s (`resolve.imports` dispatches here). Each reader states its language's rule.

Lexical, like the rest of `resolve`: a statement counts where it starts a line, so that a
commented-out one (`// use x;`, ` * import y;`) binds nothing; only lines holding the
statement's keyword are tried (a scan of a large file with the full pattern costs tens of
milliseconds, and this runs on every completion).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexing.resolve import Binding, _Lines


def _statements(text: str, word: str, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
    """Matches of `pattern` (anchored at a line's start) on the lines that hold `word`."""
    seen = -1
    pos = text.find(word)
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        if start > seen:
            m = pattern.match(text, start)
            seen = start
            if m:
                yield m
                seen = m.end()
        pos = text.find(word, max(pos + len(word), seen))


# -- Rust ----------------------------------------------------------------------------------

_RUST_USE = re.compile(r"[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?use[ \t]+([^;]+);")
_RUST_MOD = re.compile(r"[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?mod[ \t]+(\w+)[ \t]*;")


def _rust_tree(prefix: list[str], tree: str, out: list[tuple[list[str], str | None, str]]):
    """Expand a use tree: `a::{b, c::d as e, self, *}` -> (path, local, kind)."""
    tree = tree.strip()
    if not tree:
        return
    brace = tree.find("{")
    if brace >= 0 and tree.endswith("}"):
        head = [p for p in tree[:brace].split("::") if p.strip()]
        depth, cur, parts = 0, [], []
        for c in tree[brace + 1 : -1]:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if c == "," and depth == 0:
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(c)
        parts.append("".join(cur))
        for part in parts:
            _rust_tree(prefix + [h.strip() for h in head], part, out)
        return
    alias = None
    m = re.fullmatch(r"(.+?)\s+as\s+(\w+)", tree, re.DOTALL)
    if m:
        tree, alias = m.group(1), m.group(2)
    path = prefix + [p.strip() for p in tree.split("::") if p.strip()]
    if not path:
        return
    if path[-1] == "*":
        out.append((path[:-1], None, "star"))
    elif path[-1] == "self":
        out.append((path[:-1], alias or (path[-2] if len(path) > 1 else None), "self"))
    else:
        out.append((path, alias or path[-1], "item"))


def rust_imports(text: str) -> list[Binding]:
    """Rust: `use a::b::C;` binds `C` to item `C` of module `a::b` (or to module
    `a::b::C`); `as` renames; `{..}` groups; `self` in a group binds the module; `*`
    brings every public name of the module. Paths start at `crate`, `self`, `super`, a
    crate's name, or (2018 edition) a name in scope. `mod m;` binds the child module
    `m` (the file `m.rs` or `m/mod.rs` beside this module)."""
    out: list[Binding] = []
    line_of = _Lines(text)
    for m in _statements(text, "use", _RUST_USE):
        line = line_of(m.start(1))
        found: list[tuple[list[str], str | None, str]] = []
        _rust_tree([], m.group(1).lstrip(":"), found)
        for path, local, kind in found:
            if kind == "star":
                out.append(Binding("*", "::".join(path), None, 0, line, star=True))
            elif local and local != "_":  # an item, or `self` in a group: the module
                out.append(Binding(local, "::".join(path[:-1]), path[-1], 0, line))
    line_of = _Lines(text)
    for m in _statements(text, "mod", _RUST_MOD):
        out.append(Binding(m.group(1), "self", m.group(1), 0, line_of(m.start(1))))
    return out


# -- Java, Kotlin, C# ----------------------------------------------------------------------

_JAVA_IMPORT = re.compile(
    r"[ \t]*import[ \t]+(static[ \t]+)?(\w+(?:\.\w+)*)(\.\*)?(?:[ \t]+as[ \t]+(\w+))?[ \t]*;?"
)
PACKAGE = re.compile(r"^[ \t]*package[ \t]+([\w.]+)", re.MULTILINE)


def java_imports(text: str) -> list[Binding]:
    """Java and Kotlin: `import a.b.C;` binds `C` to the type `C` of package `a.b` (by
    Java's rule, the file `a/b/C.java` under a source root); `import a.b.*;` brings the
    package's types; `import static a.b.C.m;` binds `m` to the member `m` of `C` (module
    `a.b.C`); Kotlin's `import a.b.f as g` renames. Types of the file's own package need
    no import (`Resolver` looks in the file's directory)."""
    out: list[Binding] = []
    line_of = _Lines(text)
    for m in _statements(text, "import", _JAVA_IMPORT):
        line = line_of(m.start(2))
        parts = m.group(2).split(".")
        if m.group(3):
            out.append(Binding("*", m.group(2), None, 0, line, star=True))
        elif len(parts) > 1:
            local = m.group(4) or parts[-1]
            out.append(Binding(local, ".".join(parts[:-1]), parts[-1], 0, line))
    return out


_CS_USING = re.compile(
    r"[ \t]*(?:global[ \t]+)?using[ \t]+(static[ \t]+)?(?:(\w+)[ \t]*=[ \t]*)?([\w.]+)[ \t]*;"
)


def csharp_imports(text: str) -> list[Binding]:
    """C#: `using A.B;` brings the types of namespace `A.B`; `using X = A.B.C;` binds `X`
    to type `C` of `A.B`; `using static A.B.C;` brings `C`'s members."""
    out: list[Binding] = []
    line_of = _Lines(text)
    for m in _statements(text, "using", _CS_USING):
        line = line_of(m.start(3))
        name = m.group(3)
        if m.group(2):
            parts = name.split(".")
            out.append(Binding(m.group(2), ".".join(parts[:-1]), parts[-1], 0, line))
        else:
            out.append(Binding("*", name, None, 0, line, star=True))
    return out


# -- C, C++ --------------------------------------------------------------------------------

_INCLUDE = re.compile(r'[ \t]*#[ \t]*(?:include|import)[ \t]*([<"])([^>"\n]+)[>"]')


def c_includes(text: str) -> list[Binding]:
    """C and C++: `#include "x.h"` makes every name the header declares visible; the
    header is looked up beside the including file first, then in the workspace's other
    directories (`<x.h>` only there). A header's functions are defined in its source
    file (`x.c`, `x.cpp`, ...), which `Resolver` looks in too. `level` 1 marks quotes."""
    line_of = _Lines(text)
    return [
        Binding("*", m.group(2).strip(), None, 1 if m.group(1) == '"' else 0,
                line_of(m.start()), star=True)
        for m in _statements(text, "#", _INCLUDE)
    ]  # fmt: skip


# -- PHP, Ruby -----------------------------------------------------------------------------

_PHP_USE = re.compile(r"[ \t]*use[ \t]+(function[ \t]+|const[ \t]+)?([^;]+);")
PHP_NAMESPACE = re.compile(r"^[ \t]*namespace[ \t]+([\w\\]+)", re.MULTILINE)


def php_imports(text: str) -> list[Binding]:
    """PHP: `use A\\B\\C;` binds `C` to class `C` of namespace `A\\B` (found through
    `composer.json`'s PSR-4 roots: prefix `A\\` -> a directory, the rest -> its
    subdirectories, `C.php`); `as` renames; `use A\\{B, C}` groups. Classes of the file's
    own namespace need no `use`."""
    out: list[Binding] = []
    line_of = _Lines(text)
    for m in _statements(text, "use", _PHP_USE):
        line = line_of(m.start(2))
        body = m.group(2).strip()
        group = re.fullmatch(r"([\w\\]*)\s*\{([^}]*)\}", body)
        items = (
            [group.group(1) + p.strip() for p in group.group(2).split(",") if p.strip()]
            if group
            else [p.strip() for p in body.split(",")]
        )
        for item in items:
            alias = None
            am = re.fullmatch(r"(.+?)\s+as\s+(\w+)", item)
            if am:
                item, alias = am.group(1), am.group(2)
            parts = [p for p in item.strip().split("\\") if p]
            if parts:
                local = alias or parts[-1]
                out.append(Binding(local, "\\".join(parts[:-1]), parts[-1], 0, line))
    return out


_RUBY_REQUIRE = re.compile(r"""[ \t]*(require_relative|require)[ \t(]*['"]([^'"\n]+)['"]""")


def ruby_imports(text: str) -> list[Binding]:
    """Ruby: `require_relative "x/y"` loads `x/y.rb` beside this file; `require "x/y"`
    loads `x/y.rb` from the load path (in a workspace: a `lib/` or any directory ending
    so). What the loaded file defines is then visible (`level` 1 marks relative)."""
    line_of = _Lines(text)
    return [
        Binding("*", m.group(2), None, 1 if m.group(1) == "require_relative" else 0,
                line_of(m.start()), star=True)
        for m in _statements(text, "require", _RUBY_REQUIRE)
    ]  # fmt: skip


READERS = {
    "rust": rust_imports,
    "java": java_imports,
    "kotlin": java_imports,
    "csharp": csharp_imports,
    "c": c_includes,
    "cpp": c_includes,
    "objective-c": c_includes,
    "php": php_imports,
    "ruby": ruby_imports,
}
