"""Diff summaries: `focal.summarizeDiff` and the commit-message completion in `gitcommit`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from indexing.git import GitError, RepoDiff, read_diff, repo_root
from indexing.ignore import NOAI_FILE, ai_disabled
from inference.engine import Cancelled, LlamaEngine
from inference.model_card import ModelError
from inference.summarize import CommitMessage, Summarizer, SummaryError
from lsp_server.origin_view import origin_dict, origin_label, origin_markdown

log = logging.getLogger(__name__)

SUMMARIZE_COMMAND = "focal.summarizeDiff"


class SummaryFailed(Exception):
    """A clear reason, for the user, why no commit message was written."""


@dataclass(frozen=True)
class Summary:
    message: CommitMessage
    diff: RepoDiff
    trailers: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        text = self.message.text
        if self.trailers:
            text = text.rstrip("\n") + "\n\n" + "\n".join(self.trailers) + "\n"
        return text

    def to_wire(self) -> dict[str, Any]:
        m = self.message
        return {
            "message": self.text,
            "subject": m.subject,
            "body": m.body,
            "trailers": list(self.trailers),
            "files": m.files,
            "passes": m.passes,
            "clipped": m.clipped,
            "origin": origin_dict(m.origin),
        }


def summarize_repo(
    engine: LlamaEngine,
    path: Path,
    staged: bool = True,
    progress: Callable[[str, int], None] | None = None,
    trailers: Callable[[Path], list[str]] | None = None,
) -> Summary:
    """Blocking: read the diff of the repository at `path` and write its commit message."""
    try:
        root = repo_root(path)
        if ai_disabled(root):
            raise SummaryFailed(
                f"AI features are off for {root} (it has a {NOAI_FILE} file); "
                "nothing was sent to the model"
            )
        diff = read_diff(root, staged=staged)
    except GitError as exc:
        raise SummaryFailed(str(exc)) from None
    if not diff.files:
        where = "staged" if staged else "in the working tree"
        hint = " (stage them with `git add`)" if staged else ""
        raise SummaryFailed(f"nothing to summarize: no changes {where}{hint}")
    try:
        message = Summarizer(engine, progress=progress).summarize(diff.files, diff.branch)
    except SummaryError as exc:
        raise SummaryFailed(str(exc)) from None
    except (Cancelled, ModelError) as exc:
        raise SummaryFailed(f"the model could not summarize the diff: {exc}") from None
    extra: list[str] = []
    if trailers is not None:
        try:
            extra = trailers(root)
        except Exception:
            log.warning("could not compute trailers", exc_info=True)
    return Summary(message, diff, tuple(extra))


def _root_from(arg: Any, fallback: Path | None) -> Path | None:
    if isinstance(arg, str) and arg:
        return Path(to_fs_path(arg) or arg) if arg.startswith("file:") else Path(arg)
    return fallback


class SummaryFeature:
    """Runs summaries off the event loop; one at a time per repository."""

    def __init__(
        self,
        engine: Callable[[str], Any],
        root: Callable[[], Path | None],
        trailers: Callable[[Path], list[str]] | None = None,
        route: Callable[[str], str] = lambda task: "default",
    ) -> None:
        self._route = route
        self._engine = engine
        self._root = root
        self._trailers = trailers
        self._locks: dict[Path, asyncio.Lock] = {}
        self.last: Summary | None = None

    async def summarize(
        self, args: dict[str, Any], progress: Callable[[str, int], None] | None = None
    ) -> Summary:
        root = _root_from(args.get("root") or args.get("repository"), self._root())
        if root is None:
            raise SummaryFailed("no repository: open a folder or pass `root`")
        staged = args.get("staged", True) is not False
        engine = await self._engine("summarize")
        if engine is None:
            raise SummaryFailed("no model is loaded")
        lock = self._locks.setdefault(root, asyncio.Lock())
        async with lock:
            summary = await asyncio.to_thread(
                summarize_repo, engine, root, staged, progress, self._trailers
            )
        message = summary.message
        origin = replace(message.origin, route=self._route("summarize"))
        summary = replace(summary, message=replace(message, origin=origin))
        self.last = summary
        log.info(
            "commit message for %s: %d files, %d passes, %.0f ms",
            root,
            summary.message.files,
            summary.message.passes,
            summary.message.origin.timing.total_ms,
        )
        return summary

    @staticmethod
    def is_commit_buffer(doc: TextDocument) -> bool:
        return doc.language_id == "gitcommit" or doc.uri.endswith(("COMMIT_EDITMSG", "MERGE_MSG"))

    async def completion(
        self, doc: TextDocument, params: types.CompletionParams
    ) -> types.CompletionList:
        """In a commit message buffer, at an empty first line: offer the staged summary."""
        first = doc.lines[0] if doc.lines else ""
        if params.position.line != 0 or first.strip():
            return types.CompletionList(is_incomplete=False, items=[])
        path = Path(to_fs_path(doc.uri) or doc.uri)
        # COMMIT_EDITMSG lives in .git/ (or a worktree's gitdir): the repository is above it.
        repo = path.parent.parent if path.parent.name == ".git" else path.parent
        try:
            summary = await self.summarize({"root": str(repo), "staged": True})
        except SummaryFailed as exc:
            log.info("no commit message completion: %s", exc)
            return types.CompletionList(is_incomplete=False, items=[])
        origin = summary.message.origin
        text = summary.text.rstrip("\n")
        item = types.CompletionItem(
            label=summary.message.subject,
            kind=types.CompletionItemKind.Text,
            label_details=types.CompletionItemLabelDetails(description=origin_label(origin)),
            detail=f"Focal commit message · {origin_label(origin)}",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.Markdown,
                value=f"```\n{text}\n```\n\n" + origin_markdown(origin, ""),
            ),
            filter_text=summary.message.subject,
            text_edit=types.TextEdit(
                range=types.Range(types.Position(0, 0), params.position), new_text=text
            ),
            preselect=True,
        )
        return types.CompletionList(is_incomplete=False, items=[item])
