"""Domain events go out after commit: never before, never for a rolled-back write."""

import pytest
from django.db import transaction

from core.errors import InsufficientFunds
from float_management import services, signals
from float_management.models import Request, TillSession, Transfer, TransferKind
from tests.float_management.helpers import OPENING_FLOAT, counts_for, new_key, opening_request

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def received():
    """Every domain event sent while the test runs, as (signal name, kwargs)."""
    events: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("transfer_posted", "session_changed", "request_raised", "request_decided"):

        def receiver(sender, signal, _name=name, **kwargs):
            events.append((_name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def names(events) -> list[str]:
    return sorted(name for name, _kwargs in events)


def test_an_opening_request_is_announced_on_commit(
    agent_a, counter_a, funded_vault, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        session = services.till_session_request_open(
            agent=agent_a, counter=counter_a, amount=OPENING_FLOAT, idempotency_key=new_key()
        )
        assert received == []  # not before the commit

    assert names(received) == ["request_raised", "session_changed"]
    kwargs = dict(received)
    assert kwargs["session_changed"]["session"] == session
    assert kwargs["request_raised"]["request"] == opening_request(session)


def test_an_approval_announces_the_transfer_the_session_and_the_decision(
    agent_a, counter_a, supervisor_a, funded_vault, received, django_capture_on_commit_callbacks
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=OPENING_FLOAT, idempotency_key=new_key()
    )

    with django_capture_on_commit_callbacks(execute=True):
        decision = services.request_decide(
            request=opening_request(session), supervisor=supervisor_a, approve=True
        )
        assert received == []

    assert names(received) == ["request_decided", "session_changed", "transfer_posted"]
    kwargs = dict(received)
    assert kwargs["request_decided"]["decision"] == decision
    assert kwargs["transfer_posted"]["transfer"] == decision.transfer
    assert kwargs["session_changed"]["session"].status == "open"


def test_a_cash_drop_announces_its_transfer_and_the_session(
    open_session, agent_a, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer = services.cash_drop(
            agent=agent_a, session=open_session, amount=1_000, idempotency_key=new_key()
        )

    assert names(received) == ["session_changed", "transfer_posted"]
    assert dict(received)["transfer_posted"]["transfer"] == transfer


def test_a_retried_cash_drop_announces_nothing_new(
    open_session, agent_a, received, django_capture_on_commit_callbacks
):
    key = new_key()
    services.cash_drop(agent=agent_a, session=open_session, amount=1_000, idempotency_key=key)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.cash_drop(agent=agent_a, session=open_session, amount=1_000, idempotency_key=key)

    assert callbacks == []
    assert received == []


def test_a_close_sign_off_announces_each_transfer(
    open_session, agent_a, supervisor_a, denominations, received, django_capture_on_commit_callbacks
):
    request = services.till_session_submit_count(
        agent=agent_a,
        session=open_session,
        counts=counts_for(denominations, OPENING_FLOAT - 500),
        idempotency_key=new_key(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    posted = [kwargs["transfer"].kind for name, kwargs in received if name == "transfer_posted"]
    assert sorted(posted) == [TransferKind.CLOSE_RETURN, TransferKind.CLOSE_VARIANCE]
    assert "request_decided" in names(received)


def test_a_rolled_back_cash_drop_announces_nothing(
    open_session, agent_a, received, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        services.cash_drop(
            agent=agent_a, session=open_session, amount=1_000, idempotency_key=new_key()
        )
        raise Boom

    assert callbacks == []
    assert received == []
    assert not Transfer.objects.filter(kind=TransferKind.CASH_DROP).exists()


def test_a_rolled_back_opening_request_announces_nothing(
    agent_a, counter_a, received, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        services.till_session_request_open(
            agent=agent_a, counter=counter_a, amount=OPENING_FLOAT, idempotency_key=new_key()
        )
        raise Boom

    assert callbacks == []
    assert received == []
    assert not TillSession.objects.exists()


def test_a_refused_approval_announces_nothing(
    agent_a, counter_a, supervisor_a, funded_vault, received, django_capture_on_commit_callbacks
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=10**9, idempotency_key=new_key()
    )

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InsufficientFunds),
    ):
        services.request_decide(
            request=opening_request(session), supervisor=supervisor_a, approve=True
        )

    assert callbacks == []
    assert received == []


# Real commits and rollbacks, not the test's wrapping transaction.


@pytest.mark.django_db(transaction=True)
def test_a_committed_cash_drop_is_announced_after_the_commit(open_session, agent_a, received):
    seen_in_transaction = []
    with transaction.atomic():
        services.cash_drop(
            agent=agent_a, session=open_session, amount=1_000, idempotency_key=new_key()
        )
        seen_in_transaction.extend(received)

    assert seen_in_transaction == []
    assert names(received) == ["session_changed", "transfer_posted"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_top_up_request_is_never_announced(open_session, agent_a, received):
    with pytest.raises(Boom), transaction.atomic():
        services.float_request_top_up(
            agent=agent_a, session=open_session, amount=1_000, idempotency_key=new_key()
        )
        raise Boom

    assert received == []
    assert not Request.objects.filter(kind="top_up_float").exists()
