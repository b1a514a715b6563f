"""`lsp_server.wire` overrides private members of pygls' protocol (STYLE point 20). These
tests fail when pygls changes under them: a new version, or one of the members renamed,
re-signed or no longer used the way the overrides assume. Re-check `wire.py` against the new
pygls, then update `PYGLS_CHECKED`."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pygls.io_
from lsprotocol import types
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol

from lsp_server.server import create_server
from lsp_server.wire import PYGLS_CHECKED, FocalProtocol


def test_pygls_is_the_version_the_overrides_were_checked_against():
    assert version("pygls") == PYGLS_CHECKED, (
        f"pygls {version('pygls')} is installed; lsp_server/wire.py was checked against "
        f"{PYGLS_CHECKED}: re-check its overrides, then update PYGLS_CHECKED"
    )


def _params(fn) -> list[str]:
    return [f"{p.name}:{p.kind.name}" for p in inspect.signature(fn).parameters.values()]


def test_the_private_methods_overridden_keep_their_signatures():
    assert _params(JsonRPCProtocol._handle_request) == [
        "self:POSITIONAL_OR_KEYWORD",
        "msg_id:POSITIONAL_OR_KEYWORD",
        "method_name:POSITIONAL_OR_KEYWORD",
        "params:POSITIONAL_OR_KEYWORD",
    ]
    assert _params(JsonRPCProtocol._send_handler_result) == [
        "self:POSITIONAL_OR_KEYWORD",
        "future:POSITIONAL_OR_KEYWORD",
        "msg_id:KEYWORD_ONLY",
    ]
    assert _params(JsonRPCProtocol.structure_message) == [
        "self:POSITIONAL_OR_KEYWORD",
        "data:POSITIONAL_OR_KEYWORD",
    ]


def test_the_private_state_used_is_where_the_overrides_expect_it():
    protocol = create_server().protocol
    assert isinstance(protocol, FocalProtocol)
    assert isinstance(protocol._request_futures, dict)
    assert isinstance(protocol._result_types, dict)
    assert protocol._shutdown is False
    assert hasattr(protocol._converter, "structure")
    # pygls sets the workspace by assigning `_workspace` in `lsp_initialize`: the property
    # that adopts it must see that assignment.
    assert "self._workspace = Workspace(" in inspect.getsource(
        LanguageServerProtocol.lsp_initialize
    )
    # The generic message classes `structure_message` falls back to.
    source = inspect.getsource(JsonRPCProtocol.structure_message)
    for name in ("JsonRPCRequestMessage", "JsonRPCResponseMessage", "JsonRPCNotification"):
        assert name in source, name
    assert hasattr(pygls.io_, "StdoutWriter")


def test_the_lifecycle_overrides_replace_pygls_builtins():
    protocol = create_server().protocol
    builtins = protocol.fm.builtin_features
    assert builtins[types.SHUTDOWN].__func__ is FocalProtocol.lsp_shutdown
    assert builtins[types.EXIT].__func__ is FocalProtocol.lsp_exit
    # pygls' own shutdown still iterates the live request table (the bug overridden), and
    # its exit still calls sys.exit (which its stdio loop swallowed).
    assert "self._request_futures.items()" in inspect.getsource(LanguageServerProtocol.lsp_shutdown)
    assert "sys.exit" in inspect.getsource(LanguageServerProtocol.lsp_exit)
