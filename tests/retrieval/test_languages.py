"""Import-aware context per language, on small sample projects in real indexes: each call
site resolves to one definition, in one file, for a stated reason, and never to the
decoy that shares its name elsewhere in the project (which resolution by name alone
would offer)."""

from __future__ import annotations

import pytest

from indexing.modules import PathMap
from indexing.retrieval import RetrievalOptions
from tests.retrieval.conftest import at

# fixture, file, text up to the cursor (just after the call's `(`), file of the
# definition, its head, the reason's start, a file that must not be offered for it.
SITES = [
    pytest.param(
        "go_mod", "_examples/hello/main.go", "r := router.NewRouter(", "router.go",
        "func NewRouter(",
        "definition of `NewRouter` called at the cursor (package `github.com/acme/router/v2`",
        "internal/factory/factory.go", id="go-root-package-of-a-v2-module",
    ),
    pytest.param(
        "go_mod", "_examples/hello/main.go", 'r.Mount("/log", middleware.Logger(',
        "middleware/logger.go", "func Logger(",
        "definition of `Logger` called at the cursor (package "
        "`github.com/acme/router/v2/middleware`", None, id="go-subpackage",
    ),
    pytest.param(
        "go_mod", "_examples/hello/main.go", "strings.Slug(", "tools/strings/strings.go",
        "func Slug(s string)",
        "definition of `Slug` called at the cursor (package `github.com/acme/tools/strings`",
        "internal/strings/strings.go", id="go-nested-module-and-replace",
    ),
    pytest.param(
        "go_mod", "middleware/recover.go", "\tLogger(", "middleware/logger.go", "func Logger(",
        "definition of `Logger` called at the cursor (same package)", None,
        id="go-same-package-other-file",
    ),
    pytest.param(
        "go_mod", "middleware/logger.go", "r.Handle(", "router.go", "func (m *Mux) Handle(",
        "definition of `Mux.Handle` called at the cursor (`r` is a `Mux` (from `NewRouter`))",
        None, id="go-method-on-a-constructors-result",
    ),
    pytest.param(
        "go_mod", "router.go", "m.Handle(", "router.go", "func (m *Mux) Handle(",
        "definition of `Mux.Handle` called at the cursor (`m` is a `Mux`)", None,
        id="go-method-on-the-receiver",
    ),
    pytest.param(
        "rust_crate", "src/util.rs", "Circle::new(", "src/geometry/area.rs",
        "pub fn new(r: f64)",
        "definition of `Circle.new` called at the cursor (`use crate::geometry::area::Circle`, "
        "imported on line 2)", "src/legacy.rs", id="rust-use-crate-path",
    ),
    pytest.param(
        "rust_crate", "src/util.rs", "geometry::origin(", "src/geometry/mod.rs",
        "pub fn origin(",
        "definition of `origin` called at the cursor (`use crate::geometry`, imported on line 1)",
        None, id="rust-module-import",
    ),
    pytest.param(
        "rust_crate", "src/util.rs", "c.area(", "src/geometry/area.rs", "pub fn area(&self) -> f64",
        "definition of `Circle.area` called at the cursor (`c` is a `Circle` (from `new`))",
        "src/legacy.rs", id="rust-method-on-a-let-from-new",
    ),
    pytest.param(
        "rust_crate", "src/geometry/area.rs", "self.scale(", "src/geometry/area.rs",
        "fn scale(", "definition of `Circle.scale` called at the cursor (method of `Circle`)",
        None, id="rust-self-in-impl",
    ),
    pytest.param(
        "rust_crate", "src/geometry/area.rs", "super::origin(", "src/geometry/mod.rs",
        "pub fn origin(", "definition of `origin` called at the cursor (module `super`)", None,
        id="rust-super-path",
    ),
    pytest.param(
        "rust_crate", "tests/api.rs", "Circle::new(", "src/geometry/area.rs", "pub fn new(r: f64)",
        "definition of `Circle.new` called at the cursor (`use shapes_lib::Circle`",
        "src/legacy.rs", id="rust-integration-test-through-a-pub-use",
    ),
    pytest.param(
        "java_shop", "src/main/java/com/acme/shop/Cart.java", "Discounts.apply(",
        "src/main/java/com/acme/shop/pricing/Discounts.java", "public static double apply(",
        "definition of `Discounts.apply` called at the cursor "
        "(`import com.acme.shop.pricing.Discounts`", "src/main/java/com/acme/legacy/Discounts.java",
        id="java-single-type-import",
    ),
    pytest.param(
        "java_shop", "src/main/java/com/acme/shop/Cart.java", "new Item(",
        "src/main/java/com/acme/shop/Item.java", "public class Item",
        "definition of `Item` called at the cursor (same package `com.acme.shop`)", None,
        id="java-same-package-class",
    ),
    pytest.param(
        "java_shop", "src/main/java/com/acme/shop/Cart.java", "Strings.slug(",
        "src/main/java/com/acme/util/Strings.java", "public static String slug(",
        "definition of `Strings.slug` called at the cursor (`import com.acme.util.*`", None,
        id="java-wildcard-import",
    ),
    pytest.param(
        "java_shop", "src/main/java/com/acme/shop/Cart.java", "return round(",
        "src/main/java/com/acme/util/Money.java", "public static double round(",
        "definition of `Money.round` called at the cursor (`import com.acme.util.Money.round`",
        None, id="java-static-import",
    ),
    pytest.param(
        "java_shop", "src/main/java/com/acme/shop/Cart.java", "ledger.record(",
        "src/main/java/com/acme/shop/Ledger.java", "public void record(",
        "definition of `Ledger.record` called at the cursor (`ledger` is a `Ledger`)", None,
        id="java-method-on-a-typed-field",
    ),
    pytest.param(
        "java_shop", "src/main/kotlin/com/acme/report/Report.kt", "Discounts.apply(",
        "src/main/java/com/acme/shop/pricing/Discounts.java", "public static double apply(",
        "definition of `Discounts.apply` called at the cursor "
        "(`import com.acme.shop.pricing.Discounts`", "src/main/java/com/acme/legacy/Discounts.java",
        id="kotlin-import-of-a-java-class",
    ),
    pytest.param(
        "java_shop", "src/main/kotlin/com/acme/report/Report.kt", "formatTotal(",
        "src/main/kotlin/com/acme/report/Format.kt", "fun formatTotal(",
        "definition of `formatTotal` called at the cursor (same package `com.acme.report`)", None,
        id="kotlin-same-package-function",
    ),
    pytest.param(
        "c_geo", "src/main.c", "point_make(", "src/point.c", "point point_make(",
        'definition of `point_make` called at the cursor (`#include "geo/point.h"` (line 2))',
        "tests/fake_point.c", id="c-include-to-the-headers-source",
    ),
    pytest.param(
        "polyglot", "src/App.php", "Invoice::create(", "src/Billing/Invoice.php",
        "public static function create(",
        "definition of `Invoice.create` called at the cursor (`use Acme\\Billing\\Invoice`",
        "lib/Invoice.php", id="php-psr4",
    ),
    pytest.param(
        "polyglot", "ruby/app.rb", "Shop::Cart.build(", "ruby/lib/shop/cart.rb",
        "def self.build(", "definition of `Shop.Cart.build` called at the cursor "
        "(`require_relative 'lib/shop/cart'` (line 1))", "ruby/other/cart.rb",
        id="ruby-require-relative",
    ),
    pytest.param(
        "polyglot", "cs/Program.cs", "Mailer.Send(", "cs/Services/Mailer.cs",
        "public static void Send(string to)",
        "definition of `Acme.Services.Mailer.Send` called at the cursor (`using Acme.Services`",
        "cs/Legacy/Mailer.cs", id="csharp-using-namespace",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "rel", "marker", "target", "head", "reason", "decoy"), SITES)
def test_call_resolves_to_one_definition_in_one_file_for_a_reason(
    indexed, fixture, rel, marker, target, head, reason, decoy
):
    root, _, retriever = indexed(fixture)
    text = (root / rel).read_text(encoding="utf-8")
    offset = at(text, marker)
    # The fixture's files were all written just now: none is "recently edited" in earnest.
    options = RetrievalOptions(recent_from_disk=False)
    result = retriever.retrieve(rel, text[:offset], text[offset:], options=options)
    chunks = [(c.path, c.reason) for c in result.chunks]
    hits = [
        c for c in result.chunks if c.path == target and head in c.text and c.source == "definition"
    ]
    assert hits, chunks
    chunk = hits[0]
    assert chunk.reason.startswith(reason), chunk.reason
    assert chunk.score == max(c.score for c in result.chunks), chunks
    # The lines the chunk claims hold what it shows.
    lines = (root / target).read_text(encoding="utf-8").splitlines()
    assert head in "\n".join(lines[chunk.start_line : chunk.end_line + 1])
    if decoy is not None:
        assert all(c.path != decoy for c in result.chunks), chunks


def test_without_a_rule_names_still_find_a_unique_definition(indexed):
    """A call the language rules cannot place (here: a C function whose header is not
    included) still gets the definition the name alone finds, marked as such."""
    _, _, retriever = indexed("c_geo")
    text = "double f(void) {\n    return point_dist("
    result = retriever.retrieve("src/extra.c", text, ")\n}\n")
    dist = [c for c in result.chunks if "point_dist(" in c.text and c.source == "definition"]
    assert dist and all("by name, one of 2" in c.reason for c in dist), [
        (c.path, c.reason) for c in result.chunks
    ]


def test_go_mod_replace_points_a_module_at_a_local_directory(tmp_path):
    """`replace` to a directory without its own module file (as `go mod vendor` or a
    monorepo script leaves one): the import path is found there, not by its tail."""
    (tmp_path / "go.mod").write_text(
        "module example.com/app\n\nreplace example.com/lib => ./third_party/lib\n"
    )
    paths = [
        "main.go",
        "third_party/lib/util/util.go",
        "other/lib/util/util.go",
    ]
    pm = PathMap(paths, str(tmp_path))
    assert pm.go_package("example.com/lib/util", "main.go") == ["third_party/lib/util/util.go"]
    # Without the workspace's go.mod, the longest trailing match is all there is.
    assert PathMap(paths).go_package("example.com/lib/util") == ["other/lib/util/util.go"]


def test_a_budget_too_small_for_the_callee_still_says_why_it_is_empty(indexed):
    root, _, retriever = indexed("go_mod")
    text = (root / "_examples/hello/main.go").read_text(encoding="utf-8")
    offset = at(text, "router.NewRouter(")
    result = retriever.retrieve(
        "_examples/hello/main.go",
        text[:offset],
        text[offset:],
        options=RetrievalOptions(budget_tokens=0),
    )
    assert result.chunks == () and result.note == "context is off"


def test_index_first_indexes_the_open_files_import_closure_only(repo, tmp_path):
    """Before a full build: the open file, the modules it imports and theirs, and nothing
    else, so that its completions find their definitions while the rest waits."""
    from indexing.indexer import Index

    root = repo("go_mod")
    with Index.open(root, db_path=tmp_path / "first.sqlite3", workers=1) as index:
        done = index.index_first([root / "_examples/hello/main.go"])
        assert sorted(done) == [
            "_examples/hello/main.go",
            "middleware/logger.go",
            "middleware/recover.go",
            "router.go",
            "tools/strings/strings.go",
            "tree.go",
        ]
        assert index.stats().files == len(done)
        # `Factory.NewRouter` (internal/factory, imported by nothing) is not indexed yet.
        assert [s.path for s in index.definitions("NewRouter")] == ["router.go"]
        summary = index.build()  # the full build then brings in the rest
        assert summary.files > len(done) and summary.parsed == summary.files - len(done)
