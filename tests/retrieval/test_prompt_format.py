"""The repo-level prompt format: the model's own tokens when its vocabulary has them, the
repository's name first, the chunks in the bundle's (stable-first) order, the cursor last."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inference.model_card import detect_fim
from inference.templates import RepoContext, build_prompt, template_for
from inference.types import CompletionTask, ContextBundle, ContextChunk
from tests.inference.test_templates import BASE_VOCAB, card, render

# The repo-level tokens as the real vocabularies spell them.
REPO_VOCABS = {
    "qwen": ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>",
             "<|repo_name|>"],
    "starcoder": ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "<reponame>"],
    "mellum": ["<filename>", "<fim_suffix>", "<fim_prefix>", "<fim_middle>", "<reponame>"],
}  # fmt: skip


def repo_card(family: str, arch: str, name: str):
    if family not in REPO_VOCABS:
        return card(family, arch, name)
    fim, fam = detect_fim(BASE_VOCAB + REPO_VOCABS[family], arch, name)
    return replace(card("none", arch, name), fim=fim, fim_family=fam)


TASK = CompletionTask("file:///a.py", "pkg/a.py", "python", "x = helper(", ")\n")
CHUNKS = (
    ContextChunk("pkg/util.py", 0, 1, "def helper(n):\n    return n", "definition of `helper`"),
    ContextChunk("pkg/io.py", 4, 4, "def load(path): ...", "module `pkg.io`"),
)


@pytest.mark.parametrize(
    ("family", "arch", "expected_head"),
    [
        pytest.param(
            "qwen", "qwen2",
            "[<|repo_name|>]shop\n[<|file_sep|>]pkg/util.py\ndef helper(n):\n    return n\n"
            "[<|file_sep|>]pkg/io.py\ndef load(path): ...\n[<|file_sep|>]pkg/a.py\n"
            "[<|fim_prefix|>]x = helper(",
            id="qwen-repo-name-and-file-sep",
        ),
        pytest.param(
            "starcoder", "starcoder2",
            "[<reponame>]shop[<file_sep>]pkg/util.py\n",
            id="starcoder-repo-name",
        ),
        pytest.param(
            "mellum", "mellum",
            "[<filename>]pkg/util.py\ndef helper(n):\n    return n\n"
            "[<filename>]pkg/io.py\ndef load(path): ...\n[<filename>]pkg/a.py\n[<fim_suffix>]",
            id="mellum-filename",
        ),
        pytest.param(
            "none", "llama",
            "# pkg/util.py\ndef helper(n):\n    return n\n\n# pkg/io.py\ndef load(path): ...\n\n"
            "# pkg/a.py\nx = helper(",
            id="comment-blocks",
        ),
    ],
)  # fmt: skip
def test_repo_level_format_from_the_vocabulary(family, arch, expected_head):
    tpl = template_for(repo_card(family, arch, "Mellum2" if family == "mellum" else "m"))
    text = render(build_prompt(tpl, TASK, RepoContext(CHUNKS, repo="shop")))
    assert text.startswith(expected_head), text


def test_without_context_there_is_no_repository_header():
    tpl = template_for(repo_card("qwen", "qwen2", "m"))
    text = render(build_prompt(tpl, TASK, RepoContext((), repo="shop")))
    assert "<|repo_name|>" not in text and text.startswith("[<|fim_prefix|>]")
    # A plain bundle (no name) still gets file separators.
    plain = render(build_prompt(tpl, TASK, ContextBundle(CHUNKS)))
    assert plain.startswith("[<|file_sep|>]pkg/util.py\n")


def test_a_chunk_added_at_the_end_keeps_the_prompt_head():
    """Retrieval appends new chunks; the prompt before them must not change (KV cache)."""
    tpl = template_for(card("mellum", "mellum", "Mellum2"))
    before = build_prompt(tpl, TASK, RepoContext(CHUNKS[:1], repo="shop")).pieces
    extra = ContextChunk("pkg/io.py", 10, 10, "X = 1", "similar code")
    after = build_prompt(tpl, TASK, RepoContext((*CHUNKS[:1], extra), repo="shop")).pieces
    n = 2  # the first chunk's marker and text
    assert after[:n] == before[:n]
    moved = ContextChunk("pkg/util.py", 40, 41, CHUNKS[0].text, CHUNKS[0].reason)
    # A chunk whose lines moved (an edit above it) renders the same.
    assert build_prompt(tpl, TASK, RepoContext((moved,), repo="shop")).pieces[:n] == before[:n]
