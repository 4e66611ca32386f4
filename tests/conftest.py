"""Personas shared by every test: two branches in two governorates and one person of each role.

Branch A (Cairo) and branch B (Giza) each have a counter; the agent of A,
the agent of B, A's supervisor, the regional supervisor of Cairo, the
regional supervisor of Giza, head office and an auditor.
"""

import pytest
from django.conf import settings

from agents.models import Role
from tests.factories import BranchFactory, CounterFactory, governorate, person


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, triggers); set DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def branch_a(db):
    return BranchFactory(code="A0001", governorate=governorate("01"), name_en="Branch A")


@pytest.fixture
def branch_b(db):
    return BranchFactory(code="B0001", governorate=governorate("21"), name_en="Branch B")


@pytest.fixture
def counter_a(branch_a):
    return CounterFactory(branch=branch_a, number=1)


@pytest.fixture
def counter_b(branch_b):
    return CounterFactory(branch=branch_b, number=1)


@pytest.fixture
def agent_a(branch_a, counter_a):
    return person("agent_a", Role.AGENT, branch=branch_a)


@pytest.fixture
def agent_b(branch_b, counter_b):
    return person("agent_b", Role.AGENT, branch=branch_b)


@pytest.fixture
def supervisor_a(branch_a):
    return person("supervisor_a", Role.BRANCH_SUPERVISOR, branch=branch_a)


@pytest.fixture
def supervisor_b(branch_b):
    return person("supervisor_b", Role.BRANCH_SUPERVISOR, branch=branch_b)


@pytest.fixture
def regional_a(branch_a):
    return person("regional_a", Role.REGIONAL_SUPERVISOR, governorate=branch_a.governorate)


@pytest.fixture
def regional_other(branch_b):
    return person("regional_other", Role.REGIONAL_SUPERVISOR, governorate=branch_b.governorate)


@pytest.fixture
def head_office(db):
    return person("head_office", Role.HEAD_OFFICE)


@pytest.fixture
def auditor(db):
    return person("auditor", Role.AUDITOR)


@pytest.fixture
def personas(agent_a, agent_b, supervisor_a, regional_a, regional_other, head_office, auditor):
    return {
        "agent_a": agent_a,
        "agent_b": agent_b,
        "supervisor_a": supervisor_a,
        "regional_a": regional_a,
        "regional_other": regional_other,
        "head_office": head_office,
        "auditor": auditor,
    }


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttles and lockouts live in the cache (Redis on CI): start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def denominations(db):
    """EGP notes and coins (from a data migration; re-created after a transactional flush)."""
    from float_management.models import Denomination

    for value in [20000, 10000, 5000, 2000, 1000, 500, 100]:
        Denomination.objects.get_or_create(value=value, form="note")
    for value in [100, 50, 25]:
        Denomination.objects.get_or_create(value=value, form="coin")
    return {(d.form, d.value): d for d in Denomination.objects.all()}
