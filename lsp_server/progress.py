"""`$/progress` for long work, when the client supports it; always ended, even on failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

Report = Callable[[str, int | None], None]
"""`report(message, percent)`; safe to call from any thread."""


def _supported(ls: LanguageServer) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


@contextlib.asynccontextmanager
async def work_done(
    ls: LanguageServer, title: str, cancellable: bool = False
) -> AsyncIterator[Report]:
    """Create, begin, report and end a work-done progress. Reports are throttled to the
    event loop; without client support the reports only go to the debug log."""
    loop = asyncio.get_running_loop()
    token: str | None = None
    if _supported(ls):
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
