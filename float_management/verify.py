"""Recompute the ledger from its entries and compare with what is stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Sum

from float_management.models import ASSET_KINDS, Account, Entry, Transfer


@dataclass
class LedgerReport:
    accounts: int = 0
    transfers: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify() -> LedgerReport:
    """Every transfer sums to zero; every stored balance equals its entries; all sum to zero."""
    report = LedgerReport()
    unbalanced = (
        Entry.objects.values("transfer_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transfer_id")
    )
    for row in unbalanced[:50]:
        report.problems.append(f"transfer {row['transfer_id']} sums to {row['total']}, not 0")
    report.transfers = Transfer.objects.count()
    for pk in Transfer.objects.filter(entries__isnull=True).values_list("pk", flat=True)[:50]:
        report.problems.append(f"transfer {pk} has no entries")
    report.entries = Entry.objects.count()

    sums = dict(Entry.objects.values_list("account_id").annotate(total=Sum("amount")).order_by())
    debit_total = 0
    for account in Account.objects.order_by("pk").iterator(chunk_size=5000):
        report.accounts += 1
        raw = sums.get(account.pk, 0)
        sign = 1 if account.kind in ASSET_KINDS else -1
        debit_total += sign * account.balance
        if account.balance != sign * raw:
            report.problems.append(
                f"account {account.key}: stored balance {account.balance}, entries say {sign * raw}"
            )
    if debit_total != 0:
        report.problems.append(f"balances do not sum to zero (debit-normal total {debit_total})")
    return report
