"""Check the audit log: each stream's chain, its head, and the log against the ledger.

1. Every stream is walked in seq order and its first broken link reported.
2. A stream whose chain holds is compared with its head (`StreamHead`), which
   the database keeps and never moves back: a head past the last entry means
   the stream's tail was deleted, a head with no entries left that the whole
   stream was.
3. The ledger and the log are matched transfer by transfer: every transfer has
   exactly one entry of its kind, with its legs, and every money entry names
   a transfer that exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import BigIntegerField, Exists, OuterRef, Q
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from audit import chain
from audit.models import AuditEntry, StreamHead

CHUNK = 5_000
_COLUMNS = (
    "stream",
    "seq",
    "prev_hash",
    "hash",
    "at",
    "actor_id",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "branch_id",
    "data",
)


# What a break is, for code and tests; `Break.problem` says it to a person.
EDITED, MISSING, REORDERED, RELINKED = "edited", "missing", "reordered", "relinked"
# Breaks found by the heads: entries gone from the end of a stream or the whole
# stream, entries past the head (written with its trigger off), no head at all.
TAIL_DELETED, STREAM_DELETED = "tail_deleted", "stream_deleted"
LAST_REPLACED, PAST_HEAD, NO_HEAD = "last_replaced", "past_head", "no_head"
# Differences between the ledger and the log.
UNAUDITED, UNKNOWN_TRANSFER, DIFFERS, DUPLICATE = "unaudited", "unknown", "differs", "duplicate"


@dataclass(frozen=True)
class Break:
    stream: str
    seq: int
    kind: str
    problem: str


@dataclass(frozen=True)
class Mismatch:
    """A transfer and the audit log disagree (`transfer` is the id as the log or ledger has it)."""

    transfer: str
    kind: str
    problem: str


@dataclass
class AuditReport:
    entries: int = 0
    streams: int = 0
    breaks: list[Break] = field(default_factory=list)
    # None when the ledger was not compared (one stream checked alone).
    transfers: int | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.mismatches


def _misplaced(stream: str, seq: int, expected_prev: str, intact: bool) -> Break:
    """Why the entry at `seq` does not link to the entry before it."""
    # The entry that belongs here links to the previous one: is it further on?
    belongs = (
        AuditEntry.objects.filter(stream=stream, seq__gt=seq, prev_hash=expected_prev)
        .values_list("seq", flat=True)
        .first()
    )
    if belongs is not None:
        problem = _("reordered: the entry that follows seq %(previous)s is at seq %(found)s") % {
            "previous": seq - 1,
            "found": belongs,
        }
        return Break(stream, seq, REORDERED, problem)
    if intact:
        problem = _("previous hash mismatch: the entry before it was rewritten")
    else:
        problem = _("previous hash mismatch: entries were removed and renumbered, or replaced")
    return Break(stream, seq, RELINKED, problem)


def audit_verify(*, stream: str | None = None, chunk_size: int = CHUNK) -> AuditReport:
    """Check every stream's chain and head and, unless one `stream` is asked for, the ledger.

    Streamed with server-side cursors (`iterator`), so memory does not grow with
    the log. A stream is no longer checked after its first break: everything
    after a break is unverifiable anyway. Everything is read in one snapshot
    (on PostgreSQL a REPEATABLE READ transaction), so payments committing while
    it runs can't look like a transfer without its entry or a head past its
    stream.
    """
    if connection.in_atomic_block:
        return _verify(stream=stream, chunk_size=chunk_size)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(stream=stream, chunk_size=chunk_size)


def _verify(*, stream: str | None, chunk_size: int) -> AuditReport:
    report = AuditReport()
    heads = _HeadCheck(report, chunk_size)
    _walk_chains(report, heads, stream=stream, chunk_size=chunk_size)
    heads.finish()
    _deleted_streams(report, stream=stream)
    report.breaks.sort(key=lambda broken: broken.stream)
    if stream is None:
        _compare_with_ledger(report, chunk_size=chunk_size)
    return report


def _walk_chains(
    report: AuditReport, heads: _HeadCheck, *, stream: str | None, chunk_size: int
) -> None:
    """Recompute every hash in (stream, seq) order; the first broken link per stream."""
    rows = AuditEntry.objects.order_by("stream", "seq")
    if stream is not None:
        rows = rows.filter(stream=stream)
    current: str | None = None
    expected_seq, expected_prev, broken = 1, chain.ZERO_HASH, False
    for row in rows.values_list(*_COLUMNS).iterator(chunk_size=chunk_size):
        (name, seq, prev_hash, stored_hash, at, actor_id, username) = row[:7]
        (action, object_type, object_id, branch_id, data) = row[7:]
        if name != current:
            if current is not None and not broken:
                heads.ended(current, expected_seq - 1, expected_prev)
            current, expected_seq, expected_prev, broken = name, 1, chain.ZERO_HASH, False
            report.streams += 1
        report.entries += 1
        if broken:
            continue
        if seq != expected_seq:
            problem = _("entry missing: seq %(missing)s is not there (the next is %(next)s)") % {
                "missing": expected_seq,
                "next": seq,
            }
            report.breaks.append(Break(name, expected_seq, MISSING, problem))
            broken = True
            continue
        content = chain.content_of(
            stream=name,
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_username=username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            branch_id=branch_id,
            data=data,
        )
        intact = chain.entry_hash(prev_hash, content) == stored_hash
        if intact and prev_hash == expected_prev:
            expected_seq, expected_prev = seq + 1, stored_hash
            continue
        if prev_hash == expected_prev:
            problem = _("content edited: the entry no longer matches its hash")
            report.breaks.append(Break(name, seq, EDITED, problem))
        else:
            report.breaks.append(_misplaced(name, seq, expected_prev, intact))
        broken = True
    if current is not None and not broken:
        heads.ended(current, expected_seq - 1, expected_prev)


class _HeadCheck:
    """Compares the end of each intact stream with its head, a chunk of streams at a time."""

    def __init__(self, report: AuditReport, chunk_size: int) -> None:
        self.report = report
        self.chunk_size = chunk_size
        self.pending: dict[str, tuple[int, str]] = {}

    def ended(self, stream: str, last_seq: int, last_hash: str) -> None:
        self.pending[stream] = (last_seq, last_hash)
        if len(self.pending) >= self.chunk_size:
            self.finish()

    def finish(self) -> None:
        rows = StreamHead.objects.filter(stream__in=self.pending).values_list(
            "stream", "seq", "hash"
        )
        found = {name: (seq, hash_) for name, seq, hash_ in rows}
        for name, (last_seq, last_hash) in self.pending.items():
            broken = _against_head(name, last_seq, last_hash, found.get(name))
            if broken is not None:
                self.report.breaks.append(broken)
        self.pending = {}


def _against_head(
    stream: str, last_seq: int, last_hash: str, head: tuple[int, str] | None
) -> Break | None:
    if head is None:
        problem = _("no head: the stream's entries were written around the trigger that keeps it")
        return Break(stream, 1, NO_HEAD, problem)
    head_seq, head_hash = head
    if head_seq > last_seq:
        problem = _(
            "entries deleted at the end: the stream's head says seq %(head)s, "
            "the entries stop at seq %(last)s"
        ) % {"head": head_seq, "last": last_seq}
        return Break(stream, last_seq + 1, TAIL_DELETED, problem)
    if head_seq < last_seq:
        problem = _(
            "entries past the head: the head says seq %(head)s, the entries go on to seq %(last)s"
        ) % {"head": head_seq, "last": last_seq}
        return Break(stream, head_seq + 1, PAST_HEAD, problem)
    if head_hash != last_hash:
        problem = _("last entry replaced: it is not the entry the stream's head recorded")
        return Break(stream, last_seq, LAST_REPLACED, problem)
    return None


def _deleted_streams(report: AuditReport, *, stream: str | None) -> None:
    """Heads whose stream has no entry left."""
    orphans = StreamHead.objects.filter(
        ~Exists(AuditEntry.objects.filter(stream=OuterRef("stream")))
    ).order_by("stream")
    if stream is not None:
        orphans = orphans.filter(stream=stream)
    for name, head_seq in orphans.values_list("stream", "seq").iterator():
        problem = _("stream deleted: its head says seq %(head)s, no entry of it is left") % {
            "head": head_seq
        }
        report.streams += 1
        report.breaks.append(Break(name, 1, STREAM_DELETED, problem))


# --- The ledger against the log -----------------------------------------------------

# An entry is about money if the ledger wrote it (object type "transfer") or it says so.
_MONEY = Q(object_type="transfer") | Q(action__startswith="transfer.")
_TRANSFER_ID = r"^[0-9]{1,18}$"


def _grouped(rows: Iterable[tuple]) -> Iterator[tuple[Any, list[tuple]]]:
    """Rows sorted by their first column, as (that column, the rows sharing it)."""
    for key, group in groupby(rows, key=itemgetter(0)):
        yield key, list(group)


def _where(stream: str, seq: int) -> str:
    return f"{stream} #{seq}"


def _compare_with_ledger(report: AuditReport, *, chunk_size: int) -> None:
    """Walk transfers, their entries and the money entries of the log together, by transfer id.

    A merge of three sorted streams, so memory does not grow with the ledger.
    The ledger's models are looked up by name: the audit app imports no app above it.
    """
    transfer_model = apps.get_model("float_management", "Transfer")
    entry_model = apps.get_model("float_management", "Entry")
    report.transfers = 0
    money = AuditEntry.objects.filter(_MONEY)

    # Money entries that name no transfer id at all.
    named = Q(object_type="transfer", object_id__regex=_TRANSFER_ID)
    for stream, seq, object_id in (
        money.exclude(named).order_by("stream", "seq").values_list("stream", "seq", "object_id")
    ):
        problem = _("the audit entry %(entry)s is about money but names no transfer") % {
            "entry": _where(stream, seq)
        }
        report.mismatches.append(Mismatch(object_id, UNKNOWN_TRANSFER, problem))

    audited = _grouped(
        money.filter(named)
        .annotate(transfer_id=Cast("object_id", BigIntegerField()))
        .order_by("transfer_id", "stream", "seq")
        .values_list("transfer_id", "stream", "seq", "action", "data")
        .iterator(chunk_size=chunk_size)
    )
    legs = _grouped(
        entry_model.objects.order_by("transfer_id")
        .values_list("transfer_id", "account__key", "amount")
        .iterator(chunk_size=chunk_size)
    )
    transfers = (
        transfer_model.objects.order_by("pk")
        .values_list("pk", "kind", "reverses_id")
        .iterator(chunk_size=chunk_size)
    )
    next_audited, next_legs = next(audited, None), next(legs, None)
    for pk, kind, reverses_id in transfers:
        report.transfers += 1
        while next_audited is not None and next_audited[0] < pk:
            _unknown(report, next_audited)
            next_audited = next(audited, None)
        entries: list[tuple] = []
        if next_audited is not None and next_audited[0] == pk:
            entries, next_audited = next_audited[1], next(audited, None)
        while next_legs is not None and next_legs[0] < pk:
            next_legs = next(legs, None)  # entries always have a transfer (foreign key)
        posted: dict[str, int] = {}
        if next_legs is not None and next_legs[0] == pk:
            posted = {key: amount for _id, key, amount in next_legs[1]}
            next_legs = next(legs, None)
        _compare(report, pk, kind, reverses_id, posted, entries)
    while next_audited is not None:
        _unknown(report, next_audited)
        next_audited = next(audited, None)


def _unknown(report: AuditReport, group: tuple[int, list[tuple]]) -> None:
    transfer_id, entries = group
    for _id, stream, seq, _action, _data in entries:
        problem = _(
            "the audit entry %(entry)s names transfer %(transfer)s, which does not exist"
        ) % {"entry": _where(stream, seq), "transfer": transfer_id}
        report.mismatches.append(Mismatch(str(transfer_id), UNKNOWN_TRANSFER, problem))


def _compare(
    report: AuditReport,
    pk: int,
    kind: str,
    reverses_id: int | None,
    posted: dict[str, int],
    entries: list[tuple],
) -> None:
    if not entries:
        problem = _("transfer %(transfer)s (%(kind)s) has no audit entry") % {
            "transfer": pk,
            "kind": kind,
        }
        report.mismatches.append(Mismatch(str(pk), UNAUDITED, problem))
        return
    if len(entries) > 1:
        problem = _("transfer %(transfer)s has %(count)s audit entries: %(entries)s") % {
            "transfer": pk,
            "count": len(entries),
            "entries": ", ".join(_where(stream, seq) for _id, stream, seq, _a, _d in entries),
        }
        report.mismatches.append(Mismatch(str(pk), DUPLICATE, problem))
    for _id, stream, seq, action, data in entries:
        data = data if isinstance(data, dict) else {}
        differences = []
        if action != f"transfer.{kind}" or data.get("kind") != kind:
            differences.append(_("kind"))
        if data.get("legs") != posted:
            differences.append(_("amounts"))
        if data.get("reverses") != reverses_id:
            differences.append(_("reversed transfer"))
        if differences:
            problem = _(
                "transfer %(transfer)s and its audit entry %(entry)s differ in: %(what)s"
            ) % {"transfer": pk, "entry": _where(stream, seq), "what": ", ".join(differences)}
            report.mismatches.append(Mismatch(str(pk), DIFFERS, problem))
