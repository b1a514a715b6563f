"""Stop rules: end of block, never re-emit the suffix, closers the suffix already has."""

from __future__ import annotations

import pytest

from inference.postprocess import StopRules, _repetition


def run(prefix: str, suffix: str, generated: str, multiline: bool = True) -> tuple[str, str]:
    """Feed `generated` character by character as the decoder would; return (text, reason)."""
    rules = StopRules(prefix, suffix, multiline)
    for i in range(1, len(generated) + 1):
        stop, cut, why = rules.check(generated[:i])
        if stop:
            return rules.finish(generated[:i][:cut]), why
    return rules.finish(generated), "max tokens"


@pytest.mark.parametrize(
    ("prefix", "suffix", "generated", "text", "reason"),
    [
        pytest.param(
            "def f(x):\n    if x:\n        ",
            "\n",
            "return 1\n    return 2\nprint(1)\n",
            "return 1\n    return 2",
            "end of block",
            id="stops-when-code-leaves-the-function",
        ),
        pytest.param(
            "print(foo(",
            ")\n",
            "a, b)\nnext = 1",
            "a, b",
            "reached suffix",
            id="does-not-repeat-the-closing-paren",
        ),
        pytest.param(
            "x = f(",
            ")\n",
            "g(a))",
            "g(a)",
            "reached suffix",
            id="own-brackets-are-not-the-suffix",
        ),
        pytest.param(
            "def f():\n    ",
            "\n    return total\n",
            "total = 0\n    return total\n",
            "total = 0",
            "reached suffix",
            id="does-not-repeat-the-next-line",
        ),
        pytest.param(
            "name = ",
            "",
            "'focal'\nother = 2\n",
            "'focal'\nother = 2",
            "max tokens",
            id="top-level-multiline-runs-on",
        ),
        pytest.param(
            "value = comp",
            " + 1\n",
            "ute(x)\ny = 2",
            "ute(x)",
            "end of line",
            id="mid-line-with-code-after-is-single-line",
        ),
        pytest.param(
            "a = 1\n",
            "",
            "b = 2\n\n\n\nc = 3",
            "b = 2",
            "end of block",
            id="blank-lines-end-a-top-level-completion",
        ),
    ],
)
def test_stop_rules(prefix: str, suffix: str, generated: str, text: str, reason: str) -> None:
    assert run(prefix, suffix, generated) == (text, reason)


def test_single_line_mode_stops_at_newline() -> None:
    assert run("x = ", "", "1\ny = 2", multiline=False) == ("1", "end of line")


@pytest.mark.parametrize(
    ("prefix", "generated", "text"),
    [
        pytest.param(
            "def f():\n    ", "total = 0\n    return total", "total = 0", id="suffix-line"
        ),
        pytest.param("def f(x):\n    if x:\n        ", "y = 1\nprint(y)", "y = 1", id="dedented"),
        pytest.param(
            "def f():\n    ", "total = 0\n    total += 1", "total = 0\n    total += 1", id="kept"
        ),
    ],
)
def test_last_line_is_judged_when_generation_ends_on_it(prefix: str, generated: str, text: str):
    # Generation stopped (end of text, max tokens) without a newline after the last line:
    # that line must still not repeat the suffix or leave the block.
    assert run(prefix, "\n    return total\n", generated) == (text, "max tokens")


@pytest.mark.parametrize(
    ("prefix", "generated", "text", "reason"),
    [
        pytest.param(
            "class Help:\n    def usage(self, heading):\n        self.wr",
            "ite_usage(heading, self.prog)\n"
            "        self.write_usage(heading, self.prog)\n"
            "        self.write_usage(heading, self.prog)\n",
            "ite_usage(heading, self.prog)",
            "repetition",
            id="the-issue-case-one-call-three-times-kept-once",
        ),
        pytest.param(
            "def f():\n    ",
            "log('a')\n    log('b')\n    log('b')\n    log('b')\n",
            "log('a')\n    log('b')",
            "repetition",
            id="repeat-after-a-different-line",
        ),
        pytest.param(
            "def f():\n    ",
            "x.step()\n\n    x.step()\n",
            "x.step()",
            "repetition",
            id="a-blank-line-between-copies-is-still-a-repeat",
        ),
        pytest.param(
            "def f():\n    ",
            "a = read()\n    b = a + 1\n    a = read()\n    b = a + 1\n    a = read()\n",
            "a = read()\n    b = a + 1",
            "repetition",
            id="a-repeated-pair-of-lines",
        ),
        pytest.param(
            "def f():\n    ",
            "a = 1\n    b = 2\n    c = 3\n",
            "a = 1\n    b = 2\n    c = 3",
            "max tokens",
            id="similar-lines-are-not-a-repeat",
        ),
        pytest.param(
            "def f():\n    ",
            "self.x = x\n    self.y = y\n    self.x = x + y\n",
            "self.x = x\n    self.y = y\n    self.x = x + y",
            "max tokens",
            id="same-start-different-line",
        ),
        pytest.param(
            "function f() {\n  if (a) {\n    if (b) {\n      ",
            "go();\n    }\n  }\n}\n",
            "go();\n    }",
            "end of block",
            id="closers-at-decreasing-depth-end-the-block-not-a-repeat",
        ),
        pytest.param(
            "x = [\n    [\n        ",
            "1,\n        ]\n        ]\n",
            "1,\n        ]\n        ]",
            "max tokens",
            id="punctuation-lines-are-left-to-other-rules",
        ),
        pytest.param(
            "def f():\n    ",
            "a = 1\n    b = 1\n    a = 1\n    c = 2\n",
            "a = 1\n    b = 1\n    a = 1\n    c = 2",
            "max tokens",
            id="a-line-again-later-is-not-a-run",
        ),
    ],
)
def test_repetition_stops_after_the_first_copy(
    prefix: str, generated: str, text: str, reason: str
) -> None:
    assert run(prefix, "", generated) == (text, reason)


def test_repetition_is_judged_on_the_last_line_too() -> None:
    # Generation ended (max tokens) right after the second copy, with no newline after it.
    assert run("def f():\n    ", "", "go()\n    go()") == ("go()", "max tokens")


@pytest.mark.parametrize(
    ("first", "rest", "where"),
    [
        pytest.param("      go();", ["    }", "  }", "}"], None, id="closers-by-depth"),
        pytest.param("x = 1", ["}", "}"], None, id="no-word-no-repeat"),
        pytest.param("x = 1", ["", "x = 1"], 2, id="index-counts-blank-lines"),
        pytest.param("a", ["b", "c", "a", "b", "c"], 3, id="triple"),
        pytest.param("a", ["b", "c", "d", "a", "b", "c", "d"], None, id="longer-blocks-ignored"),
    ],
)
def test_repetition_finds_the_second_copy(first: str, rest: list[str], where: int | None):
    assert _repetition(first, rest) == where
