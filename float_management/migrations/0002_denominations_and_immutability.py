from django.db import migrations

# EGP notes and coins in piastres (the 25- and 50-piastre notes are out of use at counters).
NOTES = [20000, 10000, 5000, 2000, 1000, 500, 100]
COINS = [100, 50, 25]

IMMUTABLE_SQL = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'posted % rows are never changed or deleted; post a reversing transfer',
        TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER entry_immutable BEFORE UPDATE OR DELETE ON float_management_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER transfer_immutable BEFORE UPDATE OR DELETE ON float_management_transfer
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS entry_immutable ON float_management_entry;
DROP TRIGGER IF EXISTS transfer_immutable ON float_management_transfer;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


def load_denominations(apps, schema_editor):
    Denomination = apps.get_model("float_management", "Denomination")
    for value in NOTES:
        Denomination.objects.get_or_create(value=value, form="note")
    for value in COINS:
        Denomination.objects.get_or_create(value=value, form="coin")


def add_triggers(apps, schema_editor):
    # PostgreSQL only: on SQLite the tests' flush deletes rows, and the
    # services are the guard there.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMUTABLE_SQL, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("float_management", "0001_initial")]
    operations = [
        migrations.RunPython(load_denominations, migrations.RunPython.noop),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
