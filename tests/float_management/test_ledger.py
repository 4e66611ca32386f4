"""The ledger: transfers that sum to zero, natural-sign balances, reversals and ledger_verify."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils.translation import override

from core.errors import InsufficientFunds, InvalidAmount, InvalidState
from float_management.ledger import (
    account_for,
    transfer_post,
    transfer_reverse,
    transit_account,
    vault_account,
)
from float_management.models import Account, AccountKind, Entry, Transfer, TransferKind
from float_management.verify import ledger_verify
from tests.float_management.helpers import balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(branch_a):
    return account_for(AccountKind.TILL, "till:test", branch=branch_a)


@pytest.fixture
def vault(branch_a):
    return vault_account(branch_a)


@pytest.fixture
def transit(branch_a):
    return transit_account(branch_a)


@pytest.fixture
def bank_a(branch_a):
    return account_for(AccountKind.BANK, "bank:test", branch=branch_a)


@pytest.fixture
def card(db):
    return account_for(AccountKind.CARD, "card:test")


@pytest.fixture
def payable(db):
    return account_for(AccountKind.PAYABLE, "payable:passport:fee")


@pytest.fixture
def commission(db):
    return account_for(AccountKind.COMMISSION, "commission:network")


def post(*legs, by, kind=TransferKind.PAYMENT) -> Transfer:
    with transaction.atomic():
        return transfer_post(kind=kind, legs=list(legs), created_by=by)


def test_it_refuses_entries_that_do_not_sum_to_zero(vault, transit, supervisor_a):
    with pytest.raises(InvalidAmount):
        post((vault, 100), (transit, -99), by=supervisor_a)

    assert not Transfer.objects.exists()
    assert not Entry.objects.exists()
    assert balance(vault) == balance(transit) == 0


def test_it_refuses_a_transfer_whose_entries_cancel_out_on_one_account(vault, supervisor_a):
    with pytest.raises(InvalidAmount):
        post((vault, 100), (vault, -100), by=supervisor_a)

    assert not Transfer.objects.exists()


@pytest.mark.parametrize(
    ("amount", "balancing"),
    [(0, 0), (100.0, -100), (True, -1), (Decimal("100"), -100), ("100", -100)],
    ids=["zero", "float", "bool", "decimal", "str"],
)
def test_it_refuses_an_entry_that_is_not_a_non_zero_int(
    vault, transit, bank_a, supervisor_a, amount, balancing
):
    # The other two legs make the transfer sum to zero, so the type is all that is wrong.
    with pytest.raises(InvalidAmount):
        post((vault, amount), (transit, balancing), (bank_a, 5), (transit, -5), by=supervisor_a)

    assert not Transfer.objects.exists()
    assert not Entry.objects.exists()


@pytest.mark.parametrize("kind", [AccountKind.TILL, AccountKind.VAULT, AccountKind.CARD])
def test_it_refuses_to_take_cash_or_a_card_below_zero_and_writes_nothing(
    kind, transit, supervisor_a
):
    account = account_for(kind, f"{kind}:under-test")
    # A debit raises an asset and lowers a liability; `sign` says which way round.
    post((account, account.sign * 500), (transit, -account.sign * 500), by=supervisor_a)
    transfers_before, entries_before = Transfer.objects.count(), Entry.objects.count()

    with pytest.raises(InsufficientFunds):
        post((account, -account.sign * 501), (transit, account.sign * 501), by=supervisor_a)

    assert balance(account) == 500
    assert balance(transit) == -account.sign * 500
    assert Transfer.objects.count() == transfers_before
    assert Entry.objects.count() == entries_before


def test_it_lets_cash_be_taken_down_to_exactly_zero(till, transit, supervisor_a):
    post((till, 500), (transit, -500), by=supervisor_a)

    post((till, -500), (transit, 500), by=supervisor_a)

    assert balance(till) == 0


def test_balances_read_the_natural_way_round(till, card, payable, commission, agent_a):
    # A cash payment of 10 EGP: 9 to the agency, 1 to the network.
    post((till, 1000), (payable, -900), (commission, -100), by=agent_a)
    # A card top-up of 5 EGP: cash in, the card owes it back.
    post((till, 500), (card, -500), by=agent_a, kind=TransferKind.TOP_UP)
    # A card payment of 2 EGP to the agency.
    post((card, 200), (payable, -200), by=agent_a)

    assert balance(till) == 1500
    assert balance(card) == 300
    assert balance(payable) == 1100
    assert balance(commission) == 100


def test_a_transfer_is_written_with_its_entries(till, transit, supervisor_a, branch_a):
    with transaction.atomic():
        transfer = transfer_post(
            kind=TransferKind.FLOAT_ISSUE,
            legs=[(till, 700), (transit, -700)],
            created_by=supervisor_a,
            branch=branch_a,
            memo="m" * 300,
        )

    transfer.refresh_from_db()
    assert transfer.kind == TransferKind.FLOAT_ISSUE
    assert transfer.branch == branch_a
    assert transfer.created_by == supervisor_a
    assert len(transfer.memo) == 200
    assert sorted(transfer.entries.values_list("account_id", "amount")) == sorted(
        [(till.pk, 700), (transit.pk, -700)]
    )


def test_it_posts_a_two_leg_transfer_in_six_queries(
    till, transit, supervisor_a, django_assert_num_queries
):
    # Lock the accounts, insert the transfer, insert its entries, update the balances,
    # read the audit stream's head and append the audit entry. (A till's own postings
    # read the head with the account lock: a cash payment stays at ten statements.)
    with transaction.atomic(), django_assert_num_queries(6):
        transfer_post(
            kind=TransferKind.PAYMENT, legs=[(till, 1), (transit, -1)], created_by=supervisor_a
        )


def many_payables(n: int) -> list[Account]:
    return Account.objects.bulk_create(
        Account(kind=AccountKind.PAYABLE, key=f"payable:MANY:{i:04}") for i in range(n)
    )


def test_a_transfer_of_thousands_of_accounts_locks_them_after_writing_its_rows(supervisor_a):
    """A settlement batch debits every payable of an agency (39,000 on a national day).

    Its entries are written before the accounts are locked, and the balances move in one
    statement, not one CASE over every id (quadratic): the locks are held for a moment.
    """
    payables = many_payables(1_203)
    bank = Account.objects.create(kind=AccountKind.BANK, key="bank:many")
    total = sum(range(100, 1_303))
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        collected = transfer_post(
            kind=TransferKind.PAYMENT,
            legs=[*((a, -(100 + i)) for i, a in enumerate(payables)), (bank, total)],
            created_by=supervisor_a,
        )
    owed = Account.objects.filter(key__startswith="payable:MANY:").order_by("key")
    assert list(owed.values_list("balance", flat=True)) == list(range(100, 1_303))
    assert balance(bank) == total
    if connection.vendor == "postgresql":
        sql = [q["sql"] for q in queries]
        locking = next(i for i, q in enumerate(sql) if q.endswith("FOR UPDATE"))
        writing = next(i for i, q in enumerate(sql) if q.startswith('INSERT INTO "float_man'))
        assert writing < locking
        updates = [q for q in sql if q.startswith('UPDATE "float_management_account"')]
        assert len(updates) == 1

    with transaction.atomic():
        transfer_reverse(transfer=collected, created_by=supervisor_a)
    assert set(owed.values_list("balance", flat=True)) == {0}
    assert balance(bank) == 0
    assert ledger_verify().ok


def test_a_transfer_of_thousands_of_accounts_that_would_overdraw_cash_writes_nothing(
    till, supervisor_a
):
    payables = many_payables(600)
    before = Transfer.objects.count(), Entry.objects.count()
    with override("en"), pytest.raises(InsufficientFunds, match="Till cash holds 0.00 EGP"):
        post(*((a, 1) for a in payables), (till, -600), by=supervisor_a)
    assert (Transfer.objects.count(), Entry.objects.count()) == before
    assert set(
        Account.objects.filter(kind=AccountKind.PAYABLE).values_list("balance", flat=True)
    ) <= {0}
    assert ledger_verify().ok


# Outside the test's wrapping transaction, so the guard can see there is none.
@pytest.mark.django_db(transaction=True)
def test_it_needs_a_transaction(till, transit, supervisor_a):
    with pytest.raises(AssertionError, match="needs a transaction"):
        transfer_post(
            kind=TransferKind.PAYMENT, legs=[(till, 1), (transit, -1)], created_by=supervisor_a
        )

    assert not Transfer.objects.exists()


def test_ledger_verify_is_ok_after_postings(till, vault, transit, card, payable, agent_a):
    post((vault, 10_000), (transit, -10_000), by=agent_a, kind=TransferKind.BANK_IN)
    post((till, 4_000), (vault, -4_000), by=agent_a, kind=TransferKind.FLOAT_ISSUE)
    post((till, 300), (card, -300), by=agent_a, kind=TransferKind.TOP_UP)
    post((card, 100), (payable, -100), by=agent_a)

    report = ledger_verify()

    assert report.ok, report.problems
    assert report.transfers == 4
    assert report.entries == 8
    assert report.accounts == Account.objects.count() == 5


def test_ledger_verify_reports_a_tampered_balance(till, transit, agent_a):
    post((till, 1000), (transit, -1000), by=agent_a)
    Account.objects.filter(pk=till.pk).update(balance=F("balance") + 1)

    report = ledger_verify()

    assert not report.ok
    assert f"account {till.key}: stored balance 1001, entries say 1000" in report.problems
    assert "balances do not sum to zero (debit-normal total 1)" in report.problems


def test_ledger_verify_reports_a_transfer_that_does_not_sum_to_zero(till, transit, agent_a):
    transfer = post((till, 1000), (transit, -1000), by=agent_a)
    # Only the ledger writes entries; this one goes round it (an insert the trigger allows).
    Entry.objects.create(transfer=transfer, account=transit, amount=-1)

    report = ledger_verify()

    assert f"transfer {transfer.pk} sums to -1, not 0" in report.problems


def test_the_ledger_verify_command_says_ok_on_a_sound_ledger(till, transit, agent_a, capsys):
    post((till, 1000), (transit, -1000), by=agent_a)

    call_command("ledger_verify")

    out = capsys.readouterr().out
    assert "Checked 1 transfers, 2 entries, 2 accounts." in out
    assert "Ledger OK" in out


def test_the_ledger_verify_command_exits_non_zero_on_a_mismatch(till, transit, agent_a, capsys):
    post((till, 1000), (transit, -1000), by=agent_a)
    Account.objects.filter(pk=transit.pk).update(balance=0)

    with pytest.raises(CommandError, match="found 2 problem"):
        call_command("ledger_verify")

    captured = capsys.readouterr()
    assert "Every stored balance equals its entries: no" in captured.out
    assert f"account {transit.key}: stored balance 0, entries say -1000" in captured.err


def test_transfer_reverse_posts_the_exact_opposite(till, transit, card, agent_a):
    original = post((till, 800), (card, -500), (transit, -300), by=agent_a)

    with transaction.atomic():
        reversal = transfer_reverse(transfer=original, created_by=agent_a)

    assert reversal.kind == TransferKind.REVERSAL
    assert reversal.reverses == original
    assert original.reversed_by == reversal
    assert sorted(reversal.entries.values_list("account_id", "amount")) == sorted(
        [(till.pk, -800), (card.pk, 500), (transit.pk, 300)]
    )
    assert balance(till) == balance(card) == balance(transit) == 0
    # The original stays as it was.
    assert sorted(original.entries.values_list("amount", flat=True)) == [-500, -300, 800]
    assert ledger_verify().ok


def test_it_refuses_to_reverse_a_transfer_twice(till, transit, agent_a):
    original = post((till, 800), (transit, -800), by=agent_a)
    post((till, 800), (transit, -800), by=agent_a)  # so a second reversal has the cash
    with transaction.atomic():
        transfer_reverse(transfer=original, created_by=agent_a)

    with pytest.raises(InvalidState), transaction.atomic():
        transfer_reverse(transfer=original, created_by=agent_a)

    assert Transfer.objects.filter(reverses=original).count() == 1
    assert balance(till) == 800
    assert ledger_verify().ok


def test_it_refuses_a_reversal_that_would_take_cash_below_zero(till, vault, transit, agent_a):
    post((vault, 800), (transit, -800), by=agent_a, kind=TransferKind.BANK_IN)
    issue = post((till, 800), (vault, -800), by=agent_a, kind=TransferKind.FLOAT_ISSUE)
    post((vault, 800), (till, -800), by=agent_a, kind=TransferKind.CASH_DROP)

    with pytest.raises(InsufficientFunds), transaction.atomic():
        transfer_reverse(transfer=issue, created_by=agent_a)

    assert not Transfer.objects.filter(reverses=issue).exists()
    assert balance(till) == 0
    assert balance(vault) == 800
