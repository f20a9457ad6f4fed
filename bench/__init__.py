"""Benchmarks of the favourites list: see BENCHMARKS.md and ``python bench/run.py --help``."""
