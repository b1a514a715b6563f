"""Judging a model's fix and shaping its commit message: what reaches the user's code."""

from __future__ import annotations

import pytest

from inference.rewrite import UnusableAnswer, accept_rewrite, minimal_edits
from inference.summarize import SummaryError, shape_message

REGION = "    def mean(self, xs):\n        total = sum(xs)\n        return total / len(x)\n"


def apply(original: str, rewrite: str) -> str:
    lines = original.splitlines(keepends=True)
    for e in reversed(minimal_edits(original, rewrite)):
        lines[e.start : e.end] = [e.text]
    return "".join(lines)


def test_fenced_answer_is_reindented_to_the_region():
    answer = (
        "Here you go:\n```python\ndef mean(self, xs):\n    total = sum(xs)\n"
        "    return total / len(xs)\n```\nHope it helps."
    )
    fixed = accept_rewrite(REGION, answer)
    assert fixed == REGION.replace("len(x)", "len(xs)")


def test_edits_touch_only_the_changed_line():
    fixed = REGION.replace("len(x)", "len(xs)")
    (edit,) = minimal_edits(REGION, fixed)
    assert (edit.start, edit.end) == (2, 3)
    assert edit.text == "        return total / len(xs)\n"
    assert apply(REGION, fixed) == fixed


def test_inserted_and_deleted_lines_are_separate_minimal_edits():
    fixed = "    def mean(self, xs):\n        if not xs:\n            return 0.0\n" + (
        "        return sum(xs) / len(xs)\n"
    )
    edits = minimal_edits(REGION, fixed)
    assert all(e.start >= 1 for e in edits)  # the signature line is never rewritten
    assert apply(REGION, fixed) == fixed


def test_crlf_documents_keep_crlf():
    region = REGION.replace("\n", "\r\n")
    fixed = accept_rewrite(region, "```\ndef mean(self, xs):\n    return sum(xs) / len(xs)\n```")
    assert fixed.count("\r\n") == 2 and "\n" not in fixed.replace("\r\n", "")


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "no code"),
        ("```python\n```", "no code"),
        (f"```\n{REGION}```", "no change"),
        ("```\nimport os\nprint(os.environ)\nwhile True: pass\n```", "does not resemble"),
        ("```\n" + "x = 1\n" * 200 + "```", "far longer"),
    ],
)
def test_unusable_answers_are_refused_with_a_reason(answer: str, reason: str):
    with pytest.raises(UnusableAnswer, match=reason):
        accept_rewrite(REGION, answer)


def test_region_at_end_of_file_without_newline_gets_none_added():
    fixed = accept_rewrite("x = len(y", "```\nx = len(y)\n```")
    assert fixed == "x = len(y)"


def test_message_subject_and_wrapped_body():
    subject, body = shape_message(
        "Here is the commit message:\n\nAdd subtraction to the calculator.\n\n"
        "- adds `sub(a, b)` next to `add`, with a docstring that explains the argument order "
        "for readers who will call it from the command line\n- renames notes.md"
    )
    assert subject == "Add subtraction to the calculator"
    assert all(len(line) <= 72 for line in body.splitlines())
    assert body.startswith("- adds `sub(a, b)`")
    assert "\n  " in body  # continuation lines indented under their bullet


def test_long_first_sentence_is_cut_at_the_sentence_or_a_word():
    subject, _ = shape_message("Refactor the parser. " + "It now handles nested brackets. " * 5)
    assert subject == "Refactor the parser"
    long = "Make " + "the very long subject line " * 6
    subject, _ = shape_message(long)
    assert len(subject) <= 72 and subject.endswith("…")
    assert long.startswith(subject[:-1] + " ")  # cut between two words


def test_echoed_diff_and_code_are_not_the_subject():
    answer = (
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1,3 @@\n"
        "+def sub(a, b):\n+    return a - b\nreturn a - b\nAdd a sub function to calc\n"
        "- keeps add unchanged\n- keeps add unchanged\n"
    )
    subject, body = shape_message(answer)
    assert subject == "Add a sub function to calc"
    assert body == "- keeps add unchanged"  # repeated lines kept once


@pytest.mark.parametrize("answer", ["", "```\n```", "+x = 1\n-y = 2\nreturn x", "!!! ###"])
def test_no_prose_no_message(answer: str):
    with pytest.raises(SummaryError, match="no usable commit message"):
        shape_message(answer)
