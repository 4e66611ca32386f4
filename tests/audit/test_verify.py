"""audit_verify: OK on an untouched log; the first broken link after direct database edits."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit import log
from audit.models import AuditEntry, StreamHead
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


# --- Stream heads: what is gone from the end of a stream, or the whole stream --------


def test_every_stream_has_a_head_at_its_last_entry(five):
    for stream in (STREAM, "test:other"):
        last = AuditEntry.objects.filter(stream=stream).latest("seq")
        head = StreamHead.objects.get(stream=stream)
        assert (head.seq, head.hash) == (last.seq, last.hash)


def test_a_deleted_tail_is_reported(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq__gte=4).delete()

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 4, "tail_deleted")
    _out, err, error = _run()
    assert error is not None
    assert (
        f"stream {STREAM}: first broken link at seq 4: entries deleted at the end: "
        "the stream's head says seq 5, the entries stop at seq 3" in err
    )


def test_a_deleted_stream_is_reported(five):
    with trigger_off():
        AuditEntry.objects.filter(stream="test:other").delete()

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == ("test:other", 1, "stream_deleted")
    out, err, error = _run()
    assert error is not None
    assert "Checked 5 entries in 2 streams." in out
    assert "stream deleted: its head says seq 2, no entry of it is left" in err


def test_a_deleted_stream_is_reported_when_checked_alone(five):
    with trigger_off():
        AuditEntry.objects.filter(stream="test:other").delete()
    report = audit_verify(stream="test:other")
    assert [(b.stream, b.kind) for b in report.breaks] == [("test:other", "stream_deleted")]
    assert audit_verify(stream=STREAM).ok


def test_appends_after_a_deleted_tail_leave_the_hole_visible(five):
    with trigger_off():
        AuditEntry.objects.filter(stream=STREAM, seq__gte=4).delete()
    # The app goes on: the next entry follows the head, not what is left of the stream.
    entry = _append_after(STREAM)
    assert entry.seq == 6

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 4, "missing")


def test_a_last_entry_rewritten_with_a_fresh_hash_is_caught_by_the_head(five):
    entry = AuditEntry.objects.get(stream=STREAM, seq=5)
    entry.data = {"n": 555}
    with trigger_off():
        AuditEntry.objects.filter(pk=entry.pk).update(data=entry.data, hash=entry.computed_hash())

    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 5, "last_replaced")


def test_entries_past_the_head_are_reported(five):
    with trigger_off():
        StreamHead.objects.filter(stream=STREAM).update(
            seq=3, hash=AuditEntry.objects.get(stream=STREAM, seq=3).hash
        )
    broken = _only_break()
    assert (broken.stream, broken.seq, broken.kind) == (STREAM, 4, "past_head")


def test_a_stream_without_a_head_is_reported(five):
    with trigger_off():
        StreamHead.objects.filter(stream=STREAM).delete()
    broken = _only_break()
    assert (broken.stream, broken.kind) == (STREAM, "no_head")


def _append_after(stream):
    with transaction.atomic():
        return log.append(stream=stream, action="test.event", data={"n": "after"})


# --- PostgreSQL: TRUNCATE refused; heads only move forward ----------------------------

TRUNCATE_REFUSED = [
    "audit_auditentry",
    "audit_streamhead",
    "float_management_transfer",
    "float_management_entry",
]


def _no_pending_checks():
    """Run the test's deferred foreign-key checks now: TRUNCATE refuses to run before them."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.postgres
@pytest.mark.parametrize("table", TRUNCATE_REFUSED)
def test_postgresql_refuses_to_truncate_the_log_its_heads_and_the_ledger(five, table):
    _no_pending_checks()
    with (
        pytest.raises(IntegrityError, match=f"{table} is never truncated"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEntry.objects.filter(action="test.event").count() == 7


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE audit_streamhead SET seq = seq - 1", "only moves forward"),
        ("UPDATE audit_streamhead SET stream = 'test:elsewhere'", "only moves forward"),
        ("DELETE FROM audit_streamhead", "never deleted"),
    ],
    ids=["back", "renamed", "delete"],
)
def test_postgresql_refuses_to_move_a_head_back_or_delete_it(five, sql, message):
    with (
        pytest.raises(IntegrityError, match=message),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert StreamHead.objects.get(stream=STREAM).seq == 5


@pytest.mark.postgres
def test_flush_is_refused_on_postgresql_outside_tests(five, monkeypatch):
    from audit.management.commands import flush

    monkeypatch.setattr(flush, "in_tests", lambda: False)
    _no_pending_checks()
    with pytest.raises(CommandError, match="couldn't be flushed") as refused:
        call_command("flush", interactive=False, verbosity=0)
    assert "is never truncated" in str(refused.value.__cause__)
    assert AuditEntry.objects.filter(action="test.event").count() == 7
