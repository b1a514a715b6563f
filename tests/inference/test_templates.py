"""FIM templates chosen from a vocabulary: markers, order, KV-friendly clipping."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from inference.model_card import detect_fim
from inference.templates import PREFIX_LINE_GRID, build_prompt, clip_prefix, template_for
from inference.types import CompletionTask, ContextBundle, ContextChunk, ModelCard

BASE_VOCAB = [chr(c) for c in range(33, 127)]

VOCABS = {
    "mellum": ["<filename>", "<fim_suffix>", "<fim_prefix>", "<fim_middle>", "<fim_pad>"],
    "qwen": ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>"],
    "starcoder": ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "<filename>"],
    "deepseek": ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"],
    "codellama": ["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"],
    "codestral": ["[PREFIX]", "[SUFFIX]", "[MIDDLE]"],
    "none": ["<|endoftext|>"],
}


def card(family: str, arch: str = "llama", name: str = "m") -> ModelCard:
    tokens = BASE_VOCAB + VOCABS[family]
    fim, fam = detect_fim(tokens, arch, name)
    return ModelCard(
        path=Path("/m.gguf"),
        name=name,
        architecture=arch,
        file_type=15,
        quantization="Q4_K_M",
        size_bytes=1,
        n_params=1,
        expert_count=0,
        expert_used_count=0,
        context_length=4096,
        n_layer=1,
        vocab_size=len(tokens),
        fim=fim,
        fim_family=fam,
        has_chat_template=False,
        add_bos=False,
    )


MELLUM_EXPECTED = (
    "[<filename>]pkg/a.py\n[<fim_suffix>]\n\nf()\n[<fim_prefix>]def f():\n    ret[<fim_middle>]"
)

TASK = CompletionTask("file:///a.py", "pkg/a.py", "python", "def f():\n    ret", "\n\nf()\n")


def render(prompt) -> str:
    return "".join(f"[{p.text}]" if p.control else p.text for p in prompt.pieces)


@pytest.mark.parametrize(
    ("family", "arch", "name", "expected"),
    [
        pytest.param(
            "mellum",
            "mellum",
            "Mellum2",
            MELLUM_EXPECTED,
            id="mellum2-spm-with-filename",
        ),
        pytest.param(
            "mellum",
            "llama",
            "JetBrains Mellum 4b Base",
            MELLUM_EXPECTED,
            id="mellum-4b-by-name",
        ),
        pytest.param(
            "qwen",
            "qwen2",
            "Qwen2.5-Coder",
            "[<|fim_prefix|>]def f():\n    ret[<|fim_suffix|>]\n\nf()\n[<|fim_middle|>]",
            id="qwen-psm",
        ),
        pytest.param(
            "starcoder",
            "starcoder2",
            "StarCoder2",
            "[<fim_prefix>]def f():\n    ret[<fim_suffix>]\n\nf()\n[<fim_middle>]",
            id="starcoder-psm",
        ),
        pytest.param(
            "deepseek",
            "llama",
            "DeepSeek-Coder",
            "[<｜fim▁begin｜>]def f():\n    ret[<｜fim▁hole｜>]\n\nf()\n[<｜fim▁end｜>]",
            id="deepseek-psm",
        ),
        pytest.param(
            "codellama",
            "llama",
            "CodeLlama",
            "[▁<PRE>] def f():\n    ret[▁<SUF>]\n\nf()\n[▁<MID>]",
            id="codellama-spacing",
        ),
        pytest.param(
            "codestral",
            "llama",
            "Codestral",
            "[[SUFFIX]]\n\nf()\n[[PREFIX]]def f():\n    ret",
            id="codestral-spm-no-middle",
        ),
        pytest.param("none", "llama", "SmolLM2", "def f():\n    ret", id="prefix-only"),
    ],
)
def test_template_from_vocabulary(family: str, arch: str, name: str, expected: str) -> None:
    tpl = template_for(card(family, arch, name))
    assert render(build_prompt(tpl, TASK)) == expected


@pytest.mark.parametrize(
    ("order", "first_marker"),
    [pytest.param("psm", "<fim_prefix>", id="psm"), pytest.param("spm", "<fim_suffix>", id="spm")],
)
def test_fim_order_override(order: str, first_marker: str) -> None:
    tpl = template_for(card("mellum", "mellum", "Mellum2"), order)
    pieces = [p.text for p in build_prompt(tpl, TASK).pieces if p.control]
    assert pieces[1] == first_marker  # after <filename>


def test_invalid_order_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, psm, spm"):
        template_for(card("qwen"), "middle-first")


def test_context_chunks_use_repo_level_tokens_and_come_first() -> None:
    chunk = ContextChunk("pkg/util.py", 0, 1, "def helper():\n    pass", "definition of `helper`")
    prompt = build_prompt(template_for(card("qwen", "qwen2")), TASK, ContextBundle((chunk,)))
    text = render(prompt)
    assert text.startswith("[<|file_sep|>]pkg/util.py\ndef helper():\n    pass\n")
    assert text.index("[<|file_sep|>]pkg/a.py\n") < text.index("[<|fim_prefix|>]")


def test_context_without_repo_tokens_uses_path_comments() -> None:
    chunk = ContextChunk("lib/x.ts", 9, 10, "export const X = 1", "imported module")
    task = CompletionTask("u", "main.ts", "typescript", "X", "")
    prompt = build_prompt(template_for(card("deepseek")), task, ContextBundle((chunk,)))
    assert "// lib/x.ts\nexport const X = 1\n" in render(prompt)


def test_marker_text_in_user_code_is_not_a_control_piece() -> None:
    task = CompletionTask("u", "a.py", "python", "s = '<|fim_middle|>'\n", "")
    prompt = build_prompt(template_for(card("qwen")), task)
    code = [p for p in prompt.pieces if "<|fim_middle|>'" in p.text]
    assert code and not code[0].control


def test_long_prefix_is_clipped_on_a_stable_line_grid() -> None:
    """Typing at the end must rarely move the window's first line (KV-cache reuse):
    a character-exact window would move on every keystroke."""
    prefix = "".join(f"line_{i} = {i}\n" for i in range(1000))
    typed = "result = compute(line_1, line_2) + another_call(line_3)\n" * 4
    starts = []
    for n in range(len(typed)):
        window = clip_prefix(prefix + typed[:n], 3000)
        assert len(window) <= 3000 and window.endswith(typed[:n])
        starts.append(window.split("\n", 1)[0])
    first = int(starts[0].split("=", 1)[0].removeprefix("line_"))
    assert first % PREFIX_LINE_GRID == 0
    moves = sum(1 for a, b in itertools.pairwise(starts) if a != b)
    assert moves <= 2, f"window moved {moves} times in {len(typed)} keystrokes"


@pytest.mark.parametrize(
    ("family", "arch", "name", "window"),
    [
        pytest.param("qwen", "qwen2", "Qwen2.5-Coder", 480, id="psm-short"),
        pytest.param("mellum", "mellum", "Mellum2", 1500, id="spm-long"),
    ],
)
def test_suffix_window_is_short_where_every_keystroke_evaluates_it_again(
    family, arch, name, window
):
    """In prefix-suffix-middle order the suffix follows the edited prefix, so it is evaluated
    again at every keystroke: it gets about 10 lines; suffix-first templates keep 1,500
    characters (cached while typing). Either way it ends on a whole line."""
    suffix = "".join(f"    value_{i} = compute({i})\n" for i in range(200))
    task = CompletionTask("file:///a.py", "pkg/a.py", "python", "def f():\n    ", suffix)
    prompt = build_prompt(template_for(card(family, arch, name)), task)
    pieces = [p.text for p in prompt.pieces]
    shown = max((t for t in pieces if t.startswith("    value_0")), key=len)
    assert suffix.startswith(shown) and shown.endswith("\n")
    assert window - 40 < len(shown) <= window
