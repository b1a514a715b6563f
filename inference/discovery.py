"""Find GGUF models already on this machine: configured folders and the usual model stores.

Stores: the Hugging Face hub cache, LM Studio's model folders and Ollama's manifests + blobs.
Only headers are read (never the weights, never a digest of a big file unless asked), so a
listing of dozens of models takes well under a second. A file that is not a usable GGUF is
listed with the reason, never raised. A file reachable along several paths (an HF snapshot
per revision, a symlink in a configured folder) is listed once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from inference.model_card import ModelError, file_digest, read_model_card
from inference.types import FimTokens, ModelCard

log = logging.getLogger(__name__)

SOURCES = ("folder", "huggingface", "lmstudio", "ollama")

_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"
# Weights in other formats that people keep next to GGUFs (and LM Studio's MLX models).
_OTHER_WEIGHTS = {".safetensors": "safetensors", ".ggml": "GGML (pre-GGUF)", ".pth": "PyTorch"}
_SHARD = re.compile(r"^(?P<stem>.*)-(?P<part>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
_SHA256 = re.compile(r"^(?:sha256[-:])?(?P<hex>[0-9a-f]{64})$")
_MAX_DEPTH = 8


@dataclass(frozen=True)
class DiscoveredModel:
    """One model found on disk, with the facts of its GGUF header (or why it is unusable)."""

    path: Path
    """Where it was found (an HF snapshot path keeps its file name; an Ollama blob has none)."""
    source: str
    """`folder`, `huggingface`, `lmstudio` or `ollama`."""
    name: str
    """Display name: `org/repo` (HF), `publisher/repo` (LM Studio), `name:tag` (Ollama),
    the file name (folders)."""
    file: str = ""
    """The GGUF's file name where the store keeps one (empty for Ollama blobs)."""
    model_name: str = ""
    """`general.name` from the header."""
    architecture: str = ""
    size_bytes: int = 0
    """Bytes on disk; for a split GGUF, all its parts."""
    quantization: str = ""
    n_params: int = 0
    expert_count: int = 0
    expert_used_count: int = 0
    fim_family: str = "none"
    context_length: int = 0
    has_chat_template: bool = False
    digest: str = ""
    """sha256, when the store names blobs by it (HF LFS, Ollama) or when asked for."""
    parts: int = 1
    error: str = ""
    """Why the file cannot be used; empty when it can."""
    card: ModelCard | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def supports_fim(self) -> bool:
        return self.fim_family != "none"

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 1


@dataclass(frozen=True)
class _Candidate:
    path: Path
    source: str
    name: str
    file: str
    digest: str = ""
    error: str = ""


# -- store locations -------------------------------------------------------------------------


def huggingface_cache() -> Path:
    """The hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def lmstudio_folders() -> list[Path]:
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def ollama_folders() -> list[Path]:
    """$OLLAMA_MODELS, else ~/.ollama/models and the Linux service's /usr/share/ollama."""
    if os.environ.get("OLLAMA_MODELS"):
        return [Path(os.environ["OLLAMA_MODELS"]).expanduser()]
    return [Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


# -- walking the stores ----------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, file names) under `root`, not into hidden folders, at most _MAX_DEPTH deep."""
    base = len(root.parts)

    def on_error(exc: OSError) -> None:
        log.debug("cannot list %s: %s", exc.filename, exc)

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=True):
        here = Path(folder)
        if len(here.parts) - base >= _MAX_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield here, sorted(files)


def _folder_candidates(root: Path, source: str, name_of) -> Iterator[_Candidate]:
    for folder, files in _walk(root):
        other = {
            _OTHER_WEIGHTS[s] for f in files if (s := Path(f).suffix.lower()) in _OTHER_WEIGHTS
        }
        for f in files:
            if not f.lower().endswith(".gguf"):
                continue
            m = _SHARD.match(f)
            if m and int(m["part"]) != 1:
                continue  # listed once, as its first part
            path = folder / f
            yield _Candidate(path, source, name_of(path), f)
        if other and not any(f.lower().endswith(".gguf") for f in files):
            kinds = " and ".join(sorted(other))
            yield _Candidate(
                folder,
                source,
                name_of(folder / folder.name),  # named as a file in it would be
                "",
                error=(
                    f"holds {kinds} weights, not GGUF. Focal runs llama.cpp models: download a "
                    ".gguf build of this model or convert it with llama.cpp's "
                    "convert_hf_to_gguf.py."
                ),
            )


def _publisher_repo(root: Path):
    """LM Studio keeps models as <publisher>/<repo>/<file>.gguf."""

    def name(path: Path) -> str:
        rel = path.relative_to(root).parts
        return "/".join(rel[:2]) if len(rel) >= 3 else path.name

    return name


def _huggingface_candidates(hub: Path) -> Iterator[_Candidate]:
    try:
        repos = sorted(p for p in hub.iterdir() if p.name.startswith("models--"))
    except OSError:
        return
    for repo in repos:
        repo_id = "/".join(repo.name.removeprefix("models--").split("--"))
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        for folder, files in _walk(snapshots):
            for f in files:
                if not f.lower().endswith(".gguf"):
                    continue
                m = _SHARD.match(f)
                if m and int(m["part"]) != 1:
                    continue
                path = folder / f
                # LFS blobs are named by their sha256: the digest comes for free.
                blob = _SHA256.match(Path(os.path.realpath(path)).name)
                yield _Candidate(path, "huggingface", repo_id, f, blob["hex"] if blob else "")


def _ollama_name(rel: tuple[str, ...]) -> str:
    """`registry.ollama.ai/library/qwen2.5-coder/7b` -> `qwen2.5-coder:7b`."""
    *where, model, tag = rel
    if where[:2] == [_OLLAMA_DEFAULT_REGISTRY, "library"]:
        where = []
    elif where[:1] == [_OLLAMA_DEFAULT_REGISTRY]:
        where = where[1:]
    return "/".join([*where, model]) + f":{tag}"


def _ollama_candidates(root: Path) -> Iterator[_Candidate]:
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for folder, files in _walk(manifests):
        for f in files:
            manifest = folder / f
            rel = manifest.relative_to(manifests).parts
            if len(rel) < 3:
                continue
            name = _ollama_name(rel)
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                layers = data.get("layers", [])
                layer = next(x for x in layers if x.get("mediaType") == _OLLAMA_MODEL_LAYER)
                digest = str(layer["digest"])
            except (OSError, ValueError, AttributeError, TypeError, KeyError):
                yield _Candidate(manifest, "ollama", name, "", error="unreadable Ollama manifest")
                continue
            except StopIteration:
                # Adapters, projectors and other layer-only manifests have no model.
                continue
            hexdigest = digest.removeprefix("sha256:")
            blob = root / "blobs" / f"sha256-{hexdigest}"
            if not blob.is_file():
                yield _Candidate(
                    manifest,
                    "ollama",
                    name,
                    "",
                    hexdigest,
                    error=f"its model blob {blob.name} is missing; run `ollama pull {name}`",
                )
                continue
            yield _Candidate(blob, "ollama", name, "", hexdigest)


# -- reading what was found ------------------------------------------------------------------


def _shard_parts(path: Path) -> tuple[int, int, str]:
    """(parts found, total size, error) for a split GGUF's first part."""
    m = _SHARD.match(path.name)
    if not m:
        return 1, path.stat().st_size, ""
    total = int(m["total"])
    sizes, missing = 0, []
    for i in range(1, total + 1):
        part = path.with_name(f"{m['stem']}-{i:05d}-of-{m['total']}.gguf")
        try:
            sizes += part.stat().st_size
        except OSError:
            missing.append(i)
    error = ""
    if missing:
        error = (
            f"split GGUF with {total} parts, but part(s) {', '.join(map(str, missing))} are "
            "missing; download all of them"
        )
    return total, sizes, error


class _CardCache:
    """Cards of files seen before, keyed by (real path, size, mtime): a second listing reads
    no headers at all (a 150k-token vocabulary takes a tenth of a second to parse)."""

    _FIELDS = sorted(f.name for f in dataclasses.fields(ModelCard))

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(platformdirs.user_cache_dir("focal")) / "cards.json"
        self.entries: dict[str, Any] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("fields") == self._FIELDS:
                self.entries = dict(data["cards"])

    def read(self, path: Path) -> ModelCard:
        real = os.path.realpath(path)
        st = os.stat(real)
        stamp = [st.st_size, st.st_mtime_ns]
        hit = self.entries.get(real)
        if hit and hit.get("stamp") == stamp:
            with contextlib.suppress(TypeError, KeyError):
                d = hit["card"]
                return ModelCard(**{**d, "path": Path(d["path"]), "fim": FimTokens(**d["fim"])})
        card = read_model_card(path, with_digest=False)
        d = dataclasses.asdict(card)
        self.entries[real] = {"stamp": stamp, "card": {**d, "path": str(card.path)}}
        self.dirty = True
        return card

    def save(self) -> None:
        if not self.dirty:
            return
        live = {k: v for k, v in self.entries.items() if os.path.exists(k)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cards")
            with os.fdopen(fd, "w") as f:
                json.dump({"fields": self._FIELDS, "cards": live}, f)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only cache costs time, not correctness
            log.debug("cannot write card cache %s: %s", self.path, exc)


def _describe(c: _Candidate, with_digest: bool, cards: _CardCache) -> DiscoveredModel:
    base = DiscoveredModel(c.path, c.source, c.name, c.file, digest=c.digest, error=c.error)
    if c.error:
        return base
    try:
        card = cards.read(c.path)
        parts, size, error = _shard_parts(c.path)
    except ModelError as exc:
        return DiscoveredModel(c.path, c.source, c.name, c.file, digest=c.digest, error=str(exc))
    except OSError as exc:
        return DiscoveredModel(
            c.path, c.source, c.name, c.file, error=f"cannot read: {exc.strerror or exc}"
        )
    except Exception as exc:  # a listing never fails on one strange file
        log.debug("unreadable model %s", c.path, exc_info=True)
        return DiscoveredModel(c.path, c.source, c.name, c.file, error=f"unreadable: {exc}")
    digest = c.digest
    if with_digest and not digest and not error:
        digest = file_digest(card.path)
    return DiscoveredModel(
        path=c.path,
        source=c.source,
        name=c.name,
        file=c.file,
        model_name=card.name,
        architecture=card.architecture,
        size_bytes=size,
        quantization=card.quantization,
        n_params=card.n_params,
        expert_count=card.expert_count,
        expert_used_count=card.expert_used_count,
        fim_family=card.fim_family,
        context_length=card.context_length,
        has_chat_template=card.has_chat_template,
        digest=digest,
        parts=parts,
        error=error,
        card=card,
    )


def _identity(path: Path) -> tuple[int, int] | str:
    """The file itself: (device, inode) so that symlinks and hard links count once."""
    try:
        st = path.stat()
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def candidates(folders: list[Path] | None = None) -> Iterator[_Candidate]:
    for folder in folders or []:
        root = Path(folder).expanduser()
        if root.is_file():
            yield _Candidate(root, "folder", root.stem, root.name)
        elif root.is_dir():
            yield from _folder_candidates(root, "folder", lambda p: p.stem)
        else:
            yield _Candidate(root, "folder", root.name, "", error="no such file or folder")
    yield from _huggingface_candidates(huggingface_cache())
    for root in lmstudio_folders():
        if root.is_dir():
            yield from _folder_candidates(root, "lmstudio", _publisher_repo(root))
    for root in ollama_folders():
        yield from _ollama_candidates(root)


def discover(
    folders: list[Path] | None = None, *, with_digest: bool = False
) -> list[DiscoveredModel]:
    """Every model in `folders` and the known stores, each once, in the order found.

    Configured folders come first, so a file that is also in a store keeps the folder's
    listing. `with_digest` hashes files whose store does not already name their sha256 (slow
    for big models; cached per file afterwards)."""
    seen: set[object] = set()
    found: list[DiscoveredModel] = []
    cards = _CardCache()
    for c in candidates(folders):
        key = _identity(c.path) if not c.error else ("error", str(c.path))
        if key in seen:
            continue
        seen.add(key)
        found.append(_describe(c, with_digest, cards))
    cards.save()
    return found
