"""Run a write once per idempotency key.

The key is claimed inside the caller's transaction with INSERT … ON CONFLICT
DO NOTHING: on PostgreSQL a second transaction inserting the same key waits
for the first to commit or roll back, then either finds the committed record
(and returns its result) or claims the key itself. So ten concurrent requests
with one key post once, and a rolled-back attempt leaves the key free.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from float_management.errors import IdempotencyConflict, InvalidAmount
from float_management.models import IdempotencyRecord

T = TypeVar("T")


def fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    *,
    key: str,
    action: str,
    payload: dict[str, Any],
    work: Callable[[], T],
    load: Callable[[int], T],
    result_id: Callable[[T], int] = lambda obj: obj.pk,
) -> T:
    """`work()` the first time `key` is seen; `load(first_result_id)` on a retry.

    Must run inside transaction.atomic(). A retry whose payload differs from
    the first is refused with IdempotencyConflict.
    """
    if not key or len(key) > 80:
        raise InvalidAmount(_("This form has expired; open it again."))
    assert transaction.get_connection().in_atomic_block, "run_once needs a transaction"
    print_ = fingerprint(payload)
    claim = uuid.uuid4()
    IdempotencyRecord.objects.bulk_create(
        [IdempotencyRecord(key=key, action=action, fingerprint=print_, claim=claim)],
        ignore_conflicts=True,
    )
    record = IdempotencyRecord.objects.get(action=action, key=key)
    if record.claim != claim:
        if record.fingerprint != print_:
            raise IdempotencyConflict(
                _("This request was already made with different details; nothing was posted.")
            )
        return load(record.result_id)
    result = work()
    IdempotencyRecord.objects.filter(pk=record.pk).update(result_id=result_id(result))
    return result
