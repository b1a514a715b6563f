"""`python -m lsp_server` is `focal serve` (stdio)."""

import sys

from lsp_server.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
