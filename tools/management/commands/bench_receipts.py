"""Time the receipt renderer on a synthetic receipt: no database, no network."""

from __future__ import annotations

import cProfile
import io
import math
import pstats
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from counter.checkdigit import new_reference
from receipts.data import ReceiptData, ReceiptLine
from receipts.pdf import LAYOUTS, render_receipt


def sample_receipt(reference: str) -> ReceiptData:
    """A cash payment receipt like the counter prints, with a verification URL of real length."""
    return ReceiptData(
        kind="payment",
        reference=reference,
        branch_ar="مكتب بريد العتبة",
        branch_en="Attaba Post Office",
        branch_code="01001",
        counter_number=2,
        agent_name="منى البنا",
        issued_at=datetime(2025, 6, 1, 11, 32, tzinfo=UTC),
        total=2400,
        # A signed token makes the URL long: the QR code is version 5 or so.
        verify_url=f"https://post.example.eg/r/{reference}:1uQ3xk:Wm9hbGVzX3NpZ25lZF90b2tlbl9mb3I",
        citizen_name="محمد عبد الله حسن",
        national_id_masked="2••••••••••••51",
        service_ar="صورة طبق الأصل من رخصة",
        service_en="Certified true copy of a licence",
        agency_ar="الوحدات المحلية",
        agency_en="Local administration units",
        budget_item="1/2/3/16",
        references=[("رقم الرخصة", "Licence number", "9876/2025")],
        lines=[
            ReceiptLine("رسم الوحدة المحلية", "Local unit fee", 2000),
            ReceiptLine("ضريبة الدمغة", "Stamp duty", 200),
            ReceiptLine("عمولة البريد", "Post commission", 200),
        ],
        tendered=5000,
        change=2600,
    )


class Command(BaseCommand):
    help = "Render N receipts and print the median and p95 milliseconds per receipt and the size."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--layout", default="roll", choices=sorted(LAYOUTS))
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            metavar="N",
            help="then render the receipts again under cProfile and print its N costliest calls",
        )

    def handle(self, *args: Any, count: int, layout: str, profile: int, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1.")
        # Each receipt has its own number and URL, as at the counter: nothing
        # per receipt can come from a cache. The first render registers the
        # fonts (once per process) and is reported apart.
        receipts = [sample_receipt(new_reference()) for _ in range(count + 1)]
        start = time.perf_counter()
        render_receipt(receipts[0], layout=layout)
        first = (time.perf_counter() - start) * 1000
        timings, cpu, sizes = [], [], []
        for data in receipts[1:]:
            start, start_cpu = time.perf_counter(), time.process_time()
            pdf = render_receipt(data, layout=layout)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            sizes.append(len(pdf))
        self.stdout.write(f"{count} {layout} receipts")
        self.stdout.write(f"first render (registers the fonts): {first:.1f} ms")
        self.stdout.write(f"median: {statistics.median(timings):.2f} ms per receipt")
        self.stdout.write(f"p95: {_p95(timings):.2f} ms per receipt")
        # Wall time counts waiting for a busy CPU; this is the work itself.
        self.stdout.write(f"median CPU time: {statistics.median(cpu):.2f} ms per receipt")
        self.stdout.write(f"p95 CPU time: {_p95(cpu):.2f} ms per receipt")
        self.stdout.write(
            f"size: {statistics.median(sizes):.0f} bytes (median), {max(sizes)} at most"
        )
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for data in receipts[1:]:
                render_receipt(data, layout=layout)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile)
            self.stdout.write(out.getvalue())


def _p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]  # nearest rank
