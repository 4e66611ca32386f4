"""PostgreSQL's own limit for our payments: pgbench running the SQL one cash payment issues.

The SQL is captured from the app, not written by hand: for each pgbench client
one real cash payment is posted through `payment_post_cash` (at a till of its
own, as each counter agent has) under CaptureQueriesContext, and the captured
statements become that client's branch of one pgbench script (`\\if
:client_id = N`). Only what must differ from one payment to the next is
replaced: the idempotency key and receipt reference (unique per client and
transaction), the claim UUID and timestamps, the ids the inserts return (taken
with `\\gset`), and the new balances (written as `balance + delta`, the same
rows updated). So pgbench locks, inserts and updates exactly the rows and
indexes the app does, statement for statement, without Python or HTTP.

    python -m tools.bench.pgbench --clients 8 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from counter.models import Citizen, Service
    from float_management.models import TillSession

# Ids are moved to distinctive ranges before the captured payment so that their
# textual replacement can't touch another number of the statement.
_TABLES = {
    "transfer": ("float_management_transfer", "tr_"),
    "payment": ("counter_payment", "pay_"),
    "idempotency": ("float_management_idempotencyrecord", "idem_"),
}
_TIMESTAMP = re.compile(
    r"'\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?'::timestamptz"
)
_UUID = re.compile(r"'[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}'::uuid")
# The audit log's (stream, seq) is unique: each transaction appends the next seq.
_AUDIT_SEQ = re.compile(r'(INSERT INTO "audit_auditentry" \([^)]*\) VALUES \(\'[^\']*\', )(\d+)')
_CASE = re.compile(r'WHEN \("float_management_account"\."id" = (\d+)\) THEN (-?\d+)')


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DASHBOARD_PUSHES"] = "0"  # the captured payments reach no dashboard
    import django

    django.setup()


def _capture_one(
    index: int,
    session: TillSession,
    service: Service,
    citizen: Citizen,
    references: dict[str, str],
) -> list[str]:
    """Post one cash payment at `session`'s till; its statements as a pgbench script branch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from counter.models import Payment
    from counter.services.payments import payment_post_cash
    from float_management.models import Account, Entry, IdempotencyRecord

    base = 900_000_000 + index * 1_000_000
    with connection.cursor() as cursor:
        for name, (table, _prefix) in _TABLES.items():
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                "GREATEST(%s, (SELECT COALESCE(MAX(id), 1) FROM " + table + ")))",
                [table, base + list(_TABLES).index(name) * 100_000],
            )
    key = uuid.uuid4().hex
    accounts = dict(Account.objects.values_list("pk", "balance"))
    with CaptureQueriesContext(connection) as ctx:
        payment = payment_post_cash(
            agent=session.agent,
            service=service,
            citizen=citizen,
            amount=None,
            references=references,
            tendered=100_000,
            idempotency_key=key,
        )
    after = dict(
        Account.objects.filter(
            pk__in=Entry.objects.filter(transfer=payment.transfer_id).values("account")
        ).values_list("pk", "balance")
    )
    deltas = {pk: balance - accounts[pk] for pk, balance in after.items()}
    ids = {
        "transfer": payment.transfer_id,
        "payment": payment.pk,
        "idempotency": IdempotencyRecord.objects.get(scope="request", key=key).pk,
    }
    assert Payment.objects.filter(pk=payment.pk).exists()
    lines = []
    fetched: set[str] = set()
    for query in ctx.captured_queries:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) or sql in ("BEGIN", "COMMIT"):
            continue
        sql = sql.replace(f"'{key}'", "'pgb:run-:client_id-:n'")
        sql = sql.replace(f"'{payment.reference}'", "':ref'")
        sql = _TIMESTAMP.sub("now()", sql)
        sql = _UUID.sub("gen_random_uuid()", sql)
        sql = _AUDIT_SEQ.sub(lambda m: f"{m.group(1)}{m.group(2)} + :n", sql)
        sql = sql.replace("::int2[]", "::int8[]").replace("::int4[]", "::int8[]")
        sql = _CASE.sub(
            lambda m: (
                f'WHEN ("float_management_account"."id" = {m.group(1)}) '
                f'THEN "float_management_account"."balance" + {deltas[int(m.group(1))]}'
            ),
            sql,
        )
        gset = ""
        for name, value in ids.items():
            table, prefix = _TABLES[name]
            returns_it = (
                (sql.startswith(f'INSERT INTO "{table}"') and " RETURNING " in sql)
                or sql.startswith("SELECT")
                and f' FROM "{table}" ' in sql
            )
            if returns_it and name not in fetched:
                gset = f" \\gset {prefix}"
                fetched.add(name)
            else:
                sql = re.sub(rf"(?<![0-9]){value}(?![0-9])", f":{prefix}id", sql)
        if "\n" in sql:
            sql = " ".join(sql.split())
        lines.append(sql + gset)
    return lines


def build_script(
    clients: int, *, service_code: str = "LA-106", references: dict[str, str] | None = None
) -> tuple[str, int]:
    """The pgbench script (one branch per client) and the number of statements per payment."""
    from counter.models import Citizen, Service
    from counter.services.payments import payment_post_cash
    from float_management.models import SessionStatus, TillSession

    references = references or {"licence_no": "1000/2026"}
    service = Service.objects.get(code=service_code)
    citizens = list(Citizen.objects.order_by("pk")[:clients])
    sessions = list(
        TillSession.objects.filter(status=SessionStatus.OPEN)
        .select_related("agent", "branch", "account")
        # The emptiest tills: pgbench (no Python) doesn't stop at the till's cash limit,
        # and an earlier run may have taken its tills over it.
        .order_by("account__balance", "-pk")[:clients]
    )
    if len(sessions) < clients:
        raise SystemExit(f"need {clients} open tills, found {len(sessions)}: seed_national first")
    out = [
        "\\set n :n + 1",
        "\\set ref :refbase + :client_id * 10000000 + :n",
        "BEGIN;",
    ]
    count = 0
    for index, session in enumerate(sessions):
        citizen = citizens[index % len(citizens)]
        payment_post_cash(  # the first payment of a till makes its branch's fee accounts
            agent=session.agent,
            service=service,
            citizen=citizen,
            amount=None,
            references=references,
            tendered=100_000,
            idempotency_key=uuid.uuid4().hex,
        )
        statements = _capture_one(index, session, service, citizen, references)
        count = len(statements)
        out.append(("\\if" if index == 0 else "\\elif") + f" :client_id = {index}")
        # pgbench ends an SQL command at `;`, or at a \\gset that stores its row.
        out += [s if "\\gset" in s else s + ";" for s in statements]
    out += ["\\endif", "COMMIT;"]
    return "\n".join(out) + "\n", count


def _reference_base() -> int:
    """Receipt references above every earlier run's (they are unique)."""
    from django.db.models import Max

    from counter.models import Payment

    top = Payment.objects.filter(reference__startswith="8").aggregate(top=Max("reference"))["top"]
    return max(800_000_000_000, (int(top or 0) // 1_000_000_000 + 1) * 1_000_000_000)


def run_pgbench(
    *,
    clients: int,
    seconds: float = 0,
    transactions: int = 0,
    database: str = "",
    **script: Any,
) -> dict:
    """Build the script on Django's database and run pgbench on it (for seconds or a count)."""
    from django.db import connection

    params = connection.settings_dict
    script_text, statements = build_script(clients, **script)
    from django.db import connections

    refbase = _reference_base()
    connections.close_all()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "payment.sql"
        path.write_text(script_text)
        argv = [
            "pgbench",
            "-h",
            params["HOST"] or "127.0.0.1",
            "-p",
            str(params["PORT"] or 5432),
            "-U",
            params["USER"] or "postgres",
            "-n",
            "-M",
            "simple",
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 2)),
            *(["-t", str(transactions)] if transactions else ["-T", str(int(seconds))]),
            "-D",
            f"run={secrets.token_hex(4)}",
            "-D",
            "n=0",
            "-D",
            f"refbase={refbase}",
            "-f",
            str(path),
            database or params["NAME"],
        ]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{done.stderr}\n--- script ---\n{script_text}")
    tps = float(re.search(r"tps = ([0-9.]+)", done.stdout).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", done.stdout)
    return {
        "tps": tps,
        "clients": clients,
        "statements": statements,
        "latency_ms": float(latency.group(1)) if latency else None,
        "script": script_text,
        "output": done.stdout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--show-script", action="store_true")
    args = parser.parse_args()
    _django()
    result = run_pgbench(clients=args.clients, seconds=args.seconds)
    if args.show_script:
        print(result["script"])
    print(
        f"pgbench: {result['tps']:.0f} payments/s, {result['statements']} statements each, "
        f"{result['clients']} clients, latency average {result['latency_ms']} ms"
    )


if __name__ == "__main__":
    main()
