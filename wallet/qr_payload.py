"""Our QR for a payment: the EMVCo fields (wallet.emvco) filled from settings and the payment."""

from __future__ import annotations

from django.conf import settings

from counter.methods.terminal import terminal_id
from wallet import emvco

# The wallet provider's globally unique id in the merchant account template (26.00).
PROVIDER_GUID = "eg.post.wallet"


def for_payment(
    *, reference: str, total: int, branch_code: str, counter_number: int, bill: str
) -> str:
    terminal = terminal_id(branch_code, counter_number)
    return emvco.build(
        emvco.MerchantQr(
            provider_guid=PROVIDER_GUID,
            merchant_id=settings.WALLET_MERCHANT_ID,
            terminal_id=terminal,
            amount_piastres=total,
            merchant_name=settings.WALLET_MERCHANT_NAME,
            merchant_city=settings.WALLET_MERCHANT_CITY,
            bill_number=bill[:25],
            reference=reference,
            terminal_label=terminal,
        )
    )
