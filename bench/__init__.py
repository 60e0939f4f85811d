"""Benchmarks, each against a raw-SQL floor measured in the same run (docs/benchmarks.md).

Run them as modules from the repository root: `python -m bench.ingest`, `python -m bench.reminders`…
"""
