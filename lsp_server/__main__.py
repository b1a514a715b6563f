"""`python -m lsp_server [OPTIONS]` is `focal serve` (stdio); `python -m lsp_server … COMMAND …`
is `focal … COMMAND …`."""

import sys

from lsp_server.cli import command_names, main

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args if command_names() & set(args) else [*args, "serve"]))
