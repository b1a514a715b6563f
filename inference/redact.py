"""Secrets written inside ordinary source files, replaced before they reach a prompt.

A value that looks like a credential becomes a placeholder naming its kind, e.g.
`AWS_SECRET_ACCESS_KEY = "<redacted:aws-secret>"`: the model still sees that a key is
assigned there, never the key. Secret *files* (`.env`, `id_rsa`, ...) are kept out of
prompts earlier, by the index and the server; this module is for the `settings.py` that
holds a token anyway.

Which detector, and why: a small audited table of our own (`RULES` below; each entry names
the published format it follows), not detect-secrets' plugins. detect-secrets works offline
and is maintained, but it scans a file line by line through some 25 plugin objects and
filters and reports a line number and a hash, not where the value is; we need the value's
span in a text that is about to be tokenized, in well under a millisecond per completion
(retrieval takes 2-5 ms in all). Here every format rule is one precompiled regular
expression that starts with a literal (so the regex engine skips ahead in C), and the
keyword rule only looks at the names in front of string literals that are assigned. The
rules follow the documented token formats (AWS, GitHub, GitLab, Slack, OpenAI/Anthropic
`sk-…`, Stripe, Google, npm, PyPI, Hugging Face, SendGrid, Twilio, Azure storage), JWTs,
PEM/PGP private-key blocks, passwords in URLs and DSNs, and long high-entropy string
literals assigned to names that say secret/token/password/key. Their false positives are
measured on CPython's `Lib` and a Go module (`benchmarks/retrieval_bench.py --redaction`,
figures in docs/benchmarks.md).

Pure functions of text: no I/O, no LSP; the server decides when to call them
(`privacy.redactSecrets`), the remote engine redacts every request body it sends.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from inference.types import CompletionTask, ContextBundle

__all__ = [
    "POLICIES",
    "Finding",
    "Redacted",
    "applies",
    "clear_caches",
    "find",
    "flagged",
    "merge",
    "placeholder",
    "redact",
    "redact_messages",
    "redact_prompt",
    "summary",
]

POLICIES = ("remote", "always", "never")
"""`privacy.redactSecrets`: `remote` redacts what goes to a remote engine (and what the
ledger stores), `always` also the local model's prompts, `never` nothing."""

PLACEHOLDER = re.compile(r"<redacted:[a-z0-9-]+>")

Counts = tuple[tuple[str, int], ...]
"""How many values of each kind were redacted, sorted by kind: `(("github-token", 2),)`."""


def placeholder(kind: str) -> str:
    return f"<redacted:{kind}>"


def applies(policy: str, remote: bool) -> bool:
    """Whether `policy` redacts a prompt that goes to a remote (or the local) engine."""
    return policy == "always" or (policy == "remote" and remote)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    """The value's span in the text (the password of a URL, the literal's content, ...)."""


@dataclass(frozen=True)
class Redacted:
    text: str
    counts: Counts = ()

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


# -- the table ---------------------------------------------------------------------------

_WORDISH = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=-")
_R = r"(?![A-Za-z0-9_])"


@dataclass(frozen=True)
class Rule:
    """A documented token format: the literal it starts with (found with `str.find`, so
    texts without it cost a few microseconds), and the pattern matched there."""

    kind: str
    literal: str
    pattern: re.Pattern[str]
    group: int = 0
    """The part of the match that is the secret (0: all of it)."""
    edge: bool = True
    """The literal must not continue a longer word (`risk-…` is no `sk-` key)."""


def _rule(kind: str, literal: str, rx: str, group: int = 0, edge: bool = True) -> Rule:
    return Rule(kind, literal, re.compile(rx), group, edge)


RULES: tuple[Rule, ...] = (
    # AWS access key id: a 4-character prefix + 16 upper-case letters and digits.
    *(
        _rule("aws-access-key", p, p + r"[A-Z0-9]{16}" + _R)
        for p in ("AKIA", "ASIA", "ABIA", "ACCA")
    ),
    _rule("aws-access-key", "A3T", r"A3T[A-Z0-9][A-Z0-9]{16}" + _R),
    # GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36 base62; fine-grained github_pat_ + 82.
    *(_rule("github-token", f"gh{c}_", r"gh[pousr]_[A-Za-z0-9]{36,251}" + _R) for c in "pousr"),
    _rule("github-token", "github_pat_", r"github_pat_[A-Za-z0-9_]{50,255}" + _R),
    # GitLab personal/deploy/runner/trigger/... tokens.
    *(
        _rule("gitlab-token", f"gl{p}-", r"gl[a-z]{2,4}-[A-Za-z0-9_-]{20,64}" + _R)
        for p in ("pat", "dt", "rt", "ptt", "cbt", "soat", "ft")
    ),
    # Slack bot/user/app tokens and incoming webhooks.
    _rule("slack-token", "xox", r"xox[abposre]-[0-9]{6,}-[A-Za-z0-9-]{8,}" + _R),
    _rule(
        "slack-webhook",
        "hooks.slack.com/",
        r"hooks\.slack\.com/((?:services|workflows)/[A-Za-z0-9/_-]{20,})",
        1,
        False,
    ),
    # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-api03-), DeepSeek and the many
    # servers that copied the `sk-` shape; checked for entropy below.
    _rule("api-key", "sk-", r"sk-(?:[a-z]{2,8}-(?:[a-z]{3,6}\d\d-)?)?[A-Za-z0-9_-]{20,200}" + _R),
    # Stripe secret and restricted keys (publishable pk_ keys are public).
    *(
        _rule("stripe-key", f"{c}k_{m}_", r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,247}" + _R)
        for c in "sr"
        for m in ("live", "test")
    ),
    # Google API key and OAuth access token.
    _rule("google-api-key", "AIza", r"AIza[0-9A-Za-z_-]{35}" + _R),
    _rule("google-oauth-token", "ya29.", r"ya29\.[0-9A-Za-z_-]{20,}" + _R),
    # npm, PyPI (a macaroon whose first bytes say pypi.org), Hugging Face.
    _rule("npm-token", "npm_", r"npm_[A-Za-z0-9]{36}" + _R),
    _rule("pypi-token", "pypi-AgEI", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}" + _R),
    _rule("huggingface-token", "hf_", r"hf_[A-Za-z0-9]{34,40}" + _R),
    # SendGrid and Twilio API keys.
    _rule("sendgrid-key", "SG.", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + _R),
    _rule("twilio-key", "SK", r"SK[0-9a-f]{32}" + _R),
    # Azure storage account key inside a connection string.
    _rule("azure-storage-key", "AccountKey=", r"AccountKey=([A-Za-z0-9+/]{86}==)", 1, False),
    # A JWT: base64url header and payload that both start with `{"`, and a signature.
    _rule("jwt", "eyJ", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}" + _R),
)

_KEY_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_KEY_LINE = re.compile(r"[ \t]*[\"'`]?[ \t]*[A-Za-z0-9+/=:, -]*(?:\\n)?[\"'`]?[ \t,+]*\\?\r?\n")
_KEY_MAX = 16_384

# Passwords in URLs and DSNs: scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(
    r"[^\s:/?#@'\"`\[\]<>{}]{1,64}:([^\s/?#@'\"`\[\]]{1,128})@(?=[A-Za-z0-9\[{$%])"
)
# A quoted literal assigned to (or compared with) a name: `name = "value"`,
# `"name": "value"`, `name := "value"`, `name => 'value'`, `password="value"` in a call.
_ASSIGNED = re.compile(r"""(?:[:=]=?|=>|==)[ \t]*(?:[rbuRBU]{0,2})(["'`])([^"'`\s\\]{6,256})\1""")
_NAME_BEFORE = re.compile(r"""([A-Za-z_$@][\w.$-]{0,80})["'`]?\]?[ \t]*$""")
_SECRET_NAME = re.compile(
    r"(?i)(?:secret|token|passw(?:or)?d|passphrase|pwd|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|auth[_-]?key|signing[_-]?key|credential|(?<![a-z])key$|(?<=[a-z])Key$)"
)
_PASSWORD_NAME = re.compile(r"(?i)passw(?:or)?d|passphrase|pwd")
# Names that hold something *about* a secret: where it is, what it is called.
_NOT_A_VALUE = re.compile(
    r"(?i)(?:^|[_.-]|(?<=[a-z])(?=[A-Z]))(?:url|uri|urls|name|names|type|types|file|files|path|"
    r"paths|dir|field|fields|prefix|suffix|header|headers|env|var|id|ids|kind|label|class|"
    r"format|pattern|regex|re|len|length|size|count|hint|help|prompt|message|msg|endpoint|"
    r"param|params|attr|key_?name|hash|hasher|salt|algorithm|alg|method|mode|scope|scopes|"
    r"encoding|charset|char|chars|separator|sep|delimiter|text|doc|title|description)$"
)
_DUMMY = re.compile(
    r"(?i)^(?:x+|\*+|\.+|-+|_+|0+|1234.*|password\d*|passwd|pass|pwd|secret\d*|token|"
    r"changeme|change_me|dummy.*|fake.*|test\d*|example|sample|none|null|nil|undefined|"
    r"placeholder|redacted|your[_-].*|my[_-].*|todo|fixme|admin|root|guest|user|default)$"
)


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


_WORDS = re.compile(r"^[A-Za-z]+(?:[_.:/ -][A-Za-z]+)*$")
_FILE_NAME = re.compile(
    r"\.(?:pem|crt|cer|der|key|pub|p12|pfx|json|ya?ml|toml|ini|cfg|conf|txt|env)$"
)
_TEMPLATED = re.compile(r"[{}$%<>]|\.\.\.|…")
_URI = re.compile(r"^[a-z][a-z0-9+.-]{1,15}:")
"""`urn:uuid:…`, `param:…`: names of things, not secrets (URLs with passwords are their
own rule)."""


def _secret_literal(name: str, value: str) -> str | None:
    """The kind of secret `value` is when assigned to `name`, or None."""
    if _TEMPLATED.search(value) or _DUMMY.match(value) or _WORDS.match(value) or _URI.match(value):
        return None
    if _PASSWORD_NAME.search(name):
        if len(value) >= 6 and _classes(value) >= 2 and value != name:
            return "password"
        return None
    if len(value) < 16 or not any(c.isdigit() for c in value) or _FILE_NAME.search(value):
        return None
    if _entropy(value) < (3.5 if "key" in name.lower() else 3.0) or _classes(value) < 2:
        return None
    low = name.lower()
    if "aws" in low:
        return "aws-secret"
    return "token" if "token" in low else "secret"


_KEYWORDS = ("secret", "token", "passw", "pwd", "passphrase", "key", "credential")


def _keyword_lines(text: str) -> list[tuple[int, int]]:
    """The lines that name a secret-ish word: the only ones the keyword rule reads."""
    low = text.lower()
    spans: set[tuple[int, int]] = set()
    for word in _KEYWORDS:
        i = low.find(word)
        while i >= 0:
            start = low.rfind("\n", 0, i) + 1
            end = low.find("\n", i)
            end = len(low) if end < 0 else end
            spans.add((start, end))
            i = low.find(word, end)
    return sorted(spans)


def _keyword_findings(text: str) -> Iterable[Finding]:
    for start, end in _keyword_lines(text):
        for m in _ASSIGNED.finditer(text, start, end):
            head = text[max(start, m.start() - 96) : m.start()]
            nm = _NAME_BEFORE.search(head)
            if nm is None:
                continue
            name = nm.group(1).rsplit(".", 1)[-1].lstrip("$@")
            if not _SECRET_NAME.search(name) or _NOT_A_VALUE.search(name):
                continue
            kind = _secret_literal(name, m.group(2))
            if kind is not None:
                yield Finding(kind, m.start(2), m.end(2))


def _key_findings(text: str) -> Iterable[Finding]:
    """PEM/OpenSSH/PGP private-key bodies: between BEGIN and END; after a BEGIN whose END
    is cut off (by a chunk's end, the cursor), the run of base64 lines that follows; before
    an END whose BEGIN is cut off (a chunk that starts inside the block), the run before."""
    pos = 0
    spans: list[tuple[int, int]] = []
    while (m := _KEY_BEGIN.search(text, pos)) is not None:
        start = m.end()
        end_m = _KEY_END.search(text, start, start + _KEY_MAX)
        if end_m is not None:
            end = end_m.start()
            pos = end_m.end()
        else:
            end = text.find("\n", start) + 1 or len(text)
            while (line := _KEY_LINE.match(text, end)) is not None and line.end() > end:
                end = line.end()
            if text.find("\n", end) < 0:
                end = len(text)
            pos = max(end, m.end())
        spans.append((start, end))
    for m in _KEY_END.finditer(text):
        if any(s <= m.start() <= e + 1 for s, e in spans):
            continue
        start = end = text.rfind("\n", 0, m.start()) + 1
        while start > 0:
            prev = text.rfind("\n", 0, start - 1) + 1
            line = _KEY_LINE.fullmatch(text, prev, start)
            if line is None:
                break
            start = prev
        spans.append((start, end))
    for start, end in spans:
        if sum(c.isalnum() for c in text[start:end]) >= 32:
            yield Finding("private-key", start, end)


def _sk_ok(value: str) -> bool:
    body = value.rsplit("-", 1)[-1] if value.count("-") <= 3 else value[3:]
    return any(c.isdigit() for c in value) and _classes(value) >= 3 and _entropy(body) >= 3.0


def _line_findings(text: str) -> list[Finding]:
    """Findings of the rules that never cross a line (all but private-key blocks)."""
    found: list[Finding] = []
    for rule in RULES:
        i = text.find(rule.literal)
        while i >= 0:
            if not (rule.edge and i and text[i - 1] in _WORDISH):
                m = rule.pattern.match(text, i)
                if m is not None and (rule.kind != "api-key" or _sk_ok(m.group(0))):
                    found.append(Finding(rule.kind, m.start(rule.group), m.end(rule.group)))
            i = text.find(rule.literal, i + 1)
    i = text.find("://")
    while i >= 0:
        m = _URL_PASSWORD.match(text, i + 3)
        if m is not None and not _DUMMY.match(m.group(1)) and not _TEMPLATED.search(m.group(1)):
            found.append(Finding("url-password", m.start(1), m.end(1)))
        i = text.find("://", i + 3)
    found.extend(_keyword_findings(text))
    return found


def _settle(found: list[Finding]) -> list[Finding]:
    """In order, without overlaps (the longer, then the earlier rule wins)."""
    if len(found) < 2:
        return found
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for f in found:
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


def find(text: str) -> list[Finding]:
    """The secrets in `text`, in order, without overlaps."""
    found = _line_findings(text)
    if "PRIVATE KEY" in text:
        found.extend(_key_findings(text))
    return _settle(found)


_lines: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()
_lines_lock = threading.Lock()
_LINES = 50_000


def find_cached(text: str) -> list[Finding]:
    """`find`, remembering each line's findings: the document around the cursor is
    redacted at every keystroke, and only the lines typed since the last one are read."""
    lines = text.split("\n")
    with _lines_lock:
        known = [_lines.get(ln) for ln in lines]
    missing = [i for i, k in enumerate(known) if k is None]
    if missing:
        joined = "\n".join(lines[i] for i in missing)
        per: dict[int, list[Finding]] = {}
        starts, at = [], 0
        for i in missing:
            starts.append(at)
            at += len(lines[i]) + 1
        for f in _line_findings(joined):
            k = bisect.bisect_right(starts, f.start) - 1
            base = starts[k]
            per.setdefault(k, []).append(Finding(f.kind, f.start - base, f.end - base))
        with _lines_lock:
            for k, i in enumerate(missing):
                known[i] = found_here = tuple(per.get(k, ()))
                _lines[lines[i]] = found_here
            while len(_lines) > _LINES:
                _lines.popitem(last=False)
    found: list[Finding] = []
    at = 0
    for ln, fs in zip(lines, known, strict=True):
        if fs:
            found += [Finding(f.kind, f.start + at, f.end + at) for f in fs]
        at += len(ln) + 1
    if "PRIVATE KEY" in text:
        found.extend(_key_findings(text))
    return _settle(found)


def _body(kind: str, value: str) -> str:
    if kind == "private-key":  # keep the block's lines: line numbers stay the same
        n = value.count("\n")
        if value.startswith(("\n", "\r\n")):
            return value[: value.index("\n") + 1] + placeholder(kind) + "\n" * (n - 1)
        return placeholder(kind) + "\n" * n
    return placeholder(kind)


def redact(text: str) -> Redacted:
    """`text` with each secret replaced by `<redacted:KIND>`, and the counts by kind."""
    findings = find(text)
    if not findings:
        return Redacted(text)
    parts: list[str] = []
    at = 0
    for f in findings:
        parts.append(text[at : f.start])
        parts.append(_body(f.kind, text[f.start : f.end]))
        at = f.end
    parts.append(text[at:])
    return Redacted("".join(parts), _counts(f.kind for f in findings))


def _counts(kinds: Iterable[str]) -> Counts:
    return tuple(sorted(Counter(kinds).items()))


def merge(*counts: Counts) -> Counts:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(dict(c))
    return tuple(sorted((k, n) for k, n in total.items() if n))


def summary(counts: Counts) -> str:
    """`3 (aws-secret, github-token ×2)`, for logs and origins; empty for none."""
    if not counts:
        return ""
    names = ", ".join(k if n == 1 else f"{k} ×{n}" for k, n in counts)
    return f"{sum(n for _, n in counts)} ({names})"


def flagged(text: str, before: str = "", after: str = "") -> tuple[str, ...]:
    """The kinds of secret a model's answer `text` would put in a file: placeholders it
    copied from a redacted prompt, and values the redactor would flag. `before` / `after`
    (the text around the insertion, same line) let a value that starts before the cursor
    count too; findings entirely outside `text` do not."""
    kinds = [m.group(0)[10:-1] for m in PLACEHOLDER.finditer(text)]
    whole = before + text + after
    lo, hi = len(before), len(before) + len(text)
    kinds += [f.kind for f in find(whole) if f.start < hi and f.end > lo]
    return tuple(sorted(set(kinds)))


def redact_messages(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], Counts]:
    """Chat messages with each one's content redacted (a fix's code and its context)."""
    done = [redact(m.get("content") or "") for m in messages]
    out = [{**m, "content": r.text} if r.counts else m for m, r in zip(messages, done, strict=True)]
    return out, merge(*(r.counts for r in done))


# -- prompts -------------------------------------------------------------------------------

_WINDOW_SLACK = 4096
"""Characters beyond what a prompt shows of the document that are redacted too, so that a
secret (a PEM block) reaching into the shown part from above is seen whole."""

_cache: OrderedDict[str, Redacted] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE = 512


def _redact_cached(text: str) -> Redacted:
    """Context chunks come back keystroke after keystroke: redact each text once."""
    with _cache_lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
            return hit
    result = redact(text)
    with _cache_lock:
        _cache[text] = result
        while len(_cache) > _CACHE:
            _cache.popitem(last=False)
    return result


def clear_caches() -> None:
    """Forget every text and line already redacted (benchmarks measure a first request)."""
    with _cache_lock:
        _cache.clear()
    with _lines_lock:
        _lines.clear()


def redact_document(prefix: str, suffix: str, prefix_chars: int, suffix_chars: int):
    """The document around the cursor redacted as one text (a secret may straddle the
    cursor): the last `prefix_chars` (+ slack) of the prefix and the first `suffix_chars`
    (+ slack) of the suffix; what lies further away never reaches a prompt and is left as
    it is. A secret that straddles the cursor becomes a placeholder before it."""
    cut = max(0, len(prefix) - prefix_chars - _WINDOW_SLACK)
    if cut:
        cut = prefix.rfind("\n", 0, cut) + 1
    end = min(len(suffix), suffix_chars + _WINDOW_SLACK)
    head, tail = prefix[cut:], suffix[:end]
    text = head + tail
    findings = find_cached(text)
    if not findings:
        return prefix, suffix, ()
    cursor = len(head)
    pre: list[str] = [prefix[:cut]]
    suf: list[str] = []
    at = 0
    for f in findings:
        value = text[f.start : f.end]
        if f.end <= cursor:
            pre += [text[at : f.start], _body(f.kind, value)]
        elif f.start >= cursor:
            if at < cursor:
                pre.append(text[at:cursor])
                at = cursor
            suf += [text[at : f.start], _body(f.kind, value)]
        else:  # the cursor is inside the value
            pre += [text[at : f.start], placeholder(f.kind)]
        at = f.end
    if at < cursor:
        pre.append(text[at:cursor])
        at = cursor
    suf += [text[at:], suffix[end:]]
    return "".join(pre), "".join(suf), _counts(f.kind for f in findings)


def redact_prompt(
    task: CompletionTask, bundle: ContextBundle, prefix_chars: int = 6000, suffix_chars: int = 1500
) -> tuple[CompletionTask, ContextBundle, Counts]:
    """`task` and `bundle` with every secret in what a prompt shows of them (the document
    around the cursor, each context chunk) replaced, before anything is tokenized."""
    prefix, suffix, counts = redact_document(task.prefix, task.suffix, prefix_chars, suffix_chars)
    chunks = []
    all_counts = [counts]
    for c in bundle.chunks:
        r = _redact_cached(c.text)
        chunks.append(replace(c, text=r.text) if r.counts else c)
        all_counts.append(r.counts)
    if counts:
        task = replace(task, prefix=prefix, suffix=suffix)
    if any(all_counts[1:]):
        bundle = replace(bundle, chunks=tuple(chunks))
    return task, bundle, merge(*all_counts)
