"""audit_verify matches the ledger and the log: every transfer has its entry, and the reverse."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import translation

from audit import log
from audit.models import AuditEntry
from audit.verify import audit_verify
from float_management.models import Transfer
from tests.audit.conftest import trigger_off

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The problems are read in English (the site's language is Arabic)."""
    with translation.override("en"):
        yield


@pytest.fixture
def two_payments(cash_payment):
    return [cash_payment(), cash_payment()]


def _mismatches():
    return [(m.transfer, m.kind) for m in audit_verify().mismatches]


def _run() -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with translation.override("en"):
            call_command("audit_verify", stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def _entry_of(transfer_id: int) -> AuditEntry:
    return AuditEntry.objects.get(object_type="transfer", object_id=str(transfer_id))


def test_a_ledger_and_log_that_agree_are_ok(two_payments):
    report = audit_verify()
    assert report.ok, (report.breaks, report.mismatches)
    # The opening float, the vault's stock and the two payments.
    assert report.transfers == Transfer.objects.count() >= 4
    out, _err, error = _run()
    assert error is None
    assert f"Checked {report.transfers} transfers of the ledger against the log." in out


def test_a_transfer_whose_audit_entry_was_deleted_is_reported(two_payments):
    first = two_payments[0]
    with trigger_off():
        _entry_of(first.transfer_id).delete()

    assert _mismatches() == [(str(first.transfer_id), "unaudited")]
    _out, err, error = _run()
    assert error is not None
    assert f"ledger: transfer {first.transfer_id} (payment) has no audit entry" in err
    assert "differences between the ledger and the log" in str(error)


def test_a_transfer_written_without_the_ledger_is_reported(two_payments, agent_a):
    # An INSERT straight into the ledger's table, as a database role that may insert could.
    stray = Transfer.objects.create(kind="payment", created_by=agent_a)
    assert _mismatches() == [(str(stray.pk), "unaudited")]


def test_an_audit_entry_naming_a_transfer_that_does_not_exist_is_reported(two_payments, agent_a):
    # A well-formed entry, chain and head intact: only the ledger shows it is invented.
    missing = Transfer.objects.order_by("pk").last().pk + 1000
    with transaction.atomic():
        forged = log.append(
            stream="till:forged",
            action="transfer.payment",
            actor=agent_a,
            object_type="transfer",
            object_id=missing,
            data={"kind": "payment", "legs": {"till:x": 100, "payable:y": -100}},
        )
    report = audit_verify()
    assert not report.breaks
    assert [(m.transfer, m.kind) for m in report.mismatches] == [(str(missing), "unknown")]
    assert f"till:forged #{forged.seq} names transfer {missing}, which does not exist" in (
        report.mismatches[0].problem
    )


def test_a_money_entry_that_names_no_transfer_is_reported(two_payments, agent_a):
    with transaction.atomic():
        log.append(stream="till:forged", action="transfer.top_up", actor=agent_a)
    assert _mismatches() == [("", "unknown")]


def test_a_second_entry_with_other_amounts_for_a_transfer_is_reported(two_payments, agent_a):
    payment = two_payments[1]
    entry = _entry_of(payment.transfer_id)
    legs = {key: amount * 10 for key, amount in entry.data["legs"].items()}
    with transaction.atomic():
        log.append(
            stream="till:forged",
            action="transfer.payment",
            actor=agent_a,
            object_type="transfer",
            object_id=payment.transfer_id,
            data={"kind": "payment", "legs": legs, "reverses": None},
        )
    assert sorted(_mismatches()) == [
        (str(payment.transfer_id), "differs"),
        (str(payment.transfer_id), "duplicate"),
    ]
    differs = next(m for m in audit_verify().mismatches if m.kind == "differs")
    assert differs.problem.endswith("till:forged #1 differ in: amounts")


def test_an_audit_entry_of_another_kind_is_reported(two_payments):
    payment = two_payments[0]
    entry = _entry_of(payment.transfer_id)
    entry.action, entry.data = "transfer.top_up", {**entry.data, "kind": "top_up"}
    # Rewritten with a fresh hash and the rest of its stream re-chained, so only the
    # ledger can tell.
    with trigger_off():
        _rechain_from(entry)
    report = audit_verify()
    assert [(m.transfer, m.kind) for m in report.mismatches] == [
        (str(payment.transfer_id), "differs")
    ]
    assert report.mismatches[0].problem.endswith("differ in: kind")


def _rechain_from(entry: AuditEntry) -> None:
    """Rewrite `entry` and every later entry of its stream with hashes that link again."""
    from audit.models import StreamHead

    prev_hash = entry.prev_hash
    for row in AuditEntry.objects.filter(stream=entry.stream, seq__gte=entry.seq).order_by("seq"):
        if row.pk == entry.pk:
            row.action, row.data = entry.action, entry.data
        row.prev_hash = prev_hash
        row.hash = row.computed_hash()
        AuditEntry.objects.filter(pk=row.pk).update(
            action=row.action, data=row.data, prev_hash=row.prev_hash, hash=row.hash
        )
        prev_hash = row.hash
    StreamHead.objects.filter(stream=entry.stream).update(hash=prev_hash)


def test_one_stream_checked_alone_leaves_the_ledger_out(two_payments):
    with trigger_off():
        _entry_of(two_payments[0].transfer_id).delete()
    report = audit_verify(stream="test:nothing")
    assert report.transfers is None and report.mismatches == []
