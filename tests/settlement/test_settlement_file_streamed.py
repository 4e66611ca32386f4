"""The settlement file is streamed as it is read, never held whole (issue 14).

A national day's file runs to 330,000 lines; built in memory it peaked at 2.3 GB. The bytes
are the same as the file built whole. The scenario is `a_day` (tests/scenario.py).
"""

import inspect
import warnings

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse

from core.clock import zone
from core.errors import InvalidState
from settlement.models import SettlementBatch
from settlement.selectors import settlement_csv, settlement_csv_chunks
from settlement.services import settlement_run
from tests.scenario import (
    a_day,
    day_is_over,
    day_of,
    passport_service,
    payments_of_a_day,
    treasury,
)

SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)


@pytest.fixture
def local(a_day, head_office, day_is_over):
    return settlement_run(business_day=day_of(a_day["bill"]), by=head_office)[0]


def expected_local_file(a_day) -> bytes:
    """LOCAL's file as the file built whole gave it (the lines the existing tests expect)."""
    renewal_1, renewal_2 = a_day["renewals"]
    passport = a_day["passport"]

    def paid_at(payment):
        return payment.created_at.astimezone(zone()).isoformat(timespec="seconds")

    lines = [
        "reference,service_code,budget_item,amount_egp,branch_code,paid_at",
        f"{renewal_1.reference},LIC-RENEW,1/2/3/45,51.50,A0001,{paid_at(renewal_1)}",
        f"{renewal_2.reference},LIC-RENEW,1/2/3/45,51.50,A0001,{paid_at(renewal_2)}",
        f"{passport.reference},PASSPORT,7/7/7,100.00,A0001,{paid_at(passport)}",
        "CONTROL,3,,203.00,,",
    ]
    return "".join(f"{line}\r\n" for line in lines).encode()


def test_the_file_is_streamed_with_the_same_bytes_and_headers(client, head_office, a_day, local):
    client.force_login(head_office)
    response = client.get(reverse("settlement_csv", args=[local.pk]))

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="settlement-LOCAL-{local.business_day.isoformat()}.csv"'
    )
    assert response["Cache-Control"].startswith("max-age=0")
    body = b"".join(response.streaming_content)
    assert body == expected_local_file(a_day) == settlement_csv(local).encode()


def test_under_asgi_the_file_is_streamed_chunk_by_chunk(head_office, a_day, local):
    """Given a plain iterator, Django under ASGI would read it whole into a list first."""
    client = AsyncClient()
    client.force_login(head_office)
    url = reverse("settlement_csv", args=[local.pk])

    async def download():
        response = await client.get(url)
        return response, b"".join([chunk async for chunk in response.streaming_content])

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="StreamingHttpResponse must consume")
        response, body = async_to_sync(download)()
    assert response.streaming is True
    assert response.is_async is True
    assert body == expected_local_file(a_day)


def test_the_file_is_read_lazily_in_one_query(local, django_assert_num_queries):
    with django_assert_num_queries(0):
        chunks = settlement_csv_chunks(local)
    assert inspect.isgenerator(chunks)
    with django_assert_num_queries(1):
        first = next(chunks)
    assert first.startswith("reference,")


def test_a_file_of_many_chunks_is_the_same_file(a_day, local):
    chunks = list(settlement_csv_chunks(local, rows_per_chunk=1))
    assert len(chunks) == 4  # header + first row, one row each, last row + control line
    assert "".join(chunks).encode() == expected_local_file(a_day)


def test_a_batch_whose_items_do_not_add_up_is_refused_before_the_file_starts(
    client, head_office, local
):
    SettlementBatch.objects.filter(pk=local.pk).update(total=local.total + 1)
    client.force_login(head_office)
    with pytest.raises(InvalidState):
        client.get(reverse("settlement_csv", args=[local.pk]))
    local.refresh_from_db()
    with pytest.raises(InvalidState):
        list(settlement_csv_chunks(local))  # and the stream stops short of its control line
