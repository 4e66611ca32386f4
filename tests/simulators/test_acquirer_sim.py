"""The card acquirer simulator: approval codes for the agent, and the bank's daily file."""

import csv
import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from simulators.testing import start

CAIRO = ZoneInfo("Africa/Cairo")


@pytest.fixture
def acquirer():
    with start("acquirer") as acquirer:
        yield acquirer


def authorize(acquirer, terminal_id="T0001", amount=15000, card_last4="4242"):
    answer = acquirer.post(
        "/v1/authorizations",
        {"terminal_id": terminal_id, "amount": amount, "card_last4": card_last4},
    )
    assert answer.status == 201, answer.text
    return answer.json()


def settlement(acquirer, day) -> list[dict]:
    answer = acquirer.get(f"/v1/settlement?day={day.isoformat()}")
    assert answer.status == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == (
        "approval_code,terminal_id,card_last4,amount,authorized_at"
    )
    return list(csv.DictReader(io.StringIO(answer.text)))


def cairo_day(iso_text: str):
    return datetime.fromisoformat(iso_text).astimezone(CAIRO).date()


def row(authorization, amount=None):
    return {
        "approval_code": authorization["approval_code"],
        "terminal_id": authorization["terminal_id"],
        "card_last4": authorization["card_last4"],
        "amount": str(authorization["amount"] if amount is None else amount),
        "authorized_at": authorization["authorized_at"],
    }


def test_it_answers_health(acquirer):
    answer = acquirer.get("/health")

    assert (answer.status, answer.json()) == (200, {"ok": True})


def test_an_authorization_gets_an_approval_code_to_show_the_agent(acquirer):
    authorization = authorize(acquirer, terminal_id="T0001", amount=15000, card_last4="4242")

    assert re.fullmatch(r"[A-Z0-9]{6}", authorization["approval_code"])
    assert authorization["auth_id"]
    assert authorization["terminal_id"] == "T0001"
    assert authorization["amount"] == 15000
    assert authorization["card_last4"] == "4242"
    assert datetime.fromisoformat(authorization["authorized_at"]).utcoffset().total_seconds() == 0


def test_approval_codes_and_auth_ids_are_unique(acquirer):
    authorizations = [authorize(acquirer, amount=100 + n) for n in range(30)]

    assert len({a["approval_code"] for a in authorizations}) == 30
    assert len({a["auth_id"] for a in authorizations}) == 30


@pytest.mark.parametrize(
    "body",
    [
        {"terminal_id": "T0001", "amount": 0, "card_last4": "4242"},
        {"terminal_id": "T0001", "amount": "100", "card_last4": "4242"},
        {"terminal_id": "", "amount": 100, "card_last4": "4242"},
        {"terminal_id": "T0001", "amount": 100, "card_last4": "42"},
        {"terminal_id": "T0001", "amount": 100},
    ],
)
def test_a_malformed_authorization_is_refused(acquirer, body):
    answer = acquirer.post("/v1/authorizations", body)

    assert answer.status == 400
    assert answer.json()["error"]


def test_the_settlement_file_lists_the_days_authorizations(acquirer):
    first = authorize(acquirer, terminal_id="T0001", amount=15000, card_last4="4242")
    second = authorize(acquirer, terminal_id="T0002", amount=900, card_last4="0005")
    day = cairo_day(first["authorized_at"])

    rows = settlement(acquirer, day)

    expected = [row(a) for a in (first, second) if cairo_day(a["authorized_at"]) == day]
    assert rows == expected
    assert settlement(acquirer, day.replace(year=day.year - 1)) == []


def test_settlement_mismatches_drop_one_change_one_and_add_a_phantom(acquirer):
    authorizations = [
        authorize(acquirer, terminal_id=f"T000{n}", amount=n * 1000) for n in (1, 2, 3)
    ]
    day = cairo_day(authorizations[0]["authorized_at"])
    todays = sorted(
        (a for a in authorizations if cairo_day(a["authorized_at"]) == day),
        key=lambda a: a["approval_code"],
    )
    assert acquirer.post("/v1/faults", {"settlement_mismatches": True}).status == 200

    rows = settlement(acquirer, day)

    noon = datetime(day.year, day.month, day.day, 12, tzinfo=CAIRO).astimezone(UTC)
    expected = {
        a["approval_code"]: row(a, a["amount"] + (100 if n == 0 else 0))
        for n, a in enumerate(todays[1:])
    }
    expected["ZZ9999"] = {
        "approval_code": "ZZ9999",
        "terminal_id": todays[0]["terminal_id"],
        "card_last4": "0000",
        "amount": "5000",
        "authorized_at": noon.isoformat(timespec="microseconds"),
    }
    assert {r["approval_code"]: r for r in rows} == expected

    assert acquirer.delete("/v1/faults").status == 200
    assert len(settlement(acquirer, day)) == len(todays)


def test_only_known_faults_are_accepted(acquirer):
    assert acquirer.post("/v1/faults", {"lost": True}).status == 400
