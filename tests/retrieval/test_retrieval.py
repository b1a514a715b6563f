"""Retrieval on real multi-file repositories (Python, TypeScript, Go) and a real index:
what the cursor needs reaches the context, with the right reason, within the budget; what
must stay private never does."""

from __future__ import annotations

import pytest

from indexing.retrieval import Document, RetrievalOptions
from tests.retrieval.conftest import at, forbidden


def _retrieve(retriever, root, rel, offset, **kw):
    text = (root / rel).read_text(encoding="utf-8")
    return retriever.retrieve(rel, text[:offset], text[offset:], **kw)


def _offset(root, rel, marker, nth=1):
    return at((root / rel).read_text(encoding="utf-8"), marker, nth)


CALL_SITES = [
    pytest.param(
        "py_shop", "shop/cart.py", "apply_discount(", "shop/pricing.py", "def apply_discount(",
        "definition of `apply_discount` called at the cursor (from `shop.pricing`",
        id="python-from-import",
    ),
    pytest.param(
        "py_shop", "shop/cart.py", "inventory.reserve(", "shop/inventory.py", "def reserve(",
        "definition of `reserve` called at the cursor (module `shop.inventory`",
        id="python-module-alias",
    ),
    pytest.param(
        "py_shop", "shop/cart.py", "Line(slugify(", "shop/util/strings.py", "def slugify(",
        "definition of `slugify` called at the cursor (from `shop.util`",
        id="python-package-reexport",
    ),
    pytest.param(
        "py_shop", "shop/cart.py", "self.taxes.with_tax(", "shop/pricing.py",
        "def with_tax(self",
        "definition of `TaxTable.with_tax` called at the cursor (`self.taxes` is a `TaxTable`)",
        id="python-attribute-type",
    ),
    pytest.param(
        "ts_shop", "src/cart.ts", "return formatPrice(", "src/util/format.ts",
        "export function formatPrice(",
        "definition of `formatPrice` called at the cursor (from `./util`",
        id="typescript-barrel-index",
    ),
    pytest.param(
        "ts_shop", "src/cart.ts", "tax.vatFor(", "src/tax.ts", "export function vatFor(",
        "definition of `vatFor` called at the cursor (from `./tax`",
        id="typescript-namespace-import",
    ),
    pytest.param(
        "go_shop", "cmd/shop/main.go", "store.Open(", "store/store.go", "func Open(",
        "definition of `Open` called at the cursor (package `example.com/shop/store`",
        id="go-import-path",
    ),
    pytest.param(
        "go_shop", "store/store.go", "item := NewItem(", "store/item.go", "func NewItem(",
        "definition of `NewItem` called at the cursor (same package)",
        id="go-same-package",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "rel", "marker", "target", "head", "reason"), CALL_SITES)
def test_call_site_gets_the_callees_definition_with_its_reason(
    indexed, fixture, rel, marker, target, head, reason
):
    root, _, retriever = indexed(fixture)
    result = _retrieve(retriever, root, rel, _offset(root, rel, marker))
    hits = [
        c for c in result.chunks if c.path == target and head in c.text and c.source == "definition"
    ]
    assert hits, [(c.path, c.reason) for c in result.chunks]
    chunk = hits[0]
    assert chunk.reason.startswith(reason), chunk.reason
    # The line range is where that text is in the file.
    lines = (root / target).read_text(encoding="utf-8").splitlines()
    assert head in "\n".join(lines[chunk.start_line : chunk.end_line + 1])
    # It is the best-ranked chunk, and the budget holds.
    assert chunk.score == max(c.score for c in result.chunks)
    assert result.used_tokens == sum(c.tokens for c in result.chunks) <= result.budget_tokens


@pytest.mark.parametrize("fixture", ["py_shop", "ts_shop", "go_shop"])
def test_secrets_ignored_and_excluded_files_never_appear(indexed, fixture):
    root, _, retriever = indexed(fixture)
    (root / "vendor").mkdir()
    (root / "vendor" / "copy.py").write_text("def apply_discount(p, q):\n    return p\n")
    sources = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    # The forbidden files are open in the editor too, with text very like the cursor's.
    open_docs = [
        Document(str(root / rel), (root / rel).read_text(encoding="utf-8"))
        for rel in sources
        if forbidden(rel) or rel.startswith("vendor/")
    ]
    options = RetrievalOptions(exclude_globs=("vendor/",))
    seen = set()
    for rel in sources:
        if forbidden(rel) or rel.startswith("vendor/") or "." not in rel[1:]:
            continue
        text = (root / rel).read_text(encoding="utf-8")
        for offset in range(0, len(text), max(1, len(text) // 7)):
            result = retriever.retrieve(
                rel, text[:offset], text[offset:], options=options, open_documents=open_docs
            )
            seen |= {c.path for c in result.chunks}
    assert seen, "no context at all: the test would prove nothing"
    assert not [p for p in seen if forbidden(p) or p.startswith("vendor/")], seen


def test_a_secret_file_gets_no_context_and_noai_turns_it_off(indexed):
    root, _, retriever = indexed("py_shop")
    env = (root / ".env").read_text()
    assert not retriever.retrieve(".env", env, "").chunks
    rel = "shop/cart.py"
    offset = _offset(root, rel, "apply_discount(")
    assert _retrieve(retriever, root, rel, offset).chunks
    (root / ".noai").write_text("")
    result = _retrieve(retriever, root, rel, offset)
    assert not result.chunks and ".noai" in result.note


def test_small_budget_keeps_the_callee_and_drops_the_rest(indexed):
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    offset = _offset(root, rel, "apply_discount(")
    full = _retrieve(retriever, root, rel, offset)
    callee = next(c for c in full.chunks if "def apply_discount(" in c.text)
    small = _retrieve(
        retriever, root, rel, offset, options=RetrievalOptions(budget_tokens=callee.tokens + 5)
    )
    assert [c.path for c in small.chunks] == ["shop/pricing.py"]
    assert "def apply_discount(" in small.chunks[0].text
    assert small.used_tokens <= callee.tokens + 5 < full.used_tokens


def test_budget_is_counted_in_the_given_tokens(indexed):
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    offset = _offset(root, rel, "apply_discount(")

    def words(text: str) -> int:  # a "tokenizer" whose counts are easy to check
        return len(text.split())

    for budget in (40, 120, 400):
        result = _retrieve(
            retriever,
            root,
            rel,
            offset,
            options=RetrievalOptions(budget_tokens=budget),
            count_tokens=words,
            tokenizer="words",
        )
        assert result.chunks
        for c in result.chunks:
            assert c.tokens == words(f"{c.path}\n{c.text}") + 1
        assert result.used_tokens <= budget


def test_long_definitions_are_cut_to_their_head(indexed):
    root, _, retriever = indexed("py_shop")
    body = "".join(f"    total += {i}\n" for i in range(200))
    (root / "shop" / "big.py").write_text(
        f'def crunch(values):\n    """Adds a lot."""\n    total = 0\n{body}    return total\n'
    )
    (root / "shop" / "use.py").write_text("from shop.big import crunch\n\ncrunch(")
    retriever.index.update_file(root / "shop" / "big.py")
    text = (root / "shop" / "use.py").read_text()
    result = retriever.retrieve("shop/use.py", text, "")
    chunk = next(c for c in result.chunks if c.path == "shop/big.py")
    assert chunk.text.startswith('def crunch(values):\n    """Adds a lot."""\n')
    assert chunk.text.rstrip().endswith("...") and "total += 199" not in chunk.text
    assert chunk.end_line < 200


@pytest.mark.parametrize(
    ("options", "absent"),
    [
        pytest.param(RetrievalOptions(definitions=False), "definition", id="no-definitions"),
        pytest.param(RetrievalOptions(imports=False), "import", id="no-imports"),
        pytest.param(RetrievalOptions(similar=False), "similar", id="no-similar"),
    ],
)
def test_each_source_can_be_turned_off(indexed, options, absent):
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    offset = _offset(root, rel, "inventory.reserve(")
    open_docs = [Document(str(root / "shop" / "pricing.py"), _SIMILAR)]
    on = _retrieve(retriever, root, rel, offset, open_documents=open_docs)
    assert {c.source for c in on.chunks} == {"definition", "import", "similar"}
    off = _retrieve(retriever, root, rel, offset, options=options, open_documents=open_docs)
    assert off.chunks and absent not in {c.source for c in off.chunks}


# An open buffer whose last lines look like the code above `inventory.reserve(`.
_SIMILAR = """def unrelated():
    return 1


def add_many(self, sku: str, price: float, quantity: int = 1) -> None:
    if inventory.reserve(sku, quantity):
        self.lines.append(Line(slugify(sku), price, quantity))
"""


def test_similar_code_comes_from_open_documents_with_its_reason(indexed):
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    offset = _offset(root, rel, "inventory.reserve(")
    docs = [Document(str(root / "shop" / "draft.py"), _SIMILAR)]
    result = _retrieve(retriever, root, rel, offset, open_documents=docs)
    similar = [c for c in result.chunks if c.source == "similar"]
    assert [c.path for c in similar] == ["shop/draft.py"]
    assert "def add_many" in similar[0].text
    assert "shared words" in similar[0].reason and "open in the editor" in similar[0].reason


def test_unsaved_buffer_text_is_what_the_context_shows(indexed):
    """The definition as the open editor has it, not as it is on disk."""
    root, _, retriever = indexed("py_shop")
    pricing = (root / "shop" / "pricing.py").read_text()
    edited = pricing.replace(
        "percent: float) -> float:", "percent: float, *, cap: float) -> float:"
    )
    rel = "shop/cart.py"
    offset = _offset(root, rel, "apply_discount(")
    docs = [Document(str(root / "shop" / "pricing.py"), edited)]
    result = _retrieve(retriever, root, rel, offset, open_documents=docs)
    chunk = next(c for c in result.chunks if "def apply_discount(" in c.text)
    assert "cap: float" in chunk.text


def test_a_session_keeps_earlier_chunks_in_place_while_typing(indexed):
    """Typing a function line by line: each request's chunks start with the previous
    request's (so the prompt's head, and the model's KV cache of it, stay valid)."""
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    text = (root / rel).read_text()
    cut = text.index("    def total(")
    typed = [
        "    def total(self, region: str, discount: float = 0.0) -> float:\n",
        "        price = apply_discount(self.subtotal(), discount)\n",
        "        inventory.restock('tea', 1)\n",
        "        return self.taxes.with_tax(price, region)\n",
    ]
    before = text[:cut]
    previous = None
    for i in range(len(typed) + 1):
        prefix = before + "".join(typed[:i])
        result = retriever.retrieve(rel, prefix, "", session="cart")
        keys = [(c.path, c.start_line, c.end_line) for c in result.chunks]
        if previous is not None:
            kept = [k for k in keys if k in previous]
            assert keys[: len(kept)] == kept, (previous, keys)  # old ones first, in order
            assert result.kept == len(kept)
        previous = keys
    assert ("shop/inventory.py", 14, 15) in previous or any(
        "def restock(" in c.text for c in result.chunks
    )


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("\x00\x01\x02(((((", ")", id="control-characters"),
        pytest.param("x = '" + "(" * 5000, "", id="unbalanced"),
        pytest.param("def f(:\n  \ud800 = g(", "", id="lone-surrogate"),
        pytest.param("a" * 200_000 + "(", "", id="one-huge-line"),
        pytest.param("from . import (\n" * 300, "", id="broken-imports"),
        pytest.param("import \nfrom  import x\nfrom ... import *\nx.(", "", id="bad-syntax"),
    ],
)
def test_bad_input_gives_an_answer_not_an_error(indexed, prefix, suffix):
    _, _, retriever = indexed("py_shop")
    for path in ("shop/cart.py", "shop/new.py", "/elsewhere/x.py", "../x.ts", "no-extension"):
        result = retriever.retrieve(path, prefix, suffix, session=path)
        assert result.used_tokens <= result.budget_tokens
        assert result.note != "retrieval failed"


def test_without_an_index_only_open_documents_are_used(repo):
    from indexing.retrieval import Retriever

    root = repo("py_shop")
    retriever = Retriever(None, root)
    text = (root / "shop" / "cart.py").read_text()
    offset = at(text, "inventory.reserve(")
    docs = [Document(str(root / "shop" / "draft.py"), _SIMILAR)]
    result = retriever.retrieve("shop/cart.py", text[:offset], text[offset:], open_documents=docs)
    assert [c.source for c in result.chunks] == ["similar"]


def test_a_file_over_the_cap_completes_without_context_and_says_why(indexed):
    """A generated 3 MB file would be parsed whole on every keystroke: it gets no context,
    the note tells the user why, and as an open buffer it does not feed similar code."""
    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    text = (root / rel).read_text()
    offset = at(text, "apply_discount(")
    generated = "TABLE = [\n" + "    (1, 2, 3),\n" * 200_000 + "]\n"
    result = retriever.retrieve(rel, generated + text[:offset], text[offset:])
    assert result.chunks == () and "too large for context" in result.note

    big_twin = Document(str(root / "shop" / "draft.py"), _SIMILAR + generated)
    small_twin = Document(str(root / "shop" / "draft2.py"), _SIMILAR)
    for docs, similar in (([big_twin], []), ([small_twin], ["shop/draft2.py"])):
        result = _retrieve(retriever, root, rel, offset, open_documents=docs)
        assert [c.path for c in result.chunks if c.source == "similar"] == similar


def test_once_the_ratio_is_learnt_retrieval_does_not_wait_for_the_tokenizer(indexed):
    """The first chunks are counted exactly and teach the tokenizer's characters per token;
    from then on retrieval estimates (a little pessimistically) and makes no tokenizer call,
    and what it picks still fits the budget when counted exactly."""
    from indexing.budget import SETTLED

    root, _, retriever = indexed("py_shop")
    rel = "shop/cart.py"
    offset = _offset(root, rel, "apply_discount(")
    calls = []

    def count(text: str) -> int:  # about 3.5 characters per token, like a code tokenizer
        calls.append(text)
        return max(1, round(len(text) / 3.5))

    options = RetrievalOptions(budget_tokens=300)
    seen = []
    for _ in range(SETTLED):
        before = len(calls)
        retriever.clear_caches()  # every request counts its chunks afresh while learning
        result = _retrieve(
            retriever, root, rel, offset, options=options, count_tokens=count, tokenizer="t"
        )
        seen.append(len(calls) - before)
    assert seen[0] > 0 and seen[-1] == 0, seen
    assert result.chunks and result.used_tokens <= 300
    exact = sum(count(f"{c.path}\n{c.text}") + 1 for c in result.chunks)
    assert exact <= 300, (exact, result.used_tokens)
