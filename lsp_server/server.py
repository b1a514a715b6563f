"""The one wiring module: every LSP handler of Focal, thin.

Handlers hand the work to feature objects (`lsp_server/features/`). A feature that fails
cannot take the server down, and its failure is not hidden as an empty answer: the protocol
(`lsp_server.wire`) answers the request with an error, logs the traceback and counts it in
`focal/status`. Positions from the client are clamped to the document first
(`lsp_server.documents.clamp`), here, so that features only ever see positions that exist.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from attrs import evolve
from lsprotocol import types
from pygls.exceptions import FeatureNotificationError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from indexing.ignore import ai_refusal
from inference.engine import LlamaEngine
from inference.types import ContextBundle, Suggestion
from lsp_server import __version__
from lsp_server.capabilities import ClientFeatures, shape_completions
from lsp_server.command_args import options
from lsp_server.documents import clamp, clamp_range
from lsp_server.features import debug
from lsp_server.features.completion import ACCEPT_COMMAND, CompletionFeature
from lsp_server.features.fixes import FIX_COMMAND, FixFeature, action_data, fix_data, offered
from lsp_server.features.provenance import ProvenanceFeature
from lsp_server.features.summary import SUMMARIZE_COMMAND, SummaryFailed, SummaryFeature
from lsp_server.features.syntax import SyntaxDiagnostics
from lsp_server.features.workspace_folders import WorkspaceIndexes
from lsp_server.framing import serve, serve_tcp
from lsp_server.ledger import trailers
from lsp_server.ledger.hover import origin_markdown as record_markdown
from lsp_server.log_forward import forward_to_client, stop_forwarding
from lsp_server.models import ModelManager
from lsp_server.origin_view import origin_dict, origin_text
from lsp_server.progress import capture_work_done_tokens, work_done
from lsp_server.settings import Settings, parse_settings
from lsp_server.wire import FocalProtocol

log = logging.getLogger(__name__)

SHOW_ORIGIN_COMMAND = "focal.showOrigin"
STATUS_REQUEST = "focal/status"


class FocalServer(LanguageServer):
    """pygls server plus Focal's state: settings, the model, the features."""

    def __init__(self) -> None:
        super().__init__("focal", __version__, protocol_cls=FocalProtocol)
        self.settings = Settings()
        self.client = ClientFeatures()
        """What the client declared it can do (`lsp_server.capabilities`), read at initialize."""
        self.root: Path | None = None
        self.roots: list[Path] = []
        """Every workspace folder (`root` is the first)."""
        self.models = ModelManager(self._model_error, self._model_ready)
        self.provenance = ProvenanceFeature(
            lambda message: self.tell(message, types.MessageType.Warning), self._document
        )
        self.completion = CompletionFeature(
            self.models,
            lambda: self.settings.completion,
            lambda: self.root,
            lambda: str(self.workspace.position_encoding or "utf-16"),
            self.provenance.suggested,
            context_settings=lambda: self.settings.context,
            index=lambda path=None: (
                self.workspace_index.index_for(path) if self.workspace_index else None
            ),
            documents=lambda: list(self.workspace.text_documents.values()),
            redact_policy=lambda: self.settings.privacy.redact_secrets,
        )
        self.fixes = FixFeature(
            self.models,
            self.remember,
            lambda message: self.tell(message, types.MessageType.Warning),
            lambda: str(self.workspace.position_encoding or "utf-16"),
            self._fix_context,
            self.provenance.refused,
        )
        self.summary = SummaryFeature(
            self.models.engine, lambda: self.root, self._trailers, self.models.route
        )
        self.syntax = SyntaxDiagnostics(
            self._publish_diagnostics,
            lambda: self.settings.diagnostics.syntax,
            lambda: str(self.workspace.position_encoding or "utf-16"),
        )
        self.accepted: list[dict[str, Any]] = []
        self._refused: set[str] = set()
        self.workspace_index: WorkspaceIndexes | None = None
        self._index_task: asyncio.Task | None = None

    protocol: FocalProtocol

    def start_io(self, stdin=None, stdout=None) -> int:  # type: ignore[override]
        """Serve on stdio until `exit` (or the end of stdin); return the exit status. The
        framing repairs what it can and logs the rest (`lsp_server.framing`)."""
        try:
            return serve(
                self.protocol, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer, self.close
            )
        finally:
            self.shutdown()

    def start_tcp(self, host: str, port: int) -> int:  # type: ignore[override]
        """Serve the first client to connect on `host:port` exactly as stdio is served."""
        try:
            return serve_tcp(self.protocol, host, port, self.close)
        finally:
            self.shutdown()

    def close(self) -> None:
        """Stop the background parts (on `shutdown`, and when serving ends without it)."""
        stop_forwarding()
        self.syntax.close()
        if self.workspace_index is not None:
            self.workspace_index.stop()
        self.models.close()
        self.provenance.close()

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls reports a notification handler's exception here (requests are answered
        # with their error by `FocalProtocol`): count it and keep its traceback.
        if source is FeatureNotificationError:
            data = getattr(error, "data", None)
            tb = "".join(data.get("traceback", [])) if isinstance(data, dict) else ""
            self.protocol.failures.record_text("a notification", str(error), tb)
        super().report_server_error(error, source)

    def open_document(self, uri: str) -> TextDocument:
        """The document a request names: open in the client, or else read from disk. One
        that is neither is the client's mistake, answered as invalid params."""
        doc = self.workspace.get_text_document(uri)
        if self.workspace.text_documents.get(uri) is not doc:
            try:
                doc.source  # noqa: B018 (reads the file now, to refuse it here)
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8"
                raise JsonRpcInvalidParams(
                    f"{uri} is not open in the client and cannot be read ({why})"
                ) from None
        return doc

    def start_index(self) -> None:
        """Build and watch each workspace folder's index in the background (once, when on)."""
        if self.workspace_index is not None or not self.settings.index.enabled:
            return
        roots = self.roots or ([self.root] if self.root is not None else [])
        self.workspace_index = WorkspaceIndexes(self, roots)
        self._index_task = asyncio.get_running_loop().create_task(self.workspace_index.start(self))

    def _publish_diagnostics(
        self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]
    ) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
        )

    def check_syntax(self, uri: str) -> None:
        doc = self._document(uri)
        if doc is not None:
            self.syntax.changed(doc.uri, doc.language_id or "", doc.version, lambda: doc.source)

    def refusal(self, uri: str) -> str | None:
        """Why no model may see this document (`.noai`, a secret, an AI ignore file), or
        None. The user is told once per document."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if not path:
            return None  # an untitled buffer: nothing on disk to protect
        try:
            reason = ai_refusal(self.root, path)
        except OSError:
            log.warning("cannot check the AI policy of %s", path, exc_info=True)
            reason = None
        if reason is not None and uri not in self._refused:
            self._refused.add(uri)
            name = Path(path).name
            self.tell(f"Focal: no suggestions in {name}: {reason}.", types.MessageType.Info)
        return reason

    def remember(
        self, suggestion: Suggestion, task: str, uri: str, line: int, character: int
    ) -> None:
        """Keep a suggestion made outside completion (a fix) so that acceptance finds it."""
        self.completion.remember(suggestion)
        self.provenance.suggested(suggestion, task, uri, line, character)

    async def _fix_context(
        self, doc: TextDocument, start: int, end: int, engine: Any
    ) -> ContextBundle:
        """The repository context of a fix: what the block [start, end) uses, as if the
        cursor stood at its end (its own retrieval session, apart from completion's)."""
        task = self.completion.task_for(doc, types.Position(line=end, character=0), "invoked")
        task = replace(task, document=f"{doc.uri}#fix")
        return await self.completion.context(task, engine, 512)

    def _document(self, uri: str) -> TextDocument | None:
        try:
            return self.workspace.get_text_document(uri)
        except Exception:
            return None

    def _trailers(self, root: Path) -> list[str]:
        ledger = self.provenance.ledger
        return trailers(ledger, root) if ledger is not None else []

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """A `window/showMessage` to the user (and the log)."""
        level = {types.MessageType.Error: logging.ERROR, types.MessageType.Warning: logging.WARNING}
        log.log(level.get(kind, logging.INFO), "%s", message)
        try:
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:  # no client connected (e.g. shutting down)
            log.debug("could not show message", exc_info=True)

    def _model_error(self, message: str) -> None:
        self.tell(f"Focal: {message}")

    def _model_ready(self, engine: LlamaEngine) -> None:
        card = engine.card
        log.info(
            "model ready: %s %s sha256:%s on %s (%.2f s)",
            card.name,
            card.quantization,
            card.digest[:8],
            engine.device,
            engine.load_seconds,
        )
        cpu = getattr(engine, "cpu", None)  # the remote engine runs nothing here
        if cpu is not None and cpu.fresh and cpu.notice:
            self.tell(f"Focal: {cpu.notice}", types.MessageType.Warning)

    def apply_settings(self, raw: Any) -> None:
        settings, problems = parse_settings(raw)
        for p in problems:
            self.tell(f"Focal: {p}", types.MessageType.Warning)
        self.settings = settings
        self.completion.forget_finished_runs()  # they answered under the old settings
        privacy = settings.privacy
        self.models.configure(
            settings.model,
            settings.remote,
            privacy.allow_remote,
            redact_policy=privacy.redact_secrets,
        )
        self.models.configure_routes(settings.routes)
        self.provenance.configure(settings.ledger, privacy.redact_secrets)
        if not settings.diagnostics.syntax:
            for uri in list(self.workspace.text_documents):
                self.syntax.clear(uri)

    def status(self) -> dict[str, Any]:
        st = self.models.state
        model = None
        if st.engine is not None:
            c = st.engine.card
            model = {
                "name": c.name,
                "path": str(c.path),
                "digest": c.digest,
                "quantization": c.quantization,
                "architecture": c.architecture,
                "experts": [c.expert_count, c.expert_used_count],
                "contextLength": c.context_length,
                "template": st.engine.template.name,
                "device": st.engine.device,
                "loadSeconds": round(st.engine.load_seconds, 3),
            }
            cpu = getattr(st.engine, "cpu", None)
            if cpu is not None:
                model["cpuExtraBuffers"] = cpu.as_json()
        last = self.completion.last
        return {
            "failures": self.protocol.failures.to_wire(),
            "state": st.state,
            "error": st.error,
            "model": model,
            "loaded": self.models.loaded(),
            "completionRuns": self.completion.runs,
            "lastSuggestion": (
                {"id": last.id, "origin": origin_dict(last.origin)} if last is not None else None
            ),
        }


def create_server() -> FocalServer:
    server = FocalServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: FocalServer, params: types.InitializeParams) -> None:
        ls.client = ClientFeatures.of(params.capabilities)
        folders = params.workspace_folders or []
        uris = [f.uri for f in folders] or ([params.root_uri] if params.root_uri else [])
        paths = [to_fs_path(u) for u in uris]
        ls.roots = [Path(p) for p in paths if p]
        ls.root = ls.roots[0] if ls.roots else None
        ls._init_options = params.initialization_options  # type: ignore[attr-defined]

    @server.feature(types.INITIALIZED)
    async def initialized(ls: FocalServer, params: types.InitializedParams) -> None:
        forward_to_client(ls)  # the log goes to the editor from now on, with its levels
        ls.apply_settings(getattr(ls, "_init_options", None))
        await _pull_configuration(ls)
        ls.start_index()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: FocalServer, params: types.DidChangeConfigurationParams
    ) -> None:
        if isinstance(params.settings, dict) and params.settings:
            ls.apply_settings(params.settings)
        else:
            await _pull_configuration(ls)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: FocalServer, params: types.InlineCompletionParams):
        doc = ls.open_document(params.text_document.uri)
        params = evolve(params, position=clamp(doc, params.position))
        if ls.refusal(doc.uri):
            return types.InlineCompletionList(items=[])
        return await ls.completion.inline(doc, params)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[".", "(", "\n"], resolve_provider=False),
    )
    async def completion(ls: FocalServer, params: types.CompletionParams):
        doc = ls.open_document(params.text_document.uri)
        params = evolve(params, position=clamp(doc, params.position))
        if ls.summary.is_commit_buffer(doc):
            return shape_completions(await ls.summary.completion(doc, params), ls.client)
        if ls.refusal(doc.uri):
            return types.CompletionList(is_incomplete=False, items=[])
        return shape_completions(await ls.completion.completion(doc, params), ls.client)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite],
            resolve_provider=True,
        ),
    )
    async def code_action(ls: FocalServer, params: types.CodeActionParams):
        doc = ls.open_document(params.text_document.uri)
        params = evolve(params, range=clamp_range(doc, params.range))
        if ls.refusal(doc.uri):
            return []
        # Listing never runs the model, whatever the client: see `offered`.
        actions = ls.fixes.actions(doc, params)
        shaped = offered(actions, ls.fixes, ls.client)
        if actions and not shaped and "fixes" not in ls._refused:
            ls._refused.add("fixes")
            ls.tell(
                "Focal: fixes are off: this editor can neither resolve code actions nor "
                "apply an edit the server sends (workspace/applyEdit).",
                types.MessageType.Warning,
            )
        return shaped

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: FocalServer, action: types.CodeAction):
        data = action_data(action)
        if data is None:
            return action
        doc = ls.open_document(str(data["uri"]))
        if ls.refusal(doc.uri):
            return action
        async with work_done(ls, "Focal: writing a fix") as report:
            return await ls.fixes.resolve(action, doc, ls.client, report)

    @server.command(SUMMARIZE_COMMAND)
    async def summarize_diff(ls: FocalServer, *args: Any):
        info = options(SUMMARIZE_COMMAND, args, "{root, staged}")
        try:
            async with work_done(ls, "Focal: writing the commit message") as report:
                summary = await ls.summary.summarize(info, report)
        except SummaryFailed as exc:
            ls.tell(f"Focal: {exc}.", types.MessageType.Warning)
            return {"error": str(exc)}
        message = summary.message
        ls.remember(
            Suggestion(message.suggestion_id, summary.text, message.origin),
            "summarize",
            str(summary.diff.root),
            0,
            0,
        )
        return summary.to_wire()

    @server.command(FIX_COMMAND)
    async def fix(ls: FocalServer, *args: Any) -> dict[str, Any]:
        """A listed fix, for clients that do not resolve code actions: compute it, then
        apply it with `workspace/applyEdit`."""
        data = fix_data(args[0]) if args else None
        if data is None:
            raise JsonRpcInvalidParams(
                f"{FIX_COMMAND} takes the fix's data as its argument, as listed by "
                "textDocument/codeAction"
            )
        doc = ls._document(str(data["uri"]))
        if doc is None:
            return {"applied": False, "reason": "the document is not open"}
        reason = ls.refusal(doc.uri)
        if reason is not None:
            return {"applied": False, "reason": reason}
        async with work_done(ls, "Focal: writing a fix") as report:
            result = await ls.fixes.compute(data, doc, ls.client, report)
        if result.edit is None or result.suggestion is None:
            return {"applied": False, "reason": result.reason}
        sid = result.suggestion.id
        answer = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=result.edit, label="Focal fix")
        )
        if answer.applied:
            ls.provenance.event(sid, "applied", doc.uri)
            return {"applied": True, "suggestionId": sid}
        why = answer.failure_reason or "the editor did not apply it"
        ls.provenance.event(sid, "rejected", doc.uri)
        ls.tell(f"Focal: the fix was not applied: {why}.", types.MessageType.Warning)
        return {"applied": False, "suggestionId": sid, "reason": why}

    @server.command(ACCEPT_COMMAND)
    def accepted(ls: FocalServer, *args: Any) -> bool:
        info = options(ACCEPT_COMMAND, args, "{suggestionId, uri, event}")
        sid = info.get("suggestionId")
        event = info.get("event") if info.get("event") in ("applied", "accepted") else "accepted"
        known = ls.provenance.event(str(sid), event, info.get("uri")) if sid else False
        ls.accepted.append(
            {"suggestionId": sid, "uri": info.get("uri"), "known": known, "event": event}
        )
        log.info("suggestion %s %s (%s)", sid, event, "known" if known else "unknown id")
        return known

    @server.command(SHOW_ORIGIN_COMMAND)
    async def show_origin(ls: FocalServer, *args: Any) -> dict | None:
        """The origin of a suggestion (by id), of the code on a line (`uri` + `line`, from
        the ledger), of the last suggestion in a document (`uri`), or of the last one."""
        info = options(SHOW_ORIGIN_COMMAND, args, "{suggestionId} or {uri, line} or {uri}")
        sid = info.get("suggestionId")
        uri, line = info.get("uri"), info.get("line")
        if (line is not None and (not isinstance(line, int) or isinstance(line, bool))) or (
            uri is not None and not isinstance(uri, str)
        ):
            raise JsonRpcInvalidParams(
                f"{SHOW_ORIGIN_COMMAND}: `uri` must be a string and `line` a 0-based integer"
            )
        if not sid and isinstance(uri, str) and line is None:
            sid = await ls.provenance.latest(uri)
            if sid is None:
                name = Path(to_fs_path(uri) or uri).name
                ls.tell(f"Focal: no suggestion was made in {name} yet.", types.MessageType.Info)
                return None
        if not sid and isinstance(uri, str) and isinstance(line, int):
            doc = ls._document(uri)
            record = await ls.provenance.origin_at(doc, line) if doc is not None else None
            if record is None:
                ls.tell(
                    f"Focal: no suggestion is recorded for line {line + 1}.",
                    types.MessageType.Info,
                )
                return None
            ls.tell(
                record_markdown(record).replace("**", "").replace("`", ""), types.MessageType.Info
            )
            return {"id": record.id, "origin": origin_dict(record.origin())}
        sug = ls.completion.recent.get(sid) if sid else ls.completion.last
        if sug is None and not sid:  # none made since the server started: the ledger's last
            sid = await ls.provenance.latest(None)
        if sug is None and sid:
            record = ls.provenance.record(str(sid))
            if record is not None:
                return {"id": record.id, "origin": origin_dict(record.origin())}
        if sug is None:
            ls.tell("Focal: no suggestion to show the origin of yet.", types.MessageType.Info)
            return None
        ls.tell(origin_text(sug.origin, sug.id), types.MessageType.Info)
        return {"id": sug.id, "origin": origin_dict(sug.origin)}

    @server.feature(types.WORKSPACE_SYMBOL)
    async def workspace_symbol(ls: FocalServer, params: types.WorkspaceSymbolParams):
        index = ls.workspace_index
        return index.workspace_symbol(params.query) if index is not None else []

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FocalServer, params: types.DidSaveTextDocumentParams) -> None:
        if ls.workspace_index is not None:
            ls.workspace_index.did_save(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FocalServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.check_syntax(params.text_document.uri)
        if ls.workspace_index is not None:  # outside every folder: index its repository
            try:
                ls.workspace_index.did_open(params.text_document.uri)
            except Exception:
                log.exception("indexing the repository of %s failed", params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(
        ls: FocalServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        added = [f.uri for f in params.event.added]
        removed = [f.uri for f in params.event.removed]
        gone = {Path(p) for u in removed if (p := to_fs_path(u))}
        ls.roots = [r for r in ls.roots if r not in gone]
        ls.roots += [Path(p) for u in added if (p := to_fs_path(u))]
        ls.root = ls.roots[0] if ls.roots else None
        if ls.workspace_index is not None:
            try:
                ls.workspace_index.folders_changed(ls, added, removed)
            except Exception:
                log.exception("updating the workspace folders' indexes failed")

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FocalServer, params: types.DidChangeTextDocumentParams) -> None:
        # pygls has already applied the edit to its document; this re-checks and re-indexes.
        uri = params.text_document.uri
        ls.check_syntax(uri)
        ls.provenance.changed(uri)
        doc = ls._document(uri) if ls.workspace_index is not None else None
        if doc is not None and ls.workspace_index is not None:
            ls.workspace_index.did_change(doc.uri, doc.source)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FocalServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.syntax.clear(params.text_document.uri)
        if ls.workspace_index is not None:  # the disk copy is the truth again
            ls.workspace_index.did_close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: FocalServer, params: types.HoverParams):
        doc = ls.open_document(params.text_document.uri)
        return await ls.provenance.hover(doc, clamp(doc, params.position), ls.client.hover_markdown)

    @server.feature(STATUS_REQUEST)
    def status(ls: FocalServer, params: Any = None) -> dict[str, Any]:
        return ls.status()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: FocalServer, params: Any = None) -> None:
        ls.close()

    debug.register(server)
    capture_work_done_tokens(server)
    return server


async def _pull_configuration(ls: FocalServer) -> None:
    """Ask the client for the `focal` section, when it can answer."""
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="focal")])
        )
    except Exception:
        log.warning("workspace/configuration failed", exc_info=True)
        return
    if result and isinstance(result[0], dict) and result[0]:
        ls.apply_settings(result[0])
