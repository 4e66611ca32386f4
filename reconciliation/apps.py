from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReconciliationConfig(AppConfig):
    """The outside systems' daily files (wallet provider, card acquirer) against our ledger."""

    name = "reconciliation"
    verbose_name = _("Reconciliation")
