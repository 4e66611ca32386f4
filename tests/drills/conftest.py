"""Fault drills: each starts its own PostgreSQL cluster, Redis server and daphne, and breaks them.

They run as their own invocation, `pytest tests/drills -m drill` (a few
minutes); anywhere else (e.g. the whole suite) they are skipped with the
reason. Each drill prints its count table; the tables are repeated at the
end of the run.
"""

from __future__ import annotations

import shutil

import pytest

from tests.drills.load import PaymentLoad
from tests.drills.services import ROOT, App, Postgres, Redis, missing_binaries

_tables: list[str] = []


def pytest_collection_modifyitems(config, items):
    asked = "drill" in (config.getoption("markexpr") or "")
    skip = pytest.mark.skip(reason="fault drills run on their own: pytest tests/drills -m drill")
    for item in items:
        if "drill" in item.keywords and not asked:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if _tables:
        terminalreporter.section("fault drill counts")
        for table in _tables:
            terminalreporter.write_line(table)


@pytest.fixture
def report():
    """Print a drill's table now and again in the run's summary."""

    def _report(table: str) -> None:
        print("\n" + table)
        _tables.append(table)

    return _report


@pytest.fixture
def folder(request):
    """Logs of the drill's services (daphne, Redis), kept after the run in artifacts/drills/."""
    path = ROOT / "artifacts" / "drills" / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def postgres():
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    cluster = Postgres()
    yield cluster
    cluster.close()


@pytest.fixture
def redis_server(folder):
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    server = Redis(folder)
    yield server
    server.close()


@pytest.fixture
def app(request, postgres, redis_server, folder):
    """The app migrated and seeded on the drill's own services, served by daphne.

    A drill module's APP_ENV adds to the app's environment.
    """
    application = App(
        database_url=postgres.url,
        redis_url=redis_server.url,
        folder=folder,
        env=getattr(request.module, "APP_ENV", {}),
    )
    application.start()
    yield application
    application.stop()


@pytest.fixture
def payment_load(app):
    """Start posting payments as `agents`; the threads are stopped whatever the outcome."""
    loads: list[PaymentLoad] = []

    def _start(agents: list[str], password: str) -> PaymentLoad:
        load = PaymentLoad(app.base, agents, password)
        loads.append(load)
        load.start()
        return load

    yield _start
    for load in loads:
        load.stop()
