"""Blame and hover: current lines attributed to accepted suggestions by their content."""

from __future__ import annotations

import pytest

from lsp_server.ledger import Ledger, blame
from lsp_server.ledger.hover import origin_for_line, origin_markdown
from lsp_server.ledger.lines import FULL, HEAD, TAIL, is_trivial, marks, normalize
from tests.ledger.conftest import DIGEST_B, Accept, make_suggestion

DOC = "file:///work/app.py"

ACCEPTED = (
    "def total_price(items, tax_rate):\n"
    "    subtotal = sum(item.price for item in items)\n"
    "    return round(subtotal * (1 + tax_rate), 2)\n"
)

BEFORE = "import math\n\n\n" + ACCEPTED + "\n\ndef main():\n    print('hi')\n"


def attributed(ledger: Ledger, text: str, doc: str = DOC) -> dict[int, str]:
    return {a.line: a.suggestion_id for a in blame(ledger, doc, text)}


@pytest.mark.parametrize(
    ("text", "expected_lines"),
    [
        pytest.param(BEFORE, [3, 4, 5], id="as-accepted"),
        pytest.param(
            "import math\nimport os  # unrelated\n\n\n"
            + ACCEPTED
            + "\n\ndef main():\n    print('hello, world')\n    return 0\n",
            [4, 5, 6],
            id="unrelated-edits",
        ),
        pytest.param(
            "import math\n\ndef main():\n    print('hi')\n\n\n" + ACCEPTED,
            [6, 7, 8],
            id="moved-below",
        ),
        pytest.param(
            "class Cart:\n" + "".join("    " + line + "\n" for line in ACCEPTED.splitlines()),
            [1, 2, 3],
            id="moved-and-reindented",
        ),
        pytest.param(
            BEFORE.replace("sum(item.price for item in items)", "sum(i.price for i in items)"),
            [3, 5],
            id="one-line-edited",
        ),
        pytest.param("import math\n", [], id="all-gone"),
    ],
)
def test_blame_follows_content(
    ledger: Ledger, accept: Accept, text: str, expected_lines: list[int]
) -> None:
    s = accept(ACCEPTED, line=3)
    assert attributed(ledger, text) == dict.fromkeys(expected_lines, s.id)


def test_latest_accepted_wins_and_fields(ledger: Ledger, accept: Accept) -> None:
    old = accept("    retries = config.get('retries', 3)\n")
    new = accept("    retries = config.get('retries', 3)\n", model="Qwen2.5-Coder", digest=DIGEST_B)
    (a,) = blame(ledger, DOC, "def f(config):\n    retries = config.get('retries', 3)\n")
    assert a.suggestion_id == new.id != old.id
    assert (a.line, a.model_name, a.model_digest, a.task, a.partial) == (
        1,
        "Qwen2.5-Coder",
        DIGEST_B,
        "inline",
        False,
    )
    assert a.document == DOC and a.accepted_at.startswith("20")


def test_same_document_preferred(ledger: Ledger, accept: Accept) -> None:
    here = accept("result = parse_config(path)\n", doc=DOC)
    later = accept("result = parse_config(path)\n", doc="file:///work/other.py")
    assert attributed(ledger, "result = parse_config(path)\n") == {0: here.id}
    # In a third file there is no same-document match: the latest wins.
    third = "file:///work/third.py"
    assert attributed(ledger, "result = parse_config(path)\n", third) == {0: later.id}


def test_only_accepted_suggestions_count(ledger: Ledger) -> None:
    for kind in ("shown", "rejected", "superseded", "cancelled"):
        s = make_suggestion(f"never_used_{kind} = compute()\n")
        ledger.record_suggestion(s, "inline", DOC, 0, 0, "")
        ledger.record_event(s.id, kind)
    applied = make_suggestion("fixed_value = safe_divide(a, b)\n")
    ledger.record_suggestion(applied, "fix", DOC, 0, 0, "")
    ledger.record_event(applied.id, "applied", DOC)
    text = "never_used_shown = compute()\nnever_used_rejected = compute()\n"
    text += "fixed_value = safe_divide(a, b)\n"
    assert attributed(ledger, text) == {2: applied.id}


def test_completion_that_started_mid_line(ledger: Ledger, accept: Accept) -> None:
    s = accept("compute_total(order.items, tax)\n    log.info('done')", line=5, character=12)
    text = (
        "def checkout(order):\n"
        "    totals = compute_total(order.items, tax)\n"  # the user typed `totals = `
        "    log.info('done')  # checked\n"  # the user appended a comment after the suggestion
        "    other = compute_total(order.items, tax + 1)\n"
    )
    found = {a.line: (a.suggestion_id, a.partial) for a in blame(ledger, DOC, text)}
    assert found == {1: (s.id, True), 2: (s.id, True)}


def test_auto_closed_bracket_after_a_completion(ledger: Ledger, accept: Accept) -> None:
    s = accept("order.items, tax_rate", character=18)
    text = "    total = price(order.items, tax_rate)\n"
    assert attributed(ledger, text) == {0: s.id}
    # A fragment starts at a word boundary: `order` is not the end of `border`.
    assert attributed(ledger, "    total = price(border.items, tax_rate)\n") == {}


def test_event_text_is_what_counts(ledger: Ledger) -> None:
    """A partial accept names the text that went in; the rest of the suggestion is not blamed."""
    s = make_suggestion("first_part = load(path)\nsecond_part = transform(first_part)\n")
    ledger.record_suggestion(s, "inline", DOC, 0, 0, "")
    ledger.record_event(
        s.id, "partially_accepted", DOC, (0, 0, 1, 0), text="first_part = load(path)\n"
    )
    text = "first_part = load(path)\nsecond_part = transform(first_part)\n"
    assert attributed(ledger, text) == {0: s.id}


@pytest.mark.parametrize(
    ("line", "trivial"),
    [
        pytest.param("", True, id="blank"),
        pytest.param("   }", True, id="brace"),
        pytest.param("]);", True, id="closers"),
        pytest.param("else:", True, id="else"),
        pytest.param("    return", True, id="bare-return"),
        pytest.param("pass", True, id="pass"),
        pytest.param("end", True, id="end"),
        pytest.param("# x", True, id="short-comment"),
        pytest.param("return x", False, id="return-value"),
        pytest.param("i += 1", False, id="statement"),
        pytest.param("foo()", False, id="call"),
    ],
)
def test_trivial_lines(line: str, trivial: bool) -> None:
    assert is_trivial(normalize(line)) is trivial


def test_trivial_lines_are_never_blamed(ledger: Ledger, accept: Accept) -> None:
    s = accept("if ready:\n    start_engine(now)\n}\n")
    assert attributed(ledger, "}\nif ready:\n    start_engine(now)\n}\n") == {1: s.id, 2: s.id}


def test_marks_kinds() -> None:
    kinds = [m.kind for m in marks("tail_part(x)\nmiddle_line = 1\nhead_part = 2", True)]
    assert kinds == [TAIL, FULL, HEAD]
    assert [m.kind for m in marks("whole_line = 1\n", False)] == [FULL]


def test_hover_for_line(ledger: Ledger, accept: Accept) -> None:
    s = accept(ACCEPTED, line=3)
    assert origin_for_line(ledger, DOC, BEFORE, 0) is None
    assert origin_for_line(ledger, DOC, BEFORE, 99) is None
    r = origin_for_line(ledger, DOC, BEFORE, 4)
    assert r is not None and r.id == s.id
    md = origin_markdown(r)
    assert md.startswith("✦ Written with Focal: inline completion suggested ")
    assert ", accepted " in md
    assert "**SmolLM2-135M** · Q4_1 · `sha256:a1a1a1a1`" in md
    assert "`util.py:4-10` — definition of `helper`" in md
    assert f"suggestion `{s.id}`" in md


def test_index_grows_with_new_acceptances(ledger: Ledger, accept: Accept) -> None:
    first = accept("alpha_value = read_alpha()\n")
    assert attributed(ledger, "alpha_value = read_alpha()\nbeta_value = read_beta()\n") == {
        0: first.id
    }
    second = accept("beta_value = read_beta()\n")
    assert attributed(ledger, "alpha_value = read_alpha()\nbeta_value = read_beta()\n") == {
        0: first.id,
        1: second.id,
    }


def test_crlf_and_lsp_line_numbers(ledger: Ledger, accept: Accept) -> None:
    s = accept("answer = compute_answer(42)\n")
    assert attributed(ledger, "# header\r\nanswer = compute_answer(42)\r\n") == {1: s.id}
