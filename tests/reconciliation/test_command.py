"""manage.py reconcile --source wallet|bankcard --day YYYY-MM-DD"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from reconciliation.models import ReconciliationRun
from tests.reconciliation.conftest import card_row

pytestmark = pytest.mark.django_db


def reconcile(*args: str) -> str:
    out = io.StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_counts_and_the_lines_to_look_into(fakes_set, pay_by_card, today):
    matched, differs = pay_by_card("AB12CD"), pay_by_card("EF34GH")
    pay_by_card("NP78QR")
    fakes_set.FakeAcquirer.rows = [
        card_row(matched),
        card_row(differs, amount=differs.total + 100),
        card_row(matched, external_reference="A0001-01:ZZ99ZZ"),
    ]

    out = reconcile("--source", "bankcard", "--day", today.isoformat())

    run = ReconciliationRun.objects.get()
    lines = out.splitlines()
    assert lines[0] == f"bankcard {today}: run {run.pk}"
    assert lines[1].split() == ["matched", "1"]
    assert lines[2].split() == ["only_ours", "1"]
    assert lines[3].split() == ["only_theirs", "1"]
    assert lines[4].split() == ["amount_differs", "1"]
    assert lines[5] == "  ours 163.50 EGP, theirs 164.50 EGP"
    assert lines[6].split()[:3] == ["only_ours", "payment", "A0001-01:NP78QR"]
    assert lines[7].split()[:3] == ["only_theirs", "payment", "A0001-01:ZZ99ZZ"]
    assert lines[8].split() == [
        "amount_differs",
        "payment",
        "A0001-01:EF34GH",
        "ours",
        "54.50",
        "theirs",
        "55.50",
    ]
    assert lines[9] == "3 lines to look into."
    assert run.ran_by is None


def test_it_says_when_every_line_matched(fakes_set, head_office, today):
    out = reconcile("--source", "wallet", "--day", today.isoformat(), "--by", "head_office")

    assert out.splitlines()[-1] == "Every line matched."
    assert ReconciliationRun.objects.get().ran_by == head_office


def test_a_provider_out_of_reach_fails_and_saves_nothing(fakes_set, today):
    fakes_set.FakeWallet.unavailable = True

    with pytest.raises(CommandError, match="nothing saved: GET /v1/settlement"):
        reconcile("--source", "wallet", "--day", today.isoformat())

    assert not ReconciliationRun.objects.exists()


def test_it_refuses_an_unknown_source_and_a_bad_day(fakes_set):
    with pytest.raises(CommandError, match="invalid choice"):
        reconcile("--source", "cash", "--day", "2026-03-15")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        reconcile("--source", "wallet", "--day", "15/03/2026")
