"""Posting to the ledger: the only code that writes balances.

`transfer_post` is called from inside a service's transaction. It locks the
touched accounts in id order (so two transfers can never deadlock on them),
checks that the entries sum to zero and that no cash or card account would
go below zero, then writes the transfer, its entries and the new balances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from agents.models import Branch
from float_management import signals
from float_management.errors import InsufficientFunds, InvalidAmount, InvalidState
from float_management.models import (
    NON_NEGATIVE_KINDS,
    Account,
    AccountKind,
    Entry,
    Transfer,
    TransferKind,
)
from float_management.money import MAX_AMOUNT, format_amount


def account_for(kind: AccountKind, key: str, *, branch: Branch | None = None) -> Account:
    """The account named `key`, created (with a zero balance) the first time it is asked for."""
    account, _created = Account.objects.get_or_create(
        key=key, defaults={"kind": kind, "branch": branch}
    )
    return account


def vault_account(branch: Branch) -> Account:
    return account_for(AccountKind.VAULT, f"vault:{branch.code}", branch=branch)


def transit_account(branch: Branch) -> Account:
    return account_for(AccountKind.TRANSIT, f"transit:{branch.code}", branch=branch)


def over_short_account(branch: Branch) -> Account:
    return account_for(AccountKind.OVER_SHORT, f"over_short:{branch.code}", branch=branch)


def check_amount(amount: object) -> int:
    """A positive whole number of piastres, or InvalidAmount."""
    if type(amount) is not int:  # refuses bool, float, Decimal, str
        raise InvalidAmount(_("Amounts are whole piastres."))
    if amount <= 0:
        raise InvalidAmount(_("The amount must be more than zero."))
    if amount > MAX_AMOUNT:
        raise InvalidAmount(_("That amount is too large."))
    return amount


def transfer_post(
    *,
    kind: str,
    legs: Iterable[tuple[Account, int]],
    created_by,
    branch: Branch | None = None,
    memo: str = "",
    reverses: Transfer | None = None,
) -> Transfer:
    """Post one transfer. `legs` are (account, amount) with debits positive, summing to zero."""
    assert transaction.get_connection().in_atomic_block, "transfer_post needs a transaction"
    by_account: dict[int, int] = defaultdict(int)
    for account, amount in legs:
        if type(amount) is not int or amount == 0:
            raise InvalidAmount(_("Every entry is a non-zero whole number of piastres."))
        by_account[account.pk] += amount
    by_account = {pk: amount for pk, amount in by_account.items() if amount != 0}
    if not by_account or sum(by_account.values()) != 0:
        raise InvalidAmount(_("A transfer's entries must sum to zero."))

    # Lock in id order: every transfer takes its locks in the same order.
    locked = list(Account.objects.select_for_update().filter(pk__in=by_account).order_by("pk"))
    for account in locked:
        new_balance = account.balance + account.sign * by_account[account.pk]
        if account.kind in NON_NEGATIVE_KINDS and new_balance < 0:
            raise InsufficientFunds(
                _("Not enough money: %(account)s holds %(balance)s EGP.")
                % {"account": account.get_kind_display(), "balance": format_amount(account.balance)}
            )
        account.balance = new_balance

    transfer = Transfer.objects.create(
        kind=kind, branch=branch, memo=memo[:200], created_by=created_by, reverses=reverses
    )
    Entry.objects.bulk_create(
        [
            Entry(transfer=transfer, account_id=pk, amount=amount)
            for pk, amount in by_account.items()
        ]
    )
    Account.objects.bulk_update(locked, ["balance"])
    transaction.on_commit(
        lambda: signals.transfer_posted.send_robust(sender=Transfer, transfer=transfer)
    )
    return transfer


def transfer_reverse(
    *, transfer: Transfer, created_by, kind: str = TransferKind.REVERSAL, memo: str = ""
) -> Transfer:
    """Post the exact opposite of `transfer` (a correction; the original stays)."""
    if Transfer.objects.filter(reverses=transfer).exists():
        raise InvalidState(_("This transfer has already been reversed."))
    entries = list(transfer.entries.select_related("account"))
    return transfer_post(
        kind=kind,
        legs=[(entry.account, -entry.amount) for entry in entries],
        created_by=created_by,
        branch=transfer.branch,
        memo=memo,
        reverses=transfer,
    )
