"""Focal's language server: the only package that speaks LSP (pygls / lsprotocol)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("focal-lsp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
