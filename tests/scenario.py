"""A day at agent_a's till, shared by the settlement and the report tests.

`a_day`: agent_a's till takes four payments and one that is voided, then
closes. Owed: LOCAL 50.00 + 1.50 stamp per licence renewal (×2) and 100.00 of
a passport fee; TREASURY the passport's 5.00 stamp; POWER a 123.00
electricity bill. Commission stays with the post office. `payments_of_a_day`
is the same day with the till still open.

The fixtures are imported by the test modules that use them (and named there,
so that pytest finds them).
"""

import uuid
from datetime import timedelta

import pytest

from core.clock import local_today, zone
from counter.models import Agency, FeeComponent, FeeSchedule, Service
from counter.services import payments
from float_management import services as till


def key() -> str:
    return uuid.uuid4().hex


def pay_cash(agent, service, *, citizen=None, amount=None, refs=None, tendered=None):
    return payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=amount,
        references=refs or {},
        tendered=tendered or 50_000,
        idempotency_key=key(),
    )


def void(payment, agent, supervisor):
    request = payments.void_request(
        agent=agent, payment=payment, reason="wrong service", idempotency_key=key()
    )
    till.request_decide(request=request, supervisor=supervisor, approve=True)
    payment.refresh_from_db()
    return payment


def exact_counts(amount: int, denominations) -> dict[int, int]:
    """The notes and coins making up `amount`, largest first (a count with no variance)."""
    counts = {}
    for d in sorted(denominations.values(), key=lambda d: (-d.value, d.form != "note")):
        counts[d.pk], amount = divmod(amount, d.value)
    assert amount == 0, "amounts in these tests are multiples of 25 piastres"
    return counts


def close_session(session, supervisor, denominations, *, short_by: int = 0):
    session.account.refresh_from_db()
    request = till.till_session_submit_count(
        agent=session.agent,
        session=session,
        counts=exact_counts(session.account.balance - short_by, denominations),
        idempotency_key=key(),
    )
    till.request_decide(request=request, supervisor=supervisor, approve=True)
    session.refresh_from_db()
    return session


def day_of(payment):
    return payment.created_at.astimezone(zone()).date()


@pytest.fixture
def day_is_over(monkeypatch):
    """Settle today's payments as if it were tomorrow (a day is settled once it is over)."""
    tomorrow = local_today() + timedelta(days=1)
    monkeypatch.setattr("settlement.services.local_today", lambda: tomorrow)
    monkeypatch.setattr("settlement.forms.local_today", lambda: tomorrow)
    return tomorrow


@pytest.fixture
def treasury(db):
    return Agency.objects.create(code="TREASURY", name_ar="الخزانة", name_en="Treasury")


@pytest.fixture
def passport_service(agency, treasury):
    """100.00 passport fee to LOCAL + 5.00 stamp to TREASURY + 2.50 commission = 107.50."""
    import datetime

    service = Service.objects.create(
        code="PASSPORT",
        agency=agency,
        budget_item="7/7/7",
        requires_citizen=False,
        name_ar="جواز سفر",
        name_en="Passport",
    )
    schedule = FeeSchedule.objects.create(service=service, effective_from=datetime.date(2020, 1, 1))
    for position, (code, kind, amount, to) in enumerate(
        [
            ("fee", "agency_fee", 10_000, None),
            ("stamp", "stamp_duty", 500, treasury),
            ("commission", "commission", 250, None),
        ]
    ):
        FeeComponent.objects.create(
            schedule=schedule,
            code=code,
            kind=kind,
            amount=amount,
            agency=to,
            position=position,
            name_ar=code,
            name_en=code,
        )
    return service


LICENCE = {"licence": "123456"}
BILL = {"bill": "123456789012"}


@pytest.fixture
def payments_of_a_day(
    agent_a, supervisor_a, fixed_service, bill_service, passport_service, citizen, open_till
):
    """Four payments that stand and one voided, at agent_a's till (session still open)."""
    renewals = [pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE) for _ in range(2)]
    bill = pay_cash(agent_a, bill_service, amount=12_300, refs=BILL)
    passport = pay_cash(agent_a, passport_service)
    voided = void(
        pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE), agent_a, supervisor_a
    )
    return {"renewals": renewals, "bill": bill, "passport": passport, "voided": voided}


@pytest.fixture
def a_day(payments_of_a_day, open_till, supervisor_a, denominations):
    """The day's payments, with the till closed and signed off."""
    close_session(open_till, supervisor_a, denominations)
    return payments_of_a_day
