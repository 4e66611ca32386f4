"""The pgbench script is the app's own SQL: run by pgbench, it posts whole, balanced payments."""

import shutil
import uuid

import pytest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("pgbench"), reason="pgbench is not installed"),
]


def test_pgbench_posts_whole_payments_with_the_statements_the_app_issues(
    agent_a, fixed_service, citizen, open_till
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from counter.models import Payment, PaymentLine
    from counter.services.payments import payment_post_cash
    from float_management.models import Account, Transfer
    from float_management.verify import ledger_verify
    from tools.bench.pgbench import run_pgbench

    def pay():
        return payment_post_cash(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        )

    pay()
    with CaptureQueriesContext(connection) as ctx:
        pay()
    app_statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    app_statements = [s for s in app_statements if s not in ("BEGIN", "COMMIT")]
    payments_before = Payment.objects.count()
    till = Account.objects.get(pk=open_till.account_id)

    result = run_pgbench(
        clients=1,
        transactions=5,
        service_code=fixed_service.code,
        references={"licence": "123456"},
    )

    assert result["statements"] == len(app_statements)
    assert "number of failed transactions: 0" in result["output"]
    # The two payments build_script posts through the app, then five by pgbench.
    assert Payment.objects.count() == payments_before + 2 + 5
    for payment in Payment.objects.order_by("-pk")[:5]:
        assert Transfer.objects.filter(pk=payment.transfer_id).exists()
        assert PaymentLine.objects.filter(payment=payment).count() == 3
    till_after = Account.objects.get(pk=till.pk)
    assert till_after.balance == till.balance + 7 * 5_450
    report = ledger_verify()
    assert report.ok, report
