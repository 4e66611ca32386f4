"""audit_verify: OK on an untouched log; the first broken link after direct database edits."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit import log
from audit.models import AuditEntry
from audit.verify import audit_verify
from tests.audit.conftest import trigger_off

pytestmark = pytest.mark.django_db

STREAM = "test:chain"


@pytest.fixture
def five(agent_a, branch_a):
    """Five entries in one stream, and two in another."""
    with transaction.atomic():
        for n in range(1, 6):
            log.append(stream=STREAM, action="test.event", actor=agent_a, data={"n": n})
        for n in range(2):
            log.append(stream="test:other", action="test.event", branch=branch_a, data={"n": n})


def _run(*args) -> tuple[str, str, CommandError | None]:
    """The command in English (it speaks the site's language, Arabic, by default)."""
    from django.utils import translation

    out, err = io.StringIO(), io.StringIO()
    try:
        with translation.override("en"):
            call_command("audit_verify", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_it_reports_in_arabic_by_default():
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "سجل المراجعة سليم" in out.getvalue()


def _only_break():
    report = audit_verify()
    assert len(report.breaks) == 1, report.breaks
    return report.breaks[0]


def test_an_untouched_log_is_ok(five):
    out, err, error = _run()
    assert error is None and err == ""
    assert "Checked 7 entries in 2 streams." in out
    assert "Audit log OK" in out


def test_one_stream_can_be_checked_alone(five):
    out, _err, error = _run("--stream", STREAM, "--chunk-size", "2")
    assert error is None
    assert "Checked 5 entries in 1 streams." in out


def test_an_edited_entry_is_reported_at_its_seq(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq=3).update(data={"n": 300})

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 3, "edited")
    out, err, error = _run()
    assert error is not None
    assert f"stream {STREAM}: first broken link at seq 3: content edited" in err


def test_an_edited_actor_is_reported_too(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq=1).update(actor_username="mallory")
    broken = _only_break()
    assert (broken.seq, broken.kind) == (1, "edited")


def test_a_deleted_entry_is_reported_as_missing(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq=2).delete()

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 2, "missing")


def test_two_swapped_entries_are_reported_as_reordered(five):
    with trigger_off():
        # Swap seq 2 and 3 (through a free number: (stream, seq) is unique).
        AuditEntry.objects.filter(stream=STREAM, seq=2).update(seq=1_000_000)
        AuditEntry.objects.filter(stream=STREAM, seq=3).update(seq=2)
        AuditEntry.objects.filter(stream=STREAM, seq=1_000_000).update(seq=3)

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 2, "reordered")
    out, err, error = _run()  # management commands speak English
    assert "first broken link at seq 2: reordered: the entry that follows seq 1 is at seq 3" in err


def test_deleting_and_renumbering_is_still_caught(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq=2).delete()
        for seq in (3, 4, 5):
            AuditEntry.objects.filter(stream=STREAM, seq=seq).update(seq=seq - 1)

    broken = _only_break()
    assert (broken.seq, broken.kind) == (2, "relinked")


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(five):
    entry = AuditEntry.objects.get(stream=STREAM, seq=3)
    entry.data = {"n": 333}
    with trigger_off():
        AuditEntry.objects.filter(pk=entry.pk).update(data=entry.data, hash=entry.computed_hash())

    broken = _only_break()
    assert (broken.seq, broken.kind) == (4, "relinked")
    assert "rewritten" in _run()[1]


def test_a_break_in_one_stream_leaves_the_others_checked(five):
    with trigger_off():
        AuditEntry.objects.filter(stream="test:other", seq=1).update(action="test.forged")
    report = audit_verify()
    assert [(b.stream, b.seq) for b in report.breaks] == [("test:other", 1)]
    assert (report.entries, report.streams) == (7, 2)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_auditentry SET action = 'forged'", "DELETE FROM audit_auditentry"],
    ids=["update", "delete"],
)
def test_postgresql_refuses_to_change_or_delete_an_entry(five, sql):
    with (
        pytest.raises(IntegrityError, match="never changed or deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEntry.objects.filter(action="test.event").count() == 7
