"""`python -m lsp_server [OPTIONS]` is `focal serve` (stdio); `python -m lsp_server … COMMAND …`
is `focal … COMMAND …`."""

import sys

from lsp_server.cli import command_names, main

if __name__ == "__main__":
    args = sys.argv[1:]
    top_level = {"--version", "-h", "--help"}
    # `serve` first, so that what a client library appends (`--stdio`) reaches it.
    sys.exit(main(args if (command_names() | top_level) & set(args) else ["serve", *args]))
