"""The ledger keeps no secret: with `store_text`, the prompt, the suggestion and the text an
event put in a file are stored with credentials replaced, and counted by kind; the
prompt-side counts of the origin are recorded beside them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lsp_server.ledger import Ledger
from tests.ledger.conftest import make_suggestion
from tests.redaction.planted import leaks, planted

AWS, GITHUB = planted()[1], planted()[2]


@pytest.mark.parametrize("redact", [True, False], ids=["redacted", "never"])
def test_stored_texts_are_redacted_and_counted(ledger_path: Path, redact: bool) -> None:
    led = Ledger.open(ledger_path, store_text=True, redact_secrets=redact)
    s = make_suggestion(f"{GITHUB.line}\n", redactions=(("jwt", 2),))
    led.record_suggestion(s, "inline", "file:///w/a.py", 3, 0, f"x = 1\n{AWS.line}\n")
    assert led.record_event(s.id, "accepted", "file:///w/a.py", (3, 0, 4, 0), f"{GITHUB.line}\n")
    record = led.suggestion(s.id)
    led.close()
    assert record is not None and record.redactions == (("jwt", 2),)
    dump = "\n".join(
        repr(row)
        for table in ("suggestions", "events")
        for row in sqlite3.connect(ledger_path).execute(f"SELECT * FROM {table}")
    )
    if redact:
        assert leaks(dump) == []
        assert record.prompt == 'x = 1\nAWS_SECRET_ACCESS_KEY = "<redacted:aws-secret>"\n'
        assert record.text == 'GITHUB_TOKEN = "<redacted:github-token>"\n'
        assert record.stored_redactions == (("aws-secret", 1), ("github-token", 1))
        assert "<redacted:github-token>" in (record.events[-1].text or "")
    else:
        assert set(leaks(dump)) == {"aws-secret", "github-token"}
        assert record.stored_redactions == ()
    # Digests are of the texts as they were: blame still finds the accepted lines.
    assert record.suggestion_length == len(s.text)
