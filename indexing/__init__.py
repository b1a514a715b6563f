"""The repository index: tree-sitter definitions, imports and references in SQLite.

Knows nothing of LSP or models. The entry points:

- `Index` (`indexing.indexer`): open, build, keep current, query.
- `IndexWatcher` (`indexing.watcher`): follow file changes on disk.
- `is_excluded`, `is_secret`, `ai_disabled` (`indexing.ignore`): what must never reach a
  prompt, for the retrieval and context code.
"""
