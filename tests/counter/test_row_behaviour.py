"""The rows' own behaviour: a card's PIN tries, lock, unlock and block; a payment's void."""

import uuid

import pytest

from core.errors import InvalidState
from counter.errors import CardUnusable
from counter.models import PrepaidCard
from counter.services import cards, payments
from float_management.services import request_decide


@pytest.fixture
def card(agent_a, citizen):
    return cards.card_issue(
        agent=agent_a, citizen=citizen, pin="1234", idempotency_key=uuid.uuid4().hex
    )


def test_wrong_pins_lock_the_card_at_the_last_try_and_say_how_many_are_left(card, branch_b):
    assert card.pin_refused(tries=2, branch_id=branch_b.pk) == 1
    assert not card.is_locked
    assert card.pin_refused(tries=2, branch_id=branch_b.pk) == 0
    card.refresh_from_db()
    assert card.is_locked and card.locked_branch_id == branch_b.pk


def test_a_right_pin_starts_the_tries_again_and_saves_nothing_when_none_were_wrong(
    card, django_assert_num_queries
):
    with django_assert_num_queries(0):
        card.pin_accepted()
    card.pin_refused(tries=3, branch_id=None)
    card.pin_accepted()
    card.refresh_from_db()
    assert card.failed_pin_attempts == 0


def test_only_a_locked_card_unlocks(card, branch_a):
    with pytest.raises(InvalidState):
        card.unlock()
    card.pin_refused(tries=1, branch_id=branch_a.pk)
    card.unlock()
    card.refresh_from_db()
    assert not card.is_locked and card.locked_branch_id is None
    assert card.failed_pin_attempts == 0


def test_a_blocked_card_cannot_be_blocked_again(card, agent_a, citizen):
    new = cards.card_issue(
        agent=agent_a, citizen=citizen, pin="4321", idempotency_key=uuid.uuid4().hex
    )
    card.block(replaced_by=new)
    card.refresh_from_db()
    assert card.status == PrepaidCard.Status.BLOCKED and card.replaced_by == new
    with pytest.raises(CardUnusable):
        card.block(replaced_by=new)


def test_a_voided_payment_cannot_be_voided_again(
    agent_a, supervisor_a, fixed_service, citizen, open_till, django_assert_num_queries
):
    payment = payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="x", idempotency_key=uuid.uuid4().hex
    )
    request_decide(request=request, supervisor=supervisor_a, approve=True)
    payment.refresh_from_db()
    first = (payment.void_transfer_id, payment.voided_at)
    reversal = payment.void_transfer
    with django_assert_num_queries(0), pytest.raises(InvalidState):
        payment.void(reversal=reversal)
    payment.refresh_from_db()
    assert (payment.void_transfer_id, payment.voided_at) == first
