"""A national-scale network for load tests: thousands of branches, every till open, past days paid.

`national_seed` writes, in one transaction, what the services would have
written for a whole country: branches spread over the governorates, their
counters and people, the catalog, vaults stocked from the bank, an open till
at every counter with its approved opening float and, optionally, N past
days of cash payments at every counter, each day's till counted and closed
back into the vault. Rows go in with bulk inserts (COPY on PostgreSQL,
bulk_create elsewhere) with ids reserved up front; balances are set at the
end from sums kept in Python (one UPDATE per account that moved, batched
into a few statements on PostgreSQL), so `ledger_verify` passes.

Nothing is switched off: constraints, foreign keys (checked row by row as
rows go in, which is most of the time a big history takes) and the ledger's
immutability triggers (which refuse only UPDATE and DELETE) all stay on.
The tables being filled are locked until the commit: seed a database that
nobody else is writing to.

Names and amounts come from a fixed random seed, so two runs with the same
options build the same network. A run on a database that already holds the
network refuses and writes nothing.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, models, transaction
from django.utils import timezone

from agents.demo import DemoContext
from agents.management.commands.seed_demo import DEFAULT_PASSWORD
from agents.models import Branch, Counter, Governorate, Profile, Role
from core.clock import local_day, zone
from core.errors import InvalidAmount, InvalidState
from counter.checkdigit import luhn_digit
from counter.demo_catalog import seed_catalog
from counter.models import Citizen, FeeComponent, Payment, PaymentLine, ReferenceField, Service
from counter.services.catalog import (
    component_account_key,
    component_agency_id,
    quote_lines,
    service_quote,
)
from float_management.models import (
    Account,
    AccountKind,
    CashCount,
    CashCountLine,
    Decision,
    Denomination,
    Entry,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
    TransferKind,
    VaultMovement,
)

RANDOM_SEED = 2026
USERNAME_PREFIX = "n."

# Rough population in millions: bigger governorates get more branches.
GOVERNORATE_WEIGHTS = {
    "01": 10.2,
    "02": 5.5,
    "03": 0.8,
    "04": 0.8,
    "11": 1.6,
    "12": 7.0,
    "13": 7.8,
    "14": 6.0,
    "15": 3.6,
    "16": 5.3,
    "17": 4.6,
    "18": 6.8,
    "19": 1.4,
    "21": 9.3,
    "22": 3.5,
    "23": 4.0,
    "24": 6.1,
    "25": 4.8,
    "26": 5.5,
    "27": 3.6,
    "28": 1.6,
    "29": 1.4,
    "31": 0.4,
    "32": 0.3,
    "33": 0.5,
    "34": 0.5,
    "35": 0.2,
}

BANK_IN = 50_000_000  # piastres into every vault: far more than a day's floats
OPENING_FLOATS = (100_000, 200_000, 300_000, 500_000)
# How often each service is sold, relative to one another (unknown codes: 1).
SERVICE_WEIGHTS = {
    "EL-201": 30,
    "MF-301": 10,
    "LA-106": 12,
    "LA-101": 8,
    "LA-104": 6,
    "LA-103": 5,
    "LA-107": 6,
    "LA-109": 4,
    "LA-102": 3,
    "LA-105": 3,
    "LA-108": 2,
}
# The usual range of a typed amount due, in EGP, within the service's own bounds.
TYPICAL_AMOUNTS = {
    "EL-201": (40, 1_500),
    "MF-301": (100, 5_000),
    "LA-107": (200, 3_000),
    "LA-109": (100, 2_000),
}
COIN = 25  # piastres: amounts are whole coins, so every till counts out exactly
CITIZENS_PER_BRANCH = 20
PAYMENTS_PER_CHUNK = 100_000
DAY_OPENS, DAY_CLOSES = clock(8, 0), clock(16, 0)


class NationalNetworkExists(Exception):
    """The database already holds (part of) the national network."""


class NationalSeedError(Exception):
    """The options or the database do not allow seeding."""


@dataclass(frozen=True)
class NationalOptions:
    branches: int = 4_500
    counters: int = 10_000
    history_days: int = 0
    payments_per_counter_day: int = 60
    password: str = DEFAULT_PASSWORD
    # None: COPY on PostgreSQL, bulk_create elsewhere.
    use_copy: bool | None = None


@dataclass
class Stage:
    name: str
    seconds: float
    rows: dict[str, int]


@dataclass
class NationalReport:
    stages: list[Stage] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    write_seconds: dict[str, float] = field(default_factory=dict)
    method: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)


# --- Writing rows ------------------------------------------------------------------------------


class _Writer:
    """Reserves ids and writes rows, by COPY on PostgreSQL or by bulk_create."""

    def __init__(self, *, use_copy: bool) -> None:
        self.use_copy = use_copy
        self.postgres = connection.vendor == "postgresql"
        self.rows: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, str] = {}

    def ids(self, model: type[models.Model], n: int) -> int:
        """The first of `n` consecutive free ids of `model` (ours until the transaction ends)."""
        table = model._meta.db_table
        if n <= 0:
            return 0
        with connection.cursor() as cursor:
            if self.postgres:
                if table not in self._sequences:
                    # Inserts take ROW EXCLUSIVE before drawing an id, so while we hold this
                    # lock no one else can draw from the sequence inside our ranges.
                    cursor.execute(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE')
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                    self._sequences[table] = cursor.fetchone()[0]
                sequence = self._sequences[table]
                cursor.execute("SELECT nextval(%s)", [sequence])
                first = cursor.fetchone()[0]
                cursor.execute("SELECT setval(%s, %s)", [sequence, first + n - 1])
                return first
            # SQLite: the transaction holds the database's write lock from its start.
            if table not in self._next_id:
                cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
                top = cursor.fetchone()[0]
                if connection.vendor == "sqlite":
                    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                    row = cursor.fetchone()
                    top = max(top, row[0] if row else 0)
                self._next_id[table] = top + 1
            first = self._next_id[table]
            self._next_id[table] += n
            return first

    def write(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        """Insert `rows`, tuples of `fields` (attnames; leave out "id" to let the database pick)."""
        if not rows:
            return
        self.rows[model._meta.label] += len(rows)
        started = time.perf_counter()
        if self.use_copy:
            self._copy(model, fields, rows)
        else:
            model.objects.bulk_create(
                [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=2_000
            )
        self.seconds[model._meta.label] += time.perf_counter() - started

    def update(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        """Set `fields[1:]` of the rows whose id is the first value of each tuple."""
        if not rows:
            return
        self.rows[f"{model._meta.label} (updated)"] += len(rows)
        meta = model._meta
        table = meta.db_table
        columns = [meta.get_field(name).column for name in fields]
        with connection.cursor() as cursor:
            if not self.postgres:
                assignments = ", ".join(f'"{c}" = %s' for c in columns[1:])
                cursor.executemany(
                    f'UPDATE "{table}" SET {assignments} WHERE "{columns[0]}" = %s',
                    [(*row[1:], row[0]) for row in rows],
                )
                return
            assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns[1:])
            names = ", ".join(f'"{c}"' for c in columns)
            for start in range(0, len(rows), 5_000):
                batch = rows[start : start + 5_000]
                values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(batch))
                cursor.execute(
                    f'UPDATE "{table}" AS t SET {assignments} FROM (VALUES {values}) '
                    f'AS v({names}) WHERE t."{columns[0]}" = v."{columns[0]}"',
                    [x for row in batch for x in row],
                )

    def _copy(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        meta = model._meta
        columns = [meta.get_field(name).column for name in fields]
        as_json = [
            i for i, name in enumerate(fields) if isinstance(meta.get_field(name), models.JSONField)
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f'COPY "{meta.db_table}" ({names}) FROM STDIN') as copy:
                if as_json:
                    for row in rows:
                        row = list(row)
                        for i in as_json:
                            row[i] = json.dumps(row[i], ensure_ascii=False)
                        copy.write_row(row)
                else:
                    for row in rows:
                        copy.write_row(row)


# --- What the network looks like -----------------------------------------------------------------


def _spread(total: int, weights: dict[str, float], *, at_least: int) -> dict[str, int]:
    """`total` split in proportion to `weights` (largest remainders), each at least `at_least`."""
    keys = sorted(weights)
    floor = at_least if total >= at_least * len(keys) else 0
    rest = total - floor * len(keys)
    scale = sum(weights.values())
    exact = {k: rest * weights[k] / scale for k in keys}
    shares = {k: floor + int(exact[k]) for k in keys}
    left = total - sum(shares.values())
    for k in sorted(keys, key=lambda k: exact[k] - int(exact[k]), reverse=True)[:left]:
        shares[k] += 1
    return shares


def _cairo(day: date, at: clock) -> datetime:
    return datetime.combine(day, at, tzinfo=zone())


def _reference_value(code: str, rng: random.Random, year: int) -> str:
    """A plausible value of a reference field (the demo catalog's codes; digits otherwise)."""
    if code == "licence_no":
        return f"{rng.randint(1, 99_999)}/{rng.randint(2010, year)}"
    if code in ("bill_no", "dues_ref"):
        return f"{rng.randint(10**11, 10**12 - 1)}"
    return f"{rng.randint(10**7, 10**8 - 1)}"


@dataclass
class _Menu:
    """A service as the counter sells it on a day: the components in force, where each goes."""

    service: Service
    schedule_id: int
    # The schedule's components, in the order the counter's quote gives them.
    components: list[FeeComponent]
    # component id → (account slot, agency credited or None for commission)
    credit: dict[int, tuple[int, int | None]]
    # The typed amount due, in coins (variable services only).
    amount_range: tuple[int, int] | None
    refs: list[str]


@dataclass
class _CounterDay:
    counter_pk: int
    branch_pk: int
    branch_index: int
    agent_pk: int
    supervisor_pk: int
    number: int
    branch_code: str
    float_amount: int = 0
    session_pk: int = 0
    account_pk: int = 0
    cash: int = 0


class _Seeder:
    def __init__(self, options: NationalOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        use_copy = options.use_copy
        if use_copy is None:
            use_copy = connection.vendor == "postgresql"
        if use_copy and connection.vendor != "postgresql":
            raise NationalSeedError("COPY needs PostgreSQL; leave it off on this database.")
        self.writer = _Writer(use_copy=use_copy)
        self.rng = random.Random(RANDOM_SEED)
        self.report = NationalReport(method="COPY" if use_copy else "bulk_create")
        self.now = timezone.now()
        self.balance_delta: dict[int, int] = defaultdict(int)

    # -- stages ---------------------------------------------------------------------------

    def stage(self, name: str, work: Callable[[], None]) -> None:
        before = dict(self.writer.rows)
        started = time.perf_counter()
        work()
        rows = {
            label: n - before.get(label, 0)
            for label, n in self.writer.rows.items()
            if n != before.get(label, 0)
        }
        self.record(name, time.perf_counter() - started, rows)

    def record(self, name: str, seconds: float, rows: dict[str, int] | None = None) -> None:
        rows = rows or {}
        self.report.stages.append(Stage(name, seconds, rows))
        written = ", ".join(f"{n:,} {label.split('.')[-1]}" for label, n in rows.items())
        self.say(f"{name:<24} {seconds:8.1f} s  {written}")

    def check(self) -> None:
        options = self.options
        if options.branches < 1 or options.counters < options.branches:
            raise NationalSeedError("Every branch needs a counter: --counters ≥ --branches ≥ 1.")
        if options.history_days < 0 or options.payments_per_counter_day < 0:
            raise NationalSeedError("--history-days and --payments-per-counter-day are ≥ 0.")
        self.governorates = list(Governorate.objects.filter(abroad=False).order_by("code"))
        if not self.governorates:
            raise NationalSeedError("No governorates: run the migrations first.")
        per_governorate = _spread(
            options.branches,
            {g.code: GOVERNORATE_WEIGHTS.get(g.code, 1.0) for g in self.governorates},
            at_least=1,
        )
        if max(per_governorate.values()) > 9_999:
            raise NationalSeedError("At most 9,999 branches per governorate (codes GGnnnn).")
        self.branch_specs = [
            (governorate, f"{governorate.code}{n:04d}", n)
            for governorate in self.governorates
            for n in range(1, per_governorate[governorate.code] + 1)
        ]
        codes = [code for _governorate, code, _n in self.branch_specs]
        taken = 0
        for start in range(0, len(codes), 5_000):
            taken += Branch.objects.filter(code__in=codes[start : start + 5_000]).count()
        users = get_user_model().objects.filter(username__startswith=USERNAME_PREFIX).count()
        if taken or users:
            raise NationalNetworkExists(
                f"The national network already exists in this database: {taken:,} of its "
                f"branches (codes like {codes[0]}) and {users:,} of its users (usernames "
                f"starting {USERNAME_PREFIX!r}). Nothing was written. Seed an empty database "
                "(migrated, governorates loaded), or drop this one first."
            )

    def catalog(self) -> None:
        seed_catalog(DemoContext(password=self.options.password))
        self.services = list(
            Service.objects.filter(is_active=True, agency__is_active=True)
            .select_related("agency")
            .order_by("code")
        )
        self.schedules = {
            s.pk: sorted(s.schedules.all(), key=lambda sch: sch.effective_from)
            for s in self.services
        }
        self.components = defaultdict(list)
        for component in (
            FeeComponent.objects.filter(schedule__service__in=self.services)
            .select_related("agency", "schedule")
            .order_by("position", "pk")
        ):
            self.components[component.schedule_id].append(component)
        self.refs = defaultdict(list)
        for ref in ReferenceField.objects.filter(service__in=self.services, required=True):
            self.refs[ref.service_id].append(ref)
        # A service whose reference fields we can't fill in plausibly is not sold here.
        sample = random.Random(0)
        for service in list(self.services):
            for ref in self.refs[service.pk]:
                value = _reference_value(ref.code, sample, 2026)
                if not re.fullmatch(ref.pattern, value):
                    self.services.remove(service)
                    self.report.notes.append(
                        f"{service.code} left out: no plausible value for its {ref.code}."
                    )
                    break

    def network(self) -> None:
        options, rng, w = self.options, self.rng, self.writer
        User = get_user_model()
        encoded = DemoContext(password=options.password).encoded_password()

        # Branches.
        first = w.ids(Branch, len(self.branch_specs))
        self.branches: list[Branch] = []
        rows = []
        for i, (governorate, code, n) in enumerate(self.branch_specs):
            branch = Branch(
                pk=first + i,
                code=code,
                governorate=governorate,
                name_ar=f"مكتب بريد {governorate.name_ar} {n}",
                name_en=f"{governorate.name_en} Post Office {n}",
            )
            self.branches.append(branch)
            rows.append((branch.pk, code, governorate.pk, branch.name_ar, branch.name_en))
        w.write(
            Branch,
            ["id", "code", "governorate_id", "name_ar", "name_en", "till_cash_limit", "is_active"],
            [(*row, 5_000_000, True) for row in rows],
        )

        # Counters: one each, the rest spread at random over the branches.
        per_branch = [1] * len(self.branches)
        for i in rng.choices(range(len(self.branches)), k=options.counters - len(self.branches)):
            per_branch[i] += 1
        first = w.ids(Counter, options.counters)
        self.counters: list[tuple[int, int, int]] = []  # (counter pk, branch index, number)
        for i, n in enumerate(per_branch):
            for number in range(1, n + 1):
                self.counters.append((first + len(self.counters), i, number))
        w.write(
            Counter,
            ["id", "branch_id", "number", "is_active"],
            [(pk, self.branches[i].pk, number, True) for pk, i, number in self.counters],
        )

        # People: an agent per counter, a supervisor per branch, a regional supervisor per
        # governorate, head office and an auditor. One password hash for all of them.
        people: list[tuple[str, Role, Branch | None, Governorate | None, bool]] = []
        for _pk, i, number in self.counters:
            code = self.branches[i].code
            people.append((f"n.agent.{code}.{number}", Role.AGENT, self.branches[i], None, False))
        for branch in self.branches:
            people.append((f"n.sup.{branch.code}", Role.BRANCH_SUPERVISOR, branch, None, False))
        for governorate in self.governorates:
            people.append(
                (f"n.reg.{governorate.code}", Role.REGIONAL_SUPERVISOR, None, governorate, False)
            )
        people.append(("n.headoffice", Role.HEAD_OFFICE, None, None, True))
        people.append(("n.auditor", Role.AUDITOR, None, None, True))
        first = w.ids(User, len(people))
        namer = DemoContext(password="")
        users, profiles = [], []
        self.user_pk: dict[str, int] = {}
        for i, (username, role, branch, governorate, staff) in enumerate(people):
            pk = first + i
            first_name, last_name = namer.next_name()
            superuser = username == "n.headoffice"
            users.append(
                (pk, encoded, superuser, username, first_name, last_name, "", staff, True, self.now)
            )
            profiles.append(
                (
                    pk,
                    role.value,
                    branch.pk if branch else None,
                    governorate.pk if governorate else None,
                )
            )
            self.user_pk[username] = pk
        w.write(
            User,
            [
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ],
            users,
        )
        w.write(Profile, ["user_id", "role", "branch_id", "governorate_id"], profiles)
        # The auditor reads everything in the admin and changes nothing (as in seed_demo).
        auditor = User.objects.get(pk=self.user_pk["n.auditor"])
        auditor.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))

        self.agent_of = [
            self.user_pk[f"n.agent.{self.branches[i].code}.{number}"]
            for _pk, i, number in self.counters
        ]
        self.supervisor_of = [self.user_pk[f"n.sup.{b.code}"] for b in self.branches]

    def citizens(self) -> None:
        """A few citizens registered at every branch, born in its governorate."""
        w, rng = self.writer, self.rng
        n = CITIZENS_PER_BRANCH * len(self.branches)
        first = w.ids(Citizen, n)
        self.citizens_of: list[list[int]] = [[] for _ in self.branches]
        first_agent = {}
        for k, (_pk, i, _number) in enumerate(self.counters):
            first_agent.setdefault(i, self.agent_of[k])
        namer = DemoContext(password="")
        seen: set[str] = set()
        rows = []
        pk = first
        verified = self.now - timedelta(days=400)
        for i, branch in enumerate(self.branches):
            for _ in range(CITIZENS_PER_BRANCH):
                while True:
                    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
                    sex = rng.choice("MF")
                    serial = rng.randrange(1_000) * 10 + rng.choice(
                        (1, 3, 5, 7, 9) if sex == "M" else (0, 2, 4, 6, 8)
                    )
                    number = (
                        f"2{born:%y%m%d}{branch.governorate.code}{serial:04d}{rng.randrange(10)}"
                    )
                    if number not in seen and not self._citizen_exists(number):
                        seen.add(number)
                        break
                given, family = namer.next_name()
                father, _ = namer.next_name()
                mobile = f"+2010{rng.randrange(10**8):08d}"
                rows.append(
                    (
                        pk,
                        number,
                        born,
                        branch.governorate_id,
                        sex,
                        f"{given} {father} {family}",
                        "",
                        mobile,
                        verified,
                        verified,
                        first_agent[i],
                        verified,
                        branch.pk,
                    )
                )
                self.citizens_of[i].append(pk)
                pk += 1
        w.write(
            Citizen,
            [
                "id",
                "national_id",
                "birth_date",
                "governorate_id",
                "sex",
                "name_ar",
                "name_en",
                "mobile",
                "mobile_verified_at",
                "consent_at",
                "registered_by_id",
                "registered_at",
                "registered_branch_id",
            ],
            rows,
        )

    def _citizen_exists(self, number: str) -> bool:
        # Born 1950-1999, as seeded here: the only IDs that can clash. One query, then a set.
        if not hasattr(self, "_existing_ids"):
            self._existing_ids = set(
                Citizen.objects.filter(national_id__regex=r"^2[5-9]").values_list(
                    "national_id", flat=True
                )
            )
        return number in self._existing_ids

    def accounts(self) -> None:
        """Vault and transit per branch, and per branch an account for every fee component."""
        w = self.writer
        wanted: list[tuple[str, str, int]] = []  # (kind, key, branch pk)
        for branch in self.branches:
            wanted.append((AccountKind.VAULT, f"vault:{branch.code}", branch.pk))
            wanted.append((AccountKind.TRANSIT, f"transit:{branch.code}", branch.pk))
        # Component accounts, named by the counter's own component_account_key. Components
        # that share an account at the first branch share a slot; every branch has its own
        # account per slot (component accounts are kept per branch).
        slots: dict[tuple[str, str], int] = {}
        holders: list[tuple[FeeComponent, Service]] = []  # a component of each slot
        self.slot_of_component: dict[int, int] = {}
        for service in self.services:
            for schedule in self.schedules[service.pk]:
                for component in self.components[schedule.pk]:
                    named = component_account_key(component, service, self.branches[0])
                    if named not in slots:
                        slots[named] = len(slots)
                        holders.append((component, service))
                    self.slot_of_component[component.pk] = slots[named]
        # slot_keys[branch index][slot] → (kind, key)
        slot_keys = [
            [component_account_key(component, service, branch) for component, service in holders]
            for branch in self.branches
        ]
        for branch, keys in zip(self.branches, slot_keys, strict=True):
            for kind, key in keys:
                wanted.append((kind, key, branch.pk))

        existing: dict[str, int] = {}
        keys = [key for _kind, key, _branch in wanted]
        for start in range(0, len(keys), 5_000):
            existing.update(
                Account.objects.filter(key__in=keys[start : start + 5_000]).values_list("key", "pk")
            )
        missing = [row for row in wanted if row[1] not in existing]
        first = w.ids(Account, len(missing))
        w.write(
            Account,
            ["id", "kind", "key", "branch_id", "balance", "created_at"],
            [
                (first + i, kind, key, branch, 0, self.now)
                for i, (kind, key, branch) in enumerate(missing)
            ],
        )
        pk_of = {**existing, **{row[1]: first + i for i, row in enumerate(missing)}}
        self.vault = [pk_of[f"vault:{b.code}"] for b in self.branches]
        self.transit = [pk_of[f"transit:{b.code}"] for b in self.branches]
        # slot_accounts[branch index][slot] → account pk
        self.slot_accounts = [[pk_of[key] for _kind, key in keys] for keys in slot_keys]

    def vaults(self) -> None:
        """Cash from the bank into every vault, handled by the supervisor, witnessed by an agent."""
        w = self.writer
        first = w.ids(Transfer, len(self.branches))
        first_day = local_day(self.now) - timedelta(days=self.options.history_days + 1)
        at = _cairo(first_day, clock(15, 0))  # the afternoon before the first till opens
        witness = {}
        for k, (_pk, i, _number) in enumerate(self.counters):
            witness.setdefault(i, self.agent_of[k])
        transfers, entries, movements = [], [], []
        for i, branch in enumerate(self.branches):
            pk = first + i
            supervisor = self.supervisor_of[i]
            transfers.append((pk, TransferKind.BANK_IN, branch.pk, "", supervisor, at, None))
            entries += [(pk, self.vault[i], BANK_IN), (pk, self.transit[i], -BANK_IN)]
            movements.append((branch.pk, "in", BANK_IN, supervisor, witness[i], pk, at, at))
            self.balance_delta[self.vault[i]] += BANK_IN
            self.balance_delta[self.transit[i]] -= BANK_IN
        self._write_transfers(transfers, entries)
        w.write(
            VaultMovement,
            [
                "branch_id",
                "direction",
                "amount",
                "handled_by_id",
                "witnessed_by_id",
                "transfer_id",
                "created_at",
                "confirmed_at",
            ],
            movements,
        )

    # -- a till's day ------------------------------------------------------------------

    def _counter_days(self) -> list[_CounterDay]:
        return [
            _CounterDay(
                counter_pk=pk,
                branch_pk=self.branches[i].pk,
                branch_index=i,
                agent_pk=self.agent_of[k],
                supervisor_pk=self.supervisor_of[i],
                number=number,
                branch_code=self.branches[i].code,
                float_amount=self.rng.choice(OPENING_FLOATS),
            )
            for k, (pk, i, number) in enumerate(self.counters)
        ]

    def _open_tills(self, days: list[_CounterDay], *, at: datetime, keep_float: bool) -> None:
        """Till accounts, sessions, opening-float requests, their approvals and float issues."""
        w, n = self.writer, len(days)
        first_account, first_session = w.ids(Account, n), w.ids(TillSession, n)
        first_request, first_transfer = w.ids(Request, n), w.ids(Transfer, n)
        accounts, sessions, requests, decisions, transfers, entries = [], [], [], [], [], []
        for k, cd in enumerate(days):
            cd.account_pk, cd.session_pk = first_account + k, first_session + k
            cd.cash = cd.float_amount
            request_pk, transfer_pk = first_request + k, first_transfer + k
            asked = at + timedelta(seconds=self.rng.randrange(600))
            decided = asked + timedelta(seconds=30 + self.rng.randrange(300))
            key = f"till:{cd.branch_code}:{cd.number}:n{cd.session_pk}"
            # Today's till keeps its float; a past day's till is emptied back into the vault.
            accounts.append(
                (
                    cd.account_pk,
                    AccountKind.TILL,
                    key,
                    cd.branch_pk,
                    cd.float_amount if keep_float else 0,
                    asked,
                )
            )
            sessions.append(
                (
                    cd.session_pk,
                    cd.counter_pk,
                    cd.branch_pk,
                    cd.agent_pk,
                    cd.account_pk,
                    SessionStatus.OPEN,
                    asked,
                    decided,
                )
            )
            requests.append(
                (
                    request_pk,
                    RequestKind.OPENING_FLOAT,
                    cd.branch_pk,
                    cd.session_pk,
                    cd.float_amount,
                    "",
                    None,
                    cd.agent_pk,
                    asked,
                )
            )
            decisions.append(
                (request_pk, True, "", cd.agent_pk, cd.supervisor_pk, decided, transfer_pk)
            )
            transfers.append(
                (
                    transfer_pk,
                    TransferKind.FLOAT_ISSUE,
                    cd.branch_pk,
                    f"Opening float #{request_pk}",
                    cd.supervisor_pk,
                    decided,
                    None,
                )
            )
            entries += [
                (transfer_pk, cd.account_pk, cd.float_amount),
                (transfer_pk, self.vault[cd.branch_index], -cd.float_amount),
            ]
            self.balance_delta[self.vault[cd.branch_index]] -= cd.float_amount
        w.write(Account, ["id", "kind", "key", "branch_id", "balance", "created_at"], accounts)
        w.write(
            TillSession,
            [
                "id",
                "counter_id",
                "branch_id",
                "agent_id",
                "account_id",
                "status",
                "requested_at",
                "opened_at",
            ],
            sessions,
        )
        self._write_requests(requests)
        self._write_transfers(transfers, entries)
        self._write_decisions(decisions)

    def _close_tills(
        self, days: list[_CounterDay], *, at: datetime, denominations: list[tuple[int, int]]
    ) -> None:
        """The agent's count (exactly the expected cash), its sign-off and the cash to the vault."""
        w, n = self.writer, len(days)
        first_count, first_request = w.ids(CashCount, n), w.ids(Request, n)
        first_transfer = w.ids(Transfer, n)
        sessions, counts, lines, requests, decisions, transfers, entries = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        for k, cd in enumerate(days):
            count_pk, request_pk, transfer_pk = (
                first_count + k,
                first_request + k,
                first_transfer + k,
            )
            counted = at + timedelta(seconds=self.rng.randrange(900))
            decided = counted + timedelta(seconds=60 + self.rng.randrange(600))
            sessions.append((cd.session_pk, SessionStatus.CLOSED, decided, cd.cash, cd.cash, 0))
            counts.append((count_pk, cd.session_pk, cd.agent_pk, counted, cd.cash))
            remaining = cd.cash
            count_lines = []
            for pk, value in denominations:
                quantity, remaining = divmod(remaining, value)
                if quantity:
                    count_lines.append((count_pk, pk, quantity))
            if remaining == 0:
                lines += count_lines
            requests.append(
                (
                    request_pk,
                    RequestKind.CLOSE,
                    cd.branch_pk,
                    cd.session_pk,
                    cd.cash,
                    "",
                    count_pk,
                    cd.agent_pk,
                    counted,
                )
            )
            decisions.append(
                (request_pk, True, "", cd.agent_pk, cd.supervisor_pk, decided, transfer_pk)
            )
            transfers.append(
                (
                    transfer_pk,
                    TransferKind.CLOSE_RETURN,
                    cd.branch_pk,
                    f"Close {cd.branch_code}-{cd.number}",
                    cd.supervisor_pk,
                    decided,
                    None,
                )
            )
            vault = self.vault[cd.branch_index]
            entries += [(transfer_pk, vault, cd.cash), (transfer_pk, cd.account_pk, -cd.cash)]
            self.balance_delta[vault] += cd.cash
        w.write(CashCount, ["id", "session_id", "counted_by_id", "counted_at", "total"], counts)
        w.write(CashCountLine, ["count_id", "denomination_id", "quantity"], lines)
        self._write_requests(requests)
        self._write_transfers(transfers, entries)
        self._write_decisions(decisions)
        w.update(
            TillSession, ["id", "status", "closed_at", "counted", "expected", "variance"], sessions
        )

    def _write_requests(self, rows: list[tuple]) -> None:
        self.writer.write(
            Request,
            [
                "id",
                "kind",
                "branch_id",
                "session_id",
                "amount",
                "reason",
                "subject_id",
                "requested_by_id",
                "requested_at",
            ],
            rows,
        )

    def _write_decisions(self, rows: list[tuple]) -> None:
        self.writer.write(
            Decision,
            [
                "request_id",
                "approved",
                "reason",
                "requested_by_id",
                "decided_by_id",
                "decided_at",
                "transfer_id",
            ],
            rows,
        )

    def _write_transfers(self, transfers: list[tuple], entries: list[tuple]) -> None:
        self.writer.write(
            Transfer,
            ["id", "kind", "branch_id", "memo", "created_by_id", "created_at", "reverses_id"],
            transfers,
        )
        self.writer.write(Entry, ["transfer_id", "account_id", "amount"], entries)

    # -- payments -------------------------------------------------------------------------

    def _menus(self, day: date) -> tuple[list[_Menu], list[int]]:
        """The services the counter sells on `day`, as its own quote has them, and their weights."""
        menus, weights = [], []
        for service in self.services:
            amount_range = None
            if service.amount_kind == Service.AmountKind.VARIABLE:
                low, high = TYPICAL_AMOUNTS.get(service.code, (1, 1_000))
                low = max(low * 100, service.min_amount)
                high = min(high * 100, service.max_amount)
                amount_range = (-(-low // COIN), high // COIN)
                if amount_range[0] > amount_range[1]:
                    continue
            try:
                # The schedule in force and its components, from the counter's own quote.
                quote = service_quote(
                    service=service,
                    amount=None if amount_range is None else amount_range[0] * COIN,
                    day=day,
                )
            except (InvalidState, InvalidAmount):
                continue  # the counter would not sell it on that day (no fees in force yet …)
            components = [component for component, _amount in quote.lines]
            credit = {}
            for component in components:
                credit[component.pk] = (
                    self.slot_of_component[component.pk],
                    component_agency_id(component, service),
                )
            menus.append(
                _Menu(
                    service=service,
                    schedule_id=quote.schedule.pk,
                    components=components,
                    credit=credit,
                    amount_range=amount_range,
                    refs=[ref.code for ref in self.refs[service.pk]],
                )
            )
            weights.append(SERVICE_WEIGHTS.get(service.code, 1))
        return menus, weights

    def _next_reference(self) -> str:
        while True:
            self.reference_seq += 1
            body = f"9{self.reference_seq:010d}"
            reference = body + luhn_digit(body)
            if reference not in self.references_taken:
                return reference

    def _pay(
        self, days: list[_CounterDay], day: date, menus: list[_Menu], weights: list[int]
    ) -> None:
        """`payments_per_counter_day` cash payments at each of `days`' tills, 8:00–16:00."""
        w, rng = self.writer, self.rng
        per = self.options.payments_per_counter_day
        n = per * len(days)
        if not n or not menus:
            return
        first_transfer, first_payment = w.ids(Transfer, n), w.ids(Payment, n)
        opens = _cairo(day, DAY_OPENS)
        span = (_cairo(day, DAY_CLOSES) - opens).total_seconds()
        cumulative = []
        total_weight = 0
        for weight in weights:
            total_weight += weight
            cumulative.append(total_weight)
        transfers, entries, payments, lines = [], [], [], []
        delta = self.balance_delta
        k = 0
        for cd in days:
            accounts = self.slot_accounts[cd.branch_index]
            citizens = self.citizens_of[cd.branch_index]
            for offset in sorted(rng.random() * span for _ in range(per)):
                menu = rng.choices(menus, cum_weights=cumulative)[0]
                service, code = menu.service, menu.service.code
                transfer_pk, payment_pk = first_transfer + k, first_payment + k
                k += 1
                at = opens + timedelta(seconds=offset)
                due = None if menu.amount_range is None else rng.randint(*menu.amount_range) * COIN
                total = 0
                # Priced by the counter's own rule, a pure function: no query per payment.
                for component, amount in quote_lines(
                    service=service, components=menu.components, amount=due
                ):
                    slot, agency_pk = menu.credit[component.pk]
                    total += amount
                    account = accounts[slot]
                    entries.append((transfer_pk, account, -amount))
                    lines.append((payment_pk, component.pk, amount, agency_pk, account, code))
                    delta[account] += amount  # credit-normal: the credit raises it
                entries.append((transfer_pk, cd.account_pk, total))
                cd.cash += total
                tendered = -(-total // 5_000) * 5_000 if rng.random() < 0.7 else total
                references = {code: _reference_value(code, rng, day.year) for code in menu.refs}
                transfers.append(
                    (
                        transfer_pk,
                        TransferKind.PAYMENT,
                        cd.branch_pk,
                        code,
                        cd.agent_pk,
                        at,
                        None,
                    )
                )
                payments.append(
                    (
                        payment_pk,
                        self._next_reference(),
                        cd.session_pk,
                        cd.branch_pk,
                        cd.agent_pk,
                        rng.choice(citizens) if service.requires_citizen else None,
                        service.pk,
                        menu.schedule_id,
                        Payment.Method.CASH,
                        total,
                        tendered,
                        tendered - total,
                        references,
                        transfer_pk,
                        at,
                    )
                )
        self._write_transfers(transfers, entries)
        w.write(
            Payment,
            [
                "id",
                "reference",
                "session_id",
                "branch_id",
                "agent_id",
                "citizen_id",
                "service_id",
                "schedule_id",
                "method",
                "total",
                "tendered",
                "change",
                "references",
                "transfer_id",
                "created_at",
            ],
            payments,
        )
        w.write(
            PaymentLine,
            ["payment_id", "component_id", "amount", "agency_id", "account_id", "service_code"],
            lines,
        )

    def history(self) -> None:
        """Each past day: tills opened at 7:45, paid at 8:00–16:00, counted and closed at 16:00."""
        options = self.options
        if not options.history_days:
            return
        today = local_day(self.now)
        expected = options.history_days * options.counters * options.payments_per_counter_day
        self.reference_seq = 0
        low, high = "9" + "0" * 10, f"9{expected + 1:010d}9"
        self.references_taken = set(
            Payment.objects.filter(reference__gte=low, reference__lte=high).values_list(
                "reference", flat=True
            )
        )
        denominations = list(
            Denomination.objects.filter(is_active=True)
            .order_by("-value", "-form")
            .values_list("pk", "value")
        )
        chunk = max(1, PAYMENTS_PER_CHUNK // max(1, options.payments_per_counter_day))
        for back in range(options.history_days, 0, -1):
            day = today - timedelta(days=back)
            started = time.perf_counter()
            days = self._counter_days()
            self._open_tills(days, at=_cairo(day, clock(7, 30)), keep_float=False)
            menus, weights = self._menus(day)
            for start in range(0, len(days), chunk):
                self._pay(days[start : start + chunk], day, menus, weights)
            self._close_tills(days, at=_cairo(day, DAY_CLOSES), denominations=denominations)
            self.say(f"  {day}  {time.perf_counter() - started:6.1f} s")

    def today(self) -> None:
        """An open till at every counter, its opening float approved a few minutes ago."""
        self._open_tills(
            self._counter_days(),
            at=self.now - timedelta(minutes=20),
            keep_float=True,
        )

    def balances(self) -> None:
        """One UPDATE per account that moved (batched into one statement on PostgreSQL)."""
        changed = [(pk, d) for pk, d in self.balance_delta.items() if d]
        table = Account._meta.db_table
        with connection.cursor() as cursor:
            if self.writer.postgres:
                for start in range(0, len(changed), 5_000):
                    batch = changed[start : start + 5_000]
                    values = ", ".join(["(%s, %s)"] * len(batch))
                    cursor.execute(
                        f'UPDATE "{table}" AS a SET balance = a.balance + v.delta '
                        f"FROM (VALUES {values}) AS v(id, delta) WHERE a.id = v.id",
                        [x for pair in batch for x in pair],
                    )
            else:
                cursor.executemany(
                    f'UPDATE "{table}" SET balance = balance + %s WHERE id = %s',
                    [(d, pk) for pk, d in changed],
                )
        self.writer.rows["balances updated"] += len(changed)


def national_seed(
    *, options: NationalOptions, say: Callable[[str], None] = lambda text: None
) -> NationalReport:
    """Build the national network (and its history) in one transaction; see the module doc.

    Raises NationalNetworkExists, before writing anything, when the database
    already holds it, and NationalSeedError on options that can't be built.
    """
    seeder = _Seeder(options, say)
    say(f"Writing with {seeder.report.method}.")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check each foreign key as its row goes in rather than all at commit: the
            # queue of deferred checks of a month of payments would not fit in memory.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seeder.stage("check", seeder.check)
        seeder.stage("catalog", seeder.catalog)
        seeder.stage("network and people", seeder.network)
        seeder.stage("citizens", seeder.citizens)
        seeder.stage("accounts", seeder.accounts)
        seeder.stage("vaults from the bank", seeder.vaults)
        seeder.stage(f"history ({options.history_days} days)", seeder.history)
        seeder.stage("open tills today", seeder.today)
        seeder.stage("balances", seeder.balances)
        committing = time.perf_counter()
    # Deferred checks (SQLite's foreign keys) run at commit.
    seeder.record("commit", time.perf_counter() - committing)
    seeder.stage("analyze", _analyze)
    seeder.report.rows.update(seeder.writer.rows)
    seeder.report.write_seconds.update(seeder.writer.seconds)
    for note in seeder.report.notes:
        say(f"Note: {note}")
    return seeder.report


BIG_TABLES: Iterable[type[models.Model]] = (
    Citizen,
    Account,
    Transfer,
    Entry,
    TillSession,
    Request,
    Decision,
    Payment,
    PaymentLine,
    Branch,
    Counter,
)


def _analyze() -> None:
    """Fresh planner statistics (and, outside a transaction, the visibility map: VACUUM)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            for model in BIG_TABLES:
                cursor.execute(f'{verb} "{model._meta.db_table}"')
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
