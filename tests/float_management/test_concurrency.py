"""Real threads on PostgreSQL: row locks, one idempotency key, lock order, immutable entries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction

from core.errors import InsufficientFunds
from float_management import services
from float_management.ledger import account_for, transfer_post, transit_account, vault_account
from float_management.models import Account, AccountKind, Entry, Transfer, TransferKind
from float_management.verify import ledger_verify
from tests.float_management.helpers import OPENING_FLOAT, VAULT_START, balance, new_key

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(work: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Start every callable at the same moment, each on its own thread and connection."""
    barrier = threading.Barrier(len(work))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            result = job()
            with lock:
                results.append(result)
        except BaseException as error:  # reported to the test below, not swallowed
            with lock:
                errors.append(error)
        finally:
            connection.close()

    # Hand the test's own connection back to the pool so ten threads fit in it.
    connection.close()
    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results, errors


def test_concurrent_cash_drops_never_take_the_till_below_zero(open_session, agent_a, branch_a):
    amounts = [10_000 * n for n in range(1, 11)]  # 550,000 in all, from a till of 200,000
    assert sum(amounts) > OPENING_FLOAT

    def drop(amount: int):
        def job():
            try:
                services.cash_drop(
                    agent=agent_a, session=open_session, amount=amount, idempotency_key=new_key()
                )
            except InsufficientFunds:
                return ("refused", amount)
            return ("dropped", amount)

        return job

    results, errors = run_together([drop(amount) for amount in amounts])

    assert errors == []
    dropped = [amount for outcome, amount in results if outcome == "dropped"]
    refused = [amount for outcome, amount in results if outcome == "refused"]
    assert dropped and refused
    till = balance(open_session.account)
    assert till >= 0
    assert sum(dropped) == OPENING_FLOAT - till
    assert Transfer.objects.filter(kind=TransferKind.CASH_DROP).count() == len(dropped)
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT + sum(dropped)
    # A drop is refused only when the till holds less, and the till only shrinks after.
    assert till < min(refused)
    assert ledger_verify().ok


def test_ten_requests_with_one_key_post_exactly_once(open_session, agent_a, branch_a):
    key = new_key()

    def drop():
        return services.cash_drop(
            agent=agent_a, session=open_session, amount=5_000, idempotency_key=key
        )

    results, errors = run_together([drop] * 10)

    assert errors == []
    assert len({transfer.pk for transfer in results}) == 1
    assert Transfer.objects.filter(kind=TransferKind.CASH_DROP).count() == 1
    assert balance(open_session.account) == OPENING_FLOAT - 5_000
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT + 5_000


def test_transfers_in_opposite_directions_neither_deadlock_nor_lose_an_update(
    branch_a, supervisor_a
):
    first = account_for(AccountKind.VAULT, "vault:first", branch=branch_a)
    second = account_for(AccountKind.TILL, "till:second", branch=branch_a)
    bank = account_for(AccountKind.BANK, "bank:ho")
    with transaction.atomic():
        transfer_post(
            kind=TransferKind.BANK_IN,
            legs=[(first, 100_000), (second, 100_000), (bank, -200_000)],
            created_by=supervisor_a,
        )
    rounds = 10

    def move(amount: int, source: Account, target: Account):
        def job():
            for _ in range(rounds):
                with transaction.atomic():
                    transfer_post(
                        kind=TransferKind.CARD_MOVE,
                        legs=[(source, -amount), (target, amount)],
                        created_by=supervisor_a,
                    )

        return job

    jobs = [move(n, first, second) if n % 2 else move(n, second, first) for n in range(1, 11)]
    results, errors = run_together(jobs)

    assert errors == []
    assert len(results) == 10
    # Odd threads move 1+3+5+7+9 one way, even ones 2+4+6+8+10 back, ten times each.
    net_to_second = rounds * (sum(range(1, 11, 2)) - sum(range(2, 11, 2)))
    assert balance(first) == 100_000 - net_to_second
    assert balance(second) == 100_000 + net_to_second
    assert Transfer.objects.filter(kind=TransferKind.CARD_MOVE).count() == 10 * rounds
    assert ledger_verify().ok


def _wait_until_someone_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(500):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the other transaction never waited for a lock")


@pytest.mark.parametrize("action", ["cash_drop", "top_up_approval"])
def test_a_vault_move_and_a_till_action_in_one_branch_never_deadlock(
    open_session, agent_a, branch_a, supervisor_a, caplog, action
):
    vault, transit = vault_account(branch_a), transit_account(branch_a)
    top_up = services.float_request_top_up(
        agent=agent_a, session=open_session, amount=1_000, idempotency_key=new_key()
    )
    vault_locked = threading.Event()

    def vault_move_like():
        # What vault_move does, paused between transfer_post's account lock and its
        # insert of the Transfer (which checks the branch foreign key).
        with transaction.atomic():
            list(Account.objects.select_for_update().filter(pk__in=[vault.pk, transit.pk]))
            vault_locked.set()
            _wait_until_someone_waits_for_a_lock()
            transfer_post(
                kind=TransferKind.BANK_IN,
                legs=[(vault, 100), (transit, -100)],
                created_by=supervisor_a,
                branch=branch_a,
            )

    def till_action():
        assert vault_locked.wait(timeout=10)
        if action == "cash_drop":
            services.cash_drop(
                agent=agent_a, session=open_session, amount=100, idempotency_key=new_key()
            )
        else:
            services.request_decide(request=top_up, supervisor=supervisor_a, approve=True)

    with caplog.at_level(logging.WARNING, logger="core.retry"):
        _results, errors = run_together([vault_move_like, till_action])

    assert errors == []
    # retry_on_conflict hides the deadlock from the person, at a second's wait and a warning.
    assert [record.getMessage() for record in caplog.records] == []
    assert balance(vault) == VAULT_START - OPENING_FLOAT + 100 + (
        100 if action == "cash_drop" else -1_000
    )
    assert ledger_verify().ok


def _psycopg_sqlstate(error: BaseException) -> str | None:
    return getattr(error.__cause__, "sqlstate", None)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE float_management_entry SET amount = amount + 1 WHERE transfer_id = %s",
        "DELETE FROM float_management_entry WHERE transfer_id = %s",
        "UPDATE float_management_transfer SET memo = 'edited' WHERE id = %s",
        "DELETE FROM float_management_transfer WHERE id = %s",
    ],
    ids=["update-entry", "delete-entry", "update-transfer", "delete-transfer"],
)
def test_the_database_refuses_to_change_or_delete_a_posted_transfer(open_session, sql):
    transfer = Transfer.objects.get(kind=TransferKind.FLOAT_ISSUE)
    before = sorted(transfer.entries.values_list("account_id", "amount"))

    # The trigger raises SQLSTATE 23000; psycopg maps it to IntegrityConstraintViolation,
    # an IntegrityError, which Django re-raises as django.db.IntegrityError.
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [transfer.pk])

    assert _psycopg_sqlstate(caught.value) == "23000"
    assert "never changed or deleted" in str(caught.value)
    transfer.refresh_from_db()
    assert transfer.memo != "edited"
    assert sorted(transfer.entries.values_list("account_id", "amount")) == before


def test_the_orm_cannot_change_a_posted_entry_either(open_session):
    entry = Entry.objects.filter(transfer__kind=TransferKind.FLOAT_ISSUE).first()

    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=1)

    entry.refresh_from_db()
    assert entry.amount in (OPENING_FLOAT, -OPENING_FLOAT)
