"""The frozen dataclasses that cross the boundary between `inference` and its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CompletionTask:
    """What the editor asked for: complete `document` at the cursor between prefix and suffix."""

    document: str
    """A key for the document (its URI); a newer task for the same key supersedes older ones."""
    path: str
    """Workspace-relative or absolute path, shown to the model in repo-level prompts."""
    language: str
    prefix: str
    suffix: str
    line: int = 0
    character: int = 0
    trigger: str = "automatic"
    """`automatic` (as the user types) or `invoked` (explicitly asked for)."""


@dataclass(frozen=True)
class ContextChunk:
    """A piece of the repository put in the prompt, and why."""

    path: str
    start_line: int
    end_line: int
    text: str
    reason: str


@dataclass(frozen=True)
class ContextBundle:
    chunks: tuple[ContextChunk, ...] = ()


@dataclass(frozen=True)
class PromptPiece:
    """A run of prompt text: either user code (tokenized without special tokens) or a marker."""

    text: str
    control: bool = False


@dataclass(frozen=True)
class Prompt:
    pieces: tuple[PromptPiece, ...]
    template: str
    """Name of the template family that built it (e.g. `mellum/spm`, `qwen/psm`, `prefix-only`)."""
    stop_texts: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 64
    time_budget_ms: int = 3000
    temperature: float = 0.0
    top_p: float = 0.95
    top_k: int = 40
    seed: int = 0
    multiline: bool = True


@dataclass(frozen=True)
class Timing:
    """Milliseconds spent per phase, and how much of the prompt came from the KV cache."""

    queue_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    total_ms: float = 0.0
    prompt_tokens: int = 0
    tokens_reused: int = 0
    tokens_evaluated: int = 0
    tokens_generated: int = 0


@dataclass(frozen=True)
class Origin:
    """Where a suggestion came from: enough to answer "which model wrote this, and why"."""

    model_name: str
    model_path: str
    model_digest: str
    quantization: str
    architecture: str
    engine: str
    device: str
    template: str
    sampling: GenerationParams
    timing: Timing
    confidence: float
    """Geometric mean of the sampled tokens' probabilities, 0..1."""
    stop_reason: str
    context: tuple[ContextChunk, ...] = ()
    route: str = "default"
    redactions: tuple[tuple[str, int], ...] = ()
    """Secrets replaced in the prompt before the model saw it: (kind, how many), by kind."""

    @property
    def short_digest(self) -> str:
        return self.model_digest[:8]

    @property
    def label(self) -> str:
        """One line for an editor's label details, e.g. `SmolLM2 Q4_1 · 120 ms`."""
        return f"{self.model_name} {self.quantization}"


@dataclass(frozen=True)
class Suggestion:
    id: str
    text: str
    origin: Origin
    prompt: str = field(default="", repr=False)
    """The prompt as the model saw it (for the ledger's digest, or its text when allowed)."""


@dataclass(frozen=True)
class FimTokens:
    """The model's fill-in-the-middle and repo-level control tokens, as found in its vocabulary."""

    prefix: str | None = None
    suffix: str | None = None
    middle: str | None = None
    pad: str | None = None
    file_sep: str | None = None
    repo_name: str | None = None
    filename: str | None = None
    eot: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """A GGUF's identity and shape, read from its header without loading the weights."""

    path: Path
    name: str
    architecture: str
    file_type: int
    quantization: str
    size_bytes: int
    n_params: int
    expert_count: int
    expert_used_count: int
    context_length: int
    n_layer: int
    vocab_size: int
    fim: FimTokens
    fim_family: str
    has_chat_template: bool
    add_bos: bool
    digest: str = field(default="", compare=False)

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 1
