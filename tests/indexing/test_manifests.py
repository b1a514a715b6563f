"""Build manifests as resolution reads them: `go.mod` (module path, local `replace`),
`Cargo.toml` (crate name and roots), `composer.json` (PSR-4 roots); and the import
statements of Rust, Java/Kotlin, C#, C, PHP and Ruby as bindings."""

from __future__ import annotations

import json

import pytest

from indexing.manifests import go_modules, parse_go_mod, psr4_roots, rust_crates
from indexing.native_imports import READERS
from indexing.resolve import Binding


@pytest.mark.parametrize(
    ("text", "module", "replaces"),
    [
        pytest.param("module example.com/x\n\ngo 1.22\n", "example.com/x", [], id="plain"),
        pytest.param('module "example.com/q"\n', "example.com/q", [], id="quoted"),
        pytest.param(
            "module a.io/m // the module\nreplace b.io/lib v1.2.0 => ../lib\n"
            "replace c.io/remote => d.io/fork v1.0.0\n",
            "a.io/m",
            [("b.io/lib", "../lib")],
            id="local-replace-kept-module-replace-dropped",
        ),
        pytest.param(
            "module a.io/m\nreplace (\n\tx.io/a => ./a\n\t// y.io/b => ./b\n"
            "\tz.io/c v0.1.0 => /abs/c\n)\n",
            "a.io/m",
            [("x.io/a", "./a"), ("z.io/c", "/abs/c")],
            id="replace-block-with-comment",
        ),
        pytest.param("go 1.22\n", None, [], id="no-module-line"),
    ],
)
def test_parse_go_mod(text, module, replaces):
    assert parse_go_mod(text) == (module, replaces)


def test_go_modules_find_the_module_above_each_directory(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/root\nreplace example.com/t => ./t\n")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "go.mod").write_text("module example.com/t\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "go.mod").write_text("this is not a go.mod\n")
    modules, owner = go_modules(str(tmp_path), ["", "a/b", "t/x", "broken"])
    assert [(m.dir, m.path, m.replaces) for m in modules] == [
        ("", "example.com/root", (("example.com/t", "t"),)),
        ("t", "example.com/t", ()),
    ]  # the unreadable one is skipped: resolution falls back to path tails there
    assert owner["a/b"] == "" and owner["t/x"] == "t" and owner["broken"] == "broken"


def test_rust_crates_read_name_and_roots(tmp_path):
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = ["core"]\n')
    core = tmp_path / "core"
    (core / "src").mkdir(parents=True)
    (core / "Cargo.toml").write_text(
        '[package]\nname = "my-core"\nversion = "0.1.0"\n\n[lib]\npath = "src/core.rs"\n'
    )
    paths = {"core/src/core.rs", "core/src/main.rs"}
    [crate, *_] = [c for c in rust_crates(str(tmp_path), ["core/src"], paths) if c.dir == "core"]
    assert (crate.name, crate.roots) == ("my_core", ("core/src/core.rs", "core/src/main.rs"))


def test_psr4_roots_longest_prefix_first(tmp_path):
    (tmp_path / "composer.json").write_text(
        json.dumps(
            {
                "autoload": {"psr-4": {"App\\": "src/", "App\\Legacy\\": ["old/", "older/"]}},
                "autoload-dev": {"psr-4": {"Tests\\": "tests/"}},
            }
        )
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "composer.json").write_text("{not json")
    roots = psr4_roots(str(tmp_path), ["src", "bad"])
    assert roots[:2] == [("App\\Legacy\\", "old"), ("App\\Legacy\\", "older")]
    assert set(roots[2:]) == {("App\\", "src"), ("Tests\\", "tests")}


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        pytest.param(
            "rust",
            "use crate::a::{b::C as D, self, e::*};\n// use crate::gone::X;\n"
            "pub(crate) use super::F;\nmod m;\n",
            [
                Binding("D", "crate::a::b", "C", 0, 0),
                Binding("a", "crate", "a", 0, 0),
                Binding("*", "crate::a::e", None, 0, 0, star=True),
                Binding("F", "super", "F", 0, 2),
                Binding("m", "self", "m", 0, 3),
            ],
            id="rust-use-tree",
        ),
        pytest.param(
            "java",
            "package a.b;\nimport a.c.D;\nimport a.e.*;\nimport static a.f.G.h;\n",
            [
                Binding("D", "a.c", "D", 0, 1),
                Binding("*", "a.e", None, 0, 2, star=True),
                Binding("h", "a.f.G", "h", 0, 3),
            ],
            id="java-imports",
        ),
        pytest.param(
            "kotlin",
            "import a.b.c as d\n",
            [Binding("d", "a.b", "c", 0, 0)],
            id="kotlin-alias",
        ),
        pytest.param(
            "csharp",
            "using System;\nusing Json = Newtonsoft.Json.JsonConvert;\n",
            [
                Binding("*", "System", None, 0, 0, star=True),
                Binding("Json", "Newtonsoft.Json", "JsonConvert", 0, 1),
            ],
            id="csharp-usings",
        ),
        pytest.param(
            "c",
            '#include <stdio.h>\n# include "geo/point.h"\n// #include "gone.h"\n',
            [
                Binding("*", "stdio.h", None, 0, 0, star=True),
                Binding("*", "geo/point.h", None, 1, 1, star=True),
            ],
            id="c-includes",
        ),
        pytest.param(
            "php",
            "<?php\nuse App\\Models\\{User, Post as P};\nuse Lib\\Mailer;\n",
            [
                Binding("User", "App\\Models", "User", 0, 1),
                Binding("P", "App\\Models", "Post", 0, 1),
                Binding("Mailer", "Lib", "Mailer", 0, 2),
            ],
            id="php-use-groups",
        ),
        pytest.param(
            "ruby",
            "require 'json'\nrequire_relative \"lib/shop\"\n# require 'gone'\n",
            [
                Binding("*", "json", None, 0, 0, star=True),
                Binding("*", "lib/shop", None, 1, 1, star=True),
            ],
            id="ruby-requires",
        ),
    ],
)
def test_import_statements_bind(language, text, expected):
    assert READERS[language](text) == expected
