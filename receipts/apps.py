from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptsConfig(AppConfig):
    name = "receipts"
    verbose_name = _("Receipts and reports")

    def ready(self) -> None:
        from receipts import receivers  # noqa: F401
