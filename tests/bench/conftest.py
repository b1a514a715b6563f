"""Full-size model headers for offload plans: a GGUF whose header is Mellum2-12B's (or
Qwen2.5-7B's) at Q4_K_M-like tensor types and whose data is a hole in a sparse file. Focal plans
from the header alone, so a test can ask "where would a 12B MoE go on an 8 GB card?" without
writing 7 GB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from inference.synthetic import SHAPES, _tensors

Q = GGMLQuantizationType


def _quant_type(name: str, layer: int) -> GGMLQuantizationType:
    """Roughly what llama.cpp's Q4_K_M picks (its quantizer falls back from K-quants for rows
    that are not a multiple of 256, such as Mellum2's 896-wide expert down projections)."""
    if name.endswith("_norm.weight") or "ffn_gate_inp" in name or name.endswith(".bias"):
        return Q.F32
    if name == "output.weight":
        return Q.Q6_K
    if "ffn_down_exps" in name:
        return Q.Q5_0 if layer % 4 < 2 else Q.Q8_0
    return Q.Q4_K


def write_header_only(path: Path, shape: str) -> Path:
    s = SHAPES[shape]
    w = GGUFWriter(None, s.arch)
    a = s.arch
    w.add_name(f"header-only-{shape}")
    w.add_file_type(15)  # MOSTLY_Q4_K_M
    for key, value in (
        ("context_length", s.context_length),
        ("embedding_length", s.n_embd),
        ("block_count", s.n_layer),
        ("feed_forward_length", s.n_ff),
        ("attention.head_count", s.n_head),
        ("attention.head_count_kv", s.n_head_kv),
        ("attention.key_length", s.head_dim),
        ("attention.value_length", s.head_dim),
        ("vocab_size", s.n_vocab),
    ):
        w.add_uint32(f"{a}.{key}", value)
    if s.is_moe:
        w.add_uint32(f"{a}.expert_count", s.n_expert)
        w.add_uint32(f"{a}.expert_used_count", s.n_expert_used)
    size = 0
    for t in _tensors(s):
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else 0
        qt = _quant_type(t.name, layer)
        block, nbytes = GGML_QUANT_SIZES[qt]
        n = t.n_elements // block * nbytes
        w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), n, raw_dtype=qt)
        size += -(-n // 32) * 32  # each tensor padded to the default alignment
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    f = w.fout[0]
    w.write_padding(f, f.tell())
    f.truncate(f.tell() + size)  # a hole: no disk used
    w.close()
    return path


@pytest.fixture(scope="session")
def mellum2_header(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mellum2-12B-A2.5B's full shape (28 layers, 64 experts), header only (~7 GiB sparse)."""
    return write_header_only(tmp_path_factory.mktemp("headers") / "mellum2.gguf", "mellum2")


@pytest.fixture(scope="session")
def qwen7b_header(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen2.5-7B's full (dense) shape, header only."""
    return write_header_only(tmp_path_factory.mktemp("headers") / "qwen7b.gguf", "qwen2.5-7b")
