from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    """Money leaving to the agencies: batches, value dates, settlement files."""

    name = "settlement"
    verbose_name = _("Settlement")
