"""The type of a value the code at the cursor names, read from the lines above it: a Go
method's receiver or a function's parameter, a declaration (`var r Router`, `Router r =`,
`let r: Router`), a composite literal (`r := &Router{}`), or a call whose callee's
signature gives its result (`r := NewRouter()`, `let r = Router::new()`).

Lexical, like `resolve`: a few regular expressions over the lines above the cursor, good
on the half-typed code a completion sees, and a hint only (a shadowing `r` further up in
another block can fool it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Patterns are built per name: compiled once each (`re`'s own cache holds 512 only).
_rx = lru_cache(maxsize=8192)(re.compile)

_ID = r"[A-Za-z_]\w*"
_QUAL = rf"{_ID}(?:(?:\.|::){_ID})*"
_SPLIT = re.compile(r"\.|::")
# Result wrappers whose first type argument is what a caller works with.
_WRAPPERS = frozenset(
    {"Result", "Option", "Box", "Rc", "Arc", "Vec", "Optional", "List", "std", "Ok", "io"}
)
_NOT_TYPES = frozenset(
    {
        "return", "new", "else", "case", "throw", "await", "const", "final", "var", "val",
        "let", "mut", "static", "public", "private", "protected", "in", "is", "as", "not",
        "and", "or", "if", "while", "for", "goto", "delete", "yield", "import", "package",
        "using", "typedef", "struct", "class", "enum", "union", "sizeof", "void", "int",
        "char", "bool", "long", "short", "double", "float", "unsigned", "signed", "auto",
        "string", "error", "any", "byte", "rune", "uint", "int64", "int32", "uint64",
        "uint32", "uint8", "float64", "float32", "boolean", "String", "Object", "Self",
        "self", "interface", "func", "map", "chan",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Typed:
    """What a name's type was read from."""

    chain: tuple[str, ...]
    """The type (`("chi", "Mux")`), or with `call` the function whose result it is."""
    call: bool = False
    how: str = ""
    """For the reason: `receiver`, `parameter`, `declared`, `literal`, `result`."""


def _chain(text: str) -> tuple[str, ...]:
    return tuple(p for p in _SPLIT.split(text) if p)


def _go_type(text: str) -> tuple[str, ...] | None:
    """`*pkg.Router` / `[]Item` / `...Option` / `Router[T]` -> the named type's chain."""
    m = re.match(rf"[\s*&\[\]\.]*(?:\[\d*\])?\s*\*?({_QUAL})", text)
    if not m:
        return None
    chain = _chain(m.group(1))
    return chain if chain and chain[-1] not in _NOT_TYPES else None


def _matching(text: str, start: int) -> int:
    """Index just after the bracket closing the one at `start` (or len(text))."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def go_params(header: str) -> dict[str, tuple[str, ...]]:
    """Names to types in a Go function header's receiver and parameter lists
    (`func (m *Mux) Route(pattern string, fn func(r Router)) Router`)."""
    out: dict[str, tuple[str, ...]] = {}
    i = header.find("func")
    if i < 0:
        return out
    pos = i + 4
    for _ in range(2):  # the receiver's list, then the parameters'
        j = header.find("(", pos)
        if j < 0:
            break
        end = _matching(header, j)
        pending: list[str] = []
        for part in _split_top(header[j + 1 : end - 1]):
            words = part.strip().split(None, 1)
            if not words:
                continue
            if len(words) == 1:
                pending.append(words[0])
                continue
            t = _go_type(words[1])
            for n in [*pending, words[0]]:
                if t is not None and re.fullmatch(_ID, n):
                    out.setdefault(n, t)
            pending = []
        pos = end
        name = re.match(rf"\s*({_ID})", header[pos:])
        if name is None:
            break
        pos += name.end()
    return out


def declared_type(
    lines: list[str], line: int, name: str, language: str, reach: int = 200
) -> Typed | None:
    """The type of the value `name` at `line`, from the lines above (see the module doc)."""
    if not re.fullmatch(_ID, name) or name in _NOT_TYPES:
        return None
    reader = _READERS.get(language)
    if reader is None:
        return None
    n = re.escape(name)
    word = _rx(rf"(?<![\w.]){n}\b")
    stop = max(-1, line - reach)
    for i in range(min(line, len(lines) - 1), stop, -1):
        text = lines[i]
        if name not in text or not word.search(text):
            if language == "go" and text.startswith("func"):
                return None  # the function's header is the last place a Go name is bound
            continue
        found = reader(text, n, name)
        if found is not None:
            return found
        if language == "go" and text.startswith("func"):
            return None
    return None


def _go(text: str, n: str, name: str) -> Typed | None:
    if text.startswith("func"):
        t = go_params(text).get(name)
        if t is None:
            return None
        receiver = _rx(rf"func\s*\(\s*{n}\b").match(text)
        return Typed(t, how="receiver" if receiver else "parameter")
    m = _rx(rf"(?:^|[\s(,;])(?:var\s+)?{n}(?:\s*,\s*{_ID})*\s+(?!:?=)([*\[\]\w.]+)").search(text)
    if m and _rx(r"\s*(?:var\s+)?" + n).match(text) and "=" not in text[: m.start(1)]:
        t = _go_type(m.group(1))
        if t is not None:
            return Typed(t, how="declared")
    m = _rx(
        rf"(?<![\w.]){n}(?:\s*,\s*{_ID})*\s*:?=\s*(&)?(?:new\(\s*({_QUAL})\s*\)|({_QUAL})"
        rf"(?:\[[^\]]*\])?\s*([({{]))"
    ).search(text)
    if m:
        if m.group(2):
            return Typed(_chain(m.group(2)), how="literal")
        chain = _chain(m.group(3))
        if m.group(4) == "{" or m.group(1):
            return Typed(chain, how="literal")
        return Typed(chain, call=True, how="result")
    return None


_C_TYPE_BEFORE = re.compile(rf"(?<![\w.])({_QUAL})\s*(?:<[^;=()]*>)?\s*(?:\[\s*\])*\s*[*&]*\s*\Z")


def _c_like(text: str, n: str, name: str) -> Typed | None:
    """Java, C#, Kotlin-less C family: `Type name =`, `Type<T> name;`, `Type *name`,
    parameters `(Type name,` and `var name = new Type(` / `auto name = make()`."""
    for at in _rx(rf"(?<![\w.]){n}\s*[=;,)\[:]").finditer(text):
        m = _C_TYPE_BEFORE.search(text, max(0, at.start() - 160), at.start())
        if m and _chain(m.group(1))[-1] not in _NOT_TYPES:
            return Typed(_chain(m.group(1)), how="declared")
    m = _rx(rf"(?<![\w.]){n}\s*=\s*(new\s+)?({_QUAL})\s*(?:<[^;=()]*>)?\s*\(").search(text)
    if m:
        chain = _chain(m.group(2))
        return Typed(chain, how="literal") if m.group(1) else Typed(chain, call=True, how="result")
    return None


def _kotlin(text: str, n: str, name: str) -> Typed | None:
    m = _rx(rf"(?<![\w.]){n}\s*:\s*({_QUAL})").search(text)
    if m and _chain(m.group(1))[-1] not in _NOT_TYPES:
        return Typed(_chain(m.group(1)), how="declared")
    m = _rx(rf"(?:val|var)\s+{n}\s*=\s*({_QUAL})\s*(?:<[^=()]*>)?\s*\(").search(text)
    if m:
        chain = _chain(m.group(1))
        call = not chain[-1][:1].isupper()  # a constructor call is `Type(`
        return Typed(chain, call=call, how="result" if call else "literal")
    return None


def _rust(text: str, n: str, name: str) -> Typed | None:
    m = _rx(rf"(?<![\w.]){n}\s*:\s*&?\s*(?:'\w+\s+)?(?:mut\s+)?({_QUAL})").search(text)
    if m:
        chain = _chain(m.group(1))
        while chain and chain[-1] in _WRAPPERS and len(chain) > 1:
            chain = chain[:-1]
        if chain and chain[-1] not in _NOT_TYPES:
            return Typed(chain, how="declared")
    m = _rx(rf"let\s+(?:mut\s+)?{n}\s*=\s*&?(?:mut\s+)?({_QUAL})\s*(::<[^>]*>)?\s*([({{])").search(
        text
    )
    if m:
        chain = _chain(m.group(1))
        if m.group(3) == "{":
            return Typed(chain, how="literal")
        return Typed(chain, call=True, how="result")
    return None


# C has no methods: a value's type gives a call nothing to resolve.
_READERS = {
    "go": _go,
    "java": _c_like,
    "csharp": _c_like,
    "cpp": _c_like,
    "kotlin": _kotlin,
    "rust": _rust,
}


def result_type(signature: str, name: str, language: str) -> tuple[str, ...] | None:
    """The type a function returns, from its indexed signature: Go's results (the first
    of a list), Rust's `-> T` (inside `Result<..>`/`Option<..>`; `Self` stays `Self`),
    and the word before the name in the C family."""
    if language == "go":
        i = signature.find(name)
        j = signature.find("(", i if i >= 0 else 0)
        if j < 0:
            return None
        rest = signature[_matching(signature, j) :].strip().lstrip("(")
        return _go_type(rest) if rest else None
    if language == "rust":
        i = signature.find("->")
        if i < 0:
            return None
        for word in re.findall(_QUAL, signature[i + 2 :]):
            chain = _chain(word)
            if chain[-1] == "Self":
                return ("Self",)
            if chain[-1] not in _WRAPPERS and chain[-1] not in _NOT_TYPES:
                return chain
        return None
    m = _rx(rf"({_QUAL})\s*(?:<[^()]*>)?\s*[*&]*\s*\b{re.escape(name)}\s*\(").search(signature)
    if m and _chain(m.group(1))[-1] not in _NOT_TYPES:
        return _chain(m.group(1))
    if language == "kotlin":
        m = re.search(r"\)\s*:\s*(" + _QUAL + ")", signature)
        if m:
            return _chain(m.group(1))
    return None


_IMPL = re.compile(rf"^\s*impl\b(?:\s*<[^>]*>)?\s*(?:({_QUAL})(?:<[^>]*>)?\s+for\s+)?({_QUAL})")


def rust_impl(lines: list[str], line: int, reach: int = 2000) -> str | None:
    """The type of the `impl` block around `line` (`impl Trait for Type` -> `Type`)."""
    for i in range(min(line, len(lines) - 1), max(-1, line - reach), -1):
        text = lines[i]
        if "impl" in text:
            m = _IMPL.match(text)
            if m:
                return _chain(m.group(2))[-1]
        if i < line and (text.startswith("}") or re.match(r"(?:pub(?:\(\w+\))?\s+)?fn\s", text)):
            return None  # a block closed at the margin, or a free function: outside any impl
    return None
