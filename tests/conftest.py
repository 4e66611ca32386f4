"""Personas shared by every test: two branches in two governorates and one person of each role.

Branch A (Cairo) and branch B (Giza) each have a counter; the agent of A,
the agent of B, A's supervisor, the regional supervisor of Cairo, the
regional supervisor of Giza, head office and an auditor.
"""

import os

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from agents.models import Role
from tests.factories import BranchFactory, CounterFactory, fund_vault, governorate, person

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: "dev" (the default) is Hypothesis's
# own 100 examples a property; "ci" asks for 1,000, which the stateful walks also follow
# (they run 30 in "dev": each example is a whole day in the database).
hypothesis_settings.register_profile("dev")
hypothesis_settings.register_profile("ci", max_examples=1_000, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, triggers); set DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_and_quiet(request, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Dashboard pushes outlive the test that caused them; only tests of pushes want them.
    if request.node.get_closest_marker("live_pushes") is None:
        settings.DASHBOARD_PUSHES = False


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
    """Throttles and lockouts live in the cache (Redis on CI): start every test clean.

    So do the catalog's in-process caches: ids are reused after a test's rollback.
    """
    from django.core.cache import cache

    from agencies.services import integrations_cache_clear
    from counter.services.catalog import catalog_cache_clear

    catalog_cache_clear()
    integrations_cache_clear()
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


# --- The counter's world: a small catalog, a citizen, an open till -----------------


@pytest.fixture
def agency(db):
    from counter.models import Agency

    return Agency.objects.create(code="LOCAL", name_ar="الوحدة المحلية", name_en="Local unit")


@pytest.fixture
def fixed_service(agency):
    """A licence renewal: 50.00 agency fee + 3.00 commission + 1.50 stamp duty = 54.50."""
    import datetime

    from counter.models import FeeComponent, FeeSchedule, ReferenceField, Service

    service = Service.objects.create(
        code="LIC-RENEW",
        agency=agency,
        budget_item="1/2/3/45",
        name_ar="تجديد رخصة",
        name_en="Licence renewal",
    )
    schedule = FeeSchedule.objects.create(service=service, effective_from=datetime.date(2020, 1, 1))
    for position, (code, kind, amount) in enumerate(
        [
            ("fee", "agency_fee", 5000),
            ("commission", "commission", 300),
            ("stamp", "stamp_duty", 150),
        ]
    ):
        FeeComponent.objects.create(
            schedule=schedule,
            code=code,
            kind=kind,
            amount=amount,
            position=position,
            name_ar=code,
            name_en=code,
        )
    ReferenceField.objects.create(
        service=service,
        code="licence",
        label_ar="رقم الرخصة",
        label_en="Licence number",
        pattern=r"^[0-9]{6}$",
    )
    return service


@pytest.fixture
def bill_service(db):
    """An electricity bill: any amount from 1 to 20,000 EGP plus 2.00 commission."""
    import datetime

    from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service

    power = Agency.objects.create(code="POWER", name_ar="الكهرباء", name_en="Electricity")
    service = Service.objects.create(
        code="ELEC-BILL",
        agency=power,
        budget_item="9/9/9",
        amount_kind="variable",
        min_amount=100,
        max_amount=2_000_000,
        requires_citizen=False,
        name_ar="فاتورة كهرباء",
        name_en="Electricity bill",
    )
    schedule = FeeSchedule.objects.create(service=service, effective_from=datetime.date(2020, 1, 1))
    FeeComponent.objects.create(
        schedule=schedule,
        code="bill",
        kind="principal",
        amount=None,
        position=0,
        name_ar="قيمة الفاتورة",
        name_en="Bill",
    )
    FeeComponent.objects.create(
        schedule=schedule,
        code="commission",
        kind="commission",
        amount=200,
        position=1,
        name_ar="عمولة",
        name_en="Commission",
    )
    ReferenceField.objects.create(
        service=service,
        code="bill",
        label_ar="رقم الفاتورة",
        label_en="Bill number",
        pattern=r"^[0-9]{12}$",
    )
    return service


@pytest.fixture
def citizen(agent_a):
    from django.utils import timezone

    from counter.models import Citizen

    return Citizen.objects.create(
        national_id="29001010100015",
        birth_date="1990-01-01",
        governorate=governorate("01"),
        sex="M",
        name_ar="مواطن تجريبي",
        mobile="+201012345678",
        mobile_verified_at=timezone.now(),
        consent_at=timezone.now(),
        registered_by=agent_a,
        registered_branch=agent_a.profile.branch,
    )


@pytest.fixture
def open_till(agent_a, supervisor_a, counter_a, branch_a):
    """agent_a's till, open with a 1,000.00 EGP float from a stocked vault."""
    import uuid

    from float_management import services

    fund_vault(branch=branch_a, supervisor=supervisor_a, witness=agent_a, amount=10_000_000)
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=uuid.uuid4().hex
    )
    services.request_decide(request=session.requests.get(), supervisor=supervisor_a, approve=True)
    session.refresh_from_db()
    return session
