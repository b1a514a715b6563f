"""The redactor on its own: every kind it knows is found exactly and replaced, ordinary code
is left alone, the document is redacted across the cursor, and answers that would write a
secret are caught."""

from __future__ import annotations

import pytest

from inference.redact import (
    applies,
    find,
    flagged,
    merge,
    redact,
    redact_document,
    redact_prompt,
    summary,
)
from inference.rewrite import UnusableAnswer, accept_rewrite
from inference.types import CompletionTask, ContextBundle, ContextChunk
from tests.redaction.planted import KINDS, planted, settings_module

PLANTED = planted()


@pytest.mark.parametrize("p", [pytest.param(p, id=f"{p.kind}-{i}") for i, p in enumerate(PLANTED)])
def test_each_kind_is_found_exactly_and_replaced(p) -> None:
    text = f"x = 1\n{p.line}\ny = 2\n"
    (f,) = find(text)
    assert f.kind == p.kind
    assert text[f.start : f.end].strip("\n") == p.value
    r = redact(text)
    assert r.counts == ((p.kind, 1),)
    assert f"<redacted:{p.kind}>" in r.text
    assert not any(piece in r.text for piece in p.pieces)
    # Everything around the value is kept, and so is the number of lines.
    assert r.text.startswith("x = 1\n") and r.text.endswith("\ny = 2\n")
    assert r.text.count("\n") == text.count("\n")


def test_a_whole_settings_module() -> None:
    r = redact(settings_module())
    assert dict(r.counts) == {
        **{k: 1 for k in KINDS},
        "api-key": 2,
        "github-token": 2,
        "url-password": 2,  # the DSN, and the one `database_url` returns
    }
    assert "def database_url(host):" in r.text
    assert 'return f"postgresql://app:<redacted:url-password>@{host}/prod"' in r.text


@pytest.mark.parametrize(
    "code",
    [
        pytest.param('password = os.environ["DB_PASSWORD"]', id="from-environment"),
        pytest.param('api_key = os.getenv("OPENAI_API_KEY")', id="getenv"),
        pytest.param('token_type = "bearer"', id="word-value"),
        pytest.param('TOKEN_URL = "https://oauth2.googleapis.com/token"', id="url-named-token"),
        pytest.param('password_field = "password_confirmation"', id="field-name"),
        pytest.param('password = "password"', id="dummy-password"),
        pytest.param('SECRET_KEY = "<redacted:secret>"', id="placeholder"),
        pytest.param('SECRET_KEY = "change-me-in-production"', id="words-with-dashes"),
        pytest.param('url = f"https://{user}:{password}@{host}/"', id="templated-url"),
        pytest.param('url = "http://user:password@example.com/"', id="documented-url"),
        pytest.param('"%s://%s:%s@%s" % (scheme, user, pw, host)', id="format-string"),
        pytest.param('cache_key = "user-profile-v2"', id="cache-key"),
        pytest.param(
            'digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
            id="hash-not-named-secret",
        ),
        pytest.param('KEY_NAME = "AWS_SECRET_ACCESS_KEY"', id="key-name"),
        pytest.param("risk-assessment-framework-identifier-0001 = 3", id="sk-inside-a-word"),
        pytest.param('msg = "-----BEGIN RSA PRIVATE KEY----- marks a key"', id="pem-header-alone"),
        pytest.param("if token == TOKEN_END:", id="comparison-of-names"),
        pytest.param('def check_password(password: str = "") -> bool:', id="empty-default"),
    ],
)
def test_ordinary_code_is_left_alone(code: str) -> None:
    assert find(code) == []
    assert redact(code).text == code


def test_document_redacted_across_the_cursor() -> None:
    token = PLANTED[2].value  # a GitHub token
    doc = f'TOKEN = "{token}"\nprint(TOKEN)\n'
    cut = doc.index(token) + 10  # the cursor inside the token
    prefix, suffix, counts = redact_document(doc[:cut], doc[cut:], 6000, 1500)
    assert counts == (("github-token", 1),)
    assert prefix == 'TOKEN = "<redacted:github-token>'
    assert suffix == '"\nprint(TOKEN)\n'
    # Before and after the cursor, each side keeps its own text.
    aws = PLANTED[0].value
    doc = f'A = "{aws}"\nx = 1\nB = "{token}"\n'
    cut = doc.index("x = 1")
    prefix, suffix, counts = redact_document(doc[:cut], doc[cut:], 6000, 1500)
    assert prefix == 'A = "<redacted:aws-access-key>"\n'
    assert suffix == 'x = 1\nB = "<redacted:github-token>"\n'
    assert counts == (("aws-access-key", 1), ("github-token", 1))


def test_only_what_a_prompt_shows_of_a_long_document_is_read() -> None:
    token = PLANTED[2].value
    far = f'OLD = "{token}"\n' + "x = 1\n" * 5000  # 30,000 characters above the cursor
    prefix, _suffix, counts = redact_document(far, "", 6000, 1500)
    assert counts == () and prefix == far  # left as it is: no prompt shows it
    near = "x = 1\n" * 5000 + f'NEW = "{token}"\n'
    prefix, _, counts = redact_document(near, "", 6000, 1500)
    assert counts == (("github-token", 1),) and token not in prefix


def test_a_private_key_cut_off_by_a_chunk_is_still_redacted() -> None:
    key = next(p for p in PLANTED if p.kind == "private-key")
    body = key.value.split("\n")
    text = "KEY = '''-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body[:3]) + "\n"
    r = redact(text)
    assert r.counts == (("private-key", 1),)
    assert not any(line in r.text for line in body[:3])


def test_a_chunk_that_starts_inside_a_private_key_is_redacted() -> None:
    """Retrieval cuts chunks by definition and similarity: one may begin mid-block, with the
    END line but not the BEGIN one."""
    key = next(p for p in PLANTED if p.kind == "private-key")
    body = key.value.split("\n")
    text = "\n".join(body[2:]) + '\n-----END OPENSSH PRIVATE KEY-----"""\n\n\ndef f():\n'
    r = redact(text)
    assert r.counts == (("private-key", 1),)
    assert not any(line in r.text for line in body)
    assert r.text.endswith('-----END OPENSSH PRIVATE KEY-----"""\n\n\ndef f():\n')


def test_prompt_redaction_covers_document_and_chunks() -> None:
    aws, gh = PLANTED[1], PLANTED[2]
    task = CompletionTask(
        document="file:///w/main.py",
        path="main.py",
        language="python",
        prefix=f"{aws.line}\nx = database_url(",
        suffix=")\n",
    )
    bundle = ContextBundle(
        (ContextChunk("settings.py", 0, 1, f"{gh.line}\n", "imported name `GITHUB_TOKEN`"),)
    )
    t, b, counts = redact_prompt(task, bundle)
    assert counts == (("aws-secret", 1), ("github-token", 1))
    assert aws.value not in t.prefix and gh.value not in b.chunks[0].text
    assert b.chunks[0].reason == "imported name `GITHUB_TOKEN`"
    # Nothing to replace: the very same objects come back.
    clean = CompletionTask("d", "p.py", "python", "x = 1\n", "")
    t2, _b2, c2 = redact_prompt(clean, ContextBundle())
    assert t2 is clean and c2 == ()


@pytest.mark.parametrize(
    ("text", "before", "after", "kinds"),
    [
        pytest.param('"<redacted:aws-secret>"', "KEY = ", "", ("aws-secret",), id="placeholder"),
        pytest.param(PLANTED[2].value + '"', 'T = "', "", ("github-token",), id="whole-token"),
        pytest.param(
            PLANTED[2].value[10:] + '"',
            'T = "' + PLANTED[2].value[:10],
            "",
            ("github-token",),
            id="token-finished-after-the-cursor",
        ),
        pytest.param('"', 'T = "' + PLANTED[2].value, "", (), id="closing-quote-only"),
        pytest.param("return a + b", "    ", "", (), id="ordinary-code"),
    ],
)
def test_flagged_answers(text: str, before: str, after: str, kinds: tuple[str, ...]) -> None:
    assert flagged(text, before, after) == kinds


def test_a_fix_that_writes_a_secret_is_refused() -> None:
    original = "def connect():\n    return db.open(host)\n"
    pw = PLANTED[20].value
    answer = f'```python\ndef connect():\n    return db.open(host, password="{pw}")\n```'
    with pytest.raises(UnusableAnswer, match=r"would write a secret \(password\)"):
        accept_rewrite(original, answer)
    answer = '```python\ndef connect():\n    return db.open(host, key="<redacted:aws-secret>")\n```'
    with pytest.raises(UnusableAnswer, match=r"aws-secret"):
        accept_rewrite(original, answer)
    # A key the code already held may stay where it was.
    held = f'def connect():\n    key = "{PLANTED[1].value}"\n    return db.open(host)\n'
    fixed = held.replace("db.open(host)", "db.open(host, key)")
    assert accept_rewrite(held, f"```python\n{fixed}```") == fixed


@pytest.mark.parametrize(
    ("policy", "remote", "expected"),
    [
        ("remote", True, True),
        ("remote", False, False),
        ("always", False, True),
        ("always", True, True),
        ("never", True, False),
    ],
)
def test_policy(policy: str, remote: bool, expected: bool) -> None:
    assert applies(policy, remote) is expected


def test_counts_merge_and_read() -> None:
    a = (("github-token", 1),)
    b = (("aws-secret", 2), ("github-token", 1))
    assert merge(a, b, ()) == (("aws-secret", 2), ("github-token", 2))
    assert summary(merge(a, b)) == "4 (aws-secret ×2, github-token ×2)"
    assert summary(()) == ""
