"""Idempotency keys: a retry gets the first result, other content is refused, failures free it."""

import pytest
from django.db import transaction

from core.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount
from float_management import services
from float_management.idempotency import run_once
from float_management.ledger import transit_account, vault_account
from float_management.models import IdempotencyRecord, Transfer, VaultMovement
from tests.float_management.helpers import OPENING_FLOAT, VAULT_START, balance, new_key

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def move(branch, supervisor, witness, *, key, amount=50_000, direction="in"):
    movement = services.vault_move(
        branch=branch,
        direction=direction,
        amount=amount,
        handled_by=supervisor,
        witnessed_by=witness,
        idempotency_key=key,
    )
    return services.vault_move_confirm(witness=witness, movement=movement)


def test_the_same_key_and_content_returns_the_first_result_and_posts_nothing_new(
    branch_a, supervisor_a, agent_a2
):
    key = new_key()
    first = move(branch_a, supervisor_a, agent_a2, key=key)

    again = move(branch_a, supervisor_a, agent_a2, key=key)

    assert again.pk == first.pk
    assert again.transfer_id == first.transfer_id
    assert Transfer.objects.count() == 1
    assert VaultMovement.objects.count() == 1
    assert balance(vault_account(branch_a)) == 50_000
    assert balance(transit_account(branch_a)) == -50_000


def test_a_retried_cash_drop_posts_once(open_session, agent_a, branch_a):
    key = new_key()
    first = services.cash_drop(
        agent=agent_a, session=open_session, amount=1_000, idempotency_key=key
    )
    transfers = Transfer.objects.count()

    again = services.cash_drop(
        agent=agent_a, session=open_session, amount=1_000, idempotency_key=key
    )

    assert again.pk == first.pk
    assert Transfer.objects.count() == transfers
    assert balance(open_session.account) == OPENING_FLOAT - 1_000
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT + 1_000


def test_the_same_key_with_a_different_amount_is_refused(branch_a, supervisor_a, agent_a2):
    key = new_key()
    move(branch_a, supervisor_a, agent_a2, key=key, amount=50_000)

    with pytest.raises(IdempotencyConflict):
        move(branch_a, supervisor_a, agent_a2, key=key, amount=50_001)

    assert Transfer.objects.count() == 1
    assert balance(vault_account(branch_a)) == 50_000


def test_one_key_is_one_request_so_another_action_with_it_is_refused(
    open_session, agent_a, branch_a, supervisor_a
):
    key = new_key()
    drop = services.cash_drop(
        agent=agent_a, session=open_session, amount=1_000, idempotency_key=key
    )

    with pytest.raises(IdempotencyConflict):
        services.float_request_top_up(
            agent=agent_a, session=open_session, amount=1_000, idempotency_key=key
        )

    assert drop.kind == "cash_drop"
    assert not open_session.requests.filter(kind="top_up_float").exists()
    assert IdempotencyRecord.objects.filter(key=key).count() == 1


def test_a_failed_attempt_leaves_the_key_free(open_session, agent_a):
    key = new_key()
    with pytest.raises(InsufficientFunds):
        services.cash_drop(
            agent=agent_a, session=open_session, amount=OPENING_FLOAT + 1, idempotency_key=key
        )
    assert not IdempotencyRecord.objects.filter(key=key).exists()

    retried = services.cash_drop(
        agent=agent_a, session=open_session, amount=1_000, idempotency_key=key
    )

    assert balance(open_session.account) == OPENING_FLOAT - 1_000
    assert IdempotencyRecord.objects.get(key=key).result_id == retried.pk


def test_run_once_does_the_work_again_after_a_rolled_back_attempt(db):
    calls = []

    def work():
        calls.append(1)
        return IdempotencyRecord.objects.get(key="k-1")

    def attempt(fail: bool):
        with transaction.atomic():
            result = run_once(
                key="k-1",
                action="test",
                payload={"n": 1},
                work=work,
                load=lambda pk: ("loaded", pk),
            )
            if fail:
                raise Boom
            return result

    with pytest.raises(Boom):
        attempt(fail=True)
    assert not IdempotencyRecord.objects.exists()

    first = attempt(fail=False)
    again = attempt(fail=False)

    assert len(calls) == 2
    assert isinstance(first, IdempotencyRecord)
    assert again == ("loaded", first.pk)


@pytest.mark.parametrize("key", ["", "k" * 81], ids=["empty", "too-long"])
def test_run_once_refuses_a_missing_or_oversized_key(db, key):
    with pytest.raises(InvalidAmount), transaction.atomic():
        run_once(key=key, action="test", payload={}, work=lambda: None, load=lambda pk: None)

    assert not IdempotencyRecord.objects.exists()


def test_a_decision_is_keyed_by_its_request_so_it_posts_once(
    agent_a, counter_a, supervisor_a, funded_vault
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=OPENING_FLOAT, idempotency_key=new_key()
    )
    request = session.requests.get()
    first = services.request_decide(request=request, supervisor=supervisor_a, approve=True)
    transfers = Transfer.objects.count()

    again = services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    assert again.pk == first.pk
    assert Transfer.objects.count() == transfers
    assert balance(session.account) == OPENING_FLOAT


def test_a_client_key_cannot_block_a_decision(
    agent_a, counter_a, agent_a2, counter_a2, supervisor_a, funded_vault
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=OPENING_FLOAT, idempotency_key=new_key()
    )
    request = session.requests.get()
    # Another agent's form carries a key that happens to (or is made to) equal the internal one.
    services.till_session_request_open(
        agent=agent_a2, counter=counter_a2, amount=1_000, idempotency_key=f"decide:{request.pk}"
    )

    decision = services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    assert decision.approved
    assert balance(session.account) == OPENING_FLOAT
