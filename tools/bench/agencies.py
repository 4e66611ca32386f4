"""What the agencies' systems cost a counter: inquiries, and a payment's way to the agency.

`make bench-agencies` (PostgreSQL, a fresh database): the agency simulator as its own
process, then

(a) ``--inquiries`` bill inquiries through ``adapter_for(...).inquire``, one after the
    other, p50/p95/max of each call as the counter's agent waits for it;
(b) ``--payments`` cash payments of an integrated service posted at ``--rate`` a second
    with ``manage.py agency_worker`` running as a process of its own; the time from
    each notification's ``created_at`` (the payment's time, in its transaction) to its
    ``acknowledged_at``, p50/p95/max, and the time for the whole run to drain.

``integrated_world`` and ``simulator_bill`` are shared with the outbox's tests (the
fault run), which need the same world: a branch with an open till and a service whose
agency has a system of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AGENCY_CODE = "ELEC"
SERVICE_CODE = "EL-201"
COMMISSION = 200


@dataclass(frozen=True)
class World:
    agent: Any
    supervisor: Any
    service: Any


def integrated_world(*, agency_code: str = AGENCY_CODE, prefix: str = "ag") -> World:
    """A branch with an agent's till open (100,000.00 EGP of float), and an integrated bill.

    The service is paid without an inquiry (``inquire_first`` off): the agent types the
    account and the bill number from the paper bill, and the amount.
    """
    import datetime

    from django.contrib.auth import get_user_model

    from agencies.models import Integration
    from agents.governorates import GOVERNORATES
    from agents.models import Branch, Counter, Governorate, Profile, Role
    from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service
    from float_management import services as money

    code, name_ar, name_en = GOVERNORATES[0]
    governorate, _ = Governorate.objects.get_or_create(
        code=code, defaults={"name_ar": name_ar, "name_en": name_en}
    )
    branch = Branch.objects.create(
        code=f"{prefix.upper()[:2]}001",
        name_ar="مكتب بريد الفواتير",
        name_en="Bills post office",
        governorate=governorate,
        till_cash_limit=10**12,
    )
    counter = Counter.objects.create(branch=branch, number=1)

    def person(username: str, role: str) -> Any:
        user = get_user_model().objects.create_user(username=f"{prefix}_{username}")
        Profile.objects.create(user=user, role=role, branch=branch)
        return user

    agent = person("agent", Role.AGENT)
    supervisor = person("supervisor", Role.BRANCH_SUPERVISOR)
    money.vault_move_confirm(
        witness=agent,
        movement=money.vault_move(
            branch=branch,
            direction="in",
            amount=10**9,
            handled_by=supervisor,
            witnessed_by=agent,
            idempotency_key=uuid.uuid4().hex,
        ),
    )
    session = money.till_session_request_open(
        agent=agent, counter=counter, amount=10_000_000, idempotency_key=uuid.uuid4().hex
    )
    money.request_decide(request=session.requests.get(), supervisor=supervisor, approve=True)

    agency, _ = Agency.objects.get_or_create(
        code=agency_code, defaults={"name_ar": "شركة الكهرباء", "name_en": "Electricity company"}
    )
    service = Service.objects.create(
        code=SERVICE_CODE,
        agency=agency,
        budget_item="7/1/2",
        amount_kind="variable",
        min_amount=100,
        max_amount=10_000_000,
        requires_citizen=False,
        name_ar="فاتورة كهرباء",
        name_en="Electricity bill",
    )
    schedule = FeeSchedule.objects.create(service=service, effective_from=datetime.date(2020, 1, 1))
    for position, (kind, amount) in enumerate([("principal", None), ("commission", COMMISSION)]):
        FeeComponent.objects.create(
            schedule=schedule,
            code=kind,
            kind=kind,
            amount=amount,
            position=position,
            name_ar=kind,
            name_en=kind,
        )
    for position, (field, pattern) in enumerate(
        [("account", r"^[0-9]{6,20}$"), ("bill", r"^[0-9]{6,20}-[0-9]{1,2}$")]
    ):
        ReferenceField.objects.create(
            service=service,
            code=field,
            label_ar=field,
            label_en=field,
            pattern=pattern,
            position=position,
        )
    Integration.objects.create(service=service, inquire_first=False, reference_field="account")
    return World(agent=agent, supervisor=supervisor, service=service)


def simulator_bill(n: int) -> tuple[str, str, int]:
    """The n-th account of the agency simulator with one bill: (account, bill id, amount).

    The simulator's accounts follow from the number (simulators/agency.py): a last digit
    of 3, 6 or 9 gives one bill, of 1000 + account % 9000 piastres.
    """
    account = f"{4 * 10**11 + n * 10 + (3, 6, 9)[n % 3]:012d}"
    return account, f"{account}-1", 1000 + int(account) % 9000


def pay(world: World, n: int) -> Any:
    """Cash for the simulator's n-th one-bill account."""
    from counter.services.payments import payment_post_cash

    account, bill, amount = simulator_bill(n)
    return payment_post_cash(
        agent=world.agent,
        service=world.service,
        citizen=None,
        amount=amount,
        references={"account": account, "bill": bill},
        tendered=amount + COMMISSION,
        idempotency_key=uuid.uuid4().hex,
    )


def systems(url: str, **options: Any) -> dict[str, Any]:
    """AGENCY_SYSTEMS naming the simulator at ``url`` for AGENCY_CODE."""
    return {AGENCY_CODE: {"url": url, **options}}


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "no values"
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"
        f" (n={len(ordered)})"
    )


def worker(env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    """``manage.py agency_worker`` as a process of its own, its output in ``log``."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "agency_worker", *extra],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _inquiries(count: int) -> list[float]:
    from agencies.adapters import adapter_for

    adapter = adapter_for(AGENCY_CODE)
    timings = []
    for n in range(count):
        account, _bill, _amount = simulator_bill(n)
        started = time.perf_counter()
        adapter.inquire(SERVICE_CODE, account)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _payments(world: World, count: int, rate: float, env: dict[str, str], log: Path) -> None:
    from agencies.models import Notification, NotificationStatus

    process = worker(env, log, "--interval", "1")
    try:
        up = time.monotonic() + 60
        while b"started" not in (log.read_bytes() if log.exists() else b""):
            if time.monotonic() > up or process.poll() is not None:
                raise SystemExit(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
        started = time.monotonic()
        for n in range(count):
            pay(world, n)
            lag = started + (n + 1) / rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        posted = time.monotonic() - started
        deadline = time.monotonic() + 120
        waiting = Notification.objects.exclude(status=NotificationStatus.ACKNOWLEDGED)
        while waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        drained = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    rows = Notification.objects.filter(status=NotificationStatus.ACKNOWLEDGED)
    delays = [
        (row.acknowledged_at - row.created_at).total_seconds() * 1000
        for row in rows.only("created_at", "acknowledged_at")
    ]
    print(f"(b) {count} payments posted in {posted:.1f} s (asked {rate:g}/s)")
    print(f"    {rows.count()} acknowledged, drained {drained:.1f} s after the first")
    print(f"    commit -> acknowledgement: {percentiles(delays)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inquiries", type=int, default=500)
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="payments a second")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench-agencies runs on PostgreSQL: set DATABASE_URL (make does)")

    import tempfile

    from simulators.testing import start

    with (
        tempfile.TemporaryDirectory() as folder,
        start("agency", agency=AGENCY_CODE, state=str(Path(folder) / "agency.json")) as simulator,
    ):
        options = {"timeout": 5.0, "inquiry_ceiling": 10.0}
        os.environ["AGENCY_SYSTEMS_JSON"] = json.dumps(systems(simulator.url, **options))
        import django

        django.setup()
        from django.db import connection

        from agencies.models import Notification

        if Notification.objects.exists():
            raise SystemExit(f"{connection.settings_dict['NAME']} is not fresh: make re-creates it")
        world = integrated_world()
        print(f"agency simulator at {simulator.url}; database {connection.settings_dict['NAME']}")
        _inquiries(20)  # warm up: the first connections, the imports
        print(f"(a) inquiries: {percentiles(_inquiries(args.inquiries))}")
        log = Path(folder) / "worker.log"
        _payments(world, args.payments, args.rate, dict(os.environ), log)
        print(f"    simulator: {simulator.get('/v1/stats').json()}")


if __name__ == "__main__":
    main()
