"""`focal context --redact-secrets` shows the prompt as the model would see it under each
policy; the remote engine redacts the bodies of chats and plain prompts too (fixes and
commit messages); a completion that would write a secret is withheld with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.remote import RemoteEngine
from inference.types import (
    CompletionTask,
    GenerationParams,
    Origin,
    Suggestion,
    Timing,
)
from lsp_server.features.completion import _withheld
from tests.inference.test_remote import server  # noqa: F401 (fixture)
from tests.redaction.planted import KINDS, leaks, planted, settings_module
from tests.redaction.proxy import recording_proxy

ROOT = Path(__file__).resolve().parents[2]


def _focal(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "lsp_server", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "settings.py").write_text(settings_module(20))
    own = "\n".join(p.line for p in planted(21))
    main = f"from app.settings import database_url\n\n{own}\n\n\n"
    main += "def go(host):\n    return database_url("
    (root / "app" / "main.py").write_text(main + "host)\n")
    lines = main.split("\n")
    return root, f"{root / 'app' / 'main.py'}:{len(lines)}:{len(lines[-1]) + 1}"


@pytest.mark.parametrize("policy", ["always", "remote", "never"])
def test_focal_context_shows_the_prompt_under_each_policy(
    workspace: tuple[Path, str], tiny_model: Path, policy: str
) -> None:
    root, loc = workspace
    args = ("context", loc, "--root", str(root), "--model", str(tiny_model))
    out = _focal(*args, "--redact-secrets", policy)
    prompt = "".join(p["text"] for p in out["prompt"]["pieces"])
    chunks = "".join(c["text"] for c in out["chunks"])
    assert out["redactSecrets"] == policy
    assert any(c["path"] == "app/settings.py" for c in out["chunks"]), out["chunks"]
    if policy == "always":
        assert leaks(prompt, 20) == leaks(prompt, 21) == leaks(chunks, 20) == []
        assert set(out["redactions"]) == set(KINDS)
        assert "<redacted:aws-secret>" in prompt and "<redacted:url-password>" in chunks
    else:  # a local model: `remote` leaves its prompt as it is, like `never`
        assert out["redactions"] == {}
        assert set(leaks(prompt, 21)) == set(KINDS)


def test_remote_chat_and_prompt_bodies_are_redacted(
    server: str,  # noqa: F811 (the fixture imported above)
) -> None:
    code = settings_module(20)
    short = GenerationParams(max_tokens=4, time_budget_ms=60_000)
    with recording_proxy(server) as (url, recorder):
        engine = RemoteEngine(url, allow_remote=True, timeout_s=120)
        try:
            engine.wait_loaded(60)
            chat = engine.chat(
                [{"role": "system", "content": "Fix code."}, {"role": "user", "content": code}],
                short,
            ).future.result(180)
            plain = engine.generate(f"Summarize:\n{code}", short).future.result(180)
            engine.redact_secrets = False  # `privacy.redactSecrets: never`
            engine.generate(f"Summarize:\n{code}", short).future.result(180)
        finally:
            engine.close()
        chats = recorder.posts("/v1/chat/completions")
        prompts = recorder.posts("/v1/completions")
    assert chats and len(prompts) == 2
    assert leaks(chats[0], 20) == [] and leaks(prompts[0], 20) == []
    assert "<redacted:private-key>" in chats[0] and "<redacted:jwt>" in prompts[0]
    assert set(dict(chat.origin.redactions)) == set(KINDS)
    assert plain.origin.redactions == chat.origin.redactions
    assert set(leaks(prompts[1], 20)) == set(KINDS)  # the control: redaction off


def _suggestion(text: str) -> Suggestion:
    origin = Origin(
        "m", "", "", "Q4_0", "llama", "llama.cpp", "cpu", "prefix-only",
        GenerationParams(), Timing(), 0.5, "end of text",
    )  # fmt: skip
    return Suggestion("s1", text, origin)


@pytest.mark.parametrize(
    ("prefix", "text", "kinds"),
    [
        pytest.param('KEY = "', '<redacted:aws-secret>"', "aws-secret", id="placeholder"),
        pytest.param('T = "', planted()[2].value + '"', "github-token", id="token"),
        pytest.param("x = ", "compute(1, 2)", "", id="ordinary"),
    ],
)
def test_a_completion_that_would_write_a_secret_is_withheld(prefix, text, kinds) -> None:
    task = CompletionTask("file:///a.py", "a.py", "python", prefix, "\n")
    out = _withheld(_suggestion(text), task)
    if kinds:
        assert out.text == ""
        assert out.origin.stop_reason == f"withheld: it would write a secret ({kinds})"
    else:
        assert out.text == text and out.origin.stop_reason == "end of text"


def test_local_engine_redacts_chats_and_prompts_when_told(tiny_chat_model: Path) -> None:
    """`always`: fixes (chat) and commit messages (plain prompts) given to the local model
    are redacted before they are tokenized; the prompt kept for the ledger is the one sent."""
    from inference.engine import EngineConfig, LlamaEngine

    code = settings_module(20)
    short = GenerationParams(max_tokens=2, time_budget_ms=60_000)
    engine = LlamaEngine.from_path(tiny_chat_model, EngineConfig(n_gpu_layers=0, n_ctx=4096))
    try:
        engine.wait_loaded()
        engine.redact_secrets = True
        chat = engine.chat([{"role": "user", "content": code}], short).future.result(120)
        plain = engine.generate(f"Summarize:\n{code}", short).future.result(120)
        engine.redact_secrets = False
        raw = engine.generate(f"Summarize:\n{code}", short).future.result(120)
    finally:
        engine.close()
    assert set(dict(chat.origin.redactions)) == set(KINDS)
    assert leaks(plain.prompt, 20) == [] and "<redacted:stripe-key>" in plain.prompt
    assert plain.origin.redactions == chat.origin.redactions
    assert raw.origin.redactions == () and set(leaks(raw.prompt, 20)) == set(KINDS)
