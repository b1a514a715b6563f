"""Models and prompts: GGUF cards, FIM templates, the in-process llama.cpp engine.

Knows nothing of LSP or of the repository index.
"""
