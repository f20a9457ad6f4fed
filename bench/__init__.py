"""Benchmarks of the favourites list: see docs/performance.md and ``python bench/run.py --help``."""
