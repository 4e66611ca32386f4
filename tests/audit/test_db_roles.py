"""The app's database role (PostgreSQL): owns nothing, can't shorten the log, still takes payments.

The role is created by `manage.py db_app_role` under a random name and dropped
after the test. Transactional: the app's role connects separately, so what the
fixtures write must be committed for it to see.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import translation

from audit.models import AuditEntry, StreamHead
from audit.verify import audit_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app_role(monkeypatch):
    role = f"test_app_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    monkeypatch.setenv("TEST_APP_DB_PASSWORD", password)
    call_command("db_app_role", role, "--password-env", "TEST_APP_DB_PASSWORD", verbosity=0)
    yield role, password
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{role}"')  # its grants: it owns nothing
        cursor.execute(f'DROP ROLE "{role}"')


@contextmanager
def connected_as(role: str, password: str):
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=settings["NAME"],
        user=role,
        password=password,
        autocommit=True,
    ) as raw:
        yield raw


REFUSED = [
    "TRUNCATE audit_auditentry",
    "TRUNCATE float_management_transfer CASCADE",
    "DELETE FROM audit_auditentry",
    "UPDATE audit_auditentry SET action = 'forged'",
    "ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only",
    "ALTER TABLE audit_auditentry DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_entry_no_truncate ON audit_auditentry",
    "SET session_replication_role = replica",
    "UPDATE audit_streamhead SET seq = 0",
    "DELETE FROM audit_streamhead",
    "INSERT INTO audit_streamhead (stream, seq, hash) VALUES ('x', 9, 'x')",
    "DELETE FROM float_management_entry",
    "UPDATE float_management_transfer SET memo = 'forged'",
    "CREATE TABLE audit_shadow (id int)",
]


def test_the_app_role_is_refused_what_would_shorten_or_rewrite_the_log(app_role, cash_payment):
    cash_payment()
    before = AuditEntry.objects.count()
    with connected_as(*app_role) as app:
        for sql in REFUSED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(sql)
    assert AuditEntry.objects.count() == before
    assert audit_verify().ok


def test_the_app_role_owns_nothing_and_is_no_superuser(app_role):
    role, _password = app_role
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,"
            " (SELECT count(*) FROM pg_class WHERE relowner = r.oid),"
            " (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)"
            " FROM pg_roles r WHERE rolname = %s",
            [role],
        )
        assert cursor.fetchone() == (False, False, False, False, 0, 0)


def test_a_payment_posts_as_the_app_role(app_role, cash_payment, open_till):
    cash_payment()  # the first payment creates the fee accounts (as the owner here)
    role, password = app_role
    owner = connections["default"]
    options = {k: v for k, v in owner.settings_dict["OPTIONS"].items() if k != "pool"}
    as_app = owner.__class__(
        {**owner.settings_dict, "USER": role, "PASSWORD": password, "OPTIONS": options},
        alias="default",
    )
    connections["default"] = as_app
    try:
        with as_app.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (role,)
        payment = cash_payment()
    finally:
        as_app.close()
        connections["default"] = owner

    entry = AuditEntry.objects.get(object_type="transfer", object_id=str(payment.transfer_id))
    # The head moved with it, though the app's role may not write heads.
    head = StreamHead.objects.get(stream=entry.stream)
    assert (head.seq, head.hash) == (entry.seq, entry.hash)
    report = audit_verify()
    assert report.ok, (report.breaks, report.mismatches)


def test_the_command_refuses_to_make_the_owner_the_app_role():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    with (
        translation.override("en"),
        pytest.raises(CommandError, match="superuser or the role running this command"),
    ):
        call_command("db_app_role", owner, verbosity=0)


def test_the_sql_can_be_printed_for_a_dba(capsys):
    call_command("db_app_role", "postoffice_app", "--sql")
    out = capsys.readouterr().out
    assert 'CREATE ROLE "postoffice_app" LOGIN NOSUPERUSER' in out
    assert 'GRANT SELECT, INSERT ON "audit_auditentry" TO "postoffice_app";' in out
    assert 'GRANT SELECT ON "audit_streamhead" TO "postoffice_app";' in out
    assert 'GRANT SELECT, INSERT ON "float_management_transfer" TO "postoffice_app";' in out
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON "django_session" TO "postoffice_app";' in out
    assert "TRUNCATE" not in out
