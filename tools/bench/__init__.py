"""Benchmarks that drive the whole system over loopback (see README, Performance)."""
