from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FloatManagementConfig(AppConfig):
    name = "float_management"
    verbose_name = _("Cash and ledger")

    def ready(self) -> None:
        from audit.actions import register_actions
        from float_management.models import TransferKind

        register_actions((f"transfer.{value}", label) for value, label in TransferKind.choices)
        register_actions(
            [
                ("request.approved", _("Request approved")),
                ("request.rejected", _("Request rejected")),
                ("vault.move_recorded", _("Vault movement recorded")),
                ("vault.move_cancelled", _("Vault movement cancelled")),
            ]
        )
