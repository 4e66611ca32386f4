"""Reconciling the acquirer's and the wallet provider's daily files against our books."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.translation import override

from reconciliation import selectors
from reconciliation.models import ItemKind, ReconciliationItem, ReconciliationRun
from reconciliation.services import reconciliation_run
from tests.reconciliation.conftest import card_row, wallet_row
from wallet.providers import ProviderUnavailable


@pytest.fixture(autouse=True)
def _in_english():
    """The notes and refusals are read here in English (the app's first language is Arabic)."""
    with override("en"):
        yield


pytestmark = pytest.mark.django_db

PHANTOM_CARD = "A0001-01:ZZ99ZZ"


def items_by_kind(run: ReconciliationRun) -> dict[str, list[ReconciliationItem]]:
    found: dict[str, list[ReconciliationItem]] = {kind: [] for kind in ItemKind.values}
    for item in run.items.order_by("pk"):
        found[item.kind].append(item)
    return found


@pytest.fixture
def card_day(fakes_set, pay_by_card):
    """Four card payments: two in their file as they are, one at +1.00, one dropped; a phantom."""
    paid = {code: pay_by_card(code) for code in ["AB12CD", "EF34GH", "JK56LM", "NP78QR"]}
    paid["JK56LM"].__class__.objects.filter(pk=paid["JK56LM"].pk).update(voided_at=timezone.now())
    fakes_set.FakeAcquirer.rows = [
        card_row(paid["AB12CD"]),
        card_row(paid["EF34GH"], amount=paid["EF34GH"].total + 100),
        card_row(paid["JK56LM"]),
        card_row(paid["AB12CD"], external_reference=PHANTOM_CARD, amount=9_999),
    ]
    return paid


def test_a_bank_card_day_has_every_kind(card_day, head_office, today):
    run = reconciliation_run(source="bankcard", business_day=today, by=head_office)

    assert (run.matched, run.amount_differs, run.only_ours, run.only_theirs) == (2, 1, 1, 1)
    assert run.exceptions == 3
    assert run.total_ours == 4 * 5450
    assert run.total_theirs == 5450 + 5550 + 5450 + 9_999
    items = items_by_kind(run)
    assert [(i.their_key, i.payment_id) for i in items[ItemKind.MATCHED]] == [
        ("A0001-01:AB12CD", card_day["AB12CD"].pk),
        ("A0001-01:JK56LM", card_day["JK56LM"].pk),
    ]
    [differs] = items[ItemKind.AMOUNT_DIFFERS]
    assert (differs.their_key, differs.our_amount, differs.their_amount) == (
        "A0001-01:EF34GH",
        5450,
        5550,
    )
    assert differs.difference == 100
    assert differs.payment_id == card_day["EF34GH"].pk
    [mine] = items[ItemKind.ONLY_OURS]
    assert (mine.their_key, mine.our_amount, mine.their_amount) == ("A0001-01:NP78QR", 5450, None)
    [phantom] = items[ItemKind.ONLY_THEIRS]
    assert (phantom.their_key, phantom.our_amount, phantom.their_amount) == (
        PHANTOM_CARD,
        None,
        9_999,
    )
    assert phantom.payment_id is None


def test_a_voided_card_payment_still_counts_as_ours_and_says_so(card_day, head_office, today):
    run = reconciliation_run(source="bankcard", business_day=today, by=head_office)

    voided = run.items.get(payment=card_day["JK56LM"])
    assert voided.kind == ItemKind.MATCHED
    assert "Voided" in voided.note
    assert run.items.get(payment=card_day["AB12CD"]).note == ""


def test_a_card_payment_of_another_day_is_not_in_the_day(card_day, head_office, today):
    moved = card_day["NP78QR"]
    moved.__class__.objects.filter(pk=moved.pk).update(created_at=moved.created_at - timedelta(2))

    run = reconciliation_run(source="bankcard", business_day=today, by=head_office)

    assert run.only_ours == 0
    assert not run.items.filter(payment=moved).exists()


@pytest.fixture
def wallet_day(fakes_set, pay_by_wallet, unknown_money):
    """Wallet money of the day: paid, at the wrong amount, dropped, unknown, refunded."""
    txns = {txn_id: pay_by_wallet(txn_id) for txn_id in ["W-1", "W-2", "W-3"]}
    txns["W-4"] = unknown_money("W-4", 1_000)  # held to refund: not "applied"
    # Two more, refunded today; the provider lists the refund of W-5 and forgets W-6's.
    txns["W-5"] = unknown_money("W-5", 2_000, refunded=True)
    txns["W-6"] = unknown_money("W-6", 2_000, refunded=True)
    fakes_set.FakeWallet.rows = [
        wallet_row(txns["W-1"]),
        wallet_row(txns["W-2"], amount=txns["W-2"].amount + 100),
        wallet_row(txns["W-4"]),
        wallet_row(txns["W-5"]),
        wallet_row(txns["W-6"]),
        wallet_row(txns["W-5"], kind="refund"),
        wallet_row(txns["W-1"], txn_id="W-PHANTOM"),
        # A refund they made of a transaction we never refunded.
        wallet_row(txns["W-3"], kind="refund", txn_id="W-3"),
    ]
    return txns


def test_a_wallet_day_has_every_kind_for_payments_and_refunds(wallet_day, head_office, today):
    run = reconciliation_run(source="wallet", business_day=today, by=head_office)

    items = items_by_kind(run)
    summary = {kind: sorted((i.entry, i.their_key) for i in found) for kind, found in items.items()}
    assert summary == {
        ItemKind.MATCHED: [
            ("payment", "W-1"),
            ("payment", "W-4"),
            ("payment", "W-5"),
            ("payment", "W-6"),
            ("refund", "W-5"),
        ],
        ItemKind.AMOUNT_DIFFERS: [("payment", "W-2")],
        ItemKind.ONLY_OURS: [("payment", "W-3"), ("refund", "W-6")],
        ItemKind.ONLY_THEIRS: [("payment", "W-PHANTOM"), ("refund", "W-3")],
    }
    assert (run.matched, run.amount_differs, run.only_ours, run.only_theirs) == (5, 1, 2, 2)
    # Ours: three QRs of 54.50, 10.00 held, two of 20.00 paid and refunded.
    assert run.total_ours == 3 * 5450 + 1_000 + 2 * 2_000 - 2 * 2_000
    # Theirs: W-1, W-2 at +1.00, W-4, W-5, W-6, W-5's refund, the phantom, W-3's refund.
    assert run.total_theirs == 5450 + 5550 + 1_000 + 2_000 + 2_000 - 2_000 + 5450 - 5450


def test_wallet_lines_point_at_the_transaction_and_its_payment(wallet_day, head_office, today):
    run = reconciliation_run(source="wallet", business_day=today, by=head_office)

    paid = run.items.get(their_key="W-2")
    assert paid.wallet_transaction_id == wallet_day["W-2"].pk
    assert paid.payment_id == wallet_day["W-2"].payment_id is not None
    assert (paid.our_amount, paid.their_amount) == (5450, 5550)
    refund = run.items.get(their_key="W-5", entry="refund")
    assert (refund.our_amount, refund.their_amount) == (-2_000, -2_000)
    assert refund.wallet_transaction_id == wallet_day["W-5"].pk
    held = run.items.get(their_key="W-4")
    assert held.payment_id is None
    assert "To refund" in held.note


def test_a_refund_of_another_day_is_not_in_the_day(wallet_day, head_office, today):
    wallet_day["W-6"].__class__.objects.filter(pk=wallet_day["W-6"].pk).update(
        refunded_at=timezone.now() + timedelta(days=2)
    )

    run = reconciliation_run(source="wallet", business_day=today, by=head_office)

    assert not run.items.filter(their_key="W-6", entry="refund").exists()
    assert run.items.get(their_key="W-6", entry="payment").kind == ItemKind.MATCHED


def test_a_day_run_again_makes_a_new_run_and_the_latest_counts(card_day, fakes_set, today):
    first = reconciliation_run(source="bankcard", business_day=today, by=None)
    # The acquirer corrects its file: the amount is right now and the phantom is gone.
    fakes_set.FakeAcquirer.rows = [
        card_row(card_day[code]) for code in ["AB12CD", "EF34GH", "JK56LM", "NP78QR"]
    ]

    second = reconciliation_run(source="bankcard", business_day=today, by=None)

    assert second.pk != first.pk
    assert (second.matched, second.exceptions) == (4, 0)
    assert ReconciliationRun.objects.filter(source="bankcard", business_day=today).count() == 2
    assert first.items.count() == 5  # the history is kept as it was
    assert list(selectors.latest_runs()) == [second]
    assert selectors.day_exceptions(today) == []


def test_a_provider_out_of_reach_saves_nothing(fakes_set, pay_by_card, today):
    pay_by_card("AB12CD")
    fakes_set.FakeAcquirer.unavailable = True

    with pytest.raises(ProviderUnavailable):
        reconciliation_run(source="bankcard", business_day=today, by=None)

    assert not ReconciliationRun.objects.exists()
    assert not ReconciliationItem.objects.exists()


def test_an_empty_day_on_both_sides_is_a_run_with_nothing_to_look_into(fakes_set, today):
    run = reconciliation_run(source="wallet", business_day=today, by=None)

    assert (run.matched, run.exceptions, run.total_ours, run.total_theirs) == (0, 0, 0, 0)
    assert fakes_set.FakeWallet.asked == [today]


def test_a_key_listed_twice_in_their_file_matches_once(fakes_set, pay_by_card, today):
    payment = pay_by_card("AB12CD")
    fakes_set.FakeAcquirer.rows = [card_row(payment), card_row(payment)]

    run = reconciliation_run(source="bankcard", business_day=today, by=None)

    assert (run.matched, run.only_theirs) == (1, 1)
    assert "again" in run.items.get(kind=ItemKind.ONLY_THEIRS).note


@pytest.mark.parametrize("extra", [0, 5])
def test_a_card_run_takes_the_same_queries_whatever_the_size_of_the_day(
    fakes_set, pay_by_card, today, django_assert_num_queries, extra
):
    paid = [pay_by_card(f"AA{n:04d}") for n in range(3 + extra)]
    fakes_set.FakeAcquirer.rows = [card_row(p) for p in paid[1:]] + [
        card_row(paid[0], external_reference="A0001-01:ZZ99ZZ")
    ]

    # The savepoint, our payments, the run, the lines, the release.
    with django_assert_num_queries(5):
        run = reconciliation_run(source="bankcard", business_day=today, by=None)

    assert run.items.count() == 4 + extra


@pytest.mark.parametrize("extra", [0, 4])
def test_a_wallet_run_takes_the_same_queries_whatever_the_size_of_the_day(
    fakes_set, pay_by_wallet, today, django_assert_num_queries, extra
):
    txns = [pay_by_wallet(f"W-{n}") for n in range(2 + extra)]
    fakes_set.FakeWallet.rows = [wallet_row(t) for t in txns]

    with django_assert_num_queries(5):
        run = reconciliation_run(source="wallet", business_day=today, by=None)

    assert run.matched == 2 + extra
