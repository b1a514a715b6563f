"""Focal's synthetic GGUF writer, checked against the real llama.cpp and Focal's own model card."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import llama_cpp
import pytest
from gguf import GGUFReader

from inference import cpu_check, llama_log
from inference.gguf_header import read_header
from inference.model_card import read_model_card
from inference.offload import LoadOptions
from inference.synthetic import (
    ARCHS,
    FIM_SPECS,
    FIM_VARIANTS,
    SHAPES,
    SyntheticError,
    expected_family,
    gpt2_byte_chars,
    param_counts,
    write_shaped_model,
    write_tiny_model,
)
from inference.synthetic_cli import add_commands, main

CASES = [
    pytest.param(arch, fim, id=f"{arch}-{fim or 'nofim'}")
    for arch in ARCHS
    for fim in (*FIM_VARIANTS, None)
]
_FIM_GETTERS = {
    "pre": llama_cpp.llama_vocab_fim_pre,
    "suf": llama_cpp.llama_vocab_fim_suf,
    "mid": llama_cpp.llama_vocab_fim_mid,
    "pad": llama_cpp.llama_vocab_fim_pad,
    "rep": llama_cpp.llama_vocab_fim_rep,
    "sep": llama_cpp.llama_vocab_fim_sep,
}


def _load(path: Path, n_ctx: int = 256) -> llama_cpp.Llama:
    llama_log.install()  # llama.cpp's notices go to logging, not the test output
    # Quantized weights take llama.cpp's AMX/repack kernels: only where the probe saw them work.
    with LoadOptions(extra_bufts=cpu_check.decide().extra_bufts).applied():
        return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=1, verbose=False, seed=0)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("arch", "fim"), CASES)
def test_tiny_model_vocabulary_and_card(tmp_path: Path, arch: str, fim: str | None) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", arch=arch, fim=fim)
    spec = FIM_SPECS[fim]
    tokens = read_header(path).metadata["tokenizer.ggml.tokens"]
    assert tokens[:256] == gpt2_byte_chars()

    card = read_model_card(path)
    assert card.architecture == arch
    assert card.quantization == "F16"
    assert card.fim_family == expected_family(arch, fim)
    assert card.fim.prefix == spec.markers.get("pre")
    assert (card.expert_count, card.expert_used_count) == ((0, 0) if arch == "llama" else (8, 2))
    assert not card.has_chat_template
    assert card.size_bytes < 2 << 20

    llm = _load(path)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    for role, getter in _FIM_GETTERS.items():
        text = spec.markers.get(role)
        assert getter(vocab) == (tokens.index(text) if text else -1), role
    for text in {spec.bos, spec.eos, spec.eot, *spec.markers.values(), *spec.extra}:
        tid = tokens.index(text)
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == [tid]
        # Code that contains a marker's spelling must never become the control token.
        plain = llm.tokenize(text.encode(), add_bos=False, special=False)
        assert tid not in plain and len(plain) > 1
        assert llm.detokenize(plain).decode() == text


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_model_generates_from_a_fim_prompt(tmp_path: Path, arch: str) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", arch=arch, fim="qwen")
    llm = _load(path)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def text(s: str) -> list[int]:
        return llm.tokenize(s.encode(), add_bos=False, special=False)

    prompt = [
        llama_cpp.llama_vocab_fim_pre(vocab),
        *text("def add(self, x):\n    return"),
        llama_cpp.llama_vocab_fim_suf(vocab),
        *text("\n\nclass B:\n    pass\n"),
        llama_cpp.llama_vocab_fim_mid(vocab),
    ]
    out = llm.create_completion(prompt, max_tokens=6, temperature=0.0)
    assert out["usage"]["prompt_tokens"] == len(prompt)
    assert out["usage"]["completion_tokens"] >= 1
    assert isinstance(out["choices"][0]["text"], str)


def test_common_code_pieces_are_single_tokens(tiny_model: Path) -> None:
    llm = _load(tiny_model)
    for piece in ("def", " return", " self", "        ", " None"):
        assert len(llm.tokenize(piece.encode(), add_bos=False, special=False)) == 1, piece


def test_mellum_sliding_window_pattern(tiny_model: Path) -> None:
    llm = _load(tiny_model)
    assert llama_cpp.llama_model_n_swa(llm.model) == 32
    field = GGUFReader(tiny_model).fields["mellum.attention.sliding_window_pattern"]
    assert [bool(field.parts[i][0]) for i in field.data] == [True, True, True, False]


def test_router_is_random_per_expert(tiny_model: Path) -> None:
    reader = GGUFReader(tiny_model)
    router = next(t for t in reader.tensors if t.name == "blk.0.ffn_gate_inp.weight")
    rows = router.data.reshape(8, -1)
    assert len({r.tobytes() for r in rows}) == 8
    assert abs(float(rows.std()) - 1.0) < 0.2


def test_chat_model_renders_and_answers(tiny_chat_model: Path) -> None:
    card = read_model_card(tiny_chat_model)
    assert card.has_chat_template
    llm = _load(tiny_chat_model, n_ctx=512)
    for marker in ("<|im_start|>", "<|im_end|>"):
        assert len(llm.tokenize(marker.encode(), add_bos=False, special=True)) == 1
    out = llm.create_chat_completion(
        [{"role": "user", "content": "Write a commit message."}], max_tokens=4, temperature=0.0
    )
    assert out["usage"]["completion_tokens"] >= 1


def test_qwen_fixture_is_a_qwen_moe(tiny_qwen_model: Path) -> None:
    card = read_model_card(tiny_qwen_model)
    assert (card.architecture, card.fim_family, card.expert_count) == ("qwen3moe", "qwen", 8)
    assert card.fim.file_sep == "<|file_sep|>" and card.fim.repo_name == "<|repo_name|>"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = write_tiny_model(tmp_path / "a.gguf", seed=7)
    b = write_tiny_model(tmp_path / "b.gguf", seed=7)
    c = write_tiny_model(tmp_path / "c.gguf", seed=8)
    assert _sha256(a) == _sha256(b) != _sha256(c)
    assert read_model_card(a).digest == read_model_card(b).digest


@pytest.mark.parametrize(
    ("shape", "total", "active"),
    [
        pytest.param("mellum2", 12.1e9, 2.4e9, id="mellum2-12B-A2.5B"),
        pytest.param("qwen2.5-7b", 7.6e9, 7.6e9, id="qwen2.5-7b"),
    ],
)
def test_published_shapes_have_published_sizes(shape: str, total: float, active: float) -> None:
    n_total, n_active = param_counts(SHAPES[shape])
    assert n_total == pytest.approx(total, rel=0.02)
    assert n_active == pytest.approx(active, rel=0.02)


def test_shaped_model_is_quantized_by_llama_cpp(tmp_path: Path) -> None:
    stages: list[tuple[str, float]] = []
    out = write_shaped_model(
        tmp_path / "mini.gguf",
        "mellum2-mini",
        "Q4_K_M",
        layers=1,
        progress=lambda stage, f: stages.append((stage, f)),
    )
    card = read_model_card(out)
    assert card.quantization == "Q4_K_M"
    assert (card.architecture, card.n_layer, card.expert_count) == ("mellum", 1, 8)
    assert card.vocab_size == SHAPES["mellum2-mini"].n_vocab
    assert card.fim_family == "mellum"
    assert ("write", 1.0) in stages and stages[-1] == ("done", 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.gguf"]  # no F16 left behind
    llm = _load(out)
    assert llm.create_completion("def f(", max_tokens=2)["usage"]["completion_tokens"] >= 1


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SyntheticError, match="choose one of mellum2"):
        write_shaped_model(tmp_path / "x.gguf", "gpt-5")
    with pytest.raises(SyntheticError, match="Unknown quantization"):
        write_shaped_model(tmp_path / "x.gguf", "mellum2-mini", "Q3_X_Z")
    with pytest.raises(SyntheticError, match="does not exist"):
        write_tiny_model(tmp_path / "missing" / "x.gguf")
    with pytest.raises(SyntheticError, match="Unknown arch"):
        write_tiny_model(tmp_path / "x.gguf", arch="gpt2")
    assert list(tmp_path.iterdir()) == []


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.gguf"
    assert main(["tiny", str(out), "--arch", "qwen3moe", "--fim", "codellama", "--chat"]) == 0
    card = read_model_card(out)
    assert (card.fim_family, card.has_chat_template) == ("codellama", True)
    assert main(["shaped", str(tmp_path / "s.gguf"), "--shape", "nope"]) == 1
    assert "Unknown shape 'nope'" in capsys.readouterr().err

    parser = argparse.ArgumentParser(prog="focal")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["synth", "shaped", "o.gguf", "--shape", "qwen2.5-7b", "--layers", "2"]
    )
    assert (args.shape, args.quant, args.layers) == ("qwen2.5-7b", "Q4_K_M", 2)
