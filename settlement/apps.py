from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    """Money leaving to the agencies: batches, value dates, settlement files."""

    name = "settlement"
    verbose_name = _("Settlement")

    def ready(self) -> None:
        from agencies import refunds
        from settlement.models import SettlementItem

        # A refund of a payment already paid to its agency is owed back by the agency;
        # one not paid yet takes the payable back (and settlement leaves the payment out).
        def settled(payment: object) -> bool:
            return SettlementItem.objects.filter(payment=payment).exists()

        if not refunds.SETTLED_CHECKS:
            refunds.SETTLED_CHECKS.append(settled)
