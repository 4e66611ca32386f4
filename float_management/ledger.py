"""Posting to the ledger: the only code that writes balances.

`transfer_post` is called from inside a service's transaction. It locks the
touched accounts in id order (so two transfers can never deadlock on them),
checks that the entries sum to zero and that no cash or card account would
go below zero, then writes the transfer, its entries and the new balances,
and appends the transfer to the audit log in the same transaction. A transfer
touching more than BULK_LEGS accounts (a settlement batch) writes its rows
first and locks its accounts last, so counters crediting them wait a moment,
not for the writing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils.translation import gettext as _

from agents.models import Branch
from audit import log as audit_log
from core.errors import InsufficientFunds, InvalidAmount, InvalidState
from core.money import MAX_AMOUNT, format_amount
from float_management import signals
from float_management.models import (
    ASSET_KINDS,
    NON_NEGATIVE_KINDS,
    Account,
    AccountKind,
    Entry,
    TillSession,
    Transfer,
    TransferKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# More accounts than this in one transfer take the bulk path (`_transfer_post_bulk`).
BULK_LEGS = 500


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


def clearing_account(provider: str, branch: Branch | None) -> Account:
    """What `provider` (a wallet, a card acquirer) owes for a branch's payments (None: HQ)."""
    code = branch.code if branch else "national"
    return account_for(AccountKind.CLEARING, f"clearing:{provider}:{code}", branch=branch)


def refund_due_account(provider: str, branch: Branch | None) -> Account:
    """Money `provider` took for a branch that is owed back to citizens until it is refunded."""
    code = branch.code if branch else "national"
    return account_for(AccountKind.REFUND_DUE, f"refund_due:{provider}:{code}", branch=branch)


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
    created_by: User,
    branch: Branch | None = None,
    memo: str = "",
    reverses: Transfer | None = None,
    session: TillSession | None = None,
    audit_stream: str | None = None,
) -> Transfer:
    """Post one transfer. `legs` are (account, amount) with debits positive, summing to zero.

    The audit entry goes to the stream of `session` (a till session whose row
    the caller has locked: that lock serialises the stream, so its head is
    read in the same statement that locks the accounts), else to
    `audit_stream`, the branch's stream or the national one (head read after
    the account locks, one more statement).
    """
    assert transaction.get_connection().in_atomic_block, "transfer_post needs a transaction"
    by_account: dict[int, int] = defaultdict(int)
    for account, amount in legs:
        if type(amount) is not int or amount == 0:
            raise InvalidAmount(_("Every entry is a non-zero whole number of piastres."))
        by_account[account.pk] += amount
    by_account = {pk: amount for pk, amount in by_account.items() if amount != 0}
    if not by_account or sum(by_account.values()) != 0:
        raise InvalidAmount(_("A transfer's entries must sum to zero."))

    if session is not None:
        stream = audit_log.till_stream(session.pk)
    elif audit_stream is not None:
        stream = audit_stream
    else:
        stream = audit_log.NATIONAL if branch is None else audit_log.branch_stream(branch)

    if len(by_account) > BULK_LEGS and session is None:
        return _transfer_post_bulk(
            kind=kind,
            by_account=by_account,
            created_by=created_by,
            branch=branch,
            memo=memo,
            reverses=reverses,
            stream=stream,
        )

    # Lock in id order: every transfer takes its locks in the same order.
    accounts = Account.objects.select_for_update().filter(pk__in=by_account).order_by("pk")
    if session is not None:
        # Every writer of the session's stream took the session's lock in an earlier
        # statement, so this statement's snapshot already sees the stream's last entry.
        # (Without such a lock the head is read after this statement instead: one that
        # waits for a row lock keeps the snapshot it started with, and would read a
        # stale head, costing a retry.)
        accounts = accounts.annotate(**audit_log.head_annotations(stream))
    locked = list(accounts)
    head = audit_log.head_from(stream, locked[0]) if session is not None else None
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
    legs = {account.key: by_account[account.pk] for account in locked}
    _audited(transfer, stream=stream, head=head, legs=legs, actor=created_by, branch=branch)
    return transfer


def _audited(
    transfer: Transfer,
    *,
    stream: str,
    head: audit_log.Head | None,
    legs: dict[str, int],
    actor: User,
    branch: Branch | None,
) -> None:
    """The transfer's audit entry (its legs by account key), and its signal after commit."""
    audit_log.append(
        stream=stream,
        head=head,
        action=f"transfer.{transfer.kind}",
        actor=actor,
        object_type="transfer",
        object_id=transfer.pk,
        branch=branch,
        data={
            "kind": transfer.kind,
            "memo": transfer.memo,
            "legs": legs,
            "reverses": transfer.reverses_id,
        },
    )
    transaction.on_commit(
        lambda: signals.transfer_posted.send_robust(sender=Transfer, transfer=transfer)
    )


def _transfer_post_bulk(
    *,
    kind: str,
    by_account: dict[int, int],
    created_by: User,
    branch: Branch | None,
    memo: str,
    reverses: Transfer | None,
    stream: str,
) -> Transfer:
    """`transfer_post` for thousands of accounts (a settlement batch debits every payable of
    an agency, one per branch and fee): the locks are taken last and held for a moment.

    The transfer and its entries are written first, the accounts then locked in id order
    and their balances moved in one statement per few thousand, rather than one CASE over
    every id (time quadratic in the accounts) while the locks are held. A refusal rolls
    back what was written here.
    """
    keys = dict(Account.objects.filter(pk__in=by_account).values_list("pk", "key"))
    with transaction.atomic():
        transfer = Transfer.objects.create(
            kind=kind, branch=branch, memo=memo[:200], created_by=created_by, reverses=reverses
        )
        Entry.objects.bulk_create(
            [
                Entry(transfer=transfer, account_id=pk, amount=amount)
                for pk, amount in by_account.items()
            ],
            batch_size=5_000,
        )
        locked = _accounts_lock(list(by_account))
        moves = []
        for pk, account_kind, balance in locked:
            move = (1 if account_kind in ASSET_KINDS else -1) * by_account[pk]
            if account_kind in NON_NEGATIVE_KINDS and balance + move < 0:
                raise InsufficientFunds(
                    _("Not enough money: %(account)s holds %(balance)s EGP.")
                    % {
                        "account": AccountKind(account_kind).label,
                        "balance": format_amount(balance),
                    }
                )
            moves.append((pk, move))
        _balances_move(moves)
        legs = {keys[pk]: by_account[pk] for pk in sorted(by_account)}
        _audited(transfer, stream=stream, head=None, legs=legs, actor=created_by, branch=branch)
    return transfer


def _accounts_lock(ids: list[int]) -> list[tuple[int, str, int]]:
    """Lock the accounts in id order; each one's (id, kind, balance).

    On PostgreSQL the ids go as one array: 39,000 literals in an IN list take a
    second to parse while the locks already taken are held.
    """
    if connection.vendor != "postgresql":
        return list(
            Account.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "kind", "balance")
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id, kind, balance FROM "{Account._meta.db_table}" '
            "WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [ids],
        )
        return cursor.fetchall()


def _balances_move(moves: list[tuple[int, int]]) -> None:
    """Add each (account id, amount) to the stored balance; the rows are locked already."""
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement, two arrays: no text of 39,000 rows to parse under the locks.
            cursor.execute(
                f'UPDATE "{table}" AS a SET balance = a.balance + v.move '
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, move) WHERE a.id = v.id",
                [[pk for pk, _move in moves], [move for _pk, move in moves]],
            )
        else:
            cursor.executemany(
                f'UPDATE "{table}" SET balance = balance + %s WHERE id = %s',
                [(move, pk) for pk, move in moves],
            )


def transfer_reverse(
    *,
    transfer: Transfer,
    created_by: User,
    kind: str = TransferKind.REVERSAL,
    memo: str = "",
    session: TillSession | None = None,
    redirect: Mapping[int, Account] | None = None,
) -> Transfer:
    """Post the exact opposite of `transfer` (a correction; the original stays).

    `redirect` sends the leg of an account (by id) to another one: a refund to a
    card that has since been replaced goes to its replacement.
    """
    if Transfer.objects.filter(reverses=transfer).exists():
        raise InvalidState(_("This transfer has already been reversed."))
    entries = list(transfer.entries.select_related("account"))
    redirect = redirect or {}
    return transfer_post(
        kind=kind,
        legs=[(redirect.get(e.account_id, e.account), -e.amount) for e in entries],
        created_by=created_by,
        branch=transfer.branch,
        memo=memo,
        reverses=transfer,
        session=session,
    )
