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
    (a generator, pygls 2.1) is wrapped to put the request's token in a context variable
    before it yields the command's handler, which pygls then starts as a task that copies
    the context. `tests/e2e/test_capabilities.py` fails if pygls changes this."""
    features = ls.protocol.fm.builtin_features
    builtin = features[types.WORKSPACE_EXECUTE_COMMAND]

    def execute_command(params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        _request_token.set(getattr(params, "work_done_token", None))
        return (yield from builtin(params))

    features[types.WORKSPACE_EXECUTE_COMMAND] = execute_command


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
    _request_token.set(None)  # one request's token, never a later one's
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
