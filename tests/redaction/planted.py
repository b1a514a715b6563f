"""Secrets of every kind the redactor knows, planted in Python source for tests.

The values are made up here from a seeded generator (none is a real credential, and none is
written in a test file, where a secret scanner would rightly object); each has the exact
shape of its kind's published format.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Planted:
    kind: str
    value: str
    line: str
    """Python source holding the value (one statement; a PEM block spans lines)."""

    @property
    def pieces(self) -> tuple[str, ...]:
        """What must never appear where the value was redacted (each line of a key)."""
        if self.kind == "private-key":
            return tuple(ln for ln in self.value.split("\n") if len(ln) >= 16)
        return (self.value,)


def _r(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    classes = [str.isdigit, str.islower, str.isupper]
    wanted = [c for c in classes if any(c(ch) for ch in alphabet)]
    while True:  # with every class of character the alphabet has, as real keys have
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if n < 8 or all(any(c(ch) for ch in s) for c in wanted):
            return s


def _jwt(rng: random.Random) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    head = part({"alg": "HS256", "typ": "JWT"})
    body = part({"sub": str(rng.randrange(10**9)), "name": "Ada", "iat": 1700000000})
    return f"{head}.{body}.{_r(rng, 43, URLSAFE)}"


def planted(seed: int = 20) -> list[Planted]:
    """One (or two) of each kind, each on its own statement."""
    rng = random.Random(seed)
    digits = string.digits
    hexd = "0123456789abcdef"
    pem = "\n".join(_r(rng, 64, B64) for _ in range(6))
    items = [
        ("aws-access-key", "AKIA" + _r(rng, 16, UPPER), 'AWS_ACCESS_KEY_ID = "{v}"'),
        ("aws-secret", _r(rng, 40, B64), 'AWS_SECRET_ACCESS_KEY = "{v}"'),
        ("github-token", "ghp_" + _r(rng, 36), 'GITHUB_TOKEN = "{v}"'),
        ("github-token", f"github_pat_{_r(rng, 22)}_{_r(rng, 59)}", 'GH_PAT = "{v}"'),
        ("gitlab-token", "glpat-" + _r(rng, 20, URLSAFE), 'gl = Gitlab(url, private_token="{v}")'),
        (
            "slack-token",
            f"xoxb-{_r(rng, 11, digits)}-{_r(rng, 12, digits)}-{_r(rng, 24)}",
            'slack = WebClient("{v}")',
        ),
        (
            "slack-webhook",
            f"services/T{_r(rng, 8, UPPER)}/B{_r(rng, 8, UPPER)}/{_r(rng, 24)}",
            'HOOK = "https://hooks.slack.com/{v}"',
        ),
        ("api-key", "sk-proj-" + _r(rng, 48, URLSAFE), 'client = OpenAI(api_key="{v}")'),
        ("api-key", "sk-ant-api03-" + _r(rng, 93, URLSAFE), "anthropic = Anthropic('{v}')"),
        ("stripe-key", "sk_live_" + _r(rng, 24), 'stripe.api_key = "{v}"'),
        ("google-api-key", "AIza" + _r(rng, 35, URLSAFE), 'MAPS = "{v}"'),
        ("google-oauth-token", "ya29." + _r(rng, 60, URLSAFE), 'headers = {{"X-Goog": "{v}"}}'),
        ("npm-token", "npm_" + _r(rng, 36), 'registry_auth = "{v}"'),
        ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + _r(rng, 60, URLSAFE), 'UPLOAD = "{v}"'),
        ("huggingface-token", "hf_" + _r(rng, 34), 'login("{v}")'),
        ("sendgrid-key", f"SG.{_r(rng, 22, URLSAFE)}.{_r(rng, 43, URLSAFE)}", 'sg = SG("{v}")'),
        ("twilio-key", "SK" + _r(rng, 32, hexd), 'TWILIO_SID = "{v}"'),
        (
            "azure-storage-key",
            _r(rng, 86, B64) + "==",
            'CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};'
            'EndpointSuffix=core.windows.net"',
        ),
        ("jwt", _jwt(rng), 'SESSION = "{v}"'),
        ("url-password", _r(rng, 14) + "!", 'DSN = f"postgres://admin:{v}@{{host}}/prod"'),
        ("password", _r(rng, 10) + "#7", 'DB_PASSWORD = "{v}"'),
        ("token", _r(rng, 32), 'api_token = "{v}"'),
        ("secret", _r(rng, 50, URLSAFE), "SECRET_KEY = '{v}'"),
        (
            "private-key",
            pem,
            'DEPLOY_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----\n{v}\n'
            '-----END OPENSSH PRIVATE KEY-----"""',
        ),
    ]
    return [Planted(kind, v, line.format(v=v)) for kind, v, line in items]


KINDS = sorted({p.kind for p in planted()})


def settings_module(seed: int = 20) -> str:
    """A `settings.py` holding every planted secret, with a function that uses one."""
    lines = ["import os", ""]
    lines += [p.line for p in planted(seed)]
    lines += [
        "",
        "",
        "def database_url(host):",
        f'    return f"postgresql://app:{planted(seed)[19].value}@{{host}}/prod"',
        "",
    ]
    return "\n".join(lines) + "\n"


def leaks(text: str, seed: int = 20) -> list[str]:
    """The planted values (kinds) found verbatim in `text`."""
    return sorted({p.kind for p in planted(seed) for piece in p.pieces if piece in text})
