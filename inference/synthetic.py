"""Synthetic GGUF models that Focal writes itself, so tests and benchmarks download nothing.

`write_tiny_model` writes a random model of at most about a megabyte that llama.cpp loads and
runs in milliseconds, with a real byte-level BPE vocabulary and the control tokens of one FIM
family. `write_shaped_model` writes a random-weight model with the exact tensor shapes of a
published one (Mellum2-12B-A2.5B, Qwen2.5-7B), streamed to disk in F16 and then quantized by
llama.cpp's own quantizer, so that speed measured on it is the speed of the real thing.
Random weights write random text: use these models to test structure, never quality.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

ARCHS = ("mellum", "qwen3moe", "llama")
Progress = Callable[[str, float], None]
"""`progress(stage, fraction)`: stage is `write`, `quantize` or `done`; fraction is 0..1."""


class SyntheticError(Exception):
    """A synthetic model could not be written; the message says why and what to do."""


# -- vocabulary ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FimSpec:
    """The control tokens of one FIM family, as spelled in its models' vocabularies."""

    family: str
    """The family Focal should detect (`mellum` wins over `starcoder` on arch `mellum`)."""
    markers: dict[str, str]
    """Role (`pre`, `suf`, `mid`, `pad`, `rep`, `sep`) -> token text."""
    extra: tuple[str, ...] = ()
    bos: str = "<|endoftext|>"
    eos: str = "<|endoftext|>"
    eot: str = "<|endoftext|>"


_STARCODER = {
    "pre": "<fim_prefix>",
    "suf": "<fim_suffix>",
    "mid": "<fim_middle>",
    "pad": "<fim_pad>",
    "rep": "<repo_name>",
    "sep": "<file_sep>",
}
FIM_SPECS: dict[str | None, FimSpec] = {
    # Mellum-4b: StarCoder spellings, suffix-prefix-middle, files labelled with <filename>.
    "spm": FimSpec("mellum", _STARCODER, ("<filename>",)),
    # The same spellings in prefix-suffix-middle order: StarCoder.
    "psm": FimSpec("starcoder", _STARCODER, ("<filename>",)),
    "starcoder": FimSpec("starcoder", _STARCODER, ("<filename>",)),
    "qwen": FimSpec(
        "qwen",
        {
            "pre": "<|fim_prefix|>",
            "suf": "<|fim_suffix|>",
            "mid": "<|fim_middle|>",
            "pad": "<|fim_pad|>",
            "rep": "<|repo_name|>",
            "sep": "<|file_sep|>",
        },
    ),
    "codellama": FimSpec(
        "codellama",
        {"pre": "<PRE>", "suf": "<SUF>", "mid": "<MID>"},
        bos="<s>",
        eos="</s>",
        eot="<EOT>",
    ),
    "deepseek": FimSpec(
        "deepseek",
        {"pre": "<｜fim▁begin｜>", "suf": "<｜fim▁hole｜>", "mid": "<｜fim▁end｜>"},
        bos="<｜begin▁of▁sentence｜>",
        eos="<｜end▁of▁sentence｜>",
        eot="<｜end▁of▁sentence｜>",
    ),
    "codestral": FimSpec(
        "codestral",
        {"pre": "[PREFIX]", "suf": "[SUFFIX]", "mid": "[MIDDLE]"},
        bos="<s>",
        eos="</s>",
        eot="</s>",
    ),
    None: FimSpec("none", {}),
}
FIM_VARIANTS = tuple(k for k in FIM_SPECS if k is not None)
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Pieces of code that get their own tokens (as GPT-2 byte-level strings: Ġ is a space,
# Ċ a newline). Each becomes a chain of merges, one per prefix.
# fmt: off
# (tables read better as rows)
_WORDS = (
    "def", "return", "self", "class", "import", "from", "None", "True", "False", "if", "else",
    "elif", "for", "while", "in", "not", "and", "or", "is", "with", "as", "try", "except",
    "raise", "pass", "lambda", "yield", "print", "range", "len", "str", "int", "dict", "list",
    "const", "let", "var", "function", "this", "public", "private", "static", "void", "new",
    "null", "true", "false", "func", "package", "struct", "fn", "pub", "mut", "impl", "use",
    "match", "string", "value", "data", "name", "result", "args", "init", "main", "test", "get",
    "set", "error", "type", "node", "key", "items", "append",
)
_PUNCT = ("()", "):", "),", "))", "==", "!=", "->", "=>", "+=", "::", '"""', "//", "{}", "[]", "__")
# Indentation merges by doubling, so that 8 spaces are one token, not four of two.
_SPACE_MERGES = (
    ("Ġ", "Ġ"), ("ĠĠ", "Ġ"), ("ĠĠ", "ĠĠ"), ("ĠĠĠĠ", "ĠĠĠ"), ("ĠĠĠĠ", "ĠĠĠĠ"), ("Ċ", "Ċ"),
    ("ĉ", "ĉ"), ("Ċ", "ĠĠĠ"), ("Ċ", "ĠĠĠĠĠĠĠ"),
)
# fmt: on


def gpt2_byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: the printable character that stands for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + n)
            n += 1
    return [chars[b] for b in range(256)]


@dataclass(frozen=True)
class Vocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    ids: dict[str, int]
    """Special token text -> id."""


def build_vocab(fim: str | None, chat: bool, size: int | None = None) -> Vocab:
    """Byte tokens, merged code pieces, then the control tokens; padded to `size` if given."""
    tokens = gpt2_byte_chars()
    known = set(tokens)
    merges: list[str] = []

    def merge(a: str, b: str) -> None:
        if a + b not in known:
            merges.append(f"{a} {b}")
            tokens.append(a + b)
            known.add(a + b)

    for a, b in _SPACE_MERGES:
        merge(a, b)
    # Space-led pieces before bare ones: their merges must outrank the bare words' so that
    # " return" becomes one token rather than " " + "return".
    for piece in (*("Ġ" + w for w in _WORDS), *_WORDS, *_PUNCT, *("Ġ" + p for p in _PUNCT)):
        for i in range(2, len(piece) + 1):
            merge(piece[: i - 1], piece[i - 1])
    types = [int(TokenType.NORMAL)] * len(tokens)
    spec = FIM_SPECS[fim]
    specials = [spec.bos, spec.eos, spec.eot, *spec.markers.values(), *spec.extra]
    if chat:
        specials += CHAT_TOKENS
    ids: dict[str, int] = {}
    for text in dict.fromkeys(specials):
        ids[text] = len(tokens)
        tokens.append(text)
        types.append(int(TokenType.CONTROL))
    if size is not None:
        if size < len(tokens):
            raise SyntheticError(f"a vocabulary of {size} tokens is too small: needs {len(tokens)}")
        # Filler that no merge reaches, as in a real vocabulary's unused tail.
        tokens += [f"<|extra_{i}|>" for i in range(size - len(tokens))]
        types += [int(TokenType.NORMAL)] * (size - len(types))
    return Vocab(tokens, types, merges, ids)


def expected_family(arch: str, fim: str | None) -> str:
    """The FIM family Focal's model card should read from a model written with these options."""
    family = FIM_SPECS[fim].family
    return "mellum" if family == "starcoder" and arch == "mellum" else family


# -- shapes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    arch: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    n_ff: int = 0
    """Dense FFN width (for MoE, written as `feed_forward_length` only)."""
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    context_length: int = 4096
    rope_base: float = 10000.0
    rms_eps: float = 1e-6
    sliding_window: int = 0
    swa_period: int = 0
    """N: the last layer of every N is full attention, the others slide (0: none slide)."""
    qkv_bias: bool = False
    qk_norm: bool = False
    fim: str | None = None
    tokenizer_pre: str = "gpt-2"

    @property
    def is_moe(self) -> bool:
        return self.n_expert > 0

    def swa_layers(self) -> list[bool]:
        p = self.swa_period
        return [bool(p) and i % p < p - 1 for i in range(self.n_layer)]


# fmt: off
# (tables read better as rows)
SHAPES: dict[str, ModelShape] = {
    # JetBrains Mellum2-12B-A2.5B as published: 64 experts of 896, 8 per token, SWA 1024 on
    # 3 of every 4 layers. Its rope base and FIM spellings are not published; ours are guesses.
    "mellum2": ModelShape(
        "mellum", n_layer=28, n_embd=2304, n_head=32, n_head_kv=4, head_dim=128,
        n_vocab=98_304, n_ff=7168, n_expert=64, n_expert_used=8, n_ff_exp=896,
        context_length=131_072, rope_base=500_000.0, sliding_window=1024, swa_period=4,
        qk_norm=True, fim="spm", tokenizer_pre="mellum2",
    ),
    "qwen2.5-7b": ModelShape(
        "qwen2", n_layer=28, n_embd=3584, n_head=28, n_head_kv=4, head_dim=128,
        n_vocab=152_064, n_ff=18_944, context_length=32_768, rope_base=1_000_000.0,
        qkv_bias=True, fim="qwen", tokenizer_pre="qwen2",
    ),
    # Mellum2 scaled down (every row a multiple of 256, so K-quants apply as on the real one):
    # for tests of the quantize path in seconds.
    "mellum2-mini": ModelShape(
        "mellum", n_layer=4, n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_vocab=4096,
        n_ff=1024, n_expert=8, n_expert_used=2, n_ff_exp=256, sliding_window=64,
        swa_period=4, qk_norm=True, fim="spm", tokenizer_pre="mellum2",
    ),
    # One dense block whose rows are long enough for llama.cpp's AMX and repack kernels
    # (multiples of 256): the CPU probe (`inference.cpu_check`) runs it in a child process.
    "cpu-probe": ModelShape(
        "llama", n_layer=1, n_embd=256, n_head=4, n_head_kv=4, head_dim=64, n_vocab=1024,
        n_ff=512, context_length=512,
    ),
}

# n_vocab is set from the vocabulary written.
_TINY: dict[str, ModelShape] = {
    "mellum": ModelShape(
        "mellum", n_layer=4, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_vocab=0,
        n_ff=128, n_expert=8, n_expert_used=2, n_ff_exp=64, sliding_window=32, swa_period=4,
        qk_norm=True, tokenizer_pre="mellum2",
    ),
    "qwen3moe": ModelShape(
        "qwen3moe", n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_vocab=0,
        n_ff=128, n_expert=8, n_expert_used=2, n_ff_exp=64, qk_norm=True,
        tokenizer_pre="qwen2",
    ),
    "llama": ModelShape(
        "llama", n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_vocab=0, n_ff=128,
    ),
}
# fmt: on


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]
    """numpy order (outermost first): GGUF's ne reversed."""
    dtype: type[np.floating]
    kind: str
    """`matrix`, `norm`, `bias`, `router` or `embed`: how its values are drawn."""

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.n_elements * np.dtype(self.dtype).itemsize


def _tensors(s: ModelShape) -> list[_Tensor]:
    f16, f32 = np.float16, np.float32
    q, kv = s.n_head * s.head_dim, s.n_head_kv * s.head_dim
    out = [_Tensor("token_embd.weight", (s.n_vocab, s.n_embd), f16, "embed")]
    for i in range(s.n_layer):
        b = f"blk.{i}."
        out += [
            _Tensor(b + "attn_norm.weight", (s.n_embd,), f32, "norm"),
            _Tensor(b + "attn_q.weight", (q, s.n_embd), f16, "matrix"),
            _Tensor(b + "attn_k.weight", (kv, s.n_embd), f16, "matrix"),
            _Tensor(b + "attn_v.weight", (kv, s.n_embd), f16, "matrix"),
            _Tensor(b + "attn_output.weight", (s.n_embd, q), f16, "matrix"),
        ]
        if s.qkv_bias:
            biases = (("q", q), ("k", kv), ("v", kv))
            out += [_Tensor(b + f"attn_{x}.bias", (n,), f32, "bias") for x, n in biases]
        if s.qk_norm:
            out += [_Tensor(b + f"attn_{x}_norm.weight", (s.head_dim,), f32, "norm") for x in "qk"]
        out.append(_Tensor(b + "ffn_norm.weight", (s.n_embd,), f32, "norm"))
        if s.is_moe:
            e, ff = s.n_expert, s.n_ff_exp
            out += [
                _Tensor(b + "ffn_gate_inp.weight", (e, s.n_embd), f32, "router"),
                _Tensor(b + "ffn_gate_exps.weight", (e, ff, s.n_embd), f16, "matrix"),
                _Tensor(b + "ffn_up_exps.weight", (e, ff, s.n_embd), f16, "matrix"),
                _Tensor(b + "ffn_down_exps.weight", (e, s.n_embd, ff), f16, "matrix"),
            ]
        else:
            out += [
                _Tensor(b + "ffn_gate.weight", (s.n_ff, s.n_embd), f16, "matrix"),
                _Tensor(b + "ffn_up.weight", (s.n_ff, s.n_embd), f16, "matrix"),
                _Tensor(b + "ffn_down.weight", (s.n_embd, s.n_ff), f16, "matrix"),
            ]
    out += [
        _Tensor("output_norm.weight", (s.n_embd,), f32, "norm"),
        _Tensor("output.weight", (s.n_vocab, s.n_embd), f16, "matrix"),
    ]
    return out


def param_counts(shape: ModelShape) -> tuple[int, int]:
    """(total, active per token) parameters: active counts only the experts a token uses."""
    total = active = 0
    for t in _tensors(shape):
        total += t.n_elements
        if "_exps." in t.name:  # only n_expert_used of n_expert experts run per token
            active += t.n_elements * shape.n_expert_used // shape.n_expert
        else:
            active += t.n_elements
    return total, active


def f16_size(shape: ModelShape) -> int:
    """Bytes of tensor data of `shape` written in F16 (norms, biases and routers in F32)."""
    return sum(t.nbytes for t in _tensors(shape))


# -- writing -------------------------------------------------------------------------------


def _metadata(w: GGUFWriter, s: ModelShape, vocab: Vocab, name: str, chat: bool) -> None:
    a = s.arch
    w.add_name(name)
    w.add_file_type(1)  # MOSTLY_F16: what llama.cpp's quantizer expects as its input
    w.add_uint32(f"{a}.context_length", s.context_length)
    w.add_uint32(f"{a}.embedding_length", s.n_embd)
    w.add_uint32(f"{a}.block_count", s.n_layer)
    w.add_uint32(f"{a}.feed_forward_length", s.n_ff)
    w.add_uint32(f"{a}.attention.head_count", s.n_head)
    w.add_uint32(f"{a}.attention.head_count_kv", s.n_head_kv)
    w.add_uint32(f"{a}.attention.key_length", s.head_dim)
    w.add_uint32(f"{a}.attention.value_length", s.head_dim)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", s.rms_eps)
    w.add_float32(f"{a}.rope.freq_base", s.rope_base)
    w.add_uint32(f"{a}.rope.dimension_count", s.head_dim)
    if s.is_moe:
        w.add_uint32(f"{a}.expert_count", s.n_expert)
        w.add_uint32(f"{a}.expert_used_count", s.n_expert_used)
        w.add_uint32(f"{a}.expert_feed_forward_length", s.n_ff_exp)
    if s.sliding_window:
        w.add_uint32(f"{a}.attention.sliding_window", s.sliding_window)
        # Per-layer booleans, as llama.cpp's converter writes them for Mellum.
        w.add_array(f"{a}.attention.sliding_window_pattern", s.swa_layers())
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(s.tokenizer_pre)
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    w.add_token_merges(vocab.merges)
    spec = FIM_SPECS[s.fim]
    w.add_bos_token_id(vocab.ids[spec.bos])
    w.add_eos_token_id(vocab.ids[spec.eos])
    w.add_eot_token_id(vocab.ids[spec.eot])
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    for role, text in spec.markers.items():
        w.add_uint32(f"tokenizer.ggml.fim_{role}_token_id", vocab.ids[text])
    if chat:
        w.add_chat_template(CHATML_TEMPLATE)


_CHUNK = 1 << 24  # elements per write: 32 MiB of F16


class _Filler:
    """Values for each tensor. `exact`: every value drawn (tiny models); otherwise matrices
    tile one random block (fast to write at 24 GB) while routers stay truly random."""

    def __init__(self, seed: int, exact: bool) -> None:
        self.seed = seed
        self.exact = exact
        self.rng = np.random.default_rng(seed)
        block = np.random.default_rng([seed, 1]).standard_normal(1 << 20, dtype=np.float32)
        self.block = (block * 0.02).astype(np.float16)
        if not exact:
            self.tiled = np.tile(self.block, _CHUNK // self.block.size + 1)

    def chunks(self, index: int, t: _Tensor) -> Iterator[np.ndarray]:
        if t.kind == "norm":
            yield np.ones(t.shape, t.dtype)
            return
        if t.kind in ("router", "bias") or self.exact:
            rng = self.rng if self.exact else np.random.default_rng([self.seed, 2, index])
            # Router logits of unit scale: every expert gets picked, none dominates.
            scale = {"router": 1.0, "bias": 0.02, "embed": 1.0}.get(t.kind, t.shape[-1] ** -0.5)
            yield (rng.standard_normal(t.shape, dtype=np.float32) * scale).astype(t.dtype)
            return
        n, start = t.n_elements, 0
        while start < n:
            k = min(_CHUNK, n - start)
            off = (index * 7919 + start) % self.block.size
            yield self.tiled[off : off + k]
            start += k


def _write_gguf(
    path: Path,
    shape: ModelShape,
    vocab: Vocab,
    name: str,
    *,
    seed: int,
    exact: bool,
    chat: bool = False,
    progress: Progress | None = None,
) -> None:
    """Stream a GGUF to `path`: header first, then each tensor in chunks (never all in RAM)."""
    tensors = _tensors(shape)
    w = GGUFWriter(None, shape.arch)
    _metadata(w, shape, vocab, name, chat)
    for t in tensors:
        w.add_tensor_info(t.name, t.shape, np.dtype(t.dtype), t.nbytes)
    filler = _Filler(seed, exact)
    total, done, last = sum(t.nbytes for t in tensors), 0, 0.0
    try:
        w.write_header_to_file(path)
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        assert w.fout is not None
        f = w.fout[0]
        for i, t in enumerate(tensors):
            w.write_padding(f, f.tell())
            for chunk in filler.chunks(i, t):
                chunk.tofile(f)
                done += chunk.nbytes
                if progress and time.monotonic() - last > 0.5:
                    last = time.monotonic()
                    progress("write", done / total)
            w.write_padding(f, t.nbytes)
    finally:
        w.close()
    if progress:
        progress("write", 1.0)


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _fail_write(path: Path, exc: OSError, need: int) -> SyntheticError:
    # numpy's tofile reports a full disk as a short write without an errno: ask the disk.
    full = exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError):
        full = full or shutil.disk_usage(path.parent).free < 1 << 20
    if full:
        return SyntheticError(
            f"The disk is full: writing {path.name} needs about {_size(need)} in "
            f"{path.parent}. Nothing was kept. Free some space (or pass a smaller --layers)."
        )
    return SyntheticError(f"Cannot write {path}: {exc.strerror or exc}")


def _check_target(path: Path, need: int) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise SyntheticError(f"Cannot write {path}: the folder {parent} does not exist.")
    if path.is_dir():
        raise SyntheticError(f"Cannot write {path}: it is a folder; name a .gguf file.")
    if not os.access(parent, os.W_OK):
        raise SyntheticError(f"Cannot write {path}: the folder {parent} is not writable.")
    free = shutil.disk_usage(parent).free
    if free < need:
        raise SyntheticError(
            f"Not enough disk space for {path.name}: it needs about {_size(need)} in {parent} "
            f"but only {_size(free)} is free. Free some space, or pass a smaller --layers."
        )


def _remove(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def write_tiny_model(
    path: str | os.PathLike[str],
    *,
    arch: str = "mellum",
    fim: str | None = "spm",
    chat_template: bool = False,
    seed: int = 0,
    name: str | None = None,
) -> Path:
    """Write a tiny random model (about 1 MB at most) that llama.cpp loads and runs at once.

    `fim` picks the FIM family's control tokens (see `FIM_SPECS`; None: no FIM tokens);
    `chat_template` adds ChatML tokens and template. The same arguments give the same bytes.
    """
    if arch not in _TINY:
        raise SyntheticError(f"Unknown arch {arch!r}; choose one of {', '.join(ARCHS)}.")
    if fim not in FIM_SPECS:
        choices = ", ".join(FIM_VARIANTS)
        raise SyntheticError(f"Unknown FIM variant {fim!r}; choose one of {choices} or None.")
    vocab = build_vocab(fim, chat_template)
    shape = replace(_TINY[arch], n_vocab=len(vocab.tokens), fim=fim)
    if name is None:
        # "mellum" in the name is how Focal tells Mellum's FIM order from StarCoder's
        # on other architectures.
        label = "mellum-spm" if fim == "spm" else (fim or "nofim")
        name = f"synthetic-{arch}-{label}" + ("-chat" if chat_template else "")
    out = Path(path)
    tmp = out.with_name(out.name + ".partial")
    _check_target(out, 0)
    try:
        _write_gguf(tmp, shape, vocab, name, seed=seed, exact=True, chat=chat_template)
        os.replace(tmp, out)
    except OSError as exc:
        raise _fail_write(out, exc, f16_size(shape)) from exc
    finally:
        _remove(tmp)
    return out


def quant_ftype(quant: str) -> int:
    """llama.cpp's file type number for a quantization name such as `Q4_K_M`."""
    import llama_cpp

    q = quant.upper()
    special = {"F32": "LLAMA_FTYPE_ALL_F32"}
    value = getattr(llama_cpp, special.get(q, f"LLAMA_FTYPE_MOSTLY_{q}"), None)
    if not isinstance(value, int):
        prefix = "LLAMA_FTYPE_MOSTLY_"
        known = sorted(k.removeprefix(prefix) for k in dir(llama_cpp) if k.startswith(prefix))
        known.append("F32")
        raise SyntheticError(f"Unknown quantization {quant!r}; choose one of {', '.join(known)}.")
    return value


# Average bits per weight of llama.cpp's file types (its quantize tool's table), for
# progress and the disk-space check.
# fmt: off
_BITS_PER_WEIGHT = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.6, "Q5_K_M": 5.7,
    "Q5_K_S": 5.5, "Q5_1": 6.0, "Q5_0": 5.5, "Q4_K_M": 4.9, "Q4_K_S": 4.6, "Q4_1": 5.0,
    "Q4_0": 4.5, "Q3_K_L": 4.3, "Q3_K_M": 3.9, "Q3_K_S": 3.5, "Q2_K": 2.6,
}
# fmt: on


def _quantize(src: Path, dst: Path, ftype: int, progress: Progress | None, expect: int) -> None:
    import llama_cpp

    from inference import llama_log

    llama_log.install()  # its per-tensor chatter goes to Python logging, not our stderr
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 0  # all cores
    stop = threading.Event()

    def watch() -> None:  # llama.cpp reports no progress: watch the output grow
        while not stop.wait(0.5):
            if progress and dst.exists():
                progress("quantize", min(0.99, dst.stat().st_size / max(1, expect)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    llama_log.recent_errors(clear=True)
    try:
        rc = llama_cpp.llama_model_quantize(
            str(src).encode(), str(dst).encode(), ctypes.byref(params)
        )
    finally:
        stop.set()
        watcher.join()
    if rc != 0:
        why = "; ".join(llama_log.recent_errors()) or f"return code {rc}"
        raise SyntheticError(f"llama.cpp could not quantize {src.name}: {why}")
    if progress:
        progress("quantize", 1.0)


def write_shaped_model(
    path: str | os.PathLike[str],
    shape: str = "mellum2",
    quant: str = "Q4_K_M",
    *,
    layers: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Write a random-weight model with the tensor shapes of `shape` (a key of `SHAPES`),
    quantized to `quant` by llama.cpp. `layers` keeps only the first N blocks."""
    if shape not in SHAPES:
        raise SyntheticError(f"Unknown shape {shape!r}; choose one of {', '.join(SHAPES)}.")
    s = SHAPES[shape]
    if layers is not None:
        if layers < 1:
            raise SyntheticError(f"--layers must be at least 1, not {layers}.")
        s = replace(s, n_layer=layers)
    ftype = quant_ftype(quant)
    out = Path(path)
    direct = quant.upper() == "F16"
    f16 = out.with_name(out.name + ".f16.partial")
    tmp = out.with_name(out.name + ".partial")
    size = f16_size(s)
    expect = int(size * _BITS_PER_WEIGHT.get(quant.upper(), 8.0) / 16)
    # The disk must hold the F16 and the result; tensors that a K-quant cannot take (rows
    # not a multiple of 256) fall back to bigger types, so budget half as much again.
    _check_target(out, size if direct else size + min(size, expect * 3 // 2))
    vocab = build_vocab(s.fim, False, s.n_vocab)
    suffix = "" if layers is None else f"-{layers}L"
    name = f"synthetic-{shape}{suffix}"
    try:
        first = tmp if direct else f16
        _write_gguf(first, s, vocab, name, seed=seed, exact=False, progress=progress)
        if not direct:
            _quantize(f16, tmp, ftype, progress, expect)
        os.replace(tmp, out)
    except OSError as exc:
        raise _fail_write(out, exc, size) from exc
    finally:
        _remove(f16, tmp)
    if progress:
        progress("done", 1.0)
    return out


if __name__ == "__main__":
    from inference.synthetic_cli import main

    raise SystemExit(main())
