"""Model discovery over real store layouts (HF cache, LM Studio, Ollama, plain folders) built
in tmp dirs with real GGUF files, plus `focal models` / `focal pull` (offline only)."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inference.discovery import _ollama_name, discover
from inference.models_cli import add_commands
from inference.pull import PullError, pull
from inference.synthetic import write_tiny_model

HF_REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"
HF_FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


@dataclass(frozen=True)
class Machine:
    root: Path
    home: Path
    xdg_cache: Path
    hub: Path
    ollama: Path
    folder: Path
    sha256: str
    """Of SmolLM2, the real model in the HF cache."""
    ollama_sha256: str
    hf_file: Path
    lmstudio_file: Path
    ollama_blob: Path


def _manifest(digest: str, model_layer: bool = True) -> str:
    layers = [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64}
    ]
    if model_layer:
        layers.insert(0, {"mediaType": "application/vnd.ollama.image.model", "digest": digest})
    return json.dumps({"schemaVersion": 2, "layers": layers})


@pytest.fixture(scope="module")
def machine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """A home folder with models in every store, and a folder of good and bad files: the real
    SmolLM2 in the HF cache, synthetic tiny models (MoE, FIM families) everywhere else."""
    root = tmp_path_factory.mktemp("machine")
    sha = hashlib.sha256(smollm2.read_bytes()).hexdigest()
    tiny = root / "tiny"
    tiny.mkdir()
    moe = write_tiny_model(tiny / "moe.gguf", arch="qwen3moe", fim="qwen")
    mellum = write_tiny_model(tiny / "mellum.gguf", arch="mellum", fim="spm", chat_template=True)
    plain = write_tiny_model(tiny / "plain.gguf", arch="llama", fim=None)

    # Hugging Face cache: snapshots symlink into content-addressed blobs; two revisions
    # share one blob.
    xdg = root / "xdg-cache"
    hub = xdg / "huggingface" / "hub"
    repo = hub / ("models--" + HF_REPO.replace("/", "--"))
    blob = repo / "blobs" / sha
    blob.parent.mkdir(parents=True)
    shutil.copyfile(smollm2, blob)
    for rev in ("a" * 40, "b" * 40):
        snap = repo / "snapshots" / rev
        snap.mkdir(parents=True)
        (snap / HF_FILE).symlink_to(Path("../../blobs") / sha)
        (snap / "README.md").write_text("model card\n")
    bert = hub / "models--google--bert-base" / "snapshots" / ("c" * 40)
    bert.mkdir(parents=True)
    (bert / "model.safetensors").write_bytes(b"\0" * 64)  # not GGUF: not listed from HF

    # LM Studio: <publisher>/<repo>/<file>.gguf, and an MLX (safetensors) model.
    home = root / "home"
    lms = home / ".lmstudio" / "models"
    lms_file = lms / "lmstudio-community" / "Qwen3-MoE-Tiny-GGUF" / "qwen3-moe-tiny-F16.gguf"
    lms_file.parent.mkdir(parents=True)
    shutil.copyfile(moe, lms_file)
    mlx = lms / "mlx-community" / "Qwen2.5-Coder-7B-4bit"
    mlx.mkdir(parents=True)
    (mlx / "model.safetensors").write_bytes(b"\0" * 64)
    (mlx / "config.json").write_text("{}")

    # Ollama: manifests name the model layer's blob.
    ollama = root / "ollama"
    man = ollama / "manifests" / "registry.ollama.ai" / "library"
    mellum_sha = hashlib.sha256(mellum.read_bytes()).hexdigest()
    (man / "mellum").mkdir(parents=True)
    (man / "mellum" / "tiny").write_text(_manifest(f"sha256:{mellum_sha}"))
    (man / "qwen2.5-coder").mkdir(parents=True)
    (man / "qwen2.5-coder" / "7b").write_text(_manifest("sha256:" + "e" * 64))  # blob missing
    (man / "broken").mkdir(parents=True)
    (man / "broken" / "latest").write_text("{not json")
    (man / "adapter-only").mkdir(parents=True)
    (man / "adapter-only" / "latest").write_text(_manifest("", model_layer=False))
    ollama_blob = ollama / "blobs" / f"sha256-{mellum_sha}"
    ollama_blob.parent.mkdir(parents=True)
    shutil.copyfile(mellum, ollama_blob)

    # A plain folder: a good model, a symlink to it, and bad files.
    folder = root / "models"
    (folder / "sub").mkdir(parents=True)
    shutil.copyfile(plain, folder / "sub" / "good.gguf")
    (folder / "link-to-good.gguf").symlink_to(folder / "sub" / "good.gguf")
    (folder / "corrupt.gguf").write_bytes(b"GGUF" + os.urandom(200))
    (folder / "page.gguf").write_bytes(b"<!DOCTYPE html><html>Not found</html>" * 4)
    (folder / "truncated.gguf").write_bytes(plain.read_bytes()[:-4096])
    shutil.copyfile(plain, folder / "big-00001-of-00002.gguf")  # part 2 is missing
    (folder / "notes.txt").write_text("not a model\n")
    (folder / ".trash").mkdir()
    (folder / ".trash" / "old.gguf").write_bytes(b"ignored: hidden folder")
    return Machine(
        root,
        home,
        xdg,
        hub,
        ollama,
        folder,
        sha,
        mellum_sha,
        repo / "snapshots" / ("a" * 40) / HF_FILE,
        lms_file,
        ollama_blob,
    )


@pytest.fixture
def on_machine(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> Machine:
    """Point HOME and the stores' environment variables at the fake machine."""
    monkeypatch.setenv("HOME", str(machine.home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(machine.xdg_cache))
    monkeypatch.setenv("OLLAMA_MODELS", str(machine.ollama))
    for var in ("HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    return machine


def _by_name(models):
    return {m.name: m for m in models}


def test_finds_a_model_in_every_store(on_machine: Machine) -> None:
    t0 = time.perf_counter()
    found = discover()
    took = time.perf_counter() - t0
    usable = {
        (m.source, m.name): (
            m.architecture,
            m.quantization,
            m.context_length,
            (m.expert_used_count, m.expert_count),
            m.fim_family,
            m.has_chat_template,
        )
        for m in found
        if m.ok
    }
    assert usable == {
        ("huggingface", HF_REPO): ("llama", "Q4_1", 8192, (0, 0), "none", True),
        ("lmstudio", "lmstudio-community/Qwen3-MoE-Tiny-GGUF"): (
            "qwen3moe", "F16", 4096, (2, 8), "qwen", False,
        ),
        ("ollama", "mellum:tiny"): ("mellum", "F16", 4096, (2, 8), "mellum", True),
    }  # fmt: skip
    for m in found:
        if m.ok:
            assert m.size_bytes == m.path.stat().st_size
            assert m.card is not None and m.card.path == m.path.resolve()
    assert took < 2, "discovery reads headers only"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param("XDG_CACHE_HOME", id="default-cache"),
        pytest.param("HF_HOME", id="HF_HOME"),
        pytest.param("HF_HUB_CACHE", id="HF_HUB_CACHE"),
    ],
)
def test_huggingface_cache_lists_each_blob_once_with_its_repo_id(
    on_machine: Machine, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    m = on_machine
    monkeypatch.setenv("XDG_CACHE_HOME", str(m.root / "elsewhere"))
    value = {"XDG_CACHE_HOME": m.xdg_cache, "HF_HOME": m.hub.parent, "HF_HUB_CACHE": m.hub}[env]
    monkeypatch.setenv(env, str(value))
    hf = [x for x in discover() if x.source == "huggingface"]
    assert len(hf) == 1  # two snapshots, one blob
    (model,) = hf
    assert (model.name, model.file, model.path) == (HF_REPO, HF_FILE, m.hf_file)
    assert model.digest == m.sha256  # LFS blobs are named by their sha256: no hashing


def test_ollama_manifests_give_names_digests_and_reasons(on_machine: Machine) -> None:
    ollama = _by_name(x for x in discover() if x.source == "ollama")
    assert set(ollama) == {"mellum:tiny", "qwen2.5-coder:7b", "broken:latest"}
    good = ollama["mellum:tiny"]
    m = on_machine
    assert (good.path, good.digest, good.file) == (m.ollama_blob, m.ollama_sha256, "")
    assert "missing" in ollama["qwen2.5-coder:7b"].error
    assert "ollama pull qwen2.5-coder:7b" in ollama["qwen2.5-coder:7b"].error
    assert "unreadable Ollama manifest" in ollama["broken:latest"].error


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        pytest.param(("registry.ollama.ai", "library", "qwen2.5-coder", "7b"), "qwen2.5-coder:7b"),
        pytest.param(
            ("registry.ollama.ai", "jmorgan", "mellum", "latest"), "jmorgan/mellum:latest"
        ),
        pytest.param(
            ("hf.co", "bartowski", "Qwen-GGUF", "Q4_K_M"), "hf.co/bartowski/Qwen-GGUF:Q4_K_M"
        ),
    ],
)
def test_ollama_display_names(parts: tuple[str, ...], name: str) -> None:
    assert _ollama_name(parts) == name


def test_lmstudio_names_and_non_gguf_models(on_machine: Machine) -> None:
    lms = _by_name(x for x in discover() if x.source == "lmstudio")
    moe = "lmstudio-community/Qwen3-MoE-Tiny-GGUF"
    assert set(lms) == {moe, "mlx-community/Qwen2.5-Coder-7B-4bit"}
    assert lms[moe].file == "qwen3-moe-tiny-F16.gguf"
    mlx = lms["mlx-community/Qwen2.5-Coder-7B-4bit"]
    assert not mlx.ok and "safetensors weights, not GGUF" in mlx.error


def test_bad_files_are_listed_with_a_reason(on_machine: Machine) -> None:
    found = [
        x for x in discover([on_machine.folder, on_machine.root / "nope"]) if x.source == "folder"
    ]
    reasons = {x.path.name: x.error for x in found}
    # The symlink is met first (files before subfolders); the file it points to is not repeated.
    assert reasons["link-to-good.gguf"] == "" and "good.gguf" not in reasons
    assert "corrupt" in reasons["corrupt.gguf"] or "truncated" in reasons["corrupt.gguf"]
    assert "does not start with 'GGUF'" in reasons["page.gguf"]
    assert "truncated" in reasons["truncated.gguf"]
    assert "part(s) 2 are missing" in reasons["big-00001-of-00002.gguf"]
    assert reasons["nope"] == "no such file or folder"
    assert "notes.txt" not in reasons and "old.gguf" not in reasons


def test_one_file_reached_by_many_paths_is_listed_once(on_machine: Machine) -> None:
    m = on_machine
    folder = m.root / "links"
    folder.mkdir(exist_ok=True)
    for target in (m.lmstudio_file, m.hf_file, m.folder / "sub" / "good.gguf"):
        link = folder / f"{target.parent.name}-{target.name}"
        if not link.exists():
            link.symlink_to(target)
    found = discover([folder, m.folder / "sub", m.folder / "link-to-good.gguf"])
    paths = [os.path.realpath(x.path) for x in found if x.ok]
    assert len(paths) == len(set(paths))
    # Configured folders come first and keep the file; the stores do not list it again.
    sources = {x.source for x in found if x.ok}
    assert sources == {"folder", "ollama"}


def test_digests_only_when_asked(on_machine: Machine) -> None:
    sub = on_machine.folder / "sub"
    (plain,) = discover([sub])[:1]
    assert plain.digest == ""
    (hashed,) = discover([sub], with_digest=True)[:1]
    good = on_machine.folder / "sub" / "good.gguf"
    assert hashed.digest == hashlib.sha256(good.read_bytes()).hexdigest()


# -- focal models / focal pull -----------------------------------------------------------------


def _focal(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="focal")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_focal_models_table_and_json(on_machine: Machine, capsys: pytest.CaptureFixture) -> None:
    assert _focal(["models", "--folder", str(on_machine.folder / "sub")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "SOURCE", "ARCH", "SIZE", "QUANT", "EXPERTS", "FIM", "CTX"]
    row = next(line for line in out if line.startswith("good "))
    size = f"{(on_machine.folder / 'sub' / 'good.gguf').stat().st_size / 1024:.0f}"
    assert row.split() == ["good", "folder", "llama", size, "KiB", "F16", "-", "no", "4k"]
    moe = next(line for line in out if line.startswith("lmstudio-community/"))
    assert moe.split()[-4:] == ["F16", "2/8", "qwen", "4k"]
    assert out[1].index("folder") == out[0].index("SOURCE")  # aligned
    assert any(line.startswith(f"{HF_REPO} ({HF_FILE})") for line in out)
    assert "Not usable:" in out

    assert _focal(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ollama = next(d for d in data if d["name"] == "mellum:tiny")
    assert ollama["sha256"] == on_machine.ollama_sha256 and ollama["error"] is None
    assert (ollama["experts"], ollama["expertsPerToken"], ollama["fimFamily"]) == (8, 2, "mellum")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pull_offline_is_a_clear_error_and_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("huggingface_hub")
    port = _closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    with pytest.raises(PullError, match=rf"cannot reach 127\.0\.0\.1:{port}: .*never downloads"):
        pull(HF_REPO, HF_FILE, dest=tmp_path / "dl")
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "dl").exists() or not any((tmp_path / "dl").rglob("*.gguf"))

    assert _focal(["pull", HF_REPO, HF_FILE, "--dest", str(tmp_path / "dl")]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_pull_without_huggingface_hub_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(PullError, match="pip install huggingface_hub"):
        pull(HF_REPO, HF_FILE)


def test_cards_are_cached_until_the_file_changes(on_machine: Machine) -> None:
    sub = on_machine.folder / "sub"
    good = sub / "good.gguf"
    assert discover([sub])[0].model_name != "stale"
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "focal" / "cards.json"
    data = json.loads(cache.read_text())
    data["cards"][str(good.resolve())]["card"]["name"] = "stale"
    cache.write_text(json.dumps(data))
    assert discover([sub])[0].model_name == "stale"  # served from the cache: no header read
    st = good.stat()
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert discover([sub])[0].model_name != "stale"


class FakeHub(http.server.ThreadingHTTPServer):
    """A FAKE Hugging Face Hub (the real one cannot be reached from the test machines): the
    two calls `pull` makes, paths-info and resolve (HEAD, GET with Range), for one file."""

    commit = "c0ffee" * 6 + "abcd"

    def __init__(self, repo: str, filename: str, data_path: Path, published_sha: str) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.repo, self.filename, self.data_path = repo, filename, data_path
        self.published_sha = published_sha
        self.size = data_path.stat().st_size
        self.requests: list[str] = []
        self.drop_after = 0
        """When set, the first download hangs up after this many bytes."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(http.server.BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        hub = self.server
        hub.requests.append(f"POST {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(f"/api/models/{hub.repo}/paths-info/"):
            self.send_error(404)
            return
        lfs = {"oid": hub.published_sha, "size": hub.size, "pointerSize": 134}
        entry = {
            "type": "file",
            "path": hub.filename,
            "size": hub.size,
            "oid": "0" * 40,
            "lfs": lfs,
        }
        self._send(200, json.dumps([entry]).encode(), "application/json")

    def _resolve(self, body: bool) -> None:
        hub = self.server
        hub.requests.append(f"{self.command} {self.path} {self.headers.get('Range', '')}".strip())
        if not self.path.endswith(f"/{hub.repo}/resolve/{hub.commit}/{hub.filename}") and not (
            self.path.endswith(f"/{hub.repo}/resolve/main/{hub.filename}")
        ):
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0] or 0)
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", hub.commit)
        self.send_header("ETag", f'"{hub.published_sha}"')
        self.send_header("Content-Length", str(hub.size - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{hub.size - 1}/{hub.size}")
        self.end_headers()
        if body:
            with open(hub.data_path, "rb") as f:
                f.seek(start)
                if hub.drop_after:
                    self.wfile.write(f.read(hub.drop_after))
                    hub.drop_after = 0
                    self.close_connection = True
                    return
                shutil.copyfileobj(f, self.wfile)

    def do_HEAD(self) -> None:
        self._resolve(body=False)

    def do_GET(self) -> None:
        self._resolve(body=True)

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_hub(machine: Machine, smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    pytest.importorskip("huggingface_hub")
    hub = FakeHub(HF_REPO, HF_FILE, smollm2, machine.sha256)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    yield hub
    hub.shutdown()
    hub.server_close()


def test_pull_downloads_verifies_and_is_then_discovered(
    fake_hub: FakeHub, on_machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    seen: list[tuple[int, int]] = []
    result = pull(HF_REPO, HF_FILE, progress=lambda done, total: seen.append((done, total)))
    assert result.verified and result.sha256 == on_machine.sha256
    assert result.path.name == HF_FILE and result.path.is_relative_to(tmp_path / "hub")
    assert seen and seen[-1] == (fake_hub.size, fake_hub.size)
    hf = [m for m in discover() if m.source == "huggingface"]
    assert [(m.name, m.file, m.digest) for m in hf] == [(HF_REPO, HF_FILE, on_machine.sha256)]


def test_pull_deletes_a_download_that_does_not_match_the_published_sha256(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.published_sha = "0" * 64
    with pytest.raises(PullError, match=r"is corrupt: sha256 .* deleted; pull it again"):
        pull(HF_REPO, HF_FILE, dest=tmp_path / "dl")
    assert not (tmp_path / "dl" / HF_FILE).exists()


def test_an_interrupted_pull_resumes_where_it_stopped(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.drop_after = 10 << 20
    result = pull(HF_REPO, HF_FILE, dest=tmp_path / "dl")
    assert result.verified
    gets = [r for r in fake_hub.requests if r.startswith("GET") and "/resolve/" in r]
    assert len(gets) == 2 and gets[1].endswith(f"bytes={10 << 20}-")
