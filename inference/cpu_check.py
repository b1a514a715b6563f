"""Run llama.cpp's special CPU kernels only where they have been seen to work.

llama.cpp's CPU backend gives some weight types "extra buffer types": AMX tiles for
Q4_0/Q4_1/Q8_0 (and K-quants) on Intel CPUs that report AMX, repacked layouts (`CPU_REPACK`)
for AVX2/AVX-512/NEON. Built natively, it uses them whenever the CPU *reports* the feature;
on some virtual machines the hypervisor or kernel reports AMX but gives the process no tile
state, and the first matrix multiply is a SIGILL that kills the whole server.

So before the first model load on a host, a child process loads a tiny model whose weights
take those paths (Q4_0, Q4_1 and Q8_0 tensors with rows long enough for the AMX and repack
kernels), reads a prompt and decodes a few tokens. If the child dies by a signal, fails or
hangs, models are loaded with `use_extra_bufts = False` (plain CPU kernels: slower for those
types, safe everywhere) and the user is told once. The verdict is kept per (llama.cpp build,
CPU, kernel) in the user's cache directory, so later starts cost nothing.
`focal.model.cpuExtraBuffers` (`auto`, `on`, `off`; `FOCAL_CPU_EXTRA_BUFFERS` for the
command line) overrides it.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import logging
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTINGS = ("auto", "on", "off")
ENV_SETTING = "FOCAL_CPU_EXTRA_BUFFERS"
ENV_PROBE_COMMAND = "FOCAL_CPU_PROBE_COMMAND"
"""Replaces the probe child's command line (tests inject a crash with it; also a way to try
a probe of one's own). Exit status 0 means the kernels work."""
PROBE_TIMEOUT_S = 120.0
PROBE_QUANTS = ("Q4_0", "Q4_1", "Q8_0")
CACHE_FILE = "cpu-probe.json"
_CPU_FLAGS = (
    "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
    "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd", "sve",
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """What the probe found on one host."""

    ok: bool
    reason: str
    """One line: `passed (AMX, CPU_REPACK exercised)`, `killed by SIGILL (Illegal instruction)`."""
    key: str
    """The host key: llama.cpp build, CPU model and flags, kernel."""
    host: str
    """The same key, readable."""
    checked_at: float
    """When the probe ran (seconds since the epoch)."""
    seconds: float
    """How long it took."""

    def age(self, now: float | None = None) -> str:
        s = max(0.0, (now or time.time()) - self.checked_at)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if s >= size:
                return f"{s / size:.0f} {unit}"
        return f"{s:.0f} s"


@dataclass(frozen=True)
class CpuDecision:
    """Whether a model load uses llama.cpp's extra CPU buffer types, and why."""

    extra_bufts: bool
    setting: str
    """`auto`, `on` or `off` as configured."""
    buffer_types: tuple[str, ...]
    """The extra buffer types this build offers here, e.g. `("AMX", "CPU_REPACK")`."""
    verdict: Verdict | None = None
    fresh: bool = False
    """The probe ran for this decision (not read from the cache)."""

    @property
    def notice(self) -> str | None:
        """What to tell the user when the probe turned the fast kernels off."""
        if self.extra_bufts or self.verdict is None or self.verdict.ok:
            return None
        kinds = ", ".join(self.buffer_types) or "extra buffer types"
        return (
            f"llama.cpp's special CPU kernels ({kinds}) failed a test run on this machine "
            f"({self.verdict.reason}), so Focal loads models without them: safe, but slower "
            "for Q4_0/Q4_1/Q8_0 weights. `focal doctor` shows the details; a portable "
            "llama-cpp-python build (README, CPU builds) or `focal.model.cpuExtraBuffers: on` "
            "changes it."
        )

    def describe(self) -> str:
        """One line for logs, `focal/status` and `focal doctor`."""
        if not self.buffer_types:
            return "no extra CPU buffer types in this llama.cpp build"
        kinds = ", ".join(self.buffer_types)
        if self.setting != "auto":
            return f"extra CPU buffer types ({kinds}) {self.setting}: set by the user"
        assert self.verdict is not None
        state = "on" if self.extra_bufts else "off"
        return f"extra CPU buffer types ({kinds}) {state}: probe {self.verdict.reason}"

    def as_json(self) -> dict[str, Any]:
        return {
            "used": self.extra_bufts,
            "setting": self.setting,
            "bufferTypes": list(self.buffer_types),
            "verdict": None if self.verdict is None else asdict(self.verdict),
            "summary": self.describe(),
        }


# -- what this llama.cpp build offers -------------------------------------------------------


class _Feature(ctypes.Structure):
    # struct ggml_backend_feature { const char * name; const char * value; }
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


def _cpu_backend() -> tuple[Any, Any, Any]:
    """(libraries, the CPU backend's registry, its device) from ggml's registry API."""
    from inference.offload import _Lib

    lib = _Lib.get()
    vp = ctypes.c_void_p
    for name, res, args in (
        ("ggml_backend_reg_by_name", vp, [ctypes.c_char_p]),
        ("ggml_backend_reg_dev_get", vp, [vp, ctypes.c_size_t]),
    ):
        fn = getattr(lib.ggml, name)
        fn.restype, fn.argtypes = res, args
    for name, res, args in (
        ("ggml_backend_reg_get_proc_address", vp, [vp, ctypes.c_char_p]),
        ("ggml_backend_buft_name", ctypes.c_char_p, [vp]),
    ):
        fn = getattr(lib.base, name)
        fn.restype, fn.argtypes = res, args
    reg = lib.ggml.ggml_backend_reg_by_name(b"CPU")
    dev = lib.ggml.ggml_backend_reg_dev_get(reg, 0) if reg else None
    return lib, reg, dev


def buffer_types() -> tuple[str, ...]:
    """The extra buffer types llama.cpp's CPU backend offers on this host (what
    `use_extra_bufts` turns on): `AMX`, `CPU_REPACK`, `KLEIDIAI`…"""
    lib, reg, dev = _cpu_backend()
    if not reg or not dev:
        return ()
    addr = lib.base.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_dev_get_extra_bufts")
    if not addr:
        return ()
    get = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(addr)
    arr = get(dev)
    names = []
    i = 0
    while arr and arr[i]:
        names.append((lib.base.ggml_backend_buft_name(arr[i]) or b"?").decode())
        i += 1
    return tuple(names)


def build_features() -> dict[str, str]:
    """The CPU features llama.cpp's CPU backend was built for (`AVX2`, `AVX512`, `AMX_INT8`…)."""
    lib, reg, _ = _cpu_backend()
    if not reg:
        return {}
    addr = lib.base.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_get_features")
    if not addr:
        return {}
    get = ctypes.CFUNCTYPE(ctypes.POINTER(_Feature), ctypes.c_void_p)(addr)
    feats = get(reg)
    out: dict[str, str] = {}
    i = 0
    while feats and feats[i].name:
        out[feats[i].name.decode()] = (feats[i].value or b"").decode()
        i += 1
    return out


def host_cpu() -> tuple[str, tuple[str, ...]]:
    """This CPU's model name and the flags the kernel reports that matter to llama.cpp."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and value.strip():
                    model = value.strip()
                elif key in ("flags", "Features"):
                    flags.update(value.split())
                if model and flags and key == "":
                    break  # the first processor's block is enough
    except OSError:
        pass
    return model, tuple(f for f in _CPU_FLAGS if f in flags)


def _build_id() -> str:
    """llama-cpp-python's version and a digest of its CPU backend library (a rebuild with
    other flags is another build)."""
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    h = hashlib.sha256()
    libs = sorted(p for p in folder.glob("*ggml*") if p.is_file()) if folder.is_dir() else []
    for p in libs:
        if "cpu" in p.name or p.name.startswith(("libggml.", "ggml.")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} #{h.hexdigest()[:12]}"


def host_key() -> tuple[str, str]:
    """(key, readable) for the verdict cache: build, CPU model and flags, kernel."""
    model, flags = host_cpu()
    kernel = f"{platform.system()} {platform.release()}"
    readable = f"{_build_id()}; {model} [{' '.join(flags)}]; {kernel}"
    return hashlib.sha256(readable.encode()).hexdigest()[:24], readable


# -- the verdict cache ----------------------------------------------------------------------


def cache_path() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("focal")) / CACHE_FILE


def cached(key: str) -> Verdict | None:
    try:
        entry = json.loads(cache_path().read_text()).get(key)
        return Verdict(**entry) if isinstance(entry, dict) else None
    except (OSError, ValueError, TypeError):
        return None  # no cache, or one we cannot read: probe again


def _remember(v: Verdict) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[v.key] = asdict(v)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError as exc:  # the verdict still holds for this process
        log.warning("could not save the CPU probe's verdict to %s: %s", path, exc)


# -- the probe --------------------------------------------------------------------------------


def probe_command(workdir: Path) -> list[str]:
    override = os.environ.get(ENV_PROBE_COMMAND)
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "inference.cpu_check", "--child", str(workdir)]


def run_probe(key: str, readable: str, timeout: float = PROBE_TIMEOUT_S) -> Verdict:
    """Run the probe child and judge it."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="focal-cpu-probe-") as tmp:
        cmd = probe_command(Path(tmp))
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=os.environ | {ENV_SETTING: "on"},
            )
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = None, "", ""
        except OSError as exc:
            rc, out, err = 127, "", f"could not start {cmd[0]}: {exc}"
    seconds = time.perf_counter() - t0
    if rc is None:
        reason = f"did not finish in {timeout:.0f} s"
    elif rc < 0:
        try:
            sig = signal.Signals(-rc)
            reason = f"killed by {sig.name} ({signal.strsignal(sig) or sig.name})"
        except ValueError:
            reason = f"killed by signal {-rc}"
    elif rc != 0:
        last = next((ln for ln in reversed(err.splitlines()) if ln.strip()), "")
        reason = f"failed with exit status {rc}" + (f": {last.strip()[:200]}" if last else "")
    else:
        reason = "passed"
        try:
            used = json.loads(out.strip().splitlines()[-1]).get("buffers", [])
            if used:
                reason += f" ({', '.join(used)} exercised)"
        except (ValueError, IndexError, AttributeError):
            pass
    return Verdict(rc == 0, reason, key, readable, time.time(), round(seconds, 3))


_lock = threading.Lock()
_decided: dict[str, CpuDecision] = {}


def decide(setting: str = "auto", *, reprobe: bool = False) -> CpuDecision:
    """Whether to load models with extra CPU buffer types. Probes once per host (then reads
    the cache); thread-safe; the same answer for the whole process."""
    if setting == "auto":
        setting = os.environ.get(ENV_SETTING, "auto").strip().lower() or "auto"
    if setting not in SETTINGS:
        log.warning("%s=%r is not one of %s; using auto", ENV_SETTING, setting, SETTINGS)
        setting = "auto"
    with _lock:
        if not reprobe and setting in _decided:
            return _decided[setting]
        kinds = buffer_types()
        if setting != "auto" or not kinds:
            decision = CpuDecision(setting != "off" and bool(kinds), setting, kinds)
        else:
            key, readable = host_key()
            verdict = None if reprobe else cached(key)
            fresh = verdict is None
            if verdict is None:
                names = ", ".join(kinds)
                log.info("checking llama.cpp's CPU kernels (%s) in a child process", names)
                verdict = run_probe(key, readable)
                _remember(verdict)
            decision = CpuDecision(verdict.ok, setting, kinds, verdict, fresh)
            if fresh:
                level = logging.INFO if verdict.ok else logging.WARNING
                log.log(level, "CPU probe %s in %.1f s: %s", verdict.reason, verdict.seconds,
                        decision.describe())  # fmt: skip
        _decided[setting] = decision
        if decision.fresh:  # later loads in this process read it as remembered
            _decided[setting] = CpuDecision(
                decision.extra_bufts, setting, decision.buffer_types, decision.verdict, False
            )
        return decision


# -- the child --------------------------------------------------------------------------------


def _child(workdir: Path) -> int:
    """Load a tiny model per weight type and run it; print the buffer types seen."""
    import llama_cpp

    from inference import llama_log
    from inference.synthetic import write_shaped_model

    seen: set[str] = set()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage()
            # llama.cpp logs "<buffer type> model buffer size = … MiB" per buffer at load.
            if "model buffer size" in msg:
                seen.add(msg.split("model buffer size")[0].split(":")[-1].strip())

    logging.getLogger("llama.cpp").addHandler(Watch())
    logging.getLogger("llama.cpp").setLevel(logging.DEBUG)
    llama_log.install()
    for quant in PROBE_QUANTS:
        path = write_shaped_model(workdir / f"probe-{quant}.gguf", "cpu-probe", quant)
        llm = llama_cpp.Llama(
            str(path), n_ctx=256, n_batch=64, n_gpu_layers=0, n_threads=1, seed=0, verbose=False
        )
        try:
            prompt = [(i * 7 + 3) % (llm.n_vocab() - 1) + 1 for i in range(48)]
            llm.eval(prompt)  # a batched matrix multiply (prompt)
            for _ in range(3):  # single-row ones (decoding)
                llm.eval([int(llm.sample(temp=0.0))])
        finally:
            llm.close()
    print(json.dumps({"ok": True, "buffers": sorted(seen - {"CPU", "CPU_Mapped"})}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.cpu_check", description=__doc__)
    p.add_argument("--child", metavar="DIR", help="run the probe itself in DIR (internal)")
    args = p.parse_args(argv)
    if args.child:
        return _child(Path(args.child))
    d = decide("auto", reprobe=True)
    print(d.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
