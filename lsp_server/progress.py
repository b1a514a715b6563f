"""`$/progress` for long work: on the token the client gave with its request, else on one
Focal creates when the client supports that; always ended, even on failure."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp_server.capabilities import work_done_progress

log = logging.getLogger(__name__)

Report = Callable[[str, int | None], None]
"""`report(message, percent)`; safe to call from any thread."""

_request_token: contextvars.ContextVar[str | int | None] = contextvars.ContextVar(
    "focal_work_done_token", default=None
)


def capture_work_done_tokens(ls: LanguageServer) -> None:
    """Let command handlers report on the `workDoneToken` of their `workspace/executeCommand`.

    pygls hands a command handler its arguments only. Its built-in executeCommand handler
    (a generator, pygls 2.1) yields the command's handler for pygls to run; that handler is
    wrapped here to set the request's token in its own context (a task's, for an async
    handler), so no other request ever sees it. `tests/e2e/test_capabilities.py` fails if
    pygls changes this."""
    features = ls.protocol.fm.builtin_features
    builtin = features[types.WORKSPACE_EXECUTE_COMMAND]

    def execute_command(params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        steps = builtin(params)
        handler, args, kwargs = next(steps)
        result = yield _with_token(handler, getattr(params, "work_done_token", None)), args, kwargs
        try:
            steps.send(result)
        except StopIteration as done:
            return done.value
        raise RuntimeError("pygls' executeCommand handler yielded twice")  # pragma: no cover

    features[types.WORKSPACE_EXECUTE_COMMAND] = execute_command


def _with_token(handler: Callable[..., Any], token: str | int | None) -> Callable[..., Any]:
    if token is None:
        return handler
    if asyncio.iscoroutinefunction(handler):

        async def run_async(*args: Any, **kwargs: Any) -> Any:
            _request_token.set(token)  # this task's context only
            return await handler(*args, **kwargs)

        return run_async

    def run(*args: Any, **kwargs: Any) -> Any:
        reset = _request_token.set(token)
        try:
            return handler(*args, **kwargs)
        finally:
            _request_token.reset(reset)

    return run


@contextlib.asynccontextmanager
async def work_done(
    ls: LanguageServer, title: str, cancellable: bool = False
) -> AsyncIterator[Report]:
    """Begin, report and end a work-done progress: on the request's own `workDoneToken`
    when the client gave one, else on a token created with `window/workDoneProgress/create`
    when the client supports that. Reports are throttled to the event loop; with neither,
    the reports only go to the debug log."""
    loop = asyncio.get_running_loop()
    token: str | int | None = _request_token.get()
    _request_token.set(None)  # one progress per token
    if token is not None:
        try:
            ls.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable)
            )
        except Exception:
            log.debug("could not begin progress on the client's token", exc_info=True)
            token = None
    elif work_done_progress(ls.client_capabilities):
        token = f"focal-{uuid.uuid4().hex[:12]}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), 5)
            ls.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable)
            )
        except Exception:
            log.debug("client refused a progress token", exc_info=True)
            token = None

    def send(message: str, percent: int | None) -> None:
        if token is None:
            log.debug("%s: %s (%s%%)", title, message, percent)
            return
        ls.work_done_progress.report(
            token, types.WorkDoneProgressReport(message=message, percentage=percent)
        )

    def report(message: str, percent: int | None = None) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            send(message, percent)
        else:
            loop.call_soon_threadsafe(send, message, percent)

    outcome = "done"
    try:
        yield report
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    except Exception:
        outcome = "failed"
        raise
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome))
