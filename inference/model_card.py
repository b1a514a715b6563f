"""`ModelCard`: a GGUF's identity (name, shape, quantization, FIM tokens, digest)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import platformdirs
from gguf.constants import GGMLQuantizationType, LlamaFileType

from inference.gguf_header import GGUFFormatError, GGUFHeader, read_header
from inference.types import FimTokens, ModelCard

log = logging.getLogger(__name__)

# Control-token spellings per FIM family, as they appear in the models' vocabularies.
_FIM_SPELLINGS: dict[str, tuple[str, str, str]] = {
    "qwen": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    "deepseek": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    "codellama": ("▁<PRE>", "▁<SUF>", "▁<MID>"),
    "codellama-plain": ("<PRE>", "<SUF>", "<MID>"),
    "codestral": ("[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
}
_PAD_SPELLINGS = ("<|fim_pad|>", "<fim_pad>", "<｜fim▁pad｜>")
_FILE_SEP_SPELLINGS = ("<|file_sep|>", "<file_sep>")
_REPO_SPELLINGS = ("<|repo_name|>", "<repo_name>", "<reponame>")
_EOT_SPELLINGS = ("<|endoftext|>", "▁<EOT>", "<EOT>", "<|im_end|>", "</s>", "<｜end▁of▁sentence｜>")


class ModelError(Exception):
    """A model that cannot be used, with a message that says why and what to do."""


def quantization_name(file_type: int, header: GGUFHeader | None = None) -> str:
    """`Q4_K_M`, `F16`…: from general.file_type, else the dominant tensor type."""
    try:
        name = LlamaFileType(file_type).name
        return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        pass
    if header is not None and header.tensors:
        kinds = Counter(t.ggml_type for t in header.tensors if len(t.shape) >= 2)
        if kinds:
            with contextlib.suppress(ValueError):
                return GGMLQuantizationType(kinds.most_common(1)[0][0]).name
    return f"type{file_type}"


def detect_fim(tokens: list[str], architecture: str, name: str) -> tuple[FimTokens, str]:
    """Find the FIM and repo-level tokens in a vocabulary; return them and the family name."""
    vocab = set(tokens)

    def first(spellings: tuple[str, ...]) -> str | None:
        return next((s for s in spellings if s in vocab), None)

    family = "none"
    pre = suf = mid = None
    for fam, (p, s, m) in _FIM_SPELLINGS.items():
        if p in vocab and s in vocab and m in vocab:
            family, pre, suf, mid = fam.removesuffix("-plain"), p, s, m
            break
    filename = "<filename>" if "<filename>" in vocab else None
    # Mellum (JetBrains) shares StarCoder's spellings but orders suffix-prefix-middle and
    # labels files with <filename>.
    is_mellum = architecture == "mellum" or "mellum" in name.lower()
    if family == "starcoder" and is_mellum:
        family = "mellum"
    fim = FimTokens(
        prefix=pre,
        suffix=suf,
        middle=mid,
        pad=first(_PAD_SPELLINGS),
        file_sep=first(_FILE_SEP_SPELLINGS),
        repo_name=first(_REPO_SPELLINGS),
        filename=filename,
        eot=first(_EOT_SPELLINGS),
    )
    return fim, family


def card_from_header(path: Path, header: GGUFHeader) -> ModelCard:
    md = header.metadata
    arch = str(md.get("general.architecture", "unknown"))

    def arch_int(key: str, default: int = 0) -> int:
        value = md.get(f"{arch}.{key}", default)
        if isinstance(value, list):  # per-layer arrays in some architectures
            value = max(value) if value else default
        return int(value)

    tokens = md.get("tokenizer.ggml.tokens")
    tokens = tokens if isinstance(tokens, list) else []
    name = str(md.get("general.name") or path.stem)
    fim, family = detect_fim(tokens, arch, name)
    file_type = int(md.get("general.file_type", -1))
    return ModelCard(
        path=path,
        name=name,
        architecture=arch,
        file_type=file_type,
        quantization=quantization_name(file_type, header),
        size_bytes=header.file_size,
        n_params=sum(t.n_elements for t in header.tensors),
        expert_count=arch_int("expert_count"),
        expert_used_count=arch_int("expert_used_count"),
        context_length=arch_int("context_length", 2048),
        n_layer=arch_int("block_count"),
        vocab_size=len(tokens) or arch_int("vocab_size"),
        fim=fim,
        fim_family=family,
        has_chat_template=bool(md.get("tokenizer.chat_template")),
        add_bos=bool(md.get("tokenizer.ggml.add_bos_token", False)),
    )


MAX_LAYERS = 512
"""llama.cpp's LLAMA_MAX_LAYERS."""
MAX_CONTEXT = 1 << 25
"""More context than any model claims: llama-cpp-python sizes every tokenizer buffer by the
trained context, so a corrupt 2**31 makes each completion allocate 8 GB."""
MIN_CONTEXT = 64
_BLOCK = re.compile(r"blk\.(\d+)\.")


def check_consistent(path: Path, header: GGUFHeader) -> None:
    """Refuse metadata that contradicts the file's own tensors or the limits llama.cpp
    asserts (an assertion aborts the whole process that loads the model: the server)."""
    md = header.metadata
    arch = str(md.get("general.architecture", ""))

    def number(key: str) -> int | None:
        value = md.get(f"{arch}.{key}")
        if isinstance(value, list):  # per-layer values
            value = max(value) if value else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def corrupt(what: str) -> ModelError:
        return ModelError(
            f"{path} is corrupt: {what}. llama.cpp would abort on it; download the model again."
        )

    blocks = {int(m.group(1)) for t in header.tensors if (m := _BLOCK.match(t.name))}
    n_layer = number("block_count")
    if blocks and n_layer is not None:
        if not 0 < n_layer <= MAX_LAYERS:
            raise corrupt(f"it claims {n_layer} layers")
        if n_layer < max(blocks) + 1:
            raise corrupt(f"it claims {n_layer} layers but holds tensors for {max(blocks) + 1}")
    if not any(key.startswith(f"{arch}.") for key in md):
        return  # no settings for its architecture at all: llama.cpp names the problem
    experts = {t.shape[2] for t in header.tensors if "_exps." in t.name and len(t.shape) >= 3}
    n_expert = number("expert_count") or 0
    n_used = number("expert_used_count") or 0
    if experts and {n_expert} != experts:
        held = max(experts)
        raise corrupt(f"it claims {n_expert} experts but its expert tensors hold {held}")
    if n_used > n_expert or (n_expert > 0) != (n_used > 0):
        raise corrupt(f"it routes each token to {n_used} of {n_expert} experts")
    head = number("attention.key_length")
    if head is None and number("attention.head_count"):
        head = (number("embedding_length") or 0) // (number("attention.head_count") or 1)
    rot = number("rope.dimension_count")
    if rot is not None and head and not (0 < rot <= head and rot % 2 == 0):
        raise corrupt(f"it rotates {rot} dimensions of {head}-dimensional attention heads")
    context = number("context_length")
    if context is not None and not MIN_CONTEXT <= context <= MAX_CONTEXT:
        raise corrupt(f"it claims a context window of {context} tokens")


def read_model_card(path: Path | str, *, with_digest: bool = True) -> ModelCard:
    """Read a model's card. Raises `ModelError` with an actionable message on any bad file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(
            f"Model file {p} does not exist. Set `focal.model.path` (or `--model`) to a .gguf file."
        )
    if p.is_dir():
        raise ModelError(f"{p} is a folder, not a model file. Point Focal at a .gguf file in it.")
    try:
        header = read_header(p)
    except GGUFFormatError as exc:
        raise ModelError(str(exc)) from exc
    except OSError as exc:
        raise ModelError(f"Cannot read model {p}: {exc.strerror or exc}") from exc
    try:
        check_consistent(p, header)
        card = card_from_header(p.resolve(), header)
    except (ValueError, TypeError) as exc:  # a number where a string belongs, and so on
        raise ModelError(
            f"{p} is corrupt: its metadata cannot be read ({exc}). Download the model again."
        ) from exc
    if with_digest:
        card = _with_digest(card)
    return card


def _with_digest(card: ModelCard) -> ModelCard:
    from dataclasses import replace

    return replace(card, digest=file_digest(card.path))


def _digest_cache_path() -> Path:
    return Path(platformdirs.user_cache_dir("focal")) / "digests.json"


def file_digest(path: Path, cache_file: Path | None = None) -> str:
    """sha256 of the file, computed once per (path, size, mtime) and cached on disk."""
    cache_file = cache_file or _digest_cache_path()
    st = path.stat()
    key = str(path.resolve())
    stamp = [st.st_size, st.st_mtime_ns]
    cache: dict[str, dict[str, object]] = {}
    try:
        cache = json.loads(cache_file.read_text())
        hit = cache.get(key)
        if hit and hit.get("stamp") == stamp:
            return str(hit["sha256"])
    except (OSError, ValueError, AttributeError):
        cache = {}
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    digest = h.hexdigest()
    cache[key] = {"stamp": stamp, "sha256": digest}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".digests")
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, cache_file)
    except OSError as exc:  # a read-only cache dir costs time, not correctness
        log.debug("cannot write digest cache %s: %s", cache_file, exc)
    return digest
