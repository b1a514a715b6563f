"""Which definitions a name at the cursor means: through the file's imports (Python,
JS/TS, Go), the enclosing class and its bases, the file itself, the Go package, and last
the index by name alone (with less confidence the more definitions share the name)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from indexing.extract import Symbol
from indexing.languages import language_for
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

if TYPE_CHECKING:
    from indexing.lookup import Lookup

_BY_NAME_MAX = 4


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

    def prefetch(self, heads: Iterable[str]) -> None:
        """Look up at once which of these names this file defines (one query, not one
        per name)."""
        wanted = {h for h in heads if h not in self.by_local} - SELF_NAMES - {UNKNOWN}
        self._local = self.r.names_in(sorted(wanted), self.here) if wanted else {}

    # -- lookups -----------------------------------------------------------------------

    def _in_files(self, name: str, files: Iterable[str], container: str = "") -> list[Symbol]:
        files = list(files)
        if files == [self.here] and not container:
            return self._local.get(name, [])
        return self.r.definitions_in(name, files, container)

    def _members(self, cls: Symbol, name: str) -> list[Symbol]:
        found = self._in_files(name, (cls.path,), cls.qualified_name)
        if not found and _language(cls.path) in GO:  # methods live in any file of the package
            d = posixpath.dirname(cls.path)
            files = self.r.path_map().files_in.get(d, [])
            found = self._in_files(name, files, cls.qualified_name)
        return found

    def _module_files(self, b: Binding, module: str | None = None) -> list[str]:
        pm = self.r.path_map()
        mod = b.module if module is None else module
        if self.language in PYTHON:
            return pm.python_module(mod, b.level, self.here)
        if self.language in JS_LIKE:
            return pm.js_module(mod, self.here)
        if self.language in GO:
            return pm.go_package(mod)
        return []

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
        if head == UNKNOWN:
            return self._self_member(rest[0], weak=True) or self._by_name(rest[0], member=True)
        if head in SELF_NAMES:
            if not rest:
                return []
            found = self._self_member(rest[0])
            if len(rest) > 1 and not any(t.sym and t.sym.kind == "method" for t in found):
                # `self.attr.name`: the class of the attribute, then its member.
                typed = attribute_type(self.lines, self.line, rest[0])
                if typed is not None:
                    return self._typed_member(typed, rest[1], f"`{head}.{rest[0]}`")
            return found
        for k in range(len(chain), 1, -1):  # `import a.b.c` binds the chain `a.b.c`
            b = self.by_local.get(".".join(chain[:k]))
            if b is not None and b.name is None:
                return self._via(b, chain[k:])
        b = self.by_local.get(head)
        if b is not None:
            return self._via(b, rest)
        local = self._in_files(head, (self.here,))
        if local:
            return self._with_member(local, rest, 1.0, "defined in this file")
        if rest:
            typed = assigned_type(self.lines, self.line, head)
            if typed is not None and typed != (head,):
                out = self._typed_member(typed, rest[0], f"`{head}`")
                if out:
                    return out
        if self.language in GO:
            found = self.r.definitions_under(head, posixpath.dirname(self.here), direct=True)
            found = [s for s in found if s.path.endswith(".go")]
            if found:
                return self._with_member(found, rest, 1.0, "same package")
        for star in self.stars:
            found = self._in_files(head, self._module_files(star))
            if found:
                via = f"from `{star.module}` import * (line {star.line + 1})"
                return self._with_member(found, rest, 0.9, via)
        if self.language in PYTHON:
            return []  # a builtin or a local: Python names come from imports or the file
        if rest:
            return self._by_name(rest[-1], member=True)
        return self._by_name(head, member=False)

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
        if rest:
            members = [
                m for s in found[:2] if s.kind in CLASS_KINDS for m in self._members(s, rest[0])
            ]
            if members:
                return [Target(m.path, m, conf, via) for m in members[:2]]
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
        if not files:
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
        return []

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
            self._class = enclosing_class(self.lines, self.line, self.language, self.column)
        return self._class

    def _self_member(self, name: str, weak: bool = False) -> list[Target]:
        cls = self._enclosing()
        if cls is None:
            return []
        cls_name, bases = cls
        conf = 0.6 if weak else 1.0
        for c in self._in_files(cls_name, (self.here,)):
            members = self._members(c, name)
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
