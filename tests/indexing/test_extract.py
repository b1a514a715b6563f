"""Each language yields the definitions, qualified names, docs and imports a user expects."""

from __future__ import annotations

import pytest

from indexing.extract import extract
from indexing.languages import LANGUAGES, is_available, language_for, spec_named
from tests.indexing.samples import OPTIONAL_SAMPLES, SAMPLES


def _params(samples, optional):
    for name, (source, expected, modules) in samples.items():
        marks = []
        if optional:
            ext = "." + name.rsplit(".", 1)[1]
            spec_ = next(s for s in LANGUAGES if ext in s.extensions)
            if not is_available(spec_):
                marks.append(pytest.mark.skip(reason=f"{spec_.module} not installed"))
        # A required grammar that is missing fails below: losing one must not stay green.
        yield pytest.param(name, source, expected, modules, id=name, marks=marks)


@pytest.mark.parametrize(
    ("name", "source", "expected", "modules"),
    [*_params(SAMPLES, False), *_params(OPTIONAL_SAMPLES, True)],
)
def test_language_definitions_and_imports(name, source, expected, modules):
    spec = language_for(name)
    assert spec is not None, (
        f"the grammar for {name} is missing: it is a dependency of focal-lsp "
        "(pyproject.toml); reinstall with `pip install -e .`"
    )
    fi = extract(name, source.encode(), spec)
    got = {s.qualified_name: s.kind for s in fi.symbols}
    for qualified, kind in expected.items():
        assert got.get(qualified) == kind, f"{qualified}: want {kind}, got {got}"
    assert {i.module for i in fi.imports} >= modules
    assert not fi.has_errors
    for s in fi.symbols:
        assert s.path == name and s.language == spec.name
        assert s.line <= s.name_line <= s.end_line


def test_at_least_twelve_languages_load():
    from indexing.languages import available_languages, grammar

    names = [s.name for s in available_languages()]
    for spec in available_languages():
        grammar(spec)  # the query compiles against the installed grammar
    assert len(names) >= 12, names


PY = '''"""Module."""
import os


# Greets someone.
def greet(name: str,
          loud: bool = False) -> str:
    return name


class Box:
    """Holds one thing.

    More detail.
    """

    def put(self, item):
        """Store item."""
        def check():
            pass
        return check
'''


def test_python_signature_docstring_comment_and_ranges():
    fi = extract("m.py", PY.encode(), spec_named("python"))
    by = {s.qualified_name: s for s in fi.symbols}
    greet = by["greet"]
    assert greet.signature == "def greet(name: str, loud: bool = False) -> str"
    assert greet.doc == "Greets someone."
    assert (greet.line, greet.name_line, greet.name_column) == (5, 5, 4)
    assert greet.end_line == 7
    assert by["Box"].doc == "Holds one thing.\n\nMore detail."
    assert by["Box.put"].kind == "method" and by["Box.put"].container == "Box"
    assert by["Box.put"].doc == "Store item."
    assert by["Box.put.check"].kind == "function"


def test_leading_comment_block_styles():
    js = b"/**\n * Adds two numbers.\n */\nfunction add(a, b) { return a + b; }\n"
    go = b"package p\n\n// Run starts it.\n// Twice.\nfunc Run() {}\n"
    rs = b"/// A unit.\n#[derive(Debug)]\nstruct Unit;\n"
    assert extract("a.js", js, spec_named("javascript")).symbols[0].doc == "Adds two numbers."
    assert extract("a.go", go, spec_named("go")).symbols[0].doc == "Run starts it.\nTwice."
    assert extract("a.rs", rs, spec_named("rust")).symbols[0].doc == "A unit."


def test_comment_after_the_head_is_not_part_of_the_signature():
    src = b"def f(a):  # noqa: D103\n    pass\n"
    [f] = extract("a.py", src, spec_named("python")).symbols
    assert f.signature == "def f(a)"


def test_trailing_comment_of_previous_line_is_not_a_doc():
    src = b"x = 1  # not about f\ndef f():\n    pass\n"
    f = next(s for s in extract("a.py", src, spec_named("python")).symbols if s.name == "f")
    assert f.doc == ""


def test_columns_count_code_points_not_bytes():
    src = "s = 'é😀'; x = 1\nclass Ünïcode: pass\n".encode()
    fi = extract("u.py", src, spec_named("python"))
    cls = next(s for s in fi.symbols if s.kind == "class")
    assert cls.name == "Ünïcode" and cls.name_column == 6


def test_broken_code_still_yields_what_tree_sitter_recovers():
    src = (
        b"def ok():\n    return 1\n\ndef broken(:\n    pass\n\nclass After:\n    def m(self): ...\n"
    )
    fi = extract("b.py", src, spec_named("python"))
    assert fi.has_errors
    names = {s.qualified_name for s in fi.symbols}
    assert {"ok", "After", "After.m"} <= names


def test_ten_thousand_deep_nesting_does_not_crash():
    depth = 10_000
    src = ("x = " + "[" * depth + "]" * depth + "\n\ndef after():\n    pass\n").encode()
    fi = extract("deep.py", src, spec_named("python"), references=True)
    assert "after" in {s.name for s in fi.symbols}
    js = ("const y = " + "(" * depth + "1" + ")" * depth + ";\nfunction later() {}\n").encode()
    fi = extract("deep.js", js, spec_named("javascript"))
    assert "later" in {s.name for s in fi.symbols}


def test_references_are_identifiers_used_not_definitions():
    src = b"import os\n\ndef load(path):\n    return os.path.join(path, CONFIG)\n"
    fi = extract("r.py", src, spec_named("python"), references=True)
    used = [r.name for r in fi.references]
    assert "CONFIG" in used and "join" in used and "path" in used
    assert "load" not in used  # the definition's own name


def test_references_in_a_line_window():
    from indexing.extract import references_in

    src = b"a = alpha\nb = beta\nc = gamma\n"
    refs = references_in(src, spec_named("python"), 1, 2)
    assert {r.name for r in refs} == {"beta"}  # `b` is defined there, not used
    assert all(r.line == 1 for r in refs)


def test_shebang_picks_the_language_of_an_extensionless_script():
    assert language_for("tool", b"#!/usr/bin/env python3\n").name == "python"
    assert language_for("run", b"#!/bin/bash\n").name == "shellscript"
    assert language_for("README", b"just text\n") is None
    assert language_for("Rakefile").name == "ruby"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p or "empty")
        for p in ["a.py", "A.PY", "a.", "a..py", ".bashrc", ".a.py", "Makefile", "x.tar.gz",
                  " .py", "é.rs", ".", "..", "", "dir/x.go", "dir.d/Makefile"]
    ],
)  # fmt: skip
def test_language_by_name_agrees_with_pathlib(path):
    """The walker's fast path for bare names must read names as `PurePath` does."""
    from pathlib import PurePath

    from indexing.languages import _name_suffix

    p = PurePath(path)
    assert _name_suffix(path) == (p.name, p.suffix)
