"""What one source file defines, imports and uses, from its tree-sitter tree.

Broken code still yields what tree-sitter recovers: extraction never raises on bad input.
Lines are 0-based; columns count Unicode code points (not bytes, not UTF-16 units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter as ts

from indexing.languages import Grammar, LanguageSpec, grammar

MAX_SIGNATURE = 300
MAX_DOC = 1000

# A function directly inside one of these is a method.
METHOD_PARENTS = frozenset({"class", "interface", "struct", "enum", "trait", "scope"})
_NOT_SCOPES = frozenset({"constant", "variable", "field"})
# A definition wrapped in one of these: its leading comment sits before the wrapper.
_WRAPPERS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "template_declaration",
        "ambient_declaration",
        "attributed_statement",
    }
)
_SKIP_BACK = frozenset({"attribute_item", "attribute", "decorator", "annotation", "attribute_list"})
_BODY_TYPES = frozenset(
    {
        "block",
        "class_body",
        "body_statement",
        "declaration_list",
        "field_declaration_list",
        "compound_statement",
        "enum_body",
        "enum_class_body",
        "interface_body",
        "statement_block",
        "function_body",
        "enum_variant_list",
        "template_body",
        "object_type",
    }
)
_WS = re.compile(r"\s+")
_COMMENT_MARK = re.compile(r"^\s*(?:/\*+|\*+/?|///?/?!?|#+|--+|;+)?\s?")


@dataclass(frozen=True)
class Symbol:
    """A definition: function, class, method, constant, type, ..."""

    name: str
    kind: str
    qualified_name: str
    """Dotted path of enclosing definitions, e.g. `Class.method`."""
    path: str
    """Workspace-relative path with `/` separators."""
    language: str
    line: int
    column: int
    end_line: int
    end_column: int
    name_line: int
    name_column: int
    signature: str
    """The definition's head (up to its body), whitespace collapsed."""
    doc: str = ""
    """Docstring or the comment right above the definition, markers stripped."""
    container: str = ""
    """Qualified name of the enclosing definition; empty at the top level."""


@dataclass(frozen=True)
class Import:
    path: str
    module: str
    names: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Reference:
    """An identifier used in the file (not the name of a definition)."""

    name: str
    line: int
    column: int


@dataclass(frozen=True)
class FileIndex:
    path: str
    language: str
    content_hash: str
    symbols: tuple[Symbol, ...]
    imports: tuple[Import, ...]
    references: tuple[Reference, ...] = ()
    has_errors: bool = False
    """tree-sitter had to recover from syntax errors; what it recovered is still here."""


SymbolRow = tuple[str, str, str, str, int, int, int, int, int, int, str, str, str]
"""A definition as the store keeps it: name, lowercased name, qualified name, kind, line,
column, end line, end column, name line, name column, signature, doc, container."""
ImportRow = tuple[str, str, int]
"""An import as the store keeps it: module, imported names joined by newlines, line."""


@dataclass(frozen=True)
class FileRows:
    """A file's index as plain tuples, the store's rows: what a parser process sends back
    (about a quarter of the pickling cost of `FileIndex`, and no `Symbol` to build)."""

    path: str
    language: str
    content_hash: str
    symbols: list[SymbolRow]
    imports: list[ImportRow]
    has_errors: bool = False


def parse(source: bytes, spec: LanguageSpec) -> ts.Tree:
    return grammar(spec).parser().parse(source)


def extract(
    path: str,
    source: bytes,
    spec: LanguageSpec,
    *,
    content_hash: str = "",
    references: bool = False,
    tree: ts.Tree | None = None,
) -> FileIndex:
    """Definitions and imports of `source` (UTF-8); identifier references when asked."""
    g = grammar(spec)
    if tree is None:
        tree = g.parser().parse(source)
    root = tree.root_node
    ctx = _Ctx(path, source, spec.name, spec.clauses)
    rows, def_names, imports = _collect(ctx, ts.QueryCursor(g.query).matches(root))
    refs: tuple[Reference, ...] = ()
    if references:
        refs = _references(ctx, g, root, def_names)
    lang = spec.name
    # A row (SymbolRow) holds Symbol's fields in the store's order, without path/language.
    return FileIndex(
        path=path,
        language=lang,
        content_hash=content_hash,
        symbols=tuple(
            Symbol(r[0], r[3], r[2], path, lang, *r[4:10], r[10], r[11], r[12]) for r in rows
        ),
        imports=tuple(Import(path, m, names, line) for m, names, line in imports),
        references=refs,
        has_errors=root.has_error,
    )


def extract_rows(path: str, source: bytes, spec: LanguageSpec, content_hash: str) -> FileRows:
    """What `extract` finds, as the store's rows (for bulk builds)."""
    g = grammar(spec)
    root = g.parser().parse(source).root_node
    ctx = _Ctx(path, source, spec.name, spec.clauses)
    rows, _, imports = _collect(ctx, ts.QueryCursor(g.query).matches(root))
    return FileRows(
        path,
        spec.name,
        content_hash,
        rows,
        [(m, "\n".join(names), line) for m, names, line in imports],
        root.has_error,
    )


def references_in(
    source: bytes, spec: LanguageSpec, start_line: int = 0, end_line: int | None = None
) -> tuple[Reference, ...]:
    """Identifiers used between two lines (0-based, end exclusive): what is near the cursor."""
    g = grammar(spec)
    root = g.parser().parse(source).root_node
    ctx = _Ctx("", source, spec.name)
    cursor = ts.QueryCursor(g.query)
    def_names = {
        n.start_byte
        for _, caps in cursor.matches(root)
        for n in caps.get("name", ())
        if any(k.startswith("definition.") for k in caps)
    }
    end = (end_line if end_line is not None else root.end_point[0] + 1, 0)
    return _references(ctx, g, root, def_names, (start_line, 0), end)


class _Ctx:
    __slots__ = ("ascii", "clauses", "language", "path", "source")

    def __init__(self, path: str, source: bytes, language: str, clauses: bool = False) -> None:
        self.path = path
        self.clauses = clauses
        self.source = source
        self.language = language
        self.ascii = source.isascii()

    def text(self, node: ts.Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def col(self, point: ts.Point, byte: int) -> int:
        if self.ascii:
            return point[1]
        return len(self.source[byte - point[1] : byte].decode("utf-8", "replace"))


def _collect(
    ctx: _Ctx, matches
) -> tuple[list[SymbolRow], set[int], list[tuple[str, tuple[str, ...], int]]]:
    # One definition per node; when several patterns match it, the first pattern in the
    # query file wins (patterns go from specific to general).
    found: dict[tuple[int, int], tuple[int, str, ts.Node, ts.Node, str]] = {}
    import_groups: dict[int, list] = {}
    for pattern, caps in matches:
        imp = caps.get("import")
        if imp:
            group = import_groups.setdefault(imp[0].start_byte, [imp[0], [], []])
            group[1].extend(caps.get("import.module", ()))
            group[2].extend(caps.get("import.name", ()))
            continue
        names = caps.get("name")
        if not names:
            continue
        kind = ""
        node = None
        for key, nodes in caps.items():
            if key.startswith("definition."):
                kind = key[11:]
                node = nodes[0]
                break
            if key == "scope":
                kind = "scope"
                node = nodes[0]
        if node is None:
            continue
        key = (node.start_byte, node.end_byte)
        old = found.get(key)
        if old is not None and old[0] <= pattern:
            continue
        receiver = caps.get("receiver")
        recv = _type_name(ctx.text(receiver[0])) if receiver else ""
        found[key] = (pattern, kind, node, names[0], recv)
    defs = sorted(
        ((k[0], -k[1], kind, node, name, recv) for k, (_, kind, node, name, recv) in found.items()),
        key=lambda d: (d[0], d[1]),
    )

    source = ctx.source
    ascii_ = ctx.ascii
    python = ctx.language == "python"
    rows: list[SymbolRow] = []
    def_names: set[int] = set()
    stack: list[tuple[int, str, str]] = []  # (end_byte, qualified name, kind)
    for start, neg_end, kind, node, name_node, recv in defs:
        while stack and stack[-1][0] <= start:
            stack.pop()
        name_start = name_node.start_byte
        name = source[name_start : name_node.end_byte].decode("utf-8", "replace")
        if kind == "scope":
            name = _type_name(name)
        if recv:
            container, parent_kind = recv, "class"
        elif stack:
            container, parent_kind = stack[-1][1], stack[-1][2]
        else:
            container, parent_kind = "", ""
        if kind == "function" and parent_kind in METHOD_PARENTS:
            kind = "method"
        qualified = f"{container}.{name}" if container else name
        if kind not in _NOT_SCOPES:
            stack.append((-neg_end, qualified, kind))
        if kind == "scope":
            continue
        if kind == "constant" and python and not name.isupper():
            kind = "variable"  # Python has no `const`: a module-level UPPER_CASE name is one
        def_names.add(name_start)
        sp, ep, np_ = node.start_point, node.end_point, name_node.start_point
        body = node.child_by_field_name("body")
        doc = _docstring(ctx, body) if python else ""
        if ascii_:
            cols = (sp[1], ep[1], np_[1])
        else:
            cols = (ctx.col(sp, start), ctx.col(ep, -neg_end), ctx.col(np_, name_start))
        rows.append(
            (
                name, name.lower(), qualified, kind,
                sp[0], cols[0], ep[0], cols[1], np_[0], cols[2],
                _signature(ctx, node, body),
                doc or _leading_comment(ctx, node),
                container,
            )
        )  # fmt: skip
    if ctx.clauses:
        rows = _merge_clauses(rows)
    imports: list[tuple[str, tuple[str, ...], int]] = []
    for node, mods, names in sorted(import_groups.values(), key=lambda g: g[0].start_byte):
        modules = list(dict.fromkeys(_unquote(ctx.text(m)) for m in mods))
        if not modules:
            text = _WS.sub(" ", ctx.text(node)).removeprefix("import ")
            modules = [text.rstrip(";").strip()[:200]]
        imported = tuple(dict.fromkeys(_unquote(ctx.text(n)) for n in names))
        line = node.start_point[0]
        imports.extend((m, imported, line) for m in modules)
    return rows, def_names, imports


def _merge_clauses(rows: list[SymbolRow]) -> list[SymbolRow]:
    """Adjacent definitions of one name and kind become the first, spanning them all."""
    out: list[SymbolRow] = []
    for r in rows:
        prev = out[-1] if out else None
        # qualified name [2], kind [3], line [4], end line [6], end column [7]
        if prev is not None and prev[2] == r[2] and prev[3] == r[3] and r[4] >= prev[6]:
            out[-1] = (*prev[:6], r[6], r[7], *prev[8:])  # type: ignore[assignment]  # same shape
            continue
        out.append(r)
    return out


def _type_name(text: str) -> str:
    """`*pkg.Server[T]` -> `Server`: the bare type a receiver or impl names."""
    text = text.lstrip("*&(").strip()
    text = text.split("<", 1)[0].split("[", 1)[0]
    for sep in ("::", "."):
        text = text.rsplit(sep, 1)[-1]
    return text.strip()


def _unquote(text: str) -> str:
    return _WS.sub("", text.strip("\"'`<>"))


def _signature(ctx: _Ctx, node: ts.Node, body: ts.Node | None) -> str:
    """`body`: the node's `body` field (None when it has none)."""
    if body is None:
        for child in node.named_children:
            if child.type in _BODY_TYPES:
                body = child
                break
    start = node.start_byte
    if body is not None and body.start_byte > start:
        end = body.start_byte
        # A comment between the head and the body (`def f():  # why`) is not signature.
        prev = body.prev_sibling
        while prev is not None and "comment" in prev.type and prev.start_byte > start:
            end = prev.start_byte
            prev = prev.prev_sibling
    else:
        end = ctx.source.find(b"\n", start, node.end_byte)
        if end < 0:
            end = node.end_byte
    end = min(end, start + MAX_SIGNATURE * 4)
    # split/join: what _WS.sub(" ", ...).strip() does (same whitespace), at a third the cost
    head = " ".join(ctx.source[start:end].decode("utf-8", "replace").split())
    head = head.rstrip("{:=").rstrip()
    if len(head) > MAX_SIGNATURE:
        head = head[: MAX_SIGNATURE - 1] + "…"
    return head


def _docstring(ctx: _Ctx, body: ts.Node | None) -> str:
    """The docstring opening a Python definition's `body`."""
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_child(0)
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return ""
    s = first.named_child(0)
    if s is None or s.type != "string":
        return ""
    raw = ctx.text(s)
    raw = raw.lstrip("rRbBuUfF")
    for q in ('"""', "'''", '"', "'"):
        if raw.startswith(q) and raw.endswith(q) and len(raw) >= 2 * len(q):
            raw = raw[len(q) : -len(q)]
            break
    return _clip(_dedent(raw))


def _leading_comment(ctx: _Ctx, node: ts.Node) -> str:
    parent = node.parent
    if parent is not None and parent.type in _WRAPPERS:
        node = parent
    lines: list[str] = []
    row = node.start_point[0]
    prev = node.prev_sibling
    while prev is not None and prev.type in _SKIP_BACK:
        row = prev.start_point[0]
        prev = prev.prev_sibling
    while prev is not None and "comment" in prev.type and prev.end_point[0] >= row - 1:
        # A comment that ends a line of code belongs to that code, not to us.
        before = ctx.source.rfind(b"\n", 0, prev.start_byte)
        if ctx.source[before + 1 : prev.start_byte].strip():
            break
        lines[:0] = ctx.text(prev).splitlines()
        row = prev.start_point[0]
        prev = prev.prev_sibling
    if not lines:
        return ""
    cleaned = [_COMMENT_MARK.sub("", ln).rstrip() for ln in lines]
    if cleaned and cleaned[-1].endswith("*/"):
        cleaned[-1] = cleaned[-1][:-2].rstrip()
    return _clip("\n".join(cleaned).strip())


def _dedent(text: str) -> str:
    lines = text.expandtabs().splitlines()
    if not lines:
        return ""
    indents = [len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join([lines[0].strip(), *(ln[cut:].rstrip() for ln in lines[1:])]).strip()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DOC else text[: MAX_DOC - 1] + "…"


def _references(
    ctx: _Ctx,
    g: Grammar,
    root: ts.Node,
    def_names: set[int],
    start: tuple[int, int] | None = None,
    end: tuple[int, int] | None = None,
) -> tuple[Reference, ...]:
    if g.references is None:
        return ()
    cursor = ts.QueryCursor(g.references)
    if start is not None and end is not None:
        cursor.set_point_range(start, end)
    out = []
    for node in cursor.captures(root).get("ref", ()):
        if node.start_byte in def_names or node.child_count:
            continue
        p = node.start_point
        out.append(Reference(ctx.text(node), p[0], ctx.col(p, node.start_byte)))
    out.sort(key=lambda r: (r.line, r.column))
    return tuple(out)
