"""Create (or bring up to date) the PostgreSQL role the app runs as.

Two roles: the owner, which runs `migrate` and owns every table, trigger and
function, and the app's role, which owns nothing. The app's role may read and
write what the app writes, delete only where the app deletes, only insert into
the audit log and the ledger's posted rows, only read the audit stream heads
(the owner's trigger moves them), and never truncate. Not being the owner nor
a superuser, it cannot ALTER a table (so cannot disable a trigger) nor set
`session_replication_role` (which skips them).

Run as the owner after every `migrate` (new tables need their grants), e.g.

    export APP_DB_PASSWORD=…
    manage.py db_app_role postoffice_app --password-env APP_DB_PASSWORD

or print the SQL for a DBA with `--sql`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from django.db.models import CASCADE, Model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Posted once, never changed or deleted (a trigger refuses UPDATE and DELETE too).
APPEND_ONLY = ("audit.AuditEntry", "float_management.Transfer", "float_management.Entry")
# Written only by the owner's trigger.
READ_ONLY = ("audit.StreamHead",)
# Where the app deletes rows (and what cascades from them, found by `deletable`):
DELETES = (
    "sessions.Session",  # logout, expiry
    "float_management.IdempotencyRecord",  # purge_idempotency_keys
    "axes.AccessAttempt",  # login lockouts reset on success or by an admin
    "axes.AccessLog",
    "axes.AccessFailureLog",
    # What the admin lets staff delete (PROTECT keeps anything that was used).
    "auth.User",
    "auth.Group",
    "agents.Governorate",
    "agents.Branch",
    "agents.Counter",
    "counter.Agency",
    "counter.Service",
    "counter.FeeSchedule",
    "core.PublicHoliday",
)


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None  # an app that is not installed here


def deletable() -> set[str]:
    """`DELETES`, the rows that cascade from them and their many-to-many links (table names)."""
    seen: set = set()
    todo = [model for model in map(_model, DELETES) if model is not None]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for related in model._meta.related_objects:
            if getattr(related, "on_delete", None) is CASCADE:
                todo.append(related.related_model)
        for field in model._meta.many_to_many:
            todo.append(field.remote_field.through)
        for related in model._meta.related_objects:
            if related.many_to_many:
                todo.append(related.through)
    append_only = {_model(label) for label in APPEND_ONLY}
    return {model._meta.db_table for model in seen - append_only}


def table_grants() -> dict[str, list[str]]:
    """Every table of the project and what the app's role may do to it."""
    append_only = {_model(label)._meta.db_table for label in APPEND_ONLY if _model(label)}
    read_only = {_model(label)._meta.db_table for label in READ_ONLY if _model(label)}
    deletes = deletable()
    grants = {"django_migrations": ["SELECT"]}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        table = meta.db_table
        if table in read_only:
            grants[table] = ["SELECT"]
        elif table in append_only:
            grants[table] = ["SELECT", "INSERT"]
        else:
            grants[table] = ["SELECT", "INSERT", "UPDATE"]
            if table in deletes:
                grants[table].append("DELETE")
    return dict(sorted(grants.items()))


def role_sql(role: str, *, database: str, quote: Callable[[str], str], create: bool) -> list[str]:
    """The statements that make `role` the app's role (the password is set separately)."""
    name = quote(role)
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    statements = [f"{'CREATE' if create else 'ALTER'} ROLE {name} {attributes}"]
    statements += [
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {name}",
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"REVOKE CREATE ON SCHEMA public FROM {name}",
        # Start from nothing, so a grant taken away here is taken away there too.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {name}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
    ]
    statements += [
        f"GRANT {', '.join(privileges)} ON {quote(table)} TO {name}"
        for table, privileges in table_grants().items()
    ]
    return statements


class Command(BaseCommand):
    help = gettext_lazy(
        "Create or update the PostgreSQL role the app runs as: it owns nothing, cannot "
        "truncate, alter or switch off triggers, and may only insert into the audit log "
        "and the ledger. Run it as the tables' owner after every migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help=_("Name of the app's database role."))
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help=_("Set the role's password from this environment variable."),
        )
        parser.add_argument(
            "--sql", action="store_true", help=_("Print the SQL instead of running it.")
        )
        parser.add_argument("--database", default="default")

    def handle(
        self,
        *args: Any,
        role: str,
        password_env: str | None,
        sql: bool,
        database: str,
        **o: Any,
    ) -> None:
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(_("Database roles are a PostgreSQL matter: this database is not."))
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(
                    _("The environment variable %(name)s is empty or not set.")
                    % {"name": password_env}
                )
        quote = connection.ops.quote_name
        name = connection.settings_dict["NAME"]
        if sql:
            for statement in role_sql(role, database=name, quote=quote, create=True):
                self.stdout.write(statement + ";")
            return
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s", [role]
            )
            found = cursor.fetchone()
            if found and (found[0] or found[1]):
                raise CommandError(
                    _(
                        "%(role)s is a superuser or the role running this command: the app's role "
                        "must be another one, owning nothing."
                    )
                    % {"role": role}
                )
            if found:
                cursor.execute(
                    "SELECT count(*) FROM pg_class WHERE relowner = "
                    "(SELECT oid FROM pg_roles WHERE rolname = %s)",
                    [role],
                )
                if cursor.fetchone()[0]:
                    raise CommandError(
                        _("%(role)s owns tables: the app's role must own nothing.") % {"role": role}
                    )
            for statement in role_sql(role, database=name, quote=quote, create=not found):
                cursor.execute(statement)
            if password is not None:
                cursor.execute(f"ALTER ROLE {quote(role)} PASSWORD %s", [password])
        self.stdout.write(
            _("%(role)s is ready: %(count)s tables granted.")
            % {"role": role, "count": len(table_grants())}
        )
