"""RemoteEngine against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`) serving SmolLM2 on loopback, started once for this module."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.decoding import Cancelled
from inference.model_card import ModelError
from inference.remote import RemoteEngine, RemoteNotAllowed
from inference.types import CompletionTask, ContextBundle, ContextChunk, GenerationParams

ROOT = Path(__file__).resolve().parents[2]

ALIAS = "smollm2-remote"
SERVER_PACKAGES = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")

TASK = CompletionTask(
    document="file:///w/fib.py",
    path="fib.py",
    language="python",
    prefix="def fibonacci(n):\n    if n < 2:\n        return n\n    return ",
    suffix="\n\nprint(fibonacci(10))\n",
)
SHORT = GenerationParams(max_tokens=12, time_budget_ms=20_000)
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9,"
"""A prompt the model continues for as long as it is allowed to."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port; its base URL."""
    for name in SERVER_PACKAGES:
        pytest.importorskip(name, reason="llama-cpp-python's server extra is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "tests.inference.remote_server",  # llama_cpp.server, after the CPU probe
        "--model",
        str(smollm2),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=1) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        # The server's first completion and first chat are slow (llama.cpp warm-up, chat
        # template compilation): keep them out of the tests' timings.
        for endpoint, body in [
            ("completions", {"prompt": "x", "max_tokens": 1}),
            ("chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1}),
        ]:
            req = urllib.request.Request(
                f"{url}/v1/{endpoint}",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def engine(server: str) -> Iterator[RemoteEngine]:
    e = RemoteEngine(server, allow_remote=True, timeout_s=30)
    e.wait_loaded(30)
    yield e
    e.close()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:{port}", id="loopback-ip"),
        pytest.param("http://localhost:{port}/v1", id="localhost"),
        pytest.param("https://api.example.com/v1", id="internet"),
    ],
)
def test_refused_without_allow_remote_and_nothing_sent(url: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        url = url.format(port=listener.getsockname()[1])
        with pytest.raises(RemoteNotAllowed, match="allowRemote") as err:
            RemoteEngine(url)
        assert url.rstrip("/") in str(err.value)
        with pytest.raises(TimeoutError):
            listener.accept()  # not even a connection was opened


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        pytest.param("ftp://127.0.0.1/v1", {}, "not an http", id="scheme"),
        pytest.param("127.0.0.1:8080", {}, "not an http", id="no-scheme"),
        pytest.param("http://127.0.0.1:9", {"fim": "sideways"}, "FIM mode", id="fim-mode"),
        pytest.param("http://127.0.0.1:9", {"fim_family": "gpt"}, "FIM family", id="family"),
        pytest.param("http://127.0.0.1:99999", {}, "not an http", id="port"),
    ],
)
def test_bad_configuration_is_a_clear_error(url: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        RemoteEngine(url, allow_remote=True, **kwargs)


def test_credentials_in_the_url_never_reach_an_origin() -> None:
    e = RemoteEngine("http://user:secret@127.0.0.1:9/v1/", allow_remote=True, retries=0)
    assert e.device == e.url == "http://127.0.0.1:9/v1"
    with pytest.raises(ModelError) as err:
        e.wait_loaded(10)
    assert "secret" not in str(err.value)
    e.close()


def test_server_down_is_a_clear_error_quickly() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    t0 = time.perf_counter()
    e = RemoteEngine(url, allow_remote=True, retries=2, timeout_s=2)
    with pytest.raises(ModelError, match=r"remote engine at http://127\.0\.0\.1:\d+/v1 is not "):
        e.wait_loaded(10)
    # Requests are answered with the same error, not left hanging.
    with pytest.raises(ModelError, match="not reachable"):
        e.complete(TASK, SHORT).future.result(10)
    e.close()
    assert time.perf_counter() - t0 < 3  # two retries with backoff: 0.2 s + 0.4 s


def test_completion_round_trip_records_endpoint_and_served_model(
    engine: RemoteEngine, server: str
) -> None:
    assert engine.model_id == ALIAS
    assert engine.template.name == "prefix-only"  # SmolLM2 has no FIM tokens
    chunk = ContextChunk("util.py", 0, 1, "def helper():\n    pass\n", "imported module")
    s = engine.complete(TASK, SHORT, ContextBundle((chunk,))).future.result(30)
    assert s.text.strip()
    o = s.origin
    assert (o.engine, o.device, o.model_name, o.route) == ("remote", server, ALIAS, "remote")
    assert o.model_digest == ""
    assert o.template == "prefix-only"
    assert o.context == (chunk,)
    assert 0 < o.confidence <= 1  # from the server's token log-probabilities
    assert o.timing.tokens_generated >= 1
    assert o.timing.total_ms >= o.timing.prefill_ms > 0
    assert "\n\n" not in s.text  # the local stop rules ended it at the end of the block


def test_stop_rules_end_the_completion_at_the_end_of_the_block(engine: RemoteEngine) -> None:
    task = CompletionTask(
        document="file:///w/lines.py",
        path="lines.py",
        language="python",
        prefix="import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n"
        "        return [line.",
        suffix="\n",
    )
    s = engine.complete(task, GenerationParams(max_tokens=32, time_budget_ms=20_000)).future
    text = s.result(30).text
    assert text.strip()
    for line in text.split("\n")[1:]:
        assert not line.strip() or line.startswith(" " * 8), text


def test_chat_round_trip(engine: RemoteEngine) -> None:
    messages = [{"role": "user", "content": "Say hello in one word."}]
    s = engine.chat(messages, GenerationParams(max_tokens=8, time_budget_ms=20_000)).future.result(
        30
    )
    assert s.text
    assert s.origin.template == "chat"
    assert s.origin.model_name == ALIAS


def test_generate_stops_where_the_caller_says(engine: RemoteEngine) -> None:
    def first_line(text: str) -> tuple[bool, int, str]:
        i = text.find("\n", 1)
        return (True, i, "end of line") if i > 0 else (False, len(text), "")

    params = GenerationParams(max_tokens=48, time_budget_ms=20_000)
    s = engine.generate("# A list of fruits:\n- apple\n- ", params, stop=first_line).future.result(
        30
    )
    assert "\n" not in s.text
    assert s.origin.stop_reason in ("end of line", "end of text", "max tokens")


def test_newer_request_for_a_document_supersedes_the_older(engine: RemoteEngine) -> None:
    long = GenerationParams(max_tokens=64, time_budget_ms=30_000)
    first = engine.generate(COUNTING, long, document="doc-a")
    other = engine.generate("Once upon a time", SHORT, document="doc-b")
    second = engine.generate("Once upon a time", SHORT, document="doc-a")
    with pytest.raises(Cancelled, match="superseded"):
        first.future.result(30)
    assert second.future.result(30).text
    assert other.future.result(30).text  # another document is not touched


def test_cancel_stops_a_running_request(engine: RemoteEngine) -> None:
    req = engine.generate(COUNTING, GenerationParams(max_tokens=400, time_budget_ms=60_000))
    time.sleep(0.3)
    assert not req.future.done()
    t0 = time.perf_counter()
    req.cancel()
    with pytest.raises(Cancelled, match="cancelled"):
        req.future.result(30)
    assert time.perf_counter() - t0 < 2
    # The engine is still usable afterwards.
    assert engine.generate("1, 2, 3,", SHORT).future.result(30).text


def test_close_answers_every_request(server: str) -> None:
    e = RemoteEngine(server, allow_remote=True, max_workers=1)
    e.wait_loaded(30)
    reqs = [e.generate(COUNTING, GenerationParams(max_tokens=300)) for _ in range(3)]
    time.sleep(0.2)
    e.close()
    for r in reqs:
        with pytest.raises(Cancelled, match="shutdown"):
            r.future.result(30)
    with pytest.raises(ModelError, match="shut down"):
        e.complete(TASK).future.result(1)


def test_unknown_model_names_what_is_served(server: str) -> None:
    e = RemoteEngine(server, model="qwen2.5-coder:7b", allow_remote=True)
    with pytest.raises(ModelError, match=f"does not serve 'qwen2.5-coder:7b'; it serves: {ALIAS}"):
        e.wait_loaded(30)
    e.close()


def test_server_errors_are_reported_with_the_servers_reason(engine: RemoteEngine) -> None:
    with pytest.raises(ModelError, match=r"answered 400 .*context length") as err:
        engine.generate("word " * 5000, SHORT).future.result(30)
    assert engine.url in str(err.value)
    assert engine.generate("1, 2, 3,", SHORT).future.result(30).text  # still usable


def test_without_logprobs_there_is_no_confidence_figure(server: str) -> None:
    with contextlib.closing(RemoteEngine(server, allow_remote=True, logprobs=False)) as e:
        e.wait_loaded(30)
        s = e.complete(TASK, SHORT).future.result(30)
        assert s.text and s.origin.confidence == 0.0


@pytest.mark.parametrize(
    ("kwargs", "template"),
    [
        pytest.param({"fim_family": "qwen"}, "qwen/psm", id="focal-template-qwen"),
        pytest.param({"fim_family": "mellum"}, "mellum/spm", id="focal-template-mellum"),
        pytest.param({"fim": "suffix"}, "openai/suffix", id="server-suffix-field"),
        pytest.param({"fim": "prefix"}, "prefix-only", id="prefix-only"),
    ],
)
def test_fim_modes(server: str, kwargs: dict, template: str) -> None:
    with contextlib.closing(RemoteEngine(server, allow_remote=True, **kwargs)) as e:
        e.wait_loaded(30)
        assert e.template.name == template
        s = e.complete(TASK, SHORT).future.result(30)
        assert s.origin.template == template
        assert s.origin.stop_reason


def test_a_document_with_lone_surrogates_is_completed_remotely(engine: RemoteEngine) -> None:
    """A document may hold lone surrogates (valid JSON escapes from the editor); sent
    escaped, servers reject them (llama-server's parser, or the server's own tokenizer):
    they travel as U+FFFD and the completion comes back."""
    task = CompletionTask(
        document="file:///w/bad.py",
        path="bad.py",
        language="python",
        prefix="bad = '\udcff\ud800'\n\n\ndef greet(name):\n    return ",
        suffix="\n",
    )
    s = engine.complete(task, SHORT).future.result(30)
    assert s.text.strip()
