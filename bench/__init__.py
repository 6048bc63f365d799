"""Benchmark tooling: a synthetic province (`python -m bench.generate`)."""
