"""The boards' storage needs on counter_payment (dashboard/aggregates.py).

Moved here from dashboard/migrations/0001 (the dashboard owns no table): on a database
that ran that one, the index and the storage settings are there already, and both
statements below are no-ops (IF NOT EXISTS; SET of the same values).


* A partial index on voided_at: each render of a board subtracts the payments
  voided since its snapshot's boundary, a handful found through this index
  instead of a heap visit of every payment of the day (Payment.Meta.indexes;
  created with IF NOT EXISTS; SQLite has partial indexes too).
* On PostgreSQL, autovacuum after every 50,000 inserted payments rather than
  after 20 % of the table (3.6 million rows, six days, with a month of
  history): it sets the visibility map, so the once-a-minute snapshot of the
  day stays an index-only scan all day.
"""

from django.db import migrations, models

VOIDED_INDEX = (
    "CREATE INDEX IF NOT EXISTS payment_voided_at ON counter_payment (voided_at) "
    "WHERE voided_at IS NOT NULL"
)


def vacuum_inserts_often(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE counter_payment SET (autovacuum_vacuum_insert_threshold = 50000, "
            "autovacuum_vacuum_insert_scale_factor = 0)"
        )


def vacuum_inserts_by_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE counter_payment RESET (autovacuum_vacuum_insert_threshold, "
            "autovacuum_vacuum_insert_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("counter", "0004_card_locked_branch"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(
                        condition=models.Q(("voided_at__isnull", False)),
                        fields=["voided_at"],
                        name="payment_voided_at",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(VOIDED_INDEX, "DROP INDEX IF EXISTS payment_voided_at"),
            ],
        ),
        migrations.RunPython(vacuum_inserts_often, vacuum_inserts_by_default),
    ]
