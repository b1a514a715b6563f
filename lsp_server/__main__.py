"""`python -m lsp_server` is `focal serve` (stdio); `python -m lsp_server COMMAND …` is
`focal COMMAND …`."""

import sys

from lsp_server.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args if args and not args[0].startswith("-") else ["serve", *args]))
