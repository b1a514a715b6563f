"""`focal pull`: download one GGUF from the Hugging Face Hub, on request only, and verify it.

Focal never downloads anything implicitly; this module is the one place that does, and only
when the user runs `focal pull` (or calls `pull`). `huggingface_hub` is imported lazily: it
is an optional dependency. Downloads resume where an interrupted one stopped (the hub client
keeps the partial file), and the result is checked against the sha256 the Hub publishes for
LFS files before it is handed back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.discovery import huggingface_cache
from inference.model_card import ModelError, file_digest, read_model_card

__all__ = ["PullError", "PullResult", "pull"]

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as the download advances."""

_NOT_IMPLICIT = (
    "Focal never downloads implicitly; run `focal pull` again when online, or download the "
    "file yourself and point `focal.model.path` at it."
)


class PullError(Exception):
    """A download that did not happen or did not verify; the message says what to do."""


@dataclass(frozen=True)
class PullResult:
    path: Path
    sha256: str
    size_bytes: int
    verified: bool
    """True when the file's sha256 matched the one the Hub publishes (LFS files)."""
    revision: str


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise PullError(
            "Downloading models needs the Hugging Face client: pip install huggingface_hub"
        ) from exc
    return huggingface_hub


def _is_offline(exc: BaseException) -> bool:
    """A network failure (not an answer from the Hub), whichever HTTP library raised it."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        names = {c.__name__ for c in type(e).__mro__}
        if names & {
            "ConnectError",
            "ConnectTimeout",
            "TransportError",
            "ConnectionError",
            "Timeout",
            "TimeoutException",
            "OfflineModeIsEnabled",
            "LocalEntryNotFoundError",
        } or isinstance(e, ConnectionError | TimeoutError):
            return True
        e = e.__cause__ or e.__context__
    return False


def _endpoint() -> str:
    # Read per call: huggingface_hub reads HF_ENDPOINT once, at its own import.
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _explain(exc: BaseException, repo: str, filename: str) -> PullError:
    hub = _hub()
    errors = hub.errors
    endpoint = _endpoint()
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return PullError(f"HF_HUB_OFFLINE is set, so {repo} cannot be fetched. {_NOT_IMPLICIT}")
    if isinstance(exc, errors.GatedRepoError):
        return PullError(
            f"{repo} is gated: accept its terms on {endpoint}/{repo} and log in with "
            "`hf auth login` (or set HF_TOKEN), then pull again."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return PullError(
            f"{endpoint}/{repo} does not exist (or is private: log in with `hf auth login`)."
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return PullError(f"{repo} has no such revision: {exc}")
    if isinstance(exc, errors.EntryNotFoundError) and not _is_offline(exc):
        return PullError(f"{repo} has no file {filename!r}; see {endpoint}/{repo}/tree/main")
    host = endpoint.split("://", 1)[-1]
    if _is_offline(exc):
        return PullError(f"cannot reach {host}: {_reason(exc)}. {_NOT_IMPLICIT}")
    return PullError(f"pulling {repo}/{filename} from {host} failed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    return str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__


def _progress_class(progress: Progress) -> type:
    """A tqdm class that reports to `progress` (and prints nothing)."""
    from tqdm.auto import tqdm

    class _Report(tqdm):  # type: ignore[misc,valid-type]  # tqdm ships no usable types
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            progress(self._done, int(self.total or 0))
            return super().update(n)

    return _Report


def pull(
    repo: str,
    filename: str,
    dest: Path | str | None = None,
    revision: str | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Download `filename` from the Hub repo `repo` into `dest` (default: the Hugging Face
    cache, where `focal models` finds it) and verify its sha256.

    Raises `PullError` when offline, when the repo or file does not exist, or when the
    downloaded bytes do not match the published checksum (the bad file is deleted)."""
    hub = _hub()
    endpoint = _endpoint()
    api = hub.HfApi(endpoint=endpoint)
    try:
        infos = api.get_paths_info(repo, [filename], revision=revision)
    except Exception as exc:
        raise _explain(exc, repo, filename) from exc
    info = next((i for i in infos if getattr(i, "path", None) == filename), None)
    if info is None or not hasattr(info, "size"):
        raise PullError(f"{repo} has no file {filename!r}; see {endpoint}/{repo}/tree/main")
    lfs = getattr(info, "lfs", None)
    expected = lfs.sha256 if lfs is not None else ""
    kwargs: dict[str, Any] = {"revision": revision, "endpoint": endpoint}
    if dest is not None:
        kwargs["local_dir"] = str(Path(dest).expanduser())
    else:  # the cache `focal models` reads, by construction
        kwargs["cache_dir"] = str(huggingface_cache())
    if progress is not None:
        kwargs["tqdm_class"] = _progress_class(progress)
    try:
        local = Path(hub.hf_hub_download(repo, filename, **kwargs))
    except Exception as exc:
        raise _explain(exc, repo, filename) from exc
    real = local.resolve()
    # Also fills Focal's digest cache, so loading the model does not hash it again.
    digest = file_digest(real)
    if expected and digest != expected:
        for p in {local, real}:
            with contextlib.suppress(OSError):
                p.unlink()
        raise PullError(
            f"{filename} from {repo} is corrupt: sha256 {digest[:12]}… but the Hub publishes "
            f"{expected[:12]}…. The file was deleted; pull it again."
        )
    try:
        read_model_card(local, with_digest=False)
    except ModelError as exc:
        raise PullError(f"{filename} downloaded, but it is not a usable GGUF: {exc}") from exc
    return PullResult(
        path=local,
        sha256=digest,
        size_bytes=real.stat().st_size,
        verified=bool(expected),
        revision=revision or "main",
    )
