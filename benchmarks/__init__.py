"""Benchmarks run by `focal bench` (and as scripts): Focal's engine against bare llama.cpp."""
