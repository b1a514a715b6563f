"""Which model is loaded, loading it off the event loop, and telling the user when it fails."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from inference.defaults import NO_MODEL_HELP, default_model_path
from inference.engine import EngineConfig, LlamaEngine
from inference.model_card import ModelError, read_model_card
from lsp_server.settings import ModelSettings, RemoteSettings

log = logging.getLogger(__name__)


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

    async def engine(self) -> LlamaEngine | None:
        """The ready engine, waiting for a load in progress; None if there is no usable model."""
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
        config = EngineConfig(
            n_gpu_layers=settings.gpu_layers,
            n_ctx=settings.context_length,
            n_threads=settings.threads,
            fim_order=settings.fim_order,
            flash_attn=settings.flash_attn,
        )
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

    def _fail(self, message: str) -> None:
        self._state = ModelState("error", error=message)
        self._on_error(message)
        return None

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._state.engine is not None:
            self._state.engine.close()


def _log_task_error(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("model task failed", exc_info=task.exception())
