"""Appending to the audit log.

Streams, not one national chain. A single chain would make every audited
write in the nation queue on its head (the append reads the last entry and
inserts the next one), the national hot spot the ledger was built to avoid.
So each chain covers what is already serialised, or is naturally sequential:

- ``till:<session id>``: everything about one till session (payments, card
  top-ups and payments, voids, drops, floats, close, approvals and
  rejections of its requests). Every writer of a session already holds its
  row lock, so appends to the stream never contend, and the head can be read
  in the same statement that locks the accounts (`head_annotations`): a cash
  payment pays one INSERT for its audit entry and nothing else.
- ``branch:<code>``: the branch's own transfers outside a till (vault moves).
- ``user:<id>``: one person's logins, logouts, failed logins, refused pages
  and admin changes, and what they do outside a till and a branch (card
  replacement). A person's requests are sequential, so these never contend;
  a per-branch or national login stream would make a whole branch (or the
  morning login of 10,000 agents) queue on one head.
- ``login:<username>``: failed logins for a username that does not exist.
- ``national``: transfers of no branch (daily settlement by head office).

UNIQUE(stream, seq) makes a fork impossible: of two appends that read the
same head, the second insert fails (on PostgreSQL it waits for the first to
commit, then fails) and `retry_on_conflict` runs its transaction again.

The head is read from `StreamHead`, which a trigger moves forward with every
insert and which never moves back, not from the stream's last entry: if
entries are deleted behind the app's back, the next append still follows the
head, so the hole stays in the chain for `audit_verify` to report instead of
being papered over by new entries numbered from what is left.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Subquery
from django.utils import timezone

from audit import chain
from audit.models import AuditEntry, StreamHead
from core.retry import retry_on_conflict

logger = logging.getLogger(__name__)

NATIONAL = "national"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Head:
    """The last entry of a stream (seq 0 and the zero hash for an empty stream)."""

    stream: str
    seq: int = 0
    hash: str = chain.ZERO_HASH


def till_stream(session_id: int) -> str:
    return f"till:{session_id}"


def branch_stream(branch) -> str:
    return f"branch:{branch.code}"


def user_stream(user_id: int) -> str:
    return f"user:{user_id}"


def login_stream(username: str) -> str:
    return f"login:{username[:100]}"


def _head_row(stream: str):
    return StreamHead.objects.filter(stream=stream)


def head_of(stream: str) -> Head:
    """The stream's head, read now (one SELECT by primary key)."""
    row = _head_row(stream).values_list("seq", "hash").first()
    return Head(stream) if row is None else Head(stream, row[0], row[1])


def head_annotations(stream: str) -> dict[str, Subquery]:
    """Annotations carrying the stream's head, to ride on a query the caller makes anyway.

    Only fresh when a lock taken by an *earlier* statement serialises the
    stream: a statement that waits for a row lock keeps its starting snapshot.
    A stale head is still safe (the insert fails on UNIQUE and the transaction
    is retried), just slower.
    """
    return {
        "audit_head_seq": Subquery(_head_row(stream).values("seq")),
        "audit_head_hash": Subquery(_head_row(stream).values("hash")),
    }


def head_from(stream: str, row: Any) -> Head:
    """The head carried by a row annotated with `head_annotations`."""
    if row.audit_head_seq is None:
        return Head(stream)
    return Head(stream, row.audit_head_seq, row.audit_head_hash)


def _storable(data: dict[str, Any] | None) -> dict[str, Any]:
    # Store exactly what is hashed: the JSON round trip turns tuples into lists,
    # numeric keys into strings and anything else into its str().
    return json.loads(chain.canonical(data or {}))


def append(
    *,
    stream: str,
    action: str,
    actor=None,
    actor_username: str | None = None,
    object_type: str = "",
    object_id: object = "",
    branch=None,
    data: dict[str, Any] | None = None,
    head: Head | None = None,
) -> AuditEntry:
    """Append one entry to `stream`, inside the caller's transaction.

    `head` saves the SELECT of the stream's head when the caller already has
    it (read under a lock serialising the stream). `branch` is a Branch or its id.
    """
    assert transaction.get_connection().in_atomic_block, "audit appends need a transaction"
    if head is None:
        head = head_of(stream)
    assert head.stream == stream, "the head of another stream"
    if actor_username is None:
        actor_username = actor.get_username() if actor is not None else ""
    entry = AuditEntry(
        stream=stream,
        seq=head.seq + 1,
        prev_hash=head.hash,
        at=timezone.now(),
        actor_id=getattr(actor, "pk", actor),
        actor_username=actor_username[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        branch_id=getattr(branch, "pk", branch),
        data=_storable(data),
    )
    entry.hash = entry.computed_hash()
    entry.save(force_insert=True)
    return entry


@retry_on_conflict
def append_alone(**kwargs: Any) -> AuditEntry:
    """`append` in a transaction of its own (retried if another append wins the head).

    For events outside any service's transaction: logins, failed logins,
    logouts, refused pages.
    """
    with transaction.atomic():
        return append(**kwargs)


def append_or_log(**kwargs: Any) -> AuditEntry | None:
    """`append_alone`, logging instead of raising when the database refuses.

    For refused pages: the refusal stands whatever happens to its record.
    """
    try:
        return append_alone(**kwargs)
    except DatabaseError:
        logger.exception("audit: could not record %s", kwargs.get("action"))
        return None
