"""bench_receipts: the receipt renderer timed on a synthetic receipt (moved from tests/receipts)."""

import re
from io import StringIO

from django.core.management import call_command


def test_the_benchmark_reports_median_p95_and_size():
    out = StringIO()
    call_command("bench_receipts", count=3, stdout=out)

    assert re.search(r"median: [\d.]+ ms per receipt", out.getvalue())
    assert re.search(r"p95: [\d.]+ ms per receipt", out.getvalue())
    assert re.search(r"size: \d+ bytes", out.getvalue())
    assert re.search(r"p95 CPU time: [\d.]+ ms per receipt", out.getvalue())


def test_the_benchmark_can_print_where_the_time_goes():
    out = StringIO()
    call_command("bench_receipts", count=3, layout="a4", profile=5, stdout=out)

    assert "3 a4 receipts" in out.getvalue()
    assert "render_receipt" in out.getvalue()  # cProfile's table, by cumulative time
