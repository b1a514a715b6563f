"""`focal audit`, `focal blame` and `focal trailer` through argparse, as `focal` runs them."""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lsp_server.ledger import Ledger
from lsp_server.ledger.cli import add_commands, parse_since
from tests.ledger.conftest import DIGEST_B, make_suggestion


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="focal")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def filled(ledger_path: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    now = [datetime(2026, 11, 3, 9, 30, tzinfo=UTC)]
    led = Ledger.open(ledger_path, clock=lambda: now[0])
    doc = (tmp_path / "src" / "app.py").as_uri()
    a = make_suggestion("    total = compute_total(order)\n")
    led.record_suggestion(a, "inline", doc, 11, 4, "")
    led.record_event(a.id, "shown")
    led.record_event(a.id, "accepted", doc)
    now[0] = datetime(2026, 11, 20, 17, 5, tzinfo=UTC)
    b = make_suggestion("return safe_divide(a, b)\n", model="Qwen2.5-Coder", digest=DIGEST_B)
    led.record_suggestion(b, "fix", doc, 40, 0, "")
    led.record_event(b.id, "rejected")
    led.close()
    return ledger_path, [a.id, b.id]


def test_audit_table(filled, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = filled
    assert run(["audit", "--ledger", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "time", "(UTC)", "task", "model", "quant", "document:line", "conf", "ms", "events",
    ]  # fmt: skip
    assert lines[1].split()[:5] == ["2026-11-20", "17:05:00", "fix", "Qwen2.5-Coder", "Q4_1"]
    assert lines[1].split()[5].endswith("app.py:41") and lines[1].split()[-1] == "rejected"
    assert lines[2].split()[2:4] == ["inline", "SmolLM2-135M"]
    assert lines[2].split()[-3:] == ["0.81", "101", "shown,accepted"]
    # Aligned: every column starts at the same offset on every line.
    starts = [line.index("fix") if "fix" in line else line.index("inline") for line in lines[1:]]
    assert len(set(starts)) == 1 and lines[0].index("task") == starts[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], [1, 0], id="all"),
        pytest.param(["--task", "inline"], [0], id="task"),
        pytest.param(["--model", "qwen"], [1], id="model"),
        pytest.param(["--since", "2026-11-10"], [1], id="since-date"),
        pytest.param(["--limit", "1"], [1], id="limit"),
    ],
)
def test_audit_json_filters(filled, capsys, argv: list[str], expected: list[int]) -> None:
    path, ids = filled
    assert run(["audit", "--ledger", str(path), "--json", *argv]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out] == [ids[i] for i in expected]
    assert {"modelName", "modelDigest", "quantization", "timing", "events", "promptDigest"} <= set(
        out[0]
    )
    assert out[0]["text"] is None


def test_since_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError, match="expected a date like"):
        parse_since("last tuesday")


def test_bad_since_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        run(["audit", "--since", "yesterday"])
    assert exc.value.code == 2
    assert "expected a date like 2026-11-01" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["audit", "trailer"])
def test_no_ledger_yet(tmp_path: Path, capsys, command: str) -> None:
    missing = tmp_path / "none.sqlite3"
    assert run([command, "--ledger", str(missing)]) == 0
    captured = capsys.readouterr()
    assert "no suggestions recorded yet" in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and not missing.exists()


def test_blame(filled, tmp_path: Path, capsys) -> None:
    path, ids = filled
    src = tmp_path / "src" / "app.py"
    src.parent.mkdir(parents=True)
    src.write_text("def checkout(order):\n    total = compute_total(order)\n    return total\n")
    assert run(["blame", str(src), "--ledger", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["1│", "def", "checkout(order):"]
    assert lines[1].startswith(ids[0][:8]) and "SmolLM2-135M Q4_1" in lines[1]
    assert "2026-11-03" in lines[1] and lines[1].endswith("2│     total = compute_total(order)")
    assert lines[0].index("│") == lines[1].index("│")

    assert run(["blame", str(src), "--json", "--ledger", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0] == {"line": 1}
    assert out[1]["suggestionId"] == ids[0] and out[1]["modelName"] == "SmolLM2-135M"


def test_blame_unreadable_file(filled, tmp_path: Path, capsys) -> None:
    path, _ = filled
    assert run(["blame", str(tmp_path / "nope.py"), "--ledger", str(path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_trailer_command(filled, tmp_path: Path, capsys) -> None:
    path, _ = filled
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@e", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "x.py").write_text("def f(order):\n    total = compute_total(order)\n")
    subprocess.run([*git, "add", "x.py"], check=True)
    assert run(["trailer", "--repo", str(repo), "--ledger", str(path)]) == 0
    assert capsys.readouterr().out == "Assisted-by: focal (SmolLM2-135M Q4_1 sha256:a1a1a1a1)\n"
    assert run(["trailer", "--repo", str(tmp_path / "src"), "--ledger", str(path)]) == 2


def test_focal_command_when_wired(filled, capsys) -> None:
    """Through `lsp_server.cli.main` once the lead has hooked `add_commands` in."""
    from lsp_server.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "audit" in sub.choices, "lsp_server/cli.py does not register the ledger commands"
    from lsp_server.cli import main

    path, ids = filled
    assert main(["audit", "--ledger", str(path), "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ids[::-1]
