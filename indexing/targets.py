"""Which definitions a name at the cursor means: through the file's imports (Python,
JS/TS, Go, Rust, Java/Kotlin, C#, C/C++ includes, PHP, Ruby), the enclosing class and its
bases, the declared type of a value, the file itself, the file's package (Go, Java,
Kotlin, PHP), and last the index by name alone (with less confidence the more definitions
share the name). The languages' module rules are in `modules` and `native_modules`."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from indexing import native_modules as nm
from indexing.extract import Symbol
from indexing.languages import language_for
from indexing.native_imports import PACKAGE, PHP_NAMESPACE, rust_imports
from indexing.resolve import (
    GO,
    JS_LIKE,
    PYTHON,
    SELF_NAMES,
    UNKNOWN,
    Binding,
    assigned_type,
    attribute_type,
    enclosing_class,
)
from indexing.snippets import CLASS_KINDS
from indexing.typed import Typed, declared_type, result_type, rust_impl

if TYPE_CHECKING:
    from indexing.lookup import Lookup

_BY_NAME_MAX = 4
JVM = frozenset({"java", "kotlin"})
C_FAMILY = frozenset({"c", "cpp", "objective-c"})
# Languages whose top-level definitions sit inside namespace or module blocks.
_NAMESPACED = frozenset({"csharp", "cpp", "ruby", "php"})
# Languages whose files see the other files of their directory without an import.
_PACKAGE_DIRS = JVM | {"go", "php", "csharp"}


@cache
def _language(path: str) -> str:
    spec = language_for(path)
    return spec.name if spec else ""


@dataclass(frozen=True)
class Target:
    path: str
    sym: Symbol | None
    """None: the whole module at `path`."""
    confidence: float
    via: str
    """How the name was resolved, for the chunk's reason."""
    module: str = ""
    """The module as the file names it (module targets)."""

    @property
    def language(self) -> str:
        return _language(self.path)


class Resolver:
    """Resolves the chains used in one file at one cursor."""

    def __init__(
        self,
        lookup: Lookup,
        here: str,
        language: str,
        lines: Sequence[str],
        line: int,
        column: int,
        bindings: Sequence[Binding],
        buffers: dict[str, str],
    ) -> None:
        self.r = lookup
        self.here = here
        self.language = language
        self.lines = list(lines)
        self.line = line
        self.column = column
        self.by_local: dict[str, Binding] = {}
        for b in bindings:
            if not b.star and b.local not in self.by_local:
                self.by_local[b.local] = b
        self.stars = [b for b in bindings if b.star]
        self._memo: dict[tuple[str, ...], list[Target]] = {}
        self._depth = 0
        self._local: dict[str, list[Symbol]] = {}
        self._class: Any = False  # not looked for yet
        self._package: str | None = None
        self._package_dir: tuple[list[str], str] | None = None
        self._starred: dict[str, list[Symbol]] | None = None
        self._in_package: dict[str, list[Symbol]] = {}
        self._files_memo: dict[tuple, list[str]] = {}

    def prefetch(self, heads: Iterable[str]) -> None:
        """Look up at once which of these names this file defines (one query, not one
        per name)."""
        wanted = {h for h in heads if h not in self.by_local} - SELF_NAMES - {UNKNOWN}
        self._local = self.r.names_in(sorted(wanted), self.here) if wanted else {}
        files, _ = self._package_files()
        if wanted and files:  # the package's names: one query, not one per name
            self._in_package = self.r.names_in_files(
                sorted(wanted), files, any_depth=self.language in _NAMESPACED
            )
        if wanted and self.stars and self.language not in PYTHON:
            # What the starred modules (C includes, Java/Rust globs, Ruby requires) define
            # of these names: one query over all their files, not one per module and name.
            files = {f for star in self.stars for f in self._module_files(star)}
            deep = self.language in _NAMESPACED
            self._starred = self.r.names_in_files(
                sorted(wanted), sorted(files - {self.here}), any_depth=deep
            )

    # -- lookups -----------------------------------------------------------------------

    def _in_files(self, name: str, files: Iterable[str], container: str = "") -> list[Symbol]:
        files = list(files)
        if files == [self.here] and not container and self.language not in _NAMESPACED:
            return self._local.get(name, [])
        if not container and files and _language(files[0]) in _NAMESPACED:
            # A type inside `namespace N { }` / `module M` is still the file's own.
            return [s for s in self.r.anywhere_in(name, files) if s.kind not in ("method", "field")]
        return self.r.definitions_in(name, files, container)

    def _members(self, cls: Symbol, name: str) -> list[Symbol]:
        found = self._in_files(name, (cls.path,), cls.qualified_name)
        lang = _language(cls.path)
        if not found and lang in GO:  # methods live in any file of the package
            d = posixpath.dirname(cls.path)
            files = self.r.path_map().files_in.get(d, [])
            found = self._in_files(name, files, cls.qualified_name)
        if not found and lang in ("rust", "cpp"):  # `impl` blocks, `T::f` defined elsewhere
            d = posixpath.dirname(cls.path)
            found = self.r.members_anywhere(name, cls.qualified_name, d)
        return found

    def package(self) -> str:
        """The file's own package (Java, Kotlin) or namespace (PHP), '' if none."""
        if self._package is None:
            head = "".join(self.lines[:300])
            m = (PHP_NAMESPACE if self.language == "php" else PACKAGE).search(head)
            self._package = m.group(1) if m else ""
        return self._package

    def _module_files(self, b: Binding, module: str | None = None) -> list[str]:
        key = (b.module if module is None else module, b.level, b.name, b.line)
        hit = self._files_memo.get(key)
        if hit is None:
            hit = self._files_memo[key] = self._find_module_files(b, module)
        return hit

    def _find_module_files(self, b: Binding, module: str | None = None) -> list[str]:
        pm = self.r.path_map()
        mod = b.module if module is None else module
        if self.language in PYTHON:
            return pm.python_module(mod, b.level, self.here)
        if self.language in JS_LIKE:
            return pm.js_module(mod, self.here)
        lang = self.language
        if lang in GO:
            return pm.go_package(mod, self.here)
        if lang == "rust":
            path = mod.split("::") if mod else []
            if path and path[0] == "super" and self._indented(b):
                # `use super::*` in an inline `mod tests { }` means this file's module.
                path[0] = "self"
            return nm.rust_module(pm, self.here, path)
        if lang in JVM:
            return nm.java_package(pm, mod, self.here, self.package())
        if lang == "csharp":
            return nm.csharp_namespace(pm, mod)
        if lang in C_FAMILY:
            files = nm.c_include(pm, mod, b.level == 1, self.here)
            return files + [f for f in self._included_by(files[:1]) if f not in files]
        if lang == "ruby":
            return nm.ruby_require(pm, mod, b.level == 1, self.here)
        if lang == "php" and b.name:
            return nm.php_class(pm, mod, b.name, self.here, self.package())
        return []

    def _indented(self, b: Binding) -> bool:
        text = self.lines[b.line] if b.line < len(self.lines) else ""
        return text[:1] in (" ", "\t")

    def _included_by(self, headers: Sequence[str]) -> list[str]:
        """What a header includes in turn (one level, quoted includes): its declarations
        are often in a shared `internal.h`, its definitions in that header's source."""
        pm = self.r.path_map()
        out: list[str] = []
        for h in headers:
            for imp in self.r.imports_of(h)[:16]:
                spec = imp.module.strip()
                if spec.startswith("<"):
                    continue
                for f in nm.c_include(pm, spec.strip('"'), True, h)[:2]:
                    if f not in out:
                        out.append(f)
        return out

    def module(self, b: Binding) -> list[Target]:
        """The module a module import (`import x`, `import * as x`, Go) names, as a target."""
        files = self._module_files(b)
        label = b.module if b.level == 0 else "." * b.level + b.module
        # A Go package is several files: its outline is the file that defines the most.
        return [Target(f, None, 1.0, f"imported on line {b.line + 1}", label) for f in files[:1]]

    # -- resolution --------------------------------------------------------------------

    def resolve(self, chain: tuple[str, ...]) -> list[Target]:
        hit = self._memo.get(chain)
        if hit is None:
            if self._depth > 3:
                return []
            self._depth += 1
            try:
                hit = self._memo[chain] = self._resolve(chain)
            finally:
                self._depth -= 1
        return hit

    def _resolve(self, chain: tuple[str, ...]) -> list[Target]:
        head, rest = chain[0], chain[1:]
        rust = self.language == "rust"
        if head == UNKNOWN:
            return self._self_member(rest[0], weak=True) or self._by_name(rest[0], member=True)
        if head in SELF_NAMES or (rust and head == "Self"):
            if not rest:
                return []
            found = self._self_member(rest[0])
            if len(rest) > 1 and not any(t.sym and t.sym.kind == "method" for t in found):
                # `self.attr.name`: the class of the attribute, then its member.
                typed = attribute_type(self.lines, self.line, rest[0])
                if typed is not None:
                    return self._typed_member(typed, rest[1], f"`{head}.{rest[0]}`")
            if not found and rust and head == "self":  # `self::f()`: this module's `f`
                found = self._rust_path(chain)
            return found
        if rust and head in ("crate", "super"):
            return self._rust_path(chain) or self._fallback(chain)
        for k in range(len(chain), 1, -1):  # `import a.b.c` binds the chain `a.b.c`
            b = self.by_local.get(".".join(chain[:k]))
            if b is not None and b.name is None:
                return self._via(b, chain[k:])
        b = self.by_local.get(head)
        if b is not None:
            found = self._via(b, rest)
            if found or self.language in PYTHON or self.language in JS_LIKE or self.language in GO:
                return found
            return self._fallback(chain)  # a macro, a re-export the rules do not follow
        local = self._in_files(head, (self.here,))
        if local:
            return self._with_member(local, rest, 1.0, "defined in this file")
        if rest:
            typed = assigned_type(self.lines, self.line, head)
            if typed is not None and typed != (head,):
                out = self._typed_member(typed, rest[0], f"`{head}`")
                if out:
                    return out
            declared = declared_type(self.lines, self.line, head, self.language)
            if declared is not None and declared.chain != (head,):
                out = self._typed_value(declared, rest[0], head)
                if out:
                    return out
        files, via = self._package_files()
        if files:
            found = self._in_package.get(head)
            if found is None:
                found = self._in_files(head, files)
            if found:
                return self._with_member(found, rest, 1.0, via)
        if rust and rest:
            found = self._rust_path(chain)
            if found:
                return found
        for star in self.stars:
            if self._starred is not None and head in self._starred:
                files = set(self._module_files(star))
                found = [sym for sym in self._starred[head] if sym.path in files]
            else:
                found = self._in_files(head, self._module_files(star))
            if found:
                return self._with_member(found, rest, 0.9, self._star_via(star))
        if self.language in PYTHON:
            return []  # a builtin or a local: Python names come from imports or the file
        return self._fallback(chain)

    def _fallback(self, chain: tuple[str, ...]) -> list[Target]:
        """The index by name alone: what no rule of the language resolved. In a path
        through a type (`a::Type::new`, `pkg.Type.of`), the type by name, then its
        member."""
        if len(chain) > 1:
            for j in range(len(chain) - 2, -1, -1):
                if chain[j][:1].isupper() and not chain[j].isupper():
                    types = [
                        t
                        for t in self._by_name(chain[j], member=False)
                        if t.sym is not None and t.sym.kind in CLASS_KINDS
                    ]
                    members = [
                        Target(m.path, m, t.confidence, t.via)
                        for t in types
                        for m in self._members(t.sym, chain[j + 1])  # type: ignore[arg-type]
                    ]
                    if members:
                        return members[:2]
                    break
            return self._by_name(chain[-1], member=True)
        return self._by_name(chain[0], member=False)

    def _package_files(self) -> tuple[list[str], str]:
        """The other files that see this file's top-level names without an import (Go
        and Java/Kotlin packages, a PHP namespace's directory, C# by directory)."""
        if self._package_dir is None:
            self._package_dir = self._find_package_files()
        return self._package_dir

    def _find_package_files(self) -> tuple[list[str], str]:
        if self.language not in _PACKAGE_DIRS:
            return [], ""
        pm = self.r.path_map()
        d = posixpath.dirname(self.here)
        if self.language in GO:
            return [f for f in pm.go_files(d) if f != self.here], "same package"
        ext = {"php": (".php",), "csharp": (".cs",)}.get(self.language, (".java", ".kt", ".kts"))
        files = [f for f in pm.files_in.get(d, []) if f.endswith(ext) and f != self.here]
        pkg = self.package()
        what = "namespace" if self.language in ("php", "csharp") else "package"
        return files, f"same {what} `{pkg}`" if pkg else f"same {what}"

    def _star_via(self, star: Binding) -> str:
        line = f"line {star.line + 1}"
        lang = self.language
        if lang in C_FAMILY:
            quote = '"{}"' if star.level else "<{}>"
            return f"`#include {quote.format(star.module)}` ({line})"
        if lang == "ruby":
            how = "require_relative" if star.level else "require"
            return f"`{how} '{star.module}'` ({line})"
        if lang == "rust":
            return f"`use {star.module}::*` ({line})"
        if lang in JVM:
            return f"`import {star.module}.*` ({line})"
        if lang == "csharp":
            return f"`using {star.module}` ({line})"
        return f"from `{star.module}` import * ({line})"

    def _rust_path(self, chain: tuple[str, ...], via: str = "") -> list[Target]:
        """A Rust path (`crate::a::b::f`, `super::T::new`, `m::f`): its longest prefix that
        is a module, then the item in that module's file and the rest as its members."""
        pm = self.r.path_map()
        parts = list(chain)
        for k in range(len(parts) - 1, 0, -1):
            files = nm.rust_module(pm, self.here, parts[:k])
            if not files:
                continue
            name = parts[k]
            found = [s for s in self._in_files(name, files) if s.kind != "module"]
            label = via or f"module `{'::'.join(parts[:k])}`"
            if found:
                return self._with_member(found, tuple(parts[k + 1 :]), 1.0, label)
            if files != [self.here]:
                found = self._rust_reexport(files, name)  # `pub use a::b::Name;`
                if found:
                    return self._with_member(found, tuple(parts[k + 1 :]), 1.0, label)
                # Re-exported through macros or globs the rules do not follow: what is
                # defined below the module.
                d = posixpath.dirname(files[0])
                item = next(
                    (j for j in range(k, len(parts)) if parts[j][:1].isupper()), len(parts) - 1
                )
                # The path's item (its first CamelCase segment: a type), below the module.
                found = [
                    s
                    for s in self.r.definitions_under(parts[item], d)
                    if s.path.endswith(".rs") and s.kind != "module"
                ]
                if found:
                    return self._with_member(found, tuple(parts[item + 1 :]), 0.9, label)
                if item + 1 < len(parts):  # a type defined inside a macro (`cfg_rt! { }`):
                    members = self.r.members_anywhere(parts[item + 1], parts[item], d, 2)
                    if members:  # the index has its `impl` blocks only
                        return [Target(m.path, m, 0.9, label) for m in members]
            break  # the longest prefix that is a module decides
        return []

    def _rust_reexport(self, files: list[str], name: str, depth: int = 0) -> list[Symbol]:
        """What `name` means in a module file through its `use` declarations (a `pub
        use` re-export: `pub use geometry::area::Circle;`, `pub use self::std::*;`)."""
        pm = self.r.path_map()
        for f in files[:1]:
            got = self.r.file_lines(f, {})
            if got is None:
                continue
            stamp, lines = got
            uses = pm.memo(("rust-uses", f, stamp), lambda ls=lines: rust_imports("".join(ls)))
            for b in uses:
                if b.star:
                    where = nm.rust_module(pm, f, b.module.split("::") if b.module else [])
                    wanted = name
                elif b.local == name and b.name:
                    where = nm.rust_module(pm, f, b.module.split("::") if b.module else [])
                    wanted = b.name
                else:
                    continue
                where = [w for w in where if w != f]
                found = [s for s in self._in_files(wanted, where) if s.kind != "module"]
                if not found and where and depth < 2 and not b.star:
                    found = self._rust_reexport(where, wanted, depth + 1)
                if found:
                    return found
        return []

    def _typed_value(self, typed: Typed, member: str, head: str) -> list[Target]:
        """Members of a value whose type the file shows (see `typed`)."""
        what = f"`{head}`"
        if not typed.call:
            return self._typed_member(typed.chain, member, what)
        out: list[Target] = []
        for t in self.resolve(typed.chain)[:2]:
            if t.sym is None:
                continue
            if t.sym.kind in CLASS_KINDS:  # `Type(...)`: a constructor call (Kotlin, C++)
                classes = [t.sym]
            else:
                rt = result_type(t.sym.signature, t.sym.name, t.sym.language)
                if rt == ("Self",):
                    rt = (t.sym.container,) if t.sym.container else None
                if rt is None:
                    continue
                classes = self._type_near(rt, t.sym)
            for c in classes[:2]:
                via = f"{what} is a `{c.name}` (from `{t.sym.name}`)"
                out += [
                    Target(m.path, m, t.confidence * 0.9, via) for m in self._members(c, member)
                ]
        return out[:2]

    def _type_near(self, rt: tuple[str, ...], fn: Symbol) -> list[Symbol]:
        """The type a function's signature names, looked up where the function is: its
        file, its package (Go, Java, Kotlin), then from this file."""
        name = rt[-1]
        if len(rt) == 1:
            files = [fn.path]
            lang = _language(fn.path)
            if lang in GO:
                files = self.r.path_map().go_files(posixpath.dirname(fn.path))
            elif lang in JVM:
                d = posixpath.dirname(fn.path)
                files = [f for f in self.r.path_map().files_in.get(d, [])]
            found = [s for s in self._in_files(name, files) if s.kind in CLASS_KINDS]
            if found:
                return found
        return [t.sym for t in self.resolve(rt) if t.sym is not None and t.sym.kind in CLASS_KINDS]

    def _typed_member(self, typed: tuple[str, ...], name: str, what: str) -> list[Target]:
        out = []
        for t in self.resolve(typed):
            if t.sym is not None and t.sym.kind in CLASS_KINDS:
                via = f"{what} is a `{t.sym.name}`"
                out += [
                    Target(m.path, m, t.confidence * 0.9, via) for m in self._members(t.sym, name)
                ]
        return out[:2]

    def _with_member(
        self, found: list[Symbol], rest: tuple[str, ...], conf: float, via: str
    ) -> list[Target]:
        # Down the chain as far as members go: `Shop::Cart.build`, `Outer.Inner.f`.
        for name in rest:
            members = [
                m
                for s in found[:2]
                if s.kind in CLASS_KINDS or (s.kind == "module" and self.language in _NAMESPACED)
                for m in self._members(s, name)
            ]
            if not members:
                break
            found = members
        return [Target(s.path, s, conf, via) for s in found[:2]]

    def _via(self, b: Binding, rest: tuple[str, ...]) -> list[Target]:
        """Follow an import binding to the definitions it names."""
        imported = f"imported on line {b.line + 1}"
        if self.language in PYTHON:
            if b.name is None:
                return self._python_module_member(b, b.module, rest, imported)
            files = self._module_files(b)
            found = self._in_files(b.name, files)
            if not found:
                sub = ".".join(x for x in (b.module, b.name) if x)
                if self._module_files(b, sub):
                    return self._python_module_member(b, sub, rest, imported)
                found = self._reexported(b.name, files)
            return self._with_member(found, rest, 1.0, f"from `{b.module or '.'}`, {imported}")
        files = self._module_files(b)
        if not files and self.language not in ("rust", "java", "kotlin", "csharp"):
            return []
        if self.language in JS_LIKE:
            if b.name is None:
                if not rest:
                    return [Target(files[0], None, 1.0, imported, b.module)]
                found = self._in_files(rest[0], files) or self._reexported(rest[0], files)
                return self._with_member(found, rest[1:], 1.0, f"from `{b.module}`, {imported}")
            name = b.local if b.name == "default" else b.name
            found = self._in_files(name, files) or self._reexported(name, files)
            return self._with_member(found, rest, 1.0, f"from `{b.module}`, {imported}")
        if self.language in GO:
            if not rest:
                return [Target(files[0], None, 1.0, imported, b.module)]
            found = self._in_files(rest[0], files)
            return self._with_member(found, rest[1:], 1.0, f"package `{b.module}`, {imported}")
        return self._native_via(b, rest, files, imported)

    def _native_via(
        self, b: Binding, rest: tuple[str, ...], files: list[str], imported: str
    ) -> list[Target]:
        """An import binding of Rust, Java/Kotlin, C# or PHP to the definitions it names."""
        lang = self.language
        name = b.name or b.local
        if lang == "rust":
            path = b.module.split("::") if b.module else []
            if path and path[0] == "super" and self._indented(b):
                path[0] = "self"
            label = "::".join([*path, name]) if b.module != "self" else name
            what = f"`mod {name}`" if b.module == "self" else f"`use {label}`"
            found = self._rust_path((*path, name, *rest), f"{what}, {imported}")
            if found or rest:
                return found
            module = nm.rust_module(self.r.path_map(), self.here, [*path, name])
            return [Target(module[0], None, 1.0, imported, label)] if module else []
        if lang in JVM:
            own = self.package()
            files = nm.java_type_files(self.r.path_map(), b.module, name, self.here, own)
            found = [s for s in self._in_files(name, files) if s.kind != "module"]
            via = f"`import {b.module}.{name}`, {imported}"
            if found:
                return self._with_member(found, rest, 1.0, via)
            pkg, _, cls = b.module.rpartition(".")  # `import static a.b.C.m`
            if pkg and cls:
                files = nm.java_type_files(self.r.path_map(), pkg, cls, self.here, own)
                for c in self._in_files(cls, files):
                    if c.kind in CLASS_KINDS:
                        members = self._members(c, name)
                        if members:
                            return [Target(m.path, m, 1.0, via) for m in members[:2]]
            return []
        found = [s for s in self._in_files(name, files) if s.kind != "module"] if files else []
        sep = "\\" if lang == "php" else "."
        how = "use" if lang == "php" else "using"
        via = f"`{how} {b.module}{sep}{name}`, {imported}"
        if not found and lang == "csharp":
            found = self._in_files(name, nm.csharp_namespace(self.r.path_map(), b.module))
        return self._with_member(found, rest, 1.0, via)

    def _python_module_member(
        self, b: Binding, module: str, rest: tuple[str, ...], imported: str
    ) -> list[Target]:
        # The longest prefix of the chain that is a module: `os.path.join` -> `os.path`.
        for j in range(len(rest), -1, -1):
            name = ".".join([module, *rest[:j]])
            files = self._module_files(b, name)
            if not files:
                continue
            if j == len(rest):
                return [Target(files[0], None, 1.0, imported, name)]
            found = self._in_files(rest[j], files) or self._reexported(rest[j], files)
            return self._with_member(found, rest[j + 1 :], 1.0, f"module `{name}`, {imported}")
        return []

    def _reexported(self, name: str, files: Sequence[str]) -> list[Symbol]:
        """A name a package's `__init__` (or a TS `index`) re-exports from a file below it."""
        for f in files:
            base = posixpath.basename(f)
            if base.startswith(("__init__.", "index.")):
                return self.r.definitions_under(name, posixpath.dirname(f))[:2]
        return []

    def _enclosing(self):
        if self._class is False:
            if self.language == "rust":  # `self` is the type of the enclosing `impl`
                impl = rust_impl(self.lines, self.line)
                self._class = (impl, []) if impl else None
            else:
                self._class = enclosing_class(self.lines, self.line, self.language, self.column)
        return self._class

    def _self_member(self, name: str, weak: bool = False) -> list[Target]:
        cls = self._enclosing()
        if cls is None:
            return []
        cls_name, bases = cls
        conf = 0.6 if weak else 1.0
        classes = self._in_files(cls_name, (self.here,))
        if not classes and self.language == "rust":  # `impl` apart from its type
            classes = [
                t.sym
                for t in self.resolve((cls_name,))
                if t.sym is not None and t.sym.kind in CLASS_KINDS
            ]
        for c in classes:
            members = self._members(c, name)
            if members:
                return [Target(m.path, m, conf, f"method of `{cls_name}`") for m in members[:1]]
        if not classes and self.language == "rust":
            members = self.r.members_anywhere(name, cls_name, posixpath.dirname(self.here), 2)
            if members:
                return [Target(m.path, m, conf, f"method of `{cls_name}`") for m in members[:1]]
        for base in bases:
            for t in self.resolve(base):
                if t.sym is None or t.sym.kind not in CLASS_KINDS:
                    continue
                members = self._members(t.sym, name)
                if members:
                    via = f"inherited from `{t.sym.name}`"
                    return [Target(m.path, m, conf * 0.9, via) for m in members[:1]]
        return []

    def _by_name(self, name: str, member: bool) -> list[Target]:
        found = [s for s in self.r.few_definitions(name, member) if s.path != self.here]
        if not found or len(found) > _BY_NAME_MAX:
            return []
        d = posixpath.dirname(self.here)
        out = []
        for s in found:
            near = 1.5 if posixpath.dirname(s.path) == d else 1.0
            conf = min(0.8, 0.5 * near / len(found))
            via = "by name" if len(found) == 1 else f"by name, one of {len(found)}"
            out.append(Target(s.path, s, conf, via))
        return out
