"""Helpers for the audit tests: reading streams back, and tampering like a DBA would."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from django.db import connection

from audit.models import AuditEntry


def key() -> str:
    return uuid.uuid4().hex


def actions_of(stream: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(stream=stream).order_by("seq").values_list("action", flat=True)
    )


@contextlib.contextmanager
def trigger_off():
    """Let the test edit the table directly, as someone with database access could.

    On PostgreSQL the append-only trigger is switched off for this session
    (`session_replication_role = replica` skips ordinary triggers; ALTER TABLE
    … DISABLE TRIGGER would trip over the test's pending foreign-key checks).
    SQLite has no trigger.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def cash_payment(agent_a, fixed_service, citizen, open_till):
    """A function posting one cash payment for agent_a."""
    from counter.services import payments

    def pay(**overrides):
        kwargs = {
            "agent": agent_a,
            "service": fixed_service,
            "citizen": citizen,
            "amount": None,
            "references": {"licence": "123456"},
            "tendered": 10_000,
            "idempotency_key": key(),
        }
        kwargs.update(overrides)
        return payments.payment_post_cash(**kwargs)

    return pay
