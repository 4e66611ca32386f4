"""What live boards cost the websocket server: N boards on the nation board, one push a second.

    python -m tools.bench.boards_push --boards 1000 --seconds 30

Starts daphne on a free loopback port (as `make run` serves), opens --boards
websockets on the nation board as head office from a child process, then posts
one cash payment a second through the payment service in this process; each
payment's push is rendered here (as in a gunicorn worker) and reaches the
boards through Redis and daphne. Prints the server process's CPU as a share of
one core: idle (the boards' own periodic checks), and at one push a second, i.e.
its CPU from the first payment until the last message reached the boards (a
starved daphne catches up late but does the same work) divided by the pushes;
also per message delivered times the boards (a starved daphne lets messages
expire); what the boards received per push, i.e. per second (the messages' UTF-8 bytes;
frame headers are 2 to 4 bytes more a message); the commit-to-board latency
(long when the machine starves daphne); and this process's render CPU per push.
--server uvicorn serves with one uvicorn process instead (its websockets
implementation; it accepts permessage-deflate, which the bench's clients offer
and daphne does not). Needs PostgreSQL and Redis on loopback, seeded by
seed_demo (`make bench-boards-push`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from tools.bench.dashboards import percentile
from tools.bench.load import _loopback_only
from tools.bench.servers import SECRET_KEY, Servers

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

_FIGURE = re.compile(r'data-figure="payments">([0-9]+)<')


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DASHBOARD_PUSHES"] = "1"  # this process's payments push, as a worker's would
    os.environ["DJANGO_SECRET_KEY"] = SECRET_KEY  # the session cookie is valid in daphne
    import django

    django.setup()


def watch(
    url: str,
    cookie: str,
    clients: int,
    ready: Event,
    stop: Event,
    results: Queue[tuple[int, int, list[tuple[float, int, int]]]],
    count: Synchronized[int],
) -> None:
    """Open `clients` websockets in waves; note (time, payments shown, bytes) of every message."""
    import websockets

    seen: list[tuple[float, int, int]] = []
    opened: list[int] = []
    closed_early: list[int] = []

    async def client() -> None:
        origin = url.replace("ws://", "http://").split("/ws/")[0]
        try:
            async with websockets.connect(
                url,
                origin=origin,
                additional_headers={"Cookie": cookie},
                open_timeout=60,
                max_size=2**22,
                ping_interval=None,
            ) as ws:
                opened.append(1)
                async for message in ws:
                    match = _FIGURE.search(message)
                    figure = int(match.group(1)) if match else -1
                    seen.append((time.monotonic(), figure, len(message.encode())))
                    count.value += 1
        except asyncio.CancelledError:
            return
        except (OSError, websockets.ConnectionClosed, websockets.InvalidStatus, TimeoutError):
            closed_early.append(1)

    async def main() -> None:
        tasks = []
        for start in range(0, clients, 50):
            tasks += [asyncio.create_task(client()) for _ in range(min(50, clients - start))]
            for _ in range(200):
                if len(opened) + len(closed_early) >= len(tasks):
                    break
                await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put((len(opened), len(closed_early), seen))


def _render_meter() -> list[float]:
    """Thread CPU seconds of each render of this process's pushes (wraps live._render_all)."""
    from dashboard import live

    spent: list[float] = []
    original = live._render_all

    def measured(*args: object, **kwargs: object) -> object:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.thread_time() - started)

    live._render_all = measured
    return spent


def _cpu(before: psutil._common.pcputimes, after: psutil._common.pcputimes) -> float:
    return after.user + after.system - before.user - before.system


def _settle(count: Synchronized[int], quiet: float = 2.0, longest: float = 180.0) -> float:
    """Wait until no message reached the boards for `quiet` seconds; when the last one did."""
    last, last_at = count.value, time.monotonic()
    deadline = last_at + longest
    while time.monotonic() - last_at < quiet and time.monotonic() < deadline:
        time.sleep(0.1)
        if count.value != last:
            last, last_at = count.value, time.monotonic()
    return last_at


def run(boards: int, seconds: float, rate: float, server: str = "daphne") -> None:
    from django.contrib.auth import get_user_model
    from django.db import close_old_connections
    from django.test import Client

    from counter.models import Citizen, Payment, Service
    from counter.services.payments import payment_post_cash
    from dashboard import live
    from dashboard.selectors import day_start
    from float_management.models import SessionStatus, TillSession

    session = TillSession.objects.filter(status=SessionStatus.OPEN).select_related("agent").first()
    if session is None:
        sys.exit("No open till: run seed_demo first.")
    service = Service.objects.get(code="LA-106")
    citizen = Citizen.objects.order_by("pk").first()
    head = Client()
    head.force_login(get_user_model().objects.get(username="headoffice"))
    cookie = f"sessionid={head.cookies['sessionid'].value}"
    count = Payment.objects.filter(created_at__gte=day_start(), void_transfer__isnull=True).count()
    close_old_connections()
    render_cpu = _render_meter()

    servers = Servers(server, 1, Path(tempfile.mkdtemp(prefix="boards-push-"))).start()
    ctx = multiprocessing.get_context("fork")  # the child uses no database connection
    results, ready, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    arrived = ctx.Value("i", 0, lock=False)  # messages the boards received; only the child writes

    watcher = ctx.Process(
        target=watch,
        args=(f"{servers.ws}/ws/dashboard/nation/", cookie, boards, ready, stop, results, arrived),
        daemon=True,
    )
    try:
        watcher.start()
        print(f"Opening {boards} boards …", flush=True)
        ready.wait(timeout=300)
        process = psutil.Process(servers.processes[0].pid)
        _settle(arrived)  # the whole boards sent on connect
        idle_before, idle_started = process.cpu_times(), time.monotonic()
        time.sleep(10)
        idle = _cpu(idle_before, process.cpu_times()) / (time.monotonic() - idle_started)
        commits: dict[int, float] = {}
        print(f"{rate:g} payment/s for {seconds:g} s …", flush=True)
        cpu_before = process.cpu_times()
        started = next_at = time.monotonic()
        while time.monotonic() < started + seconds:
            payment_post_cash(
                agent=session.agent,
                service=service,
                citizen=citizen,
                amount=None,
                references={"licence_no": "1000/2026"},
                tendered=5_000,
                idempotency_key=uuid.uuid4().hex,
            )
            count += 1
            commits[count] = time.monotonic()
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        while live.busy():
            time.sleep(0.1)
        ended = _settle(arrived)  # the last push reached every board
        cpu_after = process.cpu_times()
        stop.set()
        opened, closed_early, seen = results.get(timeout=120)
        watcher.join(timeout=10)
    finally:
        servers.stop()

    wall = ended - started
    cpu = _cpu(cpu_before, cpu_after)
    window = [(at, figure, size) for at, figure, size in seen if started <= at <= ended]
    received = sum(size for _at, _figure, size in window)
    latencies = [at - commits[figure] for at, figure, _size in window if figure in commits]
    pushes = len(render_cpu)
    print()
    print(f"boards connected:            {opened}/{boards} ({closed_early} failed)")
    print(f"payments posted, pushes:     {len(commits)}, {pushes}")
    print(f"messages to the boards:      {len(window) / wall:.0f}/s")
    print(f"server CPU, idle:            {idle:.2f} of a core")
    print(f"server CPU, pushing:         {cpu / wall:.2f} of a core over {wall:.0f} s")
    if pushes:
        print(f"server CPU per push:         {cpu / pushes:.2f} s (the share at one a second)")
    if window:
        # Messages older than the layer's expiry are dropped unseen when daphne is starved:
        # per message delivered, times the boards, is the cost of a push that reaches all.
        print(f"  … per delivered push:      {cpu / len(window) * opened:.2f} s")
        print(f"boards received per push:    {received / len(window) * opened / 1000:.0f} kB")
    print(f"commit-to-board p50 / p95:   {percentile(latencies, 0.5) * 1000:.0f} ms / ", end="")
    print(f"{percentile(latencies, 0.95) * 1000:.0f} ms ({len(latencies)} updates)")
    if pushes:
        print(f"render CPU per push (here):  {sum(render_cpu) / pushes * 1000:.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1.0, help="payments per second")
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    args = parser.parse_args(argv)
    _loopback_only()
    _django()
    run(args.boards, args.seconds, args.rate, args.server)


if __name__ == "__main__":
    main()
