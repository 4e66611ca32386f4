from datetime import timedelta
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from float_management.models import IdempotencyRecord


def _record(age_hours):
    return IdempotencyRecord.objects.create(
        key=uuid4().hex,
        action="x",
        fingerprint="f",
        claim=uuid4(),
        created_at=timezone.now() - timedelta(hours=age_hours),
    )


def test_keys_younger_than_the_cutoff_are_kept(db):
    young, old = _record(23), _record(100)
    call_command("purge_idempotency_keys", hours=72)
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [young.pk]
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()


def test_it_refuses_to_keep_keys_less_than_a_day(db):
    with pytest.raises(CommandError):
        call_command("purge_idempotency_keys", hours=12)
