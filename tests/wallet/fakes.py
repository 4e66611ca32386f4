"""A wallet provider in memory, chosen by settings like any backend (tests only).

The real provider's simulator (simulators/wallet.py) is a process of its own;
these tests are about what the app does with its answers.
"""

from __future__ import annotations

from wallet.providers import ProviderPayment, ProviderRefund, ProviderUnavailable

PAID: dict[str, list[ProviderPayment]] = {}
REFUNDS: dict[str, ProviderRefund] = {}
DOWN: list[bool] = [False]


def reset() -> None:
    PAID.clear()
    REFUNDS.clear()
    DOWN[0] = False


class FakeWallet:
    def __init__(self, **_settings: object) -> None:
        pass

    def payments_for(self, reference: str) -> list[ProviderPayment]:
        if DOWN[0]:
            raise ProviderUnavailable("down")
        return list(PAID.get(reference, []))

    def refund(self, refund_id: str, txn_id: str, amount: int) -> ProviderRefund:
        if DOWN[0]:
            raise ProviderUnavailable("down")
        refund = REFUNDS.setdefault(
            refund_id, ProviderRefund(refund_id, txn_id, amount, "refunded")
        )
        return refund

    def settlement_file(self, day):  # noqa: ANN001, ANN201
        return []
