from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CounterConfig(AppConfig):
    name = "counter"
    verbose_name = _("Counter work")

    def ready(self) -> None:
        # Registers what approving a void does with the ledger's approval queue.
        from counter.services import payments  # noqa: F401
