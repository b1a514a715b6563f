"""The argument shapes of Focal's `workspace/executeCommand`s.

Clients send a command's arguments in different shapes: none at all (Neovim's
`:lua vim.lsp.buf.execute_command{command=…}`), an empty list (VS Code's
`executeCommand(cmd)` through vscode-languageclient), or one object (the commands Focal
puts in its own items). pygls matches the list against the handler's positional
parameters and answers `Invalid Params: Expected 1 arguments, got 0` for an empty one, so
every Focal command takes `*args` and reads them here: nothing or `[]` is "no options",
`[obj]` is the options, anything else is refused with a message that names the shapes
the command takes.
"""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams


def options(command: str, args: tuple[Any, ...], takes: str) -> dict[str, Any]:
    """The options object of `command` from its arguments: `{}` for none, `[]` or `[null]`."""
    if not args or (len(args) == 1 and args[0] is None):
        return {}
    if len(args) == 1 and isinstance(args[0], dict):
        return args[0]
    got = ", ".join(type(a).__name__ for a in args)
    raise JsonRpcInvalidParams(
        f"{command} takes no argument or one object {takes}; got {len(args)} argument(s): {got}"
    )
