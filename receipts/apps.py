from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptsConfig(AppConfig):
    name = "receipts"
    verbose_name = _("Receipts and reports")

    def ready(self) -> None:
        from audit.actions import register_actions
        from counter import receipting
        from receipts import receivers  # noqa: F401
        from receipts.views import payment_paid

        # The counter answers a posted payment with its receipt, the original printing.
        receipting.register(payment_paid)

        register_actions(
            [
                ("receipt.original_printed", _("Receipt original printed")),
                ("receipt.copy_printed", _("Receipt copy printed")),
            ]
        )
