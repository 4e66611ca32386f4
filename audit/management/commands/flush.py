"""Django's `flush`, which on PostgreSQL meets the triggers refusing TRUNCATE.

The audit log, its stream heads and the ledger's posted rows refuse TRUNCATE
(audit migration 0003), so `manage.py flush` fails on them, as it should on a
real database. Tests empty the database between transactional tests with this
same command: there, and only there, the TRUNCATE triggers are switched off
for the flush, inside its transaction, and switched on again before it commits.
"""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.management.commands import flush
from django.db import connections, transaction

# Every enabled user trigger that fires on TRUNCATE (bit 5 of pg_trigger.tgtype).
TRUNCATE_TRIGGERS = """
SELECT format('%I.%I', n.nspname, c.relname), quote_ident(t.tgname)
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & 32 <> 0
"""


def in_tests() -> bool:
    # setup_test_environment() (Django's runner, pytest-django) creates the outbox.
    return hasattr(mail, "outbox")


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql" or not in_tests():
            return super().handle(**options)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(TRUNCATE_TRIGGERS)
            triggers = cursor.fetchall()
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            super().handle(**options)
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
