"""Provider backends whose daily files are the rows a test chose.

Set with `settings.WALLET_PROVIDER_BACKEND = "tests.reconciliation.fakes.FakeWallet"`
(and `ACQUIRER_BACKEND = "...FakeAcquirer"`); the `fakes` fixture resets them.
"""

from __future__ import annotations

from datetime import date

from wallet.providers import AcquirerRow, ProviderRefund, ProviderUnavailable, SettlementRow


class FakeWallet:
    rows: list[SettlementRow] = []
    unavailable = False
    asked: list[date] = []

    def __init__(self, *, url: str, secret: str = "", merchant_id: str = ""):
        self.url = url

    def settlement_file(self, day: date) -> list[SettlementRow]:
        FakeWallet.asked.append(day)
        if FakeWallet.unavailable:
            raise ProviderUnavailable("GET /v1/settlement: connection refused")
        return list(FakeWallet.rows)

    def refund(self, refund_id: str, txn_id: str, amount: int) -> ProviderRefund:
        return ProviderRefund(refund_id=refund_id, txn_id=txn_id, amount=amount, status="done")

    def payments_for(self, reference: str) -> list:
        return []


class FakeAcquirer:
    rows: list[AcquirerRow] = []
    unavailable = False
    asked: list[date] = []

    def __init__(self, *, url: str):
        self.url = url

    def settlement_file(self, day: date) -> list[AcquirerRow]:
        FakeAcquirer.asked.append(day)
        if FakeAcquirer.unavailable:
            raise ProviderUnavailable("GET /v1/settlement: timed out")
        return list(FakeAcquirer.rows)


def reset() -> None:
    for fake in (FakeWallet, FakeAcquirer):
        fake.rows = []
        fake.unavailable = False
        fake.asked = []
