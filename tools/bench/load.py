"""Drive the counter system over HTTP at a target payment rate, with live dashboards open.

    python -m tools.bench.load --server gunicorn --workers 3 --rate 170 --seconds 60 \\
        --dashboards 1000

Runs against the database in DATABASE_URL (PostgreSQL) and REDIS_URL, which
must be on loopback; builds the national network there first if it is missing
(`seed_national`, about 10 s). It starts the chosen server configuration on
127.0.0.1 (tools/bench/servers.py), logs in --agents counter agents for real (login
page, CSRF cookie, password), opens --dashboards websockets on the nation board
as head office in a child process, then starts payments at --rate per second
(open loop: a payment's clock starts when it is due, not when an agent is
free) for --seconds, each one the requests the counter screen makes:

    GET  /counter/pay/<service>/?citizen=<token>   the form (total shown, idempotency key)
    POST confirm=direct and the cash               posts the payment and prints the
                                                   original: the receipt page, its print link
    GET  the print's PDF                           what the print frame loads

(a card's PIN is asked on a confirmation page between the form and the posting:
one more round trip).

A share of them (--card-share) are paid with prepaid cards issued and topped up
before the run. It prints achieved payments/s, latency percentiles (from
pressing Confirm to the PDF in hand, and from when the payment was due), errors
by kind, dashboard commit-to-push latency, and CPU and memory of the server,
PostgreSQL, Redis and the bench itself. With --steps it runs several rates in a
row on the same servers and prints one table. With --pgbench it also runs
PostgreSQL's pgbench on the SQL a payment issues (tools/bench/pgbench.py) and prints
the ratio. Before the servers start it measures the flow in process
(tools/bench/flow.py): SQL statements and CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import psutil

from tools.bench.dashboards import percentile, watch_dashboards
from tools.bench.servers import KINDS

if TYPE_CHECKING:
    import aiohttp

    from tools.bench.servers import Servers

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "LA-106"  # certified copy of a licence: 24.00 EGP, one reference field
REFERENCES = {"ref_licence_no": "1000/2026"}
PIN = "2468"
TARGET_P95 = 0.300
_KEY = re.compile(r'name="idempotency_key"[^>]*value="([0-9a-f]{32})"')
_PRINT = re.compile(r'data-print="([^"]+)"')


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.0f}"


# --- set-up (Django, in this process) ------------------------------------------------


@dataclass
class Plan:
    agents: list[tuple[str, str, str | None]]  # username, citizen token, card number
    password: str
    base_count: int


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The set-up's own payments (card top-ups) need not reach any dashboard.
    os.environ["DASHBOARD_PUSHES"] = "0"
    # The servers' settings (debug off) and key: PINs of the cards issued here are keyed
    # hashes under it, and the citizen tokens made here are signed with it.
    from tools.bench.servers import server_env

    os.environ.update({k: v for k, v in server_env(4).items() if k.startswith("DJANGO_")})
    import django

    django.setup()


def _loopback_only() -> None:
    for name in ("DATABASE_URL", "REDIS_URL"):
        url = os.environ.get(name)
        if not url:
            sys.exit(f"{name} is not set: the bench needs PostgreSQL and Redis (see README).")
        host = urlparse(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit(f"{name} points at {host}: the bench only ever talks to loopback.")


def prepare(agents: int, card_share: float) -> Plan:
    """The national network, `agents` agents with open tills spread over the country, cards."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from counter.citizen_links import citizen_token
    from counter.models import Citizen
    from counter.services import cards as card_services
    from float_management.models import SessionStatus, TillSession
    from tools.national import DEFAULT_PASSWORD

    users = get_user_model().objects
    if not users.filter(username__startswith="n.agent.").exists():
        print("Building the national network (seed_national) …", flush=True)
        call_command("seed_national", stdout=open(os.devnull, "w"))  # noqa: SIM115
    sessions = list(
        TillSession.objects.filter(
            status=SessionStatus.OPEN, agent__username__startswith="n.agent."
        )
        .select_related("agent")
        .order_by("pk")
    )
    step = max(1, len(sessions) // agents)
    chosen = sessions[::step][:agents]
    citizens = list(Citizen.objects.order_by("pk").values_list("pk", flat=True)[: len(chosen)])
    with_card = round(len(chosen) * card_share)
    plan: list[tuple[str, str, str | None]] = []
    for i, session in enumerate(chosen):
        citizen = Citizen.objects.get(pk=citizens[i % len(citizens)])
        card = None
        if i < with_card:
            card = card_services.card_issue(
                agent=session.agent,
                citizen=citizen,
                pin=PIN,
                idempotency_key=uuid.uuid4().hex,
            )
            card_services.card_top_up(
                agent=session.agent,
                card_number=card.number,
                amount=400_000,  # 4,000 EGP: more than any run spends
                idempotency_key=uuid.uuid4().hex,
            )
            card = card.number
        token = citizen_token(agent=session.agent, citizen=citizen)
        plan.append((session.agent.username, token, card))
    return Plan(agents=plan, password=DEFAULT_PASSWORD, base_count=_payments_today())


def _payments_today() -> int:
    """What the nation board shows as today's payments (pushes are matched to commits by it)."""
    from counter.models import Payment
    from dashboard.selectors import day_start

    return Payment.objects.filter(created_at__gte=day_start(), void_transfer__isnull=True).count()


# --- the load (asyncio + aiohttp in this process) ---------------------------------------


@dataclass
class Step:
    rate: float
    seconds: float
    started: float = 0.0
    ended: float = 0.0
    sent: int = 0
    done: int = 0
    cards: int = 0
    confirm_to_pdf: list[float] = field(default_factory=list)
    due_to_pdf: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)
    pdf: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    waited_for_agent: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    pushes: list[float] = field(default_factory=list)


class Failed(Exception):
    pass


class Load:
    def __init__(self, *, http: str, plan: Plan, pdf: bool, flow: str) -> None:
        self.http = http
        self.flow = flow
        self.plan = plan
        self.pdf = pdf
        self.commits: dict[int, float] = {}
        self.count = plan.base_count

    async def login(self, aiohttp: ModuleType, username: str) -> object:
        jar = aiohttp.CookieJar(unsafe=True)
        session = aiohttp.ClientSession(
            cookie_jar=jar,
            connector=aiohttp.TCPConnector(limit=4),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        async with session.get(self.http + "/accounts/login/") as r:
            await r.read()
        token = self._csrf(session)
        async with session.post(
            self.http + "/accounts/login/",
            data={
                "username": username,
                "password": self.plan.password,
                "csrfmiddlewaretoken": token,
            },
            allow_redirects=False,
        ) as r:
            await r.read()
            if r.status != 302:
                raise Failed(f"login of {username} answered {r.status}")
        return session

    @staticmethod
    def _csrf(session: aiohttp.ClientSession) -> str:
        for cookie in session.cookie_jar:
            if cookie.key == "csrftoken":
                return cookie.value
        raise Failed("no CSRF cookie")

    async def payment(
        self, agent: tuple[aiohttp.ClientSession, str, str | None], step: Step, due: float
    ) -> None:
        session, token, card = agent
        url = f"{self.http}/counter/pay/{SERVICE}/?citizen={token}"
        data = {**REFERENCES, "citizen": token, "csrfmiddlewaretoken": self._csrf(session)}
        if card:
            data.update(method="card", card_number=card)
        else:
            data.update(method="cash", tendered="50")
        if self.flow == "post":
            data["idempotency_key"] = uuid.uuid4().hex  # what the form would have carried
        else:
            async with session.get(url) as r:
                html = await r.text()
                if r.status != 200:
                    raise Failed(f"form {r.status}")
            match = _KEY.search(html)
            if not match:
                raise Failed("form without key")
            data["idempotency_key"] = match.group(1)
        if card and self.flow == "screen":
            # The form's button: a card is asked its PIN on the confirmation first.
            async with session.post(url, data={**data, "confirm": "direct"}) as r:
                html = await r.text()
                if r.status != 200 or 'name="pin"' not in html:
                    raise Failed(f"card confirmation {r.status}")
        if card:
            data.update(confirm="1", pin=PIN)
        else:
            data["confirm"] = "direct"  # the form's button: posted and printed at once
        pressed = time.monotonic()
        async with session.post(url, data=data, allow_redirects=False) as r:
            html = await r.text()
            link = _PRINT.search(html)
            if r.status != 200 or link is None:
                raise Failed(f"confirm {r.status}")
        committed = time.monotonic()
        self.count += 1
        self.commits[self.count] = committed
        step.post.append(committed - pressed)
        if self.pdf:
            fetch = time.monotonic()
            # The original's print was recorded by the confirmation: its frame loads the PDF.
            async with session.get(self.http + link.group(1).replace("&amp;", "&")) as r:
                body = await r.read()
                if r.status != 200 or not body.startswith(b"%PDF"):
                    raise Failed(f"pdf {r.status}")
            step.pdf.append(time.monotonic() - fetch)
        finished = time.monotonic()
        step.confirm_to_pdf.append(finished - pressed)
        step.due_to_pdf.append(finished - due)
        step.cards += bool(card)

    async def run_step(self, step: Step, free: asyncio.Queue) -> None:
        tasks = []
        step.started = time.monotonic()
        total = int(step.rate * step.seconds)
        for i in range(total):
            due = step.started + i / step.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._one(step, free, due)))
            step.sent += 1
        await asyncio.gather(*tasks)
        step.ended = time.monotonic()

    async def _one(self, step: Step, free: asyncio.Queue, due: float) -> None:
        import aiohttp

        if free.empty():
            step.waited_for_agent += 1
        # Past the step's end (and a grace), a payment still waiting for a free agent is
        # not started: the system is over capacity, and queueing it would never end.
        grace = step.started + step.seconds + 10 - time.monotonic()
        try:
            agent = await asyncio.wait_for(free.get(), timeout=max(0.01, grace))
        except TimeoutError:
            step.errors["not started: every agent still busy (over capacity)"] += 1
            return
        try:
            await self.payment(agent, step, due)
            step.done += 1
        except Failed as error:
            step.errors[str(error)] += 1
        except (TimeoutError, aiohttp.ClientError) as error:
            step.errors[type(error).__name__] += 1
        finally:
            free.put_nowait(agent)


# --- resources -------------------------------------------------------------------------


def _groups(server_pids: list[int]) -> dict[str, list[psutil.Process]]:
    groups: dict[str, list[psutil.Process]] = {"server": [], "postgres": [], "redis": []}
    for process in psutil.process_iter(["pid", "name"]):
        if process.pid in server_pids:
            groups["server"].append(process)
        elif process.info["name"] and process.info["name"].startswith("postgres"):
            groups["postgres"].append(process)
        elif process.info["name"] and process.info["name"].startswith("redis-server"):
            groups["redis"].append(process)
    me = psutil.Process()
    groups["bench"] = [p for p in [me, *me.children(recursive=True)] if p.pid not in server_pids]
    return groups


def _cpu(groups: dict[str, list[psutil.Process]]) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process of each group, by pid."""
    seconds = {}
    for name, processes in groups.items():
        for process in processes:
            try:
                times = process.cpu_times()
                seconds[process.pid] = (name, times.user + times.system)
            except psutil.NoSuchProcess:
                continue
    return seconds


def _cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per group between two readings; a process born in between counts whole."""
    used: dict[str, float] = {"server": 0.0, "postgres": 0.0, "redis": 0.0, "bench": 0.0}
    for pid, (name, total) in after.items():
        used[name] += total - before.get(pid, (name, 0.0))[1]
    return used


def _rss(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    sizes = {}
    for name, processes in groups.items():
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        sizes[name] = total / 2**20
    return sizes


# --- the run -----------------------------------------------------------------------------


async def _run(
    args: argparse.Namespace, servers: Servers, plan: Plan
) -> tuple[list[Step], tuple[int, int]]:
    import aiohttp

    load = Load(http=servers.http, plan=plan, pdf=not args.no_pdf, flow=args.flow)
    print(f"Logging in {len(plan.agents)} agents …", flush=True)
    gate = asyncio.Semaphore(max(2, args.workers))

    async def login(entry: tuple[str, str, str | None]) -> tuple[object, str, str | None]:
        async with gate:
            return (await load.login(aiohttp, entry[0]), entry[1], entry[2])

    agents = await asyncio.gather(*(login(entry) for entry in plan.agents))
    head = await load.login(aiohttp, "n.headoffice")
    cookie = "; ".join(f"{c.key}={c.value}" for c in head.cookie_jar)
    await head.close()

    watcher = None
    ctx = multiprocessing.get_context("spawn")
    results, ready, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    if args.dashboards:
        print(f"Opening {args.dashboards} dashboards …", flush=True)
        watcher = ctx.Process(
            target=watch_dashboards,
            args=(
                f"{servers.ws}/ws/dashboard/nation/",
                cookie,
                args.dashboards,
                ready,
                stop,
                results,
            ),
            daemon=True,
        )
        watcher.start()
        while not ready.is_set():
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)

    free: asyncio.Queue = asyncio.Queue()
    for agent in agents:
        free.put_nowait(agent)
    steps = []
    for rate in args.rates:
        step = Step(rate=rate, seconds=args.seconds)
        print(f"{rate:g} payments/s for {args.seconds:g} s …", flush=True)
        before = _cpu(_groups(servers.pids()))
        await load.run_step(step, free)
        groups = _groups(servers.pids())  # database backends opened during the step too
        used = _cpu_used(before, _cpu(groups))
        wall = step.ended - step.started
        step.cpu = {name: seconds / wall * 100 for name, seconds in used.items()}
        step.rss_mb = _rss(groups)
        steps.append(step)
        await asyncio.sleep(2.5)  # the trailing pushes; the next step starts clean

    connected = (0, 0)
    if watcher is not None:
        stop.set()
        opened, refused, seen = results.get(timeout=120)
        watcher.join(timeout=10)
        connected = (opened, refused)
        for now, count in seen:
            for step in steps:
                if step.started <= now <= step.ended + 2.5 and count in load.commits:
                    step.pushes.append(now - load.commits[count])
    for session, _citizen, _card in agents:
        await session.close()
    return steps, connected


def report(
    args: argparse.Namespace,
    steps: list[Step],
    connected: tuple[int, int],
    pgbench: dict | None,
) -> None:
    print()
    print(
        f"server: {args.server}"
        + (f" ×{args.workers}" if args.server != "daphne" else "")
        + f"; agents {args.agents}; card share {args.card_share:.0%}"
        + f"; flow {args.flow}; "
        + ("receipt PDFs fetched" if not args.no_pdf else "no PDFs")
        + f"; dashboards {connected[0]}/{args.dashboards} connected"
        + (f" ({connected[1]} refused)" if connected[1] else "")
    )
    print(
        f"{'asked/s':>8} {'done/s':>7} {'cards':>6} {'p50':>5} {'p95':>5} {'p99':>5} "
        f"{'due→p95':>8} {'post p95':>8} {'pdf p95':>7} {'push p95':>8} {'errors':>6} "
        f"{'CPU srv':>7} {'pg':>4} {'redis':>5} {'bench':>5} {'RSS srv MB':>10}"
    )
    for s in steps:
        wall = s.ended - s.started
        print(
            f"{s.rate:>8g} {s.done / wall:>7.1f} {s.cards:>6} "
            f"{_ms(percentile(s.confirm_to_pdf, 0.5)):>5} "
            f"{_ms(percentile(s.confirm_to_pdf, 0.95)):>5} "
            f"{_ms(percentile(s.confirm_to_pdf, 0.99)):>5} "
            f"{_ms(percentile(s.due_to_pdf, 0.95)):>8} "
            f"{_ms(percentile(s.post, 0.95)):>8} {_ms(percentile(s.pdf, 0.95)):>7} "
            f"{_ms(percentile(s.pushes, 0.95)):>8} {sum(s.errors.values()):>6} "
            f"{s.cpu.get('server', 0):>6.0f}% {s.cpu.get('postgres', 0):>3.0f}% "
            f"{s.cpu.get('redis', 0):>4.0f}% {s.cpu.get('bench', 0):>4.0f}% "
            f"{s.rss_mb.get('server', 0):>10.0f}"
        )
        for kind, n in s.errors.most_common(5):
            print(f"         error: {kind} × {n}")
    print(
        "p50/p95/p99: from pressing Confirm to the receipt PDF in hand (ms); due→p95: from when "
        "the payment was due (includes waiting for a free agent or server); post p95: the "
        "confirming POST alone; push p95: commit to the number on the dashboards; CPU: "
        "percent of one core (the machine has "
        f"{psutil.cpu_count()})."
    )
    good = [
        s
        for s in steps
        if not s.errors
        and percentile(s.confirm_to_pdf, 0.95) < TARGET_P95
        and s.done / (s.ended - s.started) >= 0.97 * s.rate
    ]
    if good:
        print(f"highest rate held (p95 < 300 ms, no errors): {max(s.rate for s in good):g}/s")
    else:
        print("no rate held with p95 < 300 ms and no errors")
    if pgbench:
        best = max(s.done / (s.ended - s.started) for s in steps)
        print(
            f"pgbench on one payment's SQL ({pgbench['statements']} statements, "
            f"{pgbench['clients']} clients): {pgbench['tps']:.0f} payments/s; "
            f"app/pgbench = {best / pgbench['tps']:.1%}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=KINDS, default="gunicorn")
    parser.add_argument("--workers", type=int, default=3, help="HTTP worker processes")
    parser.add_argument("--rate", type=float, default=170.0, help="payments per second")
    parser.add_argument(
        "--steps",
        default="",
        help="several rates in a row, e.g. 100,170,250,340 (overrides --rate)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="per rate")
    parser.add_argument("--dashboards", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--card-share", type=float, default=0.2)
    parser.add_argument("--no-pdf", action="store_true", help="skip the receipt PDF")
    parser.add_argument(
        "--flow",
        choices=("screen", "post"),
        default="screen",
        help="screen: the counter screen's requests (the form, the confirming POST that "
        "prints, the print's PDF; a card's confirmation page between); post: only the "
        "confirming POST (with a key made by the client) and the PDF",
    )
    parser.add_argument(
        "--flow-runs",
        type=int,
        default=200,
        help="payments measured in process for the per-request CPU and SQL (0: none)",
    )
    parser.add_argument(
        "--no-pgbench", action="store_true", help="leave out pgbench on the same SQL"
    )
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.steps.split(",")] if args.steps else [args.rate]

    _loopback_only()
    _django()
    from django.db import connections

    from tools.bench.servers import Servers, server_env

    plan = prepare(args.agents, args.card_share)
    # The server runs with debug off: its static files come from the manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(2),
        check=True,
    )
    flow_steps = []
    if args.flow_runs:
        from tools.bench.flow import measure_flow, report_flow

        username, token, _card = next(a for a in plan.agents if a[2] is None)
        print(f"The counter flow in process, {args.flow_runs} cash payments …", flush=True)
        flow_steps = measure_flow(
            username=username,
            token=token,
            service=SERVICE,
            references=REFERENCES,
            runs=args.flow_runs,
        )
        report_flow(flow_steps)
        plan.base_count = _payments_today()
    pgbench = None
    if not args.no_pgbench:
        from tools.bench.pgbench import run_pgbench

        # At the app's concurrency: one payment at a time per HTTP worker process.
        clients = 1 if args.server == "daphne" else args.workers
        pgbench = run_pgbench(clients=clients, seconds=min(args.seconds, 30))
        print(
            f"pgbench: {pgbench['tps']:.0f} payments/s with {pgbench['clients']} clients",
            flush=True,
        )
        plan.base_count = _payments_today()  # pgbench's payments are today's too
    connections.close_all()
    servers = Servers(args.server, args.workers, ROOT / "artifacts" / "bench").start()
    try:
        steps, connected = asyncio.run(_run(args, servers, plan))
    finally:
        servers.stop()
    report(args, steps, connected, pgbench)
    if flow_steps:
        print("\nPer request, in process (tools/bench/flow.py):")
        report_flow(flow_steps)
    if any(s.errors for s in steps):
        print(f"median errors per step: {statistics.median(sum(s.errors.values()) for s in steps)}")


if __name__ == "__main__":
    main()
