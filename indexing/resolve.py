"""What the code at the cursor refers to, read lexically: the names used near the cursor,
the file's imports, and where an imported module lives in the workspace.

Regular expressions over a few lines and the import statements, not a parse: it costs
well under a millisecond, and it works on the half-typed code a completion sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Languages whose comments start with `#` (the rest use `//` and `/* */`).
_HASH_COMMENTS = frozenset({"python", "ruby", "shellscript", "bash", "elixir", "perl", "r"})
PYTHON = frozenset({"python"})
JS_LIKE = frozenset({"javascript", "typescript", "typescriptreact", "javascriptreact"})
GO = frozenset({"go"})

_IDENT = r"(?:[^\W\d]|\$)[\w$]*"
_SEP = r"(?:[ \t]*(?:\?\.|\.|::|->)[ \t]*)"
_GENERIC = r"(?:<[\w\s,.<>\[\]]*>)?"  # `f<T>(`
_CHAIN = rf"(?P<dot>\.[ \t]*)?(?P<chain>{_IDENT}(?:{_SEP}{_IDENT})*)(?P<call>[ \t]*{_GENERIC}\()?"
_STRINGS = r"""
    [rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?(?:\"\"\"|\Z)|'''[\s\S]*?(?:'''|\Z))
  | "(?:\\.|[^"\\\n])*"?
  | '(?:\\.|[^'\\\n])*'?
  | `(?:\\.|[^`\\])*`?
"""
_HASH_LEXER = re.compile(rf"(?P<skip>\#[^\n]*|{_STRINGS})|{_CHAIN}", re.VERBOSE)
_SLASH_LEXER = re.compile(
    rf"(?P<skip>//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|{_STRINGS})|{_CHAIN}", re.VERBOSE
)
_SPLIT = re.compile(_SEP)
_DEFINING = re.compile(
    r"\b(?:def|class|function|func|interface|type|struct|enum|trait|fn|namespace|package)"
    r"[ \t]+\Z"
)

# A table of words reads better than a list literal.
KEYWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default defer del
    do elif else enum except export extends false final finally fn for from func function
    global go if impl implements import in instanceof interface is lambda let match mod
    mut new nil nonlocal none not null or package pass pub raise range return select self
    static struct super switch this throw throws trait true try type typeof undefined use
    var void while with yield None True False chan map string int bool float
    """.split()  # noqa: SIM905
)
# Receivers that mean "the enclosing class".
SELF_NAMES = frozenset({"self", "cls", "this"})
UNKNOWN = "?"
"""The head of a chain whose receiver is an expression (`f().name` -> `("?", "name")`)."""


@dataclass(frozen=True)
class Use:
    """A name (or dotted chain: `mod.func`, `self.run`) used in the code."""

    chain: tuple[str, ...]
    line: int
    column: int
    call: bool
    """Followed by `(`: a call."""


@dataclass(frozen=True)
class Binding:
    """A name an import statement binds in the file."""

    local: str
    module: str
    """The module as written: `os.path`, `./util`, `example.com/shop/store`."""
    name: str | None = None
    """The imported member (`from m import name`); None: `local` is the module itself."""
    level: int = 0
    """Python relative imports: the number of leading dots."""
    line: int = 0
    star: bool = False


def lexer(language: str) -> re.Pattern[str]:
    return _HASH_LEXER if language in _HASH_COMMENTS else _SLASH_LEXER


def uses(text: str, language: str, first_line: int = 0) -> list[Use]:
    """Names and chains used in `text` (whose first line is `first_line` of its file),
    outside comments and strings, keywords dropped."""
    out: list[Use] = []
    line = first_line
    pos = 0
    for m in lexer(language).finditer(text):
        chain_text = m.group("chain")
        if chain_text is None:
            continue
        start = m.start()
        line += text.count("\n", pos, start)
        pos = start
        col = start - (text.rfind("\n", 0, start) + 1)
        if _DEFINING.search(text, max(0, start - 16), start):
            continue  # the name of a definition, not a use
        parts = tuple(p for p in _SPLIT.split(chain_text) if p)
        if m.group("dot"):  # `f().name`: a member of something the lexer cannot name
            parts = (UNKNOWN, *parts)
        while parts and parts[0] in KEYWORDS and parts[0] not in SELF_NAMES:
            parts = parts[1:]
        if not parts or (len(parts) == 1 and parts[0] in SELF_NAMES):
            continue
        out.append(Use(parts, line, col, m.group("call") is not None))
    return out


def call_at(prefix: str, language: str, reach: int = 800) -> tuple[str, ...] | None:
    """The chain of the call whose argument list holds the cursor (`foo.bar(x, |` ->
    `("foo", "bar")`), read backwards from the end of the prefix; None when the cursor is
    not inside a call's parentheses. Brackets inside strings can fool it: a hint only."""
    depth = 0
    stop = max(0, len(prefix) - reach)
    for i in range(len(prefix) - 1, stop - 1, -1):
        c = prefix[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth:
                depth -= 1
                continue
            if c != "(":
                return None
            m = _CALLEE.search(prefix, max(0, i - 300), i)
            if not m:
                return None
            parts = tuple(p for p in _SPLIT.split(m.group("callee")) if p)
            if m.group("dot"):
                parts = (UNKNOWN, *parts)
            if not parts or (parts[-1] in KEYWORDS and len(parts) == 1):
                return None  # `if (`, `while (`; but `Type::new(`, `s.match(` are calls
            return parts
        elif depth == 0 and c == ";":
            return None
        elif depth == 0 and c == ":" and language in PYTHON and prefix[i + 1 : i + 2] == "\n":
            return None  # a block header (`if x:`): the cursor is past any call on it
    return None


_CALLEE = re.compile(
    rf"(?P<dot>\.[ \t]*)?(?P<callee>{_IDENT}(?:{_SEP}{_IDENT})*)[ \t]*{_GENERIC}[ \t]*\Z"
)


# -- imports -------------------------------------------------------------------------------

_PY_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)(?P<mod>[\w.]*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)?|[^\n#;]*)|import[ \t]+(?P<mods>[^\n#;]+))",
    re.MULTILINE,
)
_JS_IMPORT = re.compile(
    r"""(?:^|[;\n])[ \t]*(?:import|export)[ \t]+(?:type[ \t]+)?(?P<clause>[^'";]*?)"""
    r"""[ \t\n]*from[ \t]*['"](?P<src>[^'"\n]+)['"]"""
    r"""|(?:const|let|var)[ \t]+(?P<lhs>\{[^}]*\}|[\w$]+)[ \t]*=[ \t]*"""
    r"""require\([ \t]*['"](?P<req>[^'"\n]+)['"][ \t]*\)""",
)
_GO_IMPORT_BLOCK = re.compile(r"^import[ \t]*\(([^)]*)\)", re.MULTILINE)
_GO_IMPORT_ONE = re.compile(r"^import[ \t]+([\w.]+[ \t]+)?\"([^\"]+)\"", re.MULTILINE)
_GO_SPEC = re.compile(r"^[ \t]*([\w.]+[ \t]+)?\"([^\"]+)\"", re.MULTILINE)


def imports(text: str, language: str) -> list[Binding]:
    """The names the file's import statements bind (Python, JS/TS, Go here; Rust, Java,
    Kotlin, C#, C/C++, PHP and Ruby in `native_imports`); [] for other languages."""
    if language in PYTHON:
        return _python_imports(text)
    if language in JS_LIKE:
        return _js_imports(text)
    if language in GO:
        return _go_imports(text)
    from indexing.native_imports import READERS  # it imports `Binding` from here

    reader = READERS.get(language)
    return reader(text) if reader is not None else []


class _Lines:
    """Line numbers of increasing offsets in one text, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 0

    def __call__(self, pos: int) -> int:
        if pos < self.pos:
            self.pos = self.line = 0
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos)


def _import_lines(text: str):
    """`_PY_IMPORT` matches, tried only where a line has `import` (a scan of the whole
    text with the full pattern costs milliseconds on a large file)."""
    seen = -1
    pos = text.find("import")
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        if start > seen:
            m = _PY_IMPORT.match(text, start)
            if m:
                yield m
                seen = m.end()
            else:
                seen = start
        pos = text.find("import", pos + 6)


def _python_imports(text: str) -> list[Binding]:
    out: list[Binding] = []
    if "import" not in text:
        return out
    line_of = _Lines(text)
    for m in _import_lines(text):
        line = line_of(m.start())
        if m.group("mods") is not None:
            for part in m.group("mods").split(","):
                words = part.split()
                if not words or not re.fullmatch(r"[\w.]+", words[0]):
                    continue
                mod = words[0]
                if len(words) == 3 and words[1] == "as":
                    out.append(Binding(words[2], mod, None, 0, line))
                else:
                    # `import a.b.c` binds `a`; chains `a.b.c.f` are resolved from it.
                    out.append(Binding(mod.split(".")[0], mod.split(".")[0], None, 0, line))
                    if "." in mod:
                        out.append(Binding(mod, mod, None, 0, line))
            continue
        level = len(m.group("dots") or "")
        mod = m.group("mod") or ""
        names = (m.group("names") or "").strip().strip("()").replace("\\\n", " ")
        for part in names.split(","):
            words = part.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] == "*":
                out.append(Binding("*", mod, None, level, line, star=True))
                continue
            if not re.fullmatch(r"\w+", words[0]):
                continue
            local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
            out.append(Binding(local, mod, words[0], level, line))
    return out


def _js_imports(text: str) -> list[Binding]:
    out: list[Binding] = []
    if "import" not in text and "require" not in text:
        return out
    line_of = _Lines(text)
    for m in _JS_IMPORT.finditer(text):
        line = line_of(m.start("src") if m.group("src") else m.start())
        src = m.group("src") or m.group("req")
        clause = (m.group("clause") if m.group("src") else m.group("lhs")) or ""
        clause = clause.strip()
        if not clause:
            continue
        braced = re.search(r"\{([^}]*)\}", clause)
        rest = clause[: braced.start()] + clause[braced.end() :] if braced else clause
        if braced:
            for spec in braced.group(1).split(","):
                words = spec.replace("type ", " ").split()
                if not words:
                    continue
                name = words[0]
                local = words[-1] if len(words) == 3 and words[1] in ("as", ":") else name
                out.append(Binding(local, src, name, 0, line))
        for piece in rest.split(","):
            piece = piece.strip()
            star = re.fullmatch(r"\*\s+as\s+([\w$]+)", piece)
            if star:
                out.append(Binding(star.group(1), src, None, 0, line))
            elif re.fullmatch(r"[\w$]+", piece):
                # A default import (or a whole `require`d module).
                out.append(Binding(piece, src, None if m.group("req") else "default", 0, line))
    return out


def _go_imports(text: str) -> list[Binding]:
    out: list[Binding] = []
    specs: list[tuple[str | None, str, int]] = []
    for block in _GO_IMPORT_BLOCK.finditer(text):
        base = _line_of(text, block.start(1))
        for spec in _GO_SPEC.finditer(block.group(1)):
            alias = spec.group(1).strip() if spec.group(1) else None
            specs.append((alias, spec.group(2), base + _line_of(block.group(1), spec.start())))
    for one in _GO_IMPORT_ONE.finditer(text):
        alias = one.group(1).strip() if one.group(1) else None
        specs.append((alias, one.group(2), _line_of(text, one.start())))
    for alias, path, line in specs:
        if alias in ("_",):
            continue
        if alias == ".":
            out.append(Binding("*", path, None, 0, line, star=True))
            continue
        parts = [p for p in path.split("/") if p]
        name = parts[-1] if parts else path
        if re.fullmatch(r"v\d+", name) and len(parts) > 1:  # example.com/x/v2 is package x
            name = parts[-2]
        out.append(Binding(alias or name.replace("-", "_"), path, None, 0, line))
    return out


# -- scope ---------------------------------------------------------------------------------

_PY_CLASS = re.compile(r"class[ \t]+(\w+)[ \t]*(?:\((?P<bases>[^)]*)\)?)?")
_BRACE_CLASS = re.compile(
    r"\bclass[ \t]+([\w$]+)(?:[ \t]*<[^>{]*>)?(?:[ \t]+extends[ \t]+(?P<bases>[\w$.]+))?"
)


def enclosing_class(
    lines: list[str], line: int, language: str, indent: int | None = None, reach: int = 2000
) -> tuple[str, list[tuple[str, ...]]] | None:
    """The class whose body holds `line` and the chains of its base classes; None outside
    any class. Python by indentation (`indent`: the cursor's column when the line is
    still blank), brace languages by the nearest `class` above."""
    stop = max(-1, line - reach)
    if language in PYTHON:
        text = lines[line] if line < len(lines) else ""
        cur = indent if indent is not None and not text.strip() else len(text) - len(text.lstrip())
        for i in range(line - 1, stop, -1):
            s = lines[i]
            body = s.lstrip()
            if not body or body.startswith("#"):
                continue
            ind = len(s) - len(body)
            if ind >= cur:
                continue
            if body.startswith("class"):
                m = _PY_CLASS.match(body)
                if m:
                    return m.group(1), _bases(m.group("bases") or "")
            if ind == 0:
                return None
            cur = ind
        return None
    for i in range(line, stop, -1):
        if i >= len(lines) or "class" not in lines[i]:
            continue
        m = _BRACE_CLASS.search(lines[i])
        if m:
            return m.group(1), _bases(m.group("bases") or "")
    return None


def _bases(text: str) -> list[tuple[str, ...]]:
    out = []
    for part in text.split(","):
        part = part.split("[", 1)[0].split("(", 1)[0].strip()
        if not part or "=" in part:  # metaclass=...
            continue
        chain = tuple(p for p in _SPLIT.split(part) if p)
        if chain and all(re.fullmatch(_IDENT, p) for p in chain):
            out.append(chain)
    return out


_ASSIGNED = re.compile(
    rf"(?<![\w$.])(?P<lhs>{_IDENT})[ \t]*(?::[^=\n]*)?(?::=|=)[ \t]*(?:new[ \t]+|&)?"
    rf"(?P<chain>{_IDENT}(?:{_SEP}{_IDENT})*)[ \t]*[({{]"
)
_ATTRIBUTE = re.compile(
    rf"(?:self|this)\.(?P<a1>{_IDENT})[ \t]*(?::[^=\n]*)?=[ \t]*(?:new[ \t]+)?"
    rf"(?P<made>{_IDENT}(?:{_SEP}{_IDENT})*)[ \t]*\("
    rf"|^[ \t]*(?:(?:private|public|protected|readonly|static)[ \t]+)*(?P<a2>{_IDENT})"
    rf"[ \t]*[?!]?:[ \t]*(?P<ann>{_IDENT}(?:\.{_IDENT})*)"
)


def assigned_type(
    lines: list[str], line: int, name: str, reach: int = 80
) -> tuple[str, ...] | None:
    """The constructor `name` was last assigned from above `line` (`x = Foo(...)`,
    `const x = new Foo(...)`): the chain of `Foo`, or None."""
    for i in range(min(line, len(lines) - 1), max(-1, line - reach), -1):
        if name not in lines[i]:
            continue
        for m in _ASSIGNED.finditer(lines[i]):
            if m.group("lhs") == name:
                chain = tuple(p for p in _SPLIT.split(m.group("chain")) if p)
                return chain or None
    return None


def attribute_type(
    lines: list[str], line: int, attr: str, reach: int = 400
) -> tuple[str, ...] | None:
    """The class of `self.attr` / `this.attr`, from an annotation (`attr: Foo`, `private
    attr: Foo`) or an assignment (`self.attr = Foo(...)`) above `line`; None if unknown."""
    for i in range(min(line, len(lines) - 1), max(-1, line - reach), -1):
        if attr not in lines[i]:
            continue
        for m in _ATTRIBUTE.finditer(lines[i]):
            if attr not in (m.group("a1"), m.group("a2")):
                continue
            chain = m.group("made") or m.group("ann")
            parts = tuple(p for p in _SPLIT.split(chain) if p)
            if parts and parts[-1] not in KEYWORDS:
                return parts
    return None
