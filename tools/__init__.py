"""Dev-only load-test and benchmark tooling: the national seed, load generator, pgbench, timers.

No product app imports this package (only its own management commands and the
tests do), so the tooling can reach into every app without closing a cycle.
"""
