"""`RemoteEngine`: an OpenAI-compatible server (llama.cpp server, vLLM, Ollama, LM Studio…)
behind the same interface as `LlamaEngine`.

Only used when the user configured one *and* allowed it (`focal.privacy.allowRemote`): code
leaves the machine here, so the constructor refuses without `allow_remote=True`, loopback
URLs included. Requests stream (server-sent events) on a small thread pool, so stop rules,
time budgets, supersession and cancellation act between two tokens, as in-process: a
cancelled request closes its connection, which stops generation on servers that notice.
Standard library HTTP only.

Secrets: with `redact_secrets` (the default; `privacy.redactSecrets: never` turns it off)
every text a request body carries (the completion's document and context, a chat's
messages, a plain prompt) goes through `inference.redact` first, whoever built it, and the
origin counts what was replaced.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inference.decoding import Cancelled
from inference.model_card import _FIM_SPELLINGS, ModelError
from inference.postprocess import StopRules
from inference.redact import Counts, redact, redact_messages, redact_prompt
from inference.templates import FimTemplate, PromptLimits, build_prompt, clip_suffix
from inference.text import without_surrogates
from inference.types import (
    CompletionTask,
    ContextBundle,
    FimTokens,
    GenerationParams,
    ModelCard,
    Origin,
    Suggestion,
    Timing,
)

log = logging.getLogger(__name__)

__all__ = ["FIM_FAMILIES", "FIM_MODES", "RemoteEngine", "RemoteNotAllowed", "RemoteRequest"]

FIM_MODES = ("auto", "template", "suffix", "prefix")
FIM_FAMILIES = ("none", "qwen", "starcoder", "mellum", "deepseek", "codellama", "codestral")
_RETRY_STATUS = {502, 503, 504}
_QUANT = re.compile(r"(?i)(?<![a-z0-9])(i?q\d(?:_[a-z0-9]+)*|bf16|f16|f32)(?![a-z0-9])")
# Served model ids that reveal a FIM family (checked in order).
_FAMILY_HINTS = (
    ("mellum", "mellum"),
    ("codestral", "codestral"),
    ("starcoder", "starcoder"),
    ("deepseek-coder", "deepseek"),
    ("qwen2.5-coder", "qwen"),
    ("qwen3-coder", "qwen"),
    ("codellama", "codellama"),
    ("code-llama", "codellama"),
)
_EXTRA_TOKENS = {
    "qwen": {"file_sep": "<|file_sep|>", "repo_name": "<|repo_name|>", "eot": "<|endoftext|>"},
    "starcoder": {"file_sep": "<file_sep>", "repo_name": "<reponame>", "eot": "<|endoftext|>"},
    "mellum": {"filename": "<filename>", "eot": "<|endoftext|>"},
    "deepseek": {"eot": "<｜end▁of▁sentence｜>"},
    "codellama": {"eot": "▁<EOT>"},
}


class RemoteNotAllowed(ModelError):
    """A remote engine was configured but sending code off the machine is not allowed."""


@dataclass(frozen=True)
class RemoteTemplate:
    """How completion prompts reach the server when Focal does not build them itself."""

    name: str


@dataclass(eq=False)
class _Job:
    id: str
    document: str | None
    future: Future[Any]
    submitted: float
    cancel: threading.Event = field(default_factory=threading.Event)
    reason: str = "cancelled"
    started: float = 0.0
    state: str = "queued"
    """`queued`, `running` or `done`; guarded by `lock`."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    conn: http.client.HTTPConnection | None = None

    def stop(self, reason: str) -> None:
        """Cancel: answer at once if queued, else close the connection under the reader."""
        with self.lock:
            self.reason = reason
            self.cancel.set()
            if self.state == "queued":
                self.state = "done"
                self.future.set_exception(Cancelled(reason))
                return
            conn = self.conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class RemoteRequest:
    """A handle on submitted work, like `EngineRequest`: its future, and a way to cancel it."""

    id: str
    future: Future[Any]
    _job: _Job

    def cancel(self, reason: str = "cancelled") -> None:
        self._job.stop(reason)


def _guess_family(model_id: str) -> str:
    low = model_id.lower()
    return next((fam for hint, fam in _FAMILY_HINTS if hint in low), "none")


def _fim_tokens(family: str) -> FimTokens:
    if family == "none":
        return FimTokens()
    pre, suf, mid = _FIM_SPELLINGS["starcoder" if family == "mellum" else family]
    return FimTokens(prefix=pre, suffix=suf, middle=mid, **_EXTRA_TOKENS.get(family, {}))


class RemoteEngine:
    """A model served over HTTP by an OpenAI-compatible server; same calls as `LlamaEngine`."""

    engine_name = "remote"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 2,
        *,
        allow_remote: bool = False,
        fim: str = "auto",
        fim_family: str | None = None,
        max_workers: int = 4,
        route: str = "remote",
        n_ctx: int = 4096,
        logprobs: bool = True,
        redact_secrets: bool = True,
    ) -> None:
        url = base_url.strip().rstrip("/")
        if not allow_remote:
            raise RemoteNotAllowed(
                f"Focal will not send code to the remote engine at {url}: "
                "`focal.privacy.allowRemote` is off, so nothing was sent. Turn it on to use a "
                "remote engine, or remove the remote engine setting to stay local."
            )
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ModelError(
                f"The remote engine URL {base_url!r} is not an http:// or https:// URL "
                "(e.g. http://127.0.0.1:8080/v1)."
            )
        if fim not in FIM_MODES:
            raise ModelError(f"remote FIM mode must be one of {', '.join(FIM_MODES)}, not {fim!r}")
        if fim_family is not None and fim_family not in FIM_FAMILIES:
            raise ModelError(f"unknown FIM family {fim_family!r}; one of {', '.join(FIM_FAMILIES)}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        path = parts.path.rstrip("/")
        # Shown in every origin and the ledger: never with credentials from the URL.
        netloc = parts.netloc.rpartition("@")[2]
        self.url = f"{parts.scheme}://{netloc}{path}"
        self.device = self.url
        self._prefix = path if path.endswith("/v1") else f"{path}/v1"
        self._model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self._fim_mode = fim
        self._fim_family = fim_family
        self.route = route
        self._n_ctx = n_ctx
        self.redact_secrets = redact_secrets
        self.load_seconds = 0.0
        self.model_id = model or "?"
        self.card = self._card("none")
        self.template: FimTemplate | RemoteTemplate = RemoteTemplate("prefix-only")
        # Token log-probabilities give the origin its confidence figure, but cost time on
        # some servers (llama-cpp-python's computes them in Python). Both extras are dropped
        # if the server rejects them.
        self._logprobs = logprobs
        self._extras = True
        self._lock = threading.Lock()
        self._jobs: set[_Job] = set()
        self._by_doc: dict[str, _Job] = {}
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="focal-remote")
        self._loaded = Future[float]()
        self._pool.submit(self._load)

    # -- public API (any thread) ---------------------------------------------------------

    def wait_loaded(self, timeout: float | None = None) -> float:
        """Block until the server answered `GET /v1/models`; seconds taken, or `ModelError`."""
        return self._loaded.result(timeout)

    @property
    def loaded_future(self) -> Future[float]:
        return self._loaded

    @property
    def n_ctx(self) -> int:
        """The served model's context window: what the server reports (vLLM, llama.cpp's
        server), else the configured `n_ctx`."""
        return self._n_ctx

    def tokenize(self, text: str) -> list[int]:
        """An *estimate* for budgeting prompts (about 3 characters per token): the OpenAI API
        has no tokenizer. Only the length of the result means anything."""
        return [0] * (len(text) // 3 + 1)

    def complete(
        self,
        task: CompletionTask,
        params: GenerationParams | None = None,
        bundle: ContextBundle | None = None,
    ) -> RemoteRequest:
        """Queue a completion for `task`; the future resolves to a `Suggestion`."""
        p = params or GenerationParams()
        b = bundle or ContextBundle()
        return self._submit(lambda job: self._run_completion(job, task, p, b), task.document)

    def chat(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams | None = None,
        document: str | None = None,
    ) -> RemoteRequest:
        """Queue a chat turn (`/v1/chat/completions`; the server applies its chat template)."""
        p = params or GenerationParams(max_tokens=512, time_budget_ms=60_000)
        counts: Counts = ()
        if self.redact_secrets:
            messages, counts = redact_messages(messages)
        body = {"messages": messages}
        return self._submit(
            lambda job: self._run_text(
                job, "chat/completions", body, p, _never, "chat", redactions=counts
            ),
            document,
        )

    def generate(
        self,
        prompt: str,
        params: GenerationParams | None = None,
        document: str | None = None,
        stop: Callable[[str], tuple[bool, int, str]] | None = None,
    ) -> RemoteRequest:
        """Queue a plain completion of `prompt` (`/v1/completions`)."""
        p = params or GenerationParams(max_tokens=512, time_budget_ms=60_000)
        check = stop or _never
        counts: Counts = ()
        if self.redact_secrets:
            r = redact(prompt)
            prompt, counts = r.text, r.counts
        body = {"prompt": prompt}
        return self._submit(
            lambda job: self._run_text(
                job, "completions", body, p, check, "completion", redactions=counts
            ),
            document,
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.stop("shutdown")
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- jobs ----------------------------------------------------------------------------

    def _submit(self, fn: Callable[[_Job], Any], document: str | None) -> RemoteRequest:
        job = _Job(uuid.uuid4().hex[:16], document, Future(), time.perf_counter())
        with self._lock:
            if self._closed:
                job.future.set_exception(ModelError("The remote engine is shut down."))
                return RemoteRequest(job.id, job.future, job)
            old = self._by_doc.get(document) if document is not None else None
            if document is not None:
                self._by_doc[document] = job
            self._jobs.add(job)
        if old is not None:
            old.stop("superseded")
        self._pool.submit(self._run, job, fn)
        return RemoteRequest(job.id, job.future, job)

    def _run(self, job: _Job, fn: Callable[[_Job], Any]) -> None:
        try:
            with job.lock:
                if job.state != "queued":
                    return
                job.state = "running"
                job.started = time.perf_counter()
            try:
                self._loaded.result()
                if job.cancel.is_set():
                    raise Cancelled(job.reason)
                result = fn(job)
                if job.cancel.is_set():  # a hung-up stream ends like a finished one
                    raise Cancelled(job.reason)
            except BaseException as exc:  # every request is answered, whatever happened
                if job.cancel.is_set() and not isinstance(exc, Cancelled):
                    exc = Cancelled(job.reason)
                elif not isinstance(exc, Cancelled | ModelError):
                    log.exception("remote request failed")
                    exc = ModelError(f"remote engine at {self.url} failed: {exc}")
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            with job.lock:
                job.state = "done"
        finally:
            with self._lock:
                self._jobs.discard(job)
                if job.document is not None and self._by_doc.get(job.document) is job:
                    del self._by_doc[job.document]

    # -- HTTP ----------------------------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    def _unreachable(self, exc: BaseException) -> ModelError:
        return ModelError(
            f"remote engine at {self.url} is not reachable: {exc or type(exc).__name__}. "
            "Start the server or fix the remote engine URL; nothing was completed."
        )

    def _open(
        self, method: str, endpoint: str, body: dict[str, Any] | None, job: _Job | None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request. A failed connection and a 502/503/504 are retried with backoff;
        a request the server accepted is not sent twice."""
        # Lone surrogates (a document may hold them) become U+FFFD: escaped as `\udcff` they
        # are JSON that llama-server and most other servers reject.
        data = (
            without_surrogates(json.dumps(body, ensure_ascii=False)).encode("utf-8")
            if body is not None
            else None
        )
        for attempt in range(self.retries + 1):
            if job is not None and job.cancel.is_set():
                raise Cancelled(job.reason)
            conn = self._connect(self.timeout_s)
            if job is not None:
                with job.lock:
                    job.conn = conn
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                if job is not None and job.cancel.is_set():
                    raise Cancelled(job.reason) from None
                if attempt == self.retries:
                    raise self._unreachable(exc) from exc
                log.info("remote engine %s: %s; retrying", self.url, exc)
                time.sleep(0.2 * 2**attempt)
                continue
            try:
                conn.request(method, f"{self._prefix}/{endpoint}", data, self._headers())
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if job is not None and job.cancel.is_set():
                    raise Cancelled(job.reason) from None
                if isinstance(exc, TimeoutError):
                    raise self._silent() from exc
                raise ModelError(f"remote engine at {self.url} dropped the request: {exc}") from exc
            if resp.status not in _RETRY_STATUS or attempt == self.retries:
                return conn, resp
            resp.read()
            conn.close()
            time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def _silent(self) -> ModelError:
        return ModelError(
            f"remote engine at {self.url} sent nothing for {self.timeout_s:g} s; it may be "
            "overloaded. Raise the remote engine's timeout, or use the local model."
        )

    def _error(
        self, endpoint: str, resp: http.client.HTTPResponse, raw: str | None = None
    ) -> ModelError:
        if raw is None:
            raw = resp.read(64 * 1024).decode("utf-8", "replace")
        try:
            data = json.loads(raw)
            err = data.get("error") or data.get("detail") or data
            msg = err.get("message", err) if isinstance(err, dict) else err
        except (ValueError, AttributeError):
            msg = raw.strip()[:300]
        return ModelError(
            f"remote engine at {self.url} answered {resp.status} {resp.reason} to "
            f"/{endpoint}: {msg}"
        )

    def _get_json(self, endpoint: str) -> Any:
        conn, resp = self._open("GET", endpoint, None, None)
        try:
            if resp.status != 200:
                raise self._error(endpoint, resp)
            return json.loads(resp.read())
        finally:
            conn.close()

    def _stream(
        self, job: _Job, endpoint: str, body: dict[str, Any]
    ) -> Generator[dict[str, Any], None, None]:
        """The JSON events of a streamed answer (or the one answer of a server that does not
        stream). A stream that ends before its first event is asked again without streaming:
        some servers (llama-cpp-python's) report errors such as an overlong prompt only then."""
        stream = True
        while True:
            payload = {**body, "model": self.model_id, "stream": stream}
            if self._extras:
                if stream:
                    payload["stream_options"] = {"include_usage": True}
                if self._logprobs:
                    payload["logprobs"] = 1 if endpoint == "completions" else True
            conn, resp = self._open("POST", endpoint, payload, job)
            if resp.status != 200:
                raw = resp.read(64 * 1024).decode("utf-8", "replace")
                conn.close()
                if (
                    self._extras
                    and resp.status in (400, 422)
                    and re.search(r"logprob|stream_options", raw)
                ):
                    log.info("remote engine %s rejects logprobs/usage; not asking again", self.url)
                    self._extras = False
                    continue
                raise self._error(endpoint, resp, raw)
            finished = yield from self._events(job, conn, resp)
            if finished or not stream:
                return
            stream = False

    def _events(
        self, job: _Job, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse
    ) -> Generator[dict[str, Any], None, bool]:
        """Events of one response; True unless it was a stream that ended before any."""
        try:
            if "text/event-stream" not in (resp.getheader("Content-Type") or ""):
                yield json.loads(resp.read())
                return True
            events = 0
            while line := resp.readline():
                text = line.decode("utf-8", "replace").strip()
                if not text.startswith("data:"):
                    continue
                data = text[5:].strip()
                if data == "[DONE]":
                    return True
                event = json.loads(data)
                if isinstance(event, dict) and event.get("error"):
                    raise ModelError(f"remote engine at {self.url}: {event['error']}")
                events += 1
                yield event
            return events > 0
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if job.cancel.is_set():
                raise Cancelled(job.reason) from None
            if isinstance(exc, TimeoutError):
                raise self._silent() from exc
            raise ModelError(f"remote engine at {self.url} broke off the answer: {exc}") from exc
        finally:
            with job.lock:
                job.conn = None
            conn.close()

    # -- loading -------------------------------------------------------------------------

    def _card(self, family: str) -> ModelCard:
        m = _QUANT.search(self.model_id)
        return ModelCard(
            path=Path(self.model_id),
            name=self.model_id,
            architecture="unknown",
            file_type=-1,
            quantization=m.group(1).upper() if m else "unknown",
            size_bytes=0,
            n_params=0,
            expert_count=0,
            expert_used_count=0,
            context_length=0,
            n_layer=0,
            vocab_size=0,
            fim=_fim_tokens(family),
            fim_family=family,
            has_chat_template=True,
            add_bos=False,
        )

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            self._learn_model()
        except BaseException as exc:
            err = exc if isinstance(exc, ModelError) else self._unreachable(exc)
            self._loaded.set_exception(err)
            return
        self.load_seconds = time.perf_counter() - t0
        log.info(
            "remote engine %s serves %s; template %s",
            self.url,
            self.model_id,
            self.template.name,
        )
        self._loaded.set_result(self.load_seconds)

    def _learn_model(self) -> None:
        try:
            listing = self._get_json("models")
            served = [m for m in listing.get("data", []) if isinstance(m, dict) and "id" in m]
            ids = [str(m["id"]) for m in served]
        except ModelError as exc:
            if self._model is None or "not reachable" in str(exc):
                raise
            served, ids = [], []  # a server without /v1/models: trust the configured model
        if self._model is None:
            if len(ids) != 1:
                names = ", ".join(ids) if ids else "none"
                raise ModelError(
                    f"remote engine at {self.url} serves {len(ids)} models ({names}); "
                    "name the one to use in the remote engine's `model` setting."
                )
            self.model_id = ids[0]
        elif ids and self._model not in ids:
            raise ModelError(
                f"remote engine at {self.url} does not serve {self._model!r}; it serves: "
                + ", ".join(ids)
            )
        entry = next((m for m in served if m["id"] == self.model_id), {}) if ids else {}
        meta = entry.get("meta") or {}
        meta = meta if isinstance(meta, dict) else {}
        for reported in (entry.get("max_model_len"), meta.get("n_ctx"), meta.get("n_ctx_train")):
            if isinstance(reported, int) and reported > 0:
                self._n_ctx = reported
                break
        family = self._fim_family or (
            _guess_family(self.model_id) if self._fim_mode in ("auto", "template") else "none"
        )
        self.card = self._card(family)
        if self._fim_mode == "suffix":
            self.template = RemoteTemplate("openai/suffix")
        elif family != "none" and self._fim_mode != "prefix":
            order = "spm" if family in ("mellum", "codestral") else "psm"
            self.template = FimTemplate(family, order, self.card)
        else:
            self.template = FimTemplate("none", "prefix", self.card)

    # -- requests ------------------------------------------------------------------------

    def _run_completion(
        self, job: _Job, task: CompletionTask, params: GenerationParams, bundle: ContextBundle
    ) -> Suggestion:
        # Whitespace healing, as in LlamaEngine: the model writes the trailing space itself.
        last_line = task.prefix.rsplit("\n", 1)[-1]
        heal = last_line[len(last_line.rstrip(" \t")) :] if last_line.strip() else ""
        prompt_task = replace(task, prefix=task.prefix[: len(task.prefix) - len(heal)])
        limits = PromptLimits()
        if not isinstance(self.template, FimTemplate):
            # The server's own FIM gets the suffix as a field: as much as a template shows.
            prompt_task = replace(
                prompt_task, suffix=clip_suffix(task.suffix, limits.max_suffix_chars)
            )
        redactions: Counts = ()
        if self.redact_secrets:
            prompt_task, bundle, redactions = redact_prompt(
                prompt_task, bundle, limits.max_prefix_chars, limits.max_suffix_chars
            )
        if isinstance(self.template, FimTemplate):
            prompt = build_prompt(self.template, prompt_task, bundle)
            body: dict[str, Any] = {"prompt": prompt.text}
            fim = self.card.fim
            stops = [*prompt.stop_texts, *(t for t in (fim.eot, fim.file_sep) if t)]
        else:  # the server builds the FIM prompt from `suffix`
            prefix_only = FimTemplate("none", "prefix", self.card)
            prompt = build_prompt(prefix_only, prompt_task, bundle)
            body = {"prompt": prompt.text, "suffix": prompt_task.suffix}
            stops = list(prompt.stop_texts)
        if stops:
            body["stop"] = stops[:4]
        rules = StopRules(task.prefix, task.suffix, params.multiline, prompt.stop_texts)

        def check(text: str) -> tuple[bool, int, str]:
            if heal and text.startswith(heal):
                stop, cut, why = rules.check(text[len(heal) :])
                return stop, cut + len(heal), why
            if heal and heal.startswith(text):
                return False, len(text), ""
            return rules.check(text)

        s = self._run_text(
            job, "completions", body, params, check, self.template.name, False, redactions
        )
        origin = replace(s.origin, context=bundle.chunks)
        # The stop rules judge a line once it is complete; the last one never was.
        done, cut, why = check(s.text + "\n")
        if done and cut < len(s.text):
            s = replace(s, text=s.text[:cut])
            origin = replace(origin, stop_reason=why)
        raw = s.text[len(heal) :] if heal and s.text.startswith(heal) else s.text
        return replace(s, text=rules.finish(raw), origin=origin)

    def _run_text(
        self,
        job: _Job,
        endpoint: str,
        body: dict[str, Any],
        params: GenerationParams,
        check: Callable[[str], tuple[bool, int, str]],
        template: str,
        strip: bool = True,
        redactions: Counts = (),
    ) -> Suggestion:
        body = {
            **body,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        t0 = time.perf_counter()
        deadline = t0 + params.time_budget_ms / 1000
        first = 0.0
        text, logprobs, chunks = "", [], 0
        prompt_tokens = 0
        stop_reason = "max tokens"
        events = self._stream(job, endpoint, body)
        for event in events:
            if job.cancel.is_set():
                raise Cancelled(job.reason)
            usage = event.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
            for choice in event.get("choices") or []:
                piece = choice.get("text")
                if piece is None:
                    piece = (choice.get("delta") or choice.get("message") or {}).get("content")
                if piece:
                    first = first or time.perf_counter()
                    text += piece
                    chunks += 1
                logprobs += _logprobs(choice.get("logprobs"))
                finish = choice.get("finish_reason")
                if finish:
                    stop_reason = "end of text" if finish == "stop" else "max tokens"
            done, cut, why = check(text)
            if done:
                text, stop_reason = text[:cut], why
                break
            if time.perf_counter() > deadline:
                stop_reason = "time budget"
                break
        events.close()  # an early stop hangs up, which stops generation on the server
        t2 = time.perf_counter()
        first = first or t2
        timing = Timing(
            queue_ms=(job.started - job.submitted) * 1000,
            prefill_ms=(first - t0) * 1000,
            decode_ms=(t2 - first) * 1000,
            total_ms=(t2 - job.submitted) * 1000,
            prompt_tokens=prompt_tokens,
            tokens_reused=0,
            tokens_evaluated=prompt_tokens,
            tokens_generated=len(logprobs) or chunks,
        )
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        origin = Origin(
            model_name=self.model_id,
            model_path="",
            model_digest="",
            quantization=self.card.quantization,
            architecture=self.card.architecture,
            engine=self.engine_name,
            device=self.url,
            template=template,
            sampling=params,
            timing=timing,
            confidence=confidence,
            stop_reason=stop_reason,
            route=self.route,
            redactions=redactions,
        )
        return Suggestion(id=job.id, text=text.strip() if strip else text, origin=origin)


def _never(text: str) -> tuple[bool, int, str]:
    return False, len(text), ""


def _logprobs(data: Any) -> list[float]:
    """Token log-probabilities from a completion (`token_logprobs`) or chat (`content`) chunk."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("token_logprobs"), list):
        return [float(x) for x in data["token_logprobs"] if x is not None]
    content = data.get("content")
    if isinstance(content, list):
        return [float(c["logprob"]) for c in content if isinstance(c, dict) and "logprob" in c]
    return []
