"""Double clicks and concurrent card use with real threads and row locks (PostgreSQL)."""

import threading
import uuid

import pytest
from django.db import connection

from core.errors import DomainError
from counter.models import Payment
from counter.services import cards, payments
from float_management.verify import ledger_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except DomainError as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_ten_concurrent_submits_of_one_form_make_one_payment(
    agent_a, fixed_service, citizen, open_till
):
    key = uuid.uuid4().hex

    def submit(_i):
        return payments.payment_post_cash(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=key,
        ).pk

    results, errors = _in_threads(10, submit)
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 10
    assert Payment.objects.count() == 1
    open_till.account.refresh_from_db()
    assert open_till.account.balance == 100_000 + 5_450


def test_concurrent_card_payments_never_overspend_the_card(
    agent_a, agent_b, fixed_service, citizen, open_till
):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key="c1")
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=20_000, idempotency_key="t1")

    def pay(_i):
        return payments.payment_post_card(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            card_number=card.number,
            pin="1234",
            idempotency_key=uuid.uuid4().hex,
        ).pk

    results, errors = _in_threads(8, pay)
    # 20,000 piastres cover three payments of 5,450 and not a fourth.
    assert len(results) == 3
    assert len(errors) == 5
    card.account.refresh_from_db()
    assert card.account.balance == 20_000 - 3 * 5_450
    assert ledger_verify().ok
