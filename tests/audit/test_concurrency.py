"""Real threads on PostgreSQL: appends to one stream never fork, and all of them land."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from audit import log
from audit.models import AuditEntry
from audit.verify import audit_verify
from core.retry import ATTEMPTS, retry_on_conflict
from tests.factories import fund_vault

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(jobs: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(job):
        try:
            barrier.wait(timeout=30)
            result = job()
            with lock:
                results.append(result)
        except BaseException as error:  # reported to the test, not swallowed
            with lock:
                errors.append(error)
        finally:
            connection.close()

    connection.close()
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results, errors


@retry_on_conflict
def _append_and_linger(n: int) -> int:
    # Hold the transaction after the insert so the others read the same head and collide.
    with transaction.atomic():
        entry = log.append(stream="test:hot", action="test.event", data={"n": n})
        time.sleep(0.05)
    return entry.seq


def test_concurrent_appends_to_one_stream_never_fork_and_all_land(caplog):
    # Each lost race means another thread committed, so ATTEMPTS threads always finish.
    jobs = [lambda n=n: _append_and_linger(n) for n in range(ATTEMPTS)]
    with caplog.at_level(logging.WARNING, logger="core.retry"):
        results, errors = run_together(jobs)

    assert errors == []
    assert sorted(results) == list(range(1, ATTEMPTS + 1))
    rows = list(AuditEntry.objects.filter(stream="test:hot").order_by("seq"))
    assert [row.seq for row in rows] == list(range(1, ATTEMPTS + 1))
    assert sorted(row.data["n"] for row in rows) == list(range(ATTEMPTS))
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert audit_verify().ok
    # The races were real, and retry_on_conflict is what resolved them.
    assert any("audit_one_entry_per_seq" in r.getMessage() for r in caplog.records)


def test_concurrent_payments_at_one_till_queue_on_its_lock_and_never_retry(
    agent_a, fixed_service, citizen, open_till, caplog
):
    from counter.services import payments

    def pay():
        return payments.payment_post_cash(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        ).pk

    with caplog.at_level(logging.WARNING, logger="core.retry"):
        results, errors = run_together([pay] * 6)

    assert errors == []
    assert len(set(results)) == 6
    stream = log.till_stream(open_till.pk)
    actions = list(
        AuditEntry.objects.filter(stream=stream).order_by("seq").values_list("action", flat=True)
    )
    assert actions == ["transfer.float_issue", "request.approved"] + ["transfer.payment"] * 6
    # The head is read after the till's lock is held: never stale, so never a retry.
    assert [r.getMessage() for r in caplog.records] == []
    assert audit_verify().ok


def test_payments_of_two_branches_write_to_two_streams(
    agent_a, agent_b, supervisor_b, counter_b, branch_b, fixed_service, citizen, open_till
):
    from counter.services import payments
    from float_management import services as till

    fund_vault(branch=branch_b, supervisor=supervisor_b, witness=agent_b, amount=1_000_000)
    session_b = till.till_session_request_open(
        agent=agent_b, counter=counter_b, amount=50_000, idempotency_key=uuid.uuid4().hex
    )
    till.request_decide(request=session_b.requests.get(), supervisor=supervisor_b, approve=True)

    def pay(agent):
        return lambda: payments.payment_post_cash(
            agent=agent,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        )

    results, errors = run_together([pay(agent_a), pay(agent_b)] * 3)
    assert errors == []
    streams = set(
        AuditEntry.objects.filter(action="transfer.payment").values_list("stream", flat=True)
    )
    assert streams == {log.till_stream(open_till.pk), log.till_stream(session_b.pk)}
    assert audit_verify().ok
