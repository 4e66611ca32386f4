"""Walk every stream of the audit log and find the first broken link of each."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from audit import chain
from audit.models import AuditEntry

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


@dataclass(frozen=True)
class Break:
    stream: str
    seq: int
    kind: str
    problem: str


@dataclass
class AuditReport:
    entries: int = 0
    streams: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


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
    """Recompute every hash in (stream, seq) order; the first broken link per stream.

    Streamed with a server-side cursor (`iterator`), so memory does not grow with
    the log. A stream is no longer checked after its first break: everything
    after a break is unverifiable anyway.
    """
    report = AuditReport()
    rows = AuditEntry.objects.order_by("stream", "seq")
    if stream is not None:
        rows = rows.filter(stream=stream)
    current: str | None = None
    expected_seq, expected_prev, broken = 1, chain.ZERO_HASH, False
    for row in rows.values_list(*_COLUMNS).iterator(chunk_size=chunk_size):
        (name, seq, prev_hash, stored_hash, at, actor_id, username) = row[:7]
        (action, object_type, object_id, branch_id, data) = row[7:]
        if name != current:
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
    return report
