"""Which model is loaded, loading it off the event loop, and telling the user when it fails."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.defaults import NO_MODEL_HELP, default_model_path
from inference.engine import EngineConfig, LlamaEngine, memory_available
from inference.model_card import ModelError, read_model_card
from lsp_server.settings import ModelSettings, RemoteSettings, RouteSettings

TASKS = ("complete", "fix", "summarize")

log = logging.getLogger(__name__)


def engine_config(settings: ModelSettings) -> EngineConfig:
    """How llama.cpp runs the model these settings name (GPU offload, experts, cache)."""
    return EngineConfig(
        n_gpu_layers=settings.gpu_layers,
        n_ctx=settings.context_length,
        n_threads=settings.threads,
        fim_order=settings.fim_order,
        flash_attn=settings.flash_attn,
        moe_experts=settings.moe_experts,
        cache_type=settings.cache_type,
        cpu_extra_buffers=settings.cpu_extra_buffers,
    )


@dataclass(frozen=True)
class ModelState:
    state: str
    """`idle`, `loading`, `ready` or `error`."""
    engine: LlamaEngine | None = None
    error: str | None = None


class ModelManager:
    """Holds the engine for the current model settings; reloads only when they change."""

    def __init__(self, on_error: Callable[[str], None], on_ready: Callable[[LlamaEngine], None]):
        self._on_error = on_error
        self._on_ready = on_ready
        self._settings: tuple | None = None
        self._task: asyncio.Task[LlamaEngine | None] | None = None
        self._state = ModelState("idle")
        self._model_settings = ModelSettings()
        self._routes = RouteSettings()
        self._routed: dict[Path, _Routed] = {}

    @property
    def state(self) -> ModelState:
        return self._state

    def configure(
        self,
        settings: ModelSettings,
        remote: RemoteSettings | None = None,
        allow_remote: bool = False,
    ) -> None:
        """Start loading the model these settings name, unless it is already the one loaded.
        A remote engine is used only when one is configured *and* remote use is allowed."""
        self._model_settings = settings
        remote = remote if remote is not None and remote.url else None
        key = (settings, remote, allow_remote if remote else False)
        if key == self._settings and self._task is not None:
            return
        self._settings = key
        old = self._task
        self._task = asyncio.get_running_loop().create_task(
            self._load(settings, old, remote, allow_remote)
        )
        self._task.add_done_callback(_log_task_error)

    def configure_routes(self, routes: RouteSettings) -> None:
        """Tasks that name their own model; models no longer named are unloaded."""
        self._routes = routes
        wanted = {self._route_path(t) for t in TASKS} - {None}
        for path, r in list(self._routed.items()):
            failed = r.task.done() and r.engine() is None
            if path not in wanted or failed:  # a failed route is tried again on a change
                self._unload(path)

    def _route_path(self, task: str) -> Path | None:
        value = getattr(self._routes, task, None)
        return Path(value).expanduser() if value else None

    def route(self, task: str) -> str:
        """How `task` found its model, for the origin: `fix → qwen-instruct.gguf` or `default`."""
        path = self._route_path(task)
        routed = self._routed.get(path) if path is not None else None
        if path is None or (routed is not None and routed.task.done() and routed.engine() is None):
            return "default"
        return f"{task} → {path.name}"

    def loaded(self) -> list[dict[str, Any]]:
        """The models in memory and what they serve."""
        out = []
        if self._state.engine is not None:
            out.append({"path": str(self._state.engine.card.path), "route": "default"})
        for path, r in self._routed.items():
            if r.task.done() and not r.task.cancelled() and r.task.result() is not None:
                tasks = [t for t in TASKS if self._route_path(t) == path]
                out.append({"path": str(path), "route": ",".join(tasks)})
        return out

    async def engine(self, task: str = "complete") -> LlamaEngine | None:
        """The engine for `task` (its route's model, else the default one), waiting for a
        load in progress; None if there is no usable model."""
        path = self._route_path(task)
        if path is not None:
            routed = self._routed.get(path)
            if routed is None:
                routed = _Routed(asyncio.get_running_loop().create_task(self._load_route(path)))
                routed.task.add_done_callback(_log_task_error)
                self._routed[path] = routed
            routed.last_used = time.monotonic()
            engine = await asyncio.shield(routed.task)
            if engine is not None:
                return engine
            # The route's model failed (the user was told): serve with the default model.
        return await self._default_engine()

    async def _default_engine(self) -> LlamaEngine | None:
        if self._task is None:
            return None
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():
                return None
            raise

    async def _load(
        self,
        settings: ModelSettings,
        old: asyncio.Task | None,
        remote: RemoteSettings | None = None,
        allow_remote: bool = False,
    ) -> LlamaEngine | None:
        if old is not None:
            old.cancel()
            prev = self._state.engine
            if prev is not None:
                await asyncio.to_thread(prev.close)
        self._state = ModelState("loading")
        if remote is not None:
            if allow_remote:
                return await self._load_remote(remote)
            self._on_error(
                f"a remote engine is configured ({remote.url}) but `focal.privacy.allowRemote` "
                "is false: nothing leaves this machine, so the local model is used."
            )
        path = default_model_path(settings.path)
        if path is None:
            return self._fail(NO_MODEL_HELP)
        config = engine_config(settings)
        try:
            card = await asyncio.to_thread(read_model_card, path)
            engine = LlamaEngine(card, config)
            await asyncio.wrap_future(engine.loaded_future)
        except ModelError as exc:
            return self._fail(str(exc))
        except Exception as exc:
            log.exception("model load failed")
            return self._fail(f"Focal could not load the model {path}: {exc}")
        self._state = ModelState("ready", engine)
        self._on_ready(engine)
        return engine

    async def _load_remote(self, remote: RemoteSettings):
        from inference.remote import RemoteEngine

        key = os.environ.get(remote.api_key_env) if remote.api_key_env else None
        try:
            engine = RemoteEngine(
                remote.url or "",
                remote.model,
                key,
                remote.timeout_s,
                remote.retries,
                allow_remote=True,
                fim=remote.fim,
                fim_family=remote.fim_family,
            )
            await asyncio.wrap_future(engine.loaded_future)
        except ModelError as exc:
            return self._fail(str(exc))
        except Exception as exc:
            log.exception("remote engine failed")
            return self._fail(f"Focal could not use the remote engine {remote.url}: {exc}")
        self._state = ModelState("ready", engine)  # type: ignore[arg-type]
        self._on_ready(engine)  # type: ignore[arg-type]
        return engine  # type: ignore[return-value]

    async def _load_route(self, path: Path) -> LlamaEngine | None:
        config = engine_config(self._model_settings)
        try:
            card = await asyncio.to_thread(read_model_card, path)
            self._make_room(card.size_bytes, keep=path)
            engine = LlamaEngine(card, config)
            await asyncio.wrap_future(engine.loaded_future)
        except Exception as exc:
            self._on_error(
                f"the model routed for {', '.join(t for t in TASKS if self._route_path(t) == path)}"
                f" could not be used ({exc}); the default model serves instead."
            )
            return None  # kept as a failed route until the settings change: no retry storm
        log.info("routed model ready: %s", path.name)
        self._on_ready(engine)
        return engine

    def _budget(self) -> int:
        mb = self._model_settings.memory_budget_mb
        if mb:
            return mb * 1024 * 1024
        if self._auto_budget is None:
            avail = memory_available()
            self._auto_budget = int(avail * 0.7) if avail else 1 << 62
        return self._auto_budget

    _auto_budget: int | None = None

    def _make_room(self, size: int, keep: Path) -> None:
        """Unload idle routed models, least recently used first, until `size` more fits."""

        def used() -> int:
            total = self._state.engine.card.size_bytes if self._state.engine else 0
            for r in self._routed.values():
                eng = r.engine()
                total += eng.card.size_bytes if eng is not None else 0
            return total

        for path, r in sorted(self._routed.items(), key=lambda kv: kv[1].last_used):
            if used() + size <= self._budget():
                return
            eng = r.engine()
            if path != keep and eng is not None and not eng.busy:
                log.info("unloading idle %s to stay within the memory budget", path.name)
                self._unload(path)

    def _unload(self, path: Path) -> None:
        routed = self._routed.pop(path, None)
        if routed is None:
            return
        eng = routed.engine()
        if eng is not None:
            eng.close()
        else:
            routed.task.cancel()

    def _fail(self, message: str) -> None:
        self._state = ModelState("error", error=message)
        self._on_error(message)
        return None

    def close(self) -> None:
        for path in list(self._routed):
            self._unload(path)
        if self._task is not None:
            self._task.cancel()
        if self._state.engine is not None:
            self._state.engine.close()


@dataclass
class _Routed:
    task: asyncio.Task
    last_used: float = field(default_factory=time.monotonic)

    def engine(self) -> LlamaEngine | None:
        if self.task.done() and not self.task.cancelled() and self.task.exception() is None:
            return self.task.result()
        return None


def _log_task_error(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("model task failed", exc_info=task.exception())
