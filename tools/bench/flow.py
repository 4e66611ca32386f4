"""The counter flow's cost per request, in this process: server CPU and SQL statements.

Runs the requests the counter screen makes for one cash payment (the form, the
confirming POST that posts and prints the original, the print's PDF) through
Django's request handler with debug off, as a server would, and reads this
process's CPU time around each. The figures exclude the web server's own cost
(parsing HTTP, the socket) and the database server's CPU, which the load bench
measures from outside.
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.bench.dashboards import percentile

_KEY = re.compile(r'name="idempotency_key"[^>]*value="([0-9a-f]{32})"')
_PRINT = re.compile(r'data-print="([^"]+)"')


@dataclass
class Request:
    name: str
    cpu: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)


def measure_flow(
    *, username: str, token: str, service: str, references: dict[str, str], runs: int = 200
) -> list[Request]:
    """`runs` cash payments of `username` for the citizen of `token`; the first tenth warm up."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=username))
    counted = [0]

    def count(execute: Callable, sql: str, params: object, many: bool, context: dict) -> object:
        counted[0] += 1
        return execute(sql, params, many, context)

    steps = {name: Request(name) for name in ("form", "confirm and print", "print PDF")}

    def timed(name: str, call: Callable[[], object], keep: bool) -> object:
        counted[0] = 0
        with connection.execute_wrapper(count):
            started = time.process_time()
            response = call()
            used = time.process_time() - started
        if response.status_code != 200:
            raise RuntimeError(f"{name} answered {response.status_code}")
        if keep:
            steps[name].cpu.append(used)
            steps[name].queries.append(counted[0])
        return response

    url = f"/counter/pay/{service}/?citizen={token}"
    warm = max(1, runs // 10)
    for run in range(runs + warm):
        keep = run >= warm
        form = timed("form", lambda: client.get(url), keep)
        key = _KEY.search(form.content.decode())
        data = {
            **references,
            "citizen": token,
            "method": "cash",
            "tendered": "50",
            "confirm": "direct",
            "idempotency_key": key.group(1) if key else uuid.uuid4().hex,
        }
        page = timed("confirm and print", lambda data=data: client.post(url, data), keep)
        link = _PRINT.search(page.content.decode())
        if link is None:
            raise RuntimeError("the confirmation did not answer with the receipt's print")
        pdf = link.group(1)
        timed("print PDF", lambda pdf=pdf: client.get(pdf), keep)
    return list(steps.values())


def report_flow(steps: list[Request]) -> None:
    print(f"{'request':<20} {'queries':>7} {'CPU p50':>8} {'CPU p95':>8}")
    for step in steps:
        print(
            f"{step.name:<20} {statistics.median(step.queries):>7g} "
            f"{statistics.median(step.cpu) * 1000:>6.1f}ms "
            f"{percentile(step.cpu, 0.95) * 1000:>6.1f}ms"
        )
    total_cpu = sum(statistics.median(s.cpu) for s in steps)
    total_queries = sum(statistics.median(s.queries) for s in steps)
    print(
        f"{'one payment':<20} {total_queries:>7g} {total_cpu * 1000:>6.1f}ms"
        "   (round trips: 3; CPU of this process, not the web server's or PostgreSQL's)"
    )
