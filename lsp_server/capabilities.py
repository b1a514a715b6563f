"""What the client declared it can do: one function per capability Focal relies on, each
read once at `initialize` into `ClientFeatures` (STYLE.md 13a).

Every optional shape Focal sends is decided here. The README's "What your editor must
declare" table says what Focal does with and without each one; keep the two together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from lsprotocol import types


def _code_action(caps: types.ClientCapabilities) -> types.CodeActionClientCapabilities | None:
    return caps.text_document.code_action if caps.text_document else None


def _completion_item(
    caps: types.ClientCapabilities,
) -> types.ClientCompletionItemOptions | None:
    completion = caps.text_document.completion if caps.text_document else None
    return completion.completion_item if completion else None


def _workspace_edit(caps: types.ClientCapabilities) -> types.WorkspaceEditClientCapabilities | None:
    return caps.workspace.workspace_edit if caps.workspace else None


def code_action_literals(caps: types.ClientCapabilities) -> bool:
    """`CodeAction` objects may be returned; otherwise only `Command`s."""
    ca = _code_action(caps)
    return bool(ca and ca.code_action_literal_support)


def code_action_resolve(caps: types.ClientCapabilities) -> bool:
    """`codeAction/resolve` may fill in an action's `edit` lazily."""
    ca = _code_action(caps)
    return bool(ca and ca.resolve_support and "edit" in ca.resolve_support.properties)


def code_action_data(caps: types.ClientCapabilities) -> bool:
    """The client keeps an action's `data` between `codeAction` and `codeAction/resolve`."""
    ca = _code_action(caps)
    return bool(ca and ca.data_support)


def llm_generated_tag(caps: types.ClientCapabilities) -> bool:
    """Actions may carry the LSP 3.18 tag `LLMGenerated`."""
    ca = _code_action(caps)
    tags = ca.tag_support.value_set if ca and ca.tag_support else []
    return types.CodeActionTag.LlmGenerated in tags


def apply_edit(caps: types.ClientCapabilities) -> bool:
    """The server may ask the client to apply a `WorkspaceEdit` (`workspace/applyEdit`)."""
    return bool(caps.workspace and caps.workspace.apply_edit)


def document_changes(caps: types.ClientCapabilities) -> bool:
    """Edits may be versioned `TextDocumentEdit`s (the client refuses a stale one)."""
    ws = _workspace_edit(caps)
    return bool(ws and ws.document_changes)


def change_annotations(caps: types.ClientCapabilities) -> bool:
    """Edits may carry a `ChangeAnnotation` (the model that wrote them)."""
    ws = _workspace_edit(caps)
    return bool(ws and ws.document_changes and ws.change_annotation_support)


def inline_completion(caps: types.ClientCapabilities) -> bool:
    """The client asks for ghost text (`textDocument/inlineCompletion`, LSP 3.18)."""
    return bool(caps.text_document and caps.text_document.inline_completion)


def snippets(caps: types.ClientCapabilities) -> bool:
    """Completion items may be snippets. Focal never sends one (a suggestion's `$` is code,
    not a placeholder); read so that the table in the README stays true."""
    item = _completion_item(caps)
    return bool(item and item.snippet_support)


def label_details(caps: types.ClientCapabilities) -> bool:
    """Completion items may carry `labelDetails` (the model beside the label)."""
    item = _completion_item(caps)
    return bool(item and item.label_details_support)


def markdown_documentation(caps: types.ClientCapabilities) -> bool:
    """Completion documentation may be Markdown (the origin's table); else plain text."""
    item = _completion_item(caps)
    formats = item.documentation_format if item and item.documentation_format else []
    return types.MarkupKind.Markdown in formats


def hover_markdown(caps: types.ClientCapabilities) -> bool:
    """Hover contents may be Markdown; else plain text."""
    hover = caps.text_document.hover if caps.text_document else None
    formats = hover.content_format if hover and hover.content_format else []
    return types.MarkupKind.Markdown in formats


def work_done_progress(caps: types.ClientCapabilities) -> bool:
    """The server may create progress tokens (`window/workDoneProgress/create`)."""
    return bool(caps.window and caps.window.work_done_progress)


def show_document(caps: types.ClientCapabilities) -> bool:
    """The server may ask the client to open a document (`window/showDocument`)."""
    window = caps.window
    return bool(window and window.show_document and window.show_document.support)


def configuration(caps: types.ClientCapabilities) -> bool:
    """The server may pull its settings (`workspace/configuration`)."""
    return bool(caps.workspace and caps.workspace.configuration)


@dataclass(frozen=True)
class ClientFeatures:
    """The capabilities above, for one client, read once at `initialize`."""

    code_action_literals: bool = False
    code_action_resolve: bool = False
    code_action_data: bool = False
    llm_generated_tag: bool = False
    apply_edit: bool = False
    document_changes: bool = False
    change_annotations: bool = False
    inline_completion: bool = False
    snippets: bool = False
    label_details: bool = False
    markdown_documentation: bool = False
    hover_markdown: bool = False
    work_done_progress: bool = False
    show_document: bool = False
    configuration: bool = False

    @property
    def lazy_fixes(self) -> bool:
        """A fix can be listed now and computed on `codeAction/resolve`: the client takes
        action literals, resolves their edit, and keeps their `data` for that."""
        return self.code_action_literals and self.code_action_resolve and self.code_action_data

    @classmethod
    def of(cls, caps: types.ClientCapabilities | None) -> ClientFeatures:
        caps = caps or types.ClientCapabilities()
        getters = globals()
        return cls(**{f.name: bool(getters[f.name](caps)) for f in fields(cls)})


def plain_text(markdown: str) -> str:
    """Focal's own Markdown (origins, code fences) as plain text, for clients that show
    Markdown unrendered."""
    lines = [ln for ln in markdown.split("\n") if not ln.startswith("```")]
    return "\n".join(lines).replace("**", "").replace("`", "")


def markup(markdown: str, allowed: bool) -> types.MarkupContent:
    """Markdown when the client renders it, else the same text plain."""
    if allowed:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=plain_text(markdown))


def shape_completions(result: types.CompletionList, client: ClientFeatures) -> types.CompletionList:
    """Completion items as this client declared it takes them: `labelDetails` only with
    `labelDetailsSupport` (the model is in `detail` as well), Markdown documentation only
    when listed in `documentationFormat`."""
    for item in result.items:
        if not client.label_details:
            item.label_details = None
        doc = item.documentation
        if (
            not client.markdown_documentation
            and isinstance(doc, types.MarkupContent)
            and doc.kind == types.MarkupKind.Markdown
        ):
            item.documentation = markup(doc.value, False)
    return result
