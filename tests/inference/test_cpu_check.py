"""The CPU kernel probe: llama.cpp's extra buffer types (AMX, repacked weights) are used only
where a child process has run them on this host; a crash there turns them off, once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inference import cpu_check

ROOT = Path(__file__).resolve().parents[2]
SIGILL_CHILD = f"{sys.executable} -c 'import os, signal; os.kill(os.getpid(), signal.SIGILL)'"


def _decide(tmp: Path, setting: str = "auto", probe: str | None = None, **env: str) -> dict:
    """`cpu_check.decide` in a fresh process (as a server start would), with its own cache."""
    code = (
        f"import json; from inference import cpu_check as c; d = c.decide({setting!r}); "
        "print(json.dumps(d.as_json() | {'fresh': d.fresh, 'notice': d.notice}))"
    )
    environ = dict(os.environ)
    environ.pop(cpu_check.ENV_PROBE_COMMAND, None)
    environ.pop(cpu_check.ENV_SETTING, None)
    environ |= {"XDG_CACHE_HOME": str(tmp / "cache")} | env
    if probe is not None:
        environ[cpu_check.ENV_PROBE_COMMAND] = probe
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _buffer_types() -> tuple[str, ...]:
    return cpu_check.buffer_types()


needs_extra_bufts = pytest.mark.skipif(
    not _buffer_types(), reason="this llama.cpp build has no extra CPU buffer types to probe"
)


@needs_extra_bufts
def test_real_probe_runs_once_per_host_and_is_cached(tmp_path: Path) -> None:
    first = _decide(tmp_path)
    assert first["fresh"] is True
    verdict = first["verdict"]
    assert verdict is not None and verdict["reason"]
    assert first["used"] is verdict["ok"]
    cache = json.loads((tmp_path / "cache" / "focal" / cpu_check.CACHE_FILE).read_text())
    assert cache[verdict["key"]]["reason"] == verdict["reason"]
    # A second start reads the verdict: no probe, the same answer, the same timestamp.
    second = _decide(tmp_path, probe=SIGILL_CHILD)
    assert second["fresh"] is False
    assert second["used"] is first["used"]
    assert second["verdict"]["checked_at"] == verdict["checked_at"]


@needs_extra_bufts
def test_a_probe_killed_by_sigill_turns_extra_buffers_off(tmp_path: Path) -> None:
    d = _decide(tmp_path, probe=SIGILL_CHILD)
    assert d["used"] is False
    assert d["verdict"]["ok"] is False
    assert d["verdict"]["reason"].startswith("killed by SIGILL")
    assert "SIGILL" in d["notice"] and "focal doctor" in d["notice"]


@needs_extra_bufts
def test_a_passing_probe_keeps_the_fast_path(tmp_path: Path) -> None:
    d = _decide(tmp_path, probe=f"{sys.executable} -c 'print(1)'")
    assert d["used"] is True
    assert d["verdict"]["ok"] is True
    assert d["notice"] is None


@needs_extra_bufts
@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        pytest.param(f"{sys.executable} -c 'import sys; sys.exit(3)'", "exit status 3", id="exit"),
        pytest.param("/nonexistent/focal-probe", "exit status 127", id="cannot-start"),
    ],
)
def test_a_failing_probe_says_why(tmp_path: Path, probe: str, reason: str) -> None:
    d = _decide(tmp_path, probe=probe)
    assert d["used"] is False
    assert reason in d["verdict"]["reason"]


def test_a_hung_probe_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hang = f"{sys.executable} -c 'import time; time.sleep(30)'"
    monkeypatch.setenv(cpu_check.ENV_PROBE_COMMAND, hang)
    v = cpu_check.run_probe("k", "host", timeout=1.0)
    assert not v.ok
    assert v.reason == "did not finish in 1 s"
    assert v.seconds < 10


@needs_extra_bufts
@pytest.mark.parametrize(
    ("setting", "used"), [pytest.param("on", True, id="on"), pytest.param("off", False, id="off")]
)
def test_the_setting_overrides_the_probe(tmp_path: Path, setting: str, used: bool) -> None:
    marker = tmp_path / "probed"
    d = _decide(tmp_path, setting, probe=f"touch {marker}")
    assert d["used"] is used
    assert d["verdict"] is None
    assert not marker.exists()  # no probe ran
    # The command line's variable does the same where no setting is given.
    assert (
        _decide(tmp_path, "auto", probe=f"touch {marker}", **{cpu_check.ENV_SETTING: setting})[
            "used"
        ]
        is used
    )
    assert not marker.exists()


@needs_extra_bufts
def test_the_verdict_reaches_llama_cpp(tmp_path: Path) -> None:
    """With extra buffer types off, llama.cpp puts no weight in an AMX or repacked buffer;
    with them on (only where the probe passed), it does for a Q4_0 model."""
    from inference.synthetic import write_shaped_model

    model = write_shaped_model(tmp_path / "q4_0.gguf", "cpu-probe", "Q4_0")
    code = """
import logging, sys
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import read_model_card
seen = []
class H(logging.Handler):
    def emit(self, r):
        m = r.getMessage()
        if "model buffer size" in m:
            seen.append(m.split("model buffer size")[0].split(":")[-1].strip())
logging.getLogger("llama.cpp").addHandler(H()); logging.getLogger("llama.cpp").setLevel(10)
e = LlamaEngine(read_model_card(sys.argv[1]), EngineConfig(n_ctx=256, n_threads=1,
    cpu_extra_buffers=sys.argv[2]))
e.wait_loaded(); e.close()
print(",".join(sorted(set(seen))))
"""
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop(cpu_check.ENV_PROBE_COMMAND, None)

    def buffers(setting: str) -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(model), setting],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        return set(out.stdout.strip().split(","))

    off = buffers("off")
    assert not off & set(_buffer_types()), off
    if _decide(tmp_path)["used"]:
        assert buffers("auto") & set(_buffer_types())


def test_every_model_load_goes_through_the_check() -> None:
    """Completions, fixes and summaries load through `LlamaEngine._load`, which asks the
    probe first; a new `Llama(...)` elsewhere in the product would bypass it."""
    loads = {}
    for package in ("lsp_server", "inference", "indexing"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if re.search(r"(?<![`\w.])(llama_cpp\.)?Llama\(", text):  # not in `quotes`
                loads[path.relative_to(ROOT).as_posix()] = text
    assert set(loads) == {"inference/engine.py", "inference/cpu_check.py"}, sorted(loads)
    engine = loads["inference/engine.py"]
    assert engine.index("cpu_check.decide(") < engine.index("llama_cpp.Llama(")
    assert "extra_bufts=self.cpu.extra_bufts" in engine
