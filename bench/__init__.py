"""Benchmarks: one script per performance claim, each run against its anchor in the same process."""
