"""Outside systems played by separate processes for tests and demos.

Each simulator is a stdlib HTTP server run with ``python -m simulators.<kind>``;
none imports Django or the project, so they stay as ignorant of our code as the
real provider is. ``simulators.testing.start`` runs one as a subprocess.
"""
