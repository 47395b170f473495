"""Benchmarks, run by hand from a checkout (docs/performance.md)."""
