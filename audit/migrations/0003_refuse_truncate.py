from django.db import migrations, models

# Closes the audit log's blind spots (issue 12):
#
# - Stream heads: a trigger moves each stream's head (last seq and hash) forward
#   in the statement that inserts the entry, so an append costs no extra round
#   trip. On PostgreSQL the trigger function runs as the tables' owner (SECURITY
#   DEFINER): the app's role reads heads and cannot write them. Heads never move
#   back and are never deleted, so a deleted tail or a deleted stream leaves a
#   head that says how far the stream went, for audit_verify to compare.
# - TRUNCATE, which fires no DELETE trigger, is refused on the audit log, the
#   heads and the ledger's posted rows (transfers and entries). The ledger's
#   tables exist from float_management 0002; this migration only adds a trigger
#   to them (no import of that app, and float_management depends on no audit
#   migration, so the graph has no cycle).
#
# Tests flush transactional tests' tables with TRUNCATE: audit's `flush` command
# lifts these triggers for that, in tests only.
#
# SQLite has no TRUNCATE and its flush deletes rows, so it only gets the head
# trigger. A later migration that makes Django rebuild audit_auditentry on
# SQLite (most ALTERs) drops that trigger with the old table: re-create it there.

HEADS_FROM_ENTRIES = """
INSERT INTO audit_streamhead (stream, seq, hash)
SELECT entry.stream, entry.seq, entry.hash FROM audit_auditentry entry
 WHERE entry.seq = (SELECT MAX(other.seq) FROM audit_auditentry other
                     WHERE other.stream = entry.stream)
"""

POSTGRESQL = """
CREATE OR REPLACE FUNCTION audit_move_head() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO audit_streamhead AS head (stream, seq, hash)
         VALUES (NEW.stream, NEW.seq, NEW.hash)
    ON CONFLICT (stream) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash
          WHERE head.seq < EXCLUDED.seq;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_entry_moves_head AFTER INSERT ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_move_head();

CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit stream heads are never deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.stream <> OLD.stream OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'an audit stream head only moves forward'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_streamhead
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();

CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is never truncated', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_streamhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER transfer_no_truncate BEFORE TRUNCATE ON float_management_transfer
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER entry_no_truncate BEFORE TRUNCATE ON float_management_entry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS entry_no_truncate ON float_management_entry;
DROP TRIGGER IF EXISTS transfer_no_truncate ON float_management_transfer;
DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_streamhead;
DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_refuse_truncate();
DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_streamhead;
DROP FUNCTION IF EXISTS audit_head_forward_only();
DROP TRIGGER IF EXISTS audit_entry_moves_head ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_move_head();
"""

SQLITE = """
CREATE TRIGGER audit_entry_moves_head AFTER INSERT ON audit_auditentry
BEGIN
    INSERT INTO audit_streamhead (stream, seq, hash) VALUES (NEW.stream, NEW.seq, NEW.hash)
    ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
     WHERE seq < excluded.seq;
END
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS audit_entry_moves_head"


def add_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(HEADS_FROM_ENTRIES)
        schema_editor.execute(POSTGRESQL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(HEADS_FROM_ENTRIES)
        schema_editor.execute(SQLITE)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        # The ledger's tables get their TRUNCATE trigger here.
        ("float_management", "0002_denominations_and_immutability"),
    ]

    operations = [
        migrations.CreateModel(
            name="StreamHead",
            fields=[
                (
                    "stream",
                    models.CharField(
                        max_length=120, primary_key=True, serialize=False, verbose_name="stream"
                    ),
                ),
                ("seq", models.PositiveBigIntegerField(verbose_name="sequence")),
                ("hash", models.CharField(max_length=64, verbose_name="hash")),
            ],
            options={
                "verbose_name": "audit stream head",
                "verbose_name_plural": "audit stream heads",
            },
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
