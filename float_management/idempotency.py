"""Run a write once per idempotency key.

The key is claimed inside the caller's transaction with INSERT … ON CONFLICT
DO NOTHING RETURNING id: on PostgreSQL a second transaction inserting the same
key waits for the first to commit or roll back, then either finds the
committed record (and returns its result) or claims the key itself. So ten
concurrent requests with one key post once, and a rolled-back attempt leaves
the key free. A claim that returns its id is ours: only a conflict costs a
SELECT (the statement saved pays for the payment's audit entry).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import IdempotencyConflict, InvalidAmount
from float_management.models import IdempotencyRecord

T = TypeVar("T")


def fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_CLAIMED = ("key", "scope", "action", "fingerprint", "claim", "created_at")


def _claim(*, key: str, scope: str, action: str, print_: str) -> int | None:
    """Insert the key's record; its id, or None when the key was already taken.

    Raw SQL because the ORM cannot say RETURNING with ON CONFLICT DO NOTHING
    (SQLite has both since 3.35).
    """
    meta = IdempotencyRecord._meta
    values = (key, scope, action, print_, uuid.uuid4(), timezone.now())
    fields = [meta.get_field(name) for name in _CLAIMED]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
        f" ON CONFLICT ({quote(fields[1].column)}, {quote(fields[0].column)}) DO NOTHING"
        f" RETURNING {quote(meta.pk.column)}"
    )
    params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def recorded_result(
    *, key: str, action: str, payload: dict[str, Any], scope: str = "request"
) -> int | None:
    """The result id of `key`'s first run, if it was this same request and it finished.

    For a retry that a check made before the transaction would refuse (a card blocked
    since it paid): the first answer is given again, and nothing is posted.
    """
    return (
        IdempotencyRecord.objects.filter(
            scope=scope,
            key=key,
            action=action,
            fingerprint=fingerprint(payload),
            result_id__isnull=False,
        )
        .values_list("result_id", flat=True)
        .first()
    )


def run_once(
    *,
    key: str,
    action: str,
    payload: dict[str, Any],
    work: Callable[[], T],
    load: Callable[[int], T],
    result_id: Callable[[T], int] = lambda obj: obj.pk,
    scope: str = "request",
) -> T:
    """`work()` the first time `key` is seen; `load(first_result_id)` on a retry.

    Must run inside transaction.atomic(). One key is one request: a retry whose
    action (a card payment retrying a cash one) or payload differs from the first
    is refused with IdempotencyConflict. Keys made by a service for itself pass
    their own `scope`, which no client key can enter.
    """
    if not key or len(key) > 80:
        raise InvalidAmount(_("This form has expired; open it again."))
    assert transaction.get_connection().in_atomic_block, "run_once needs a transaction"
    print_ = fingerprint(payload)
    record_id = _claim(key=key, scope=scope, action=action, print_=print_)
    if record_id is None:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.action != action or record.fingerprint != print_:
            raise IdempotencyConflict(
                _("This request was already made with different details; nothing was posted.")
            )
        return load(record.result_id)
    result = work()
    IdempotencyRecord.objects.filter(pk=record_id).update(result_id=result_id(result))
    return result
