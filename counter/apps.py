from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CounterConfig(AppConfig):
    name = "counter"
    verbose_name = _("Counter work")

    def ready(self) -> None:
        # Registers what approving a void does with the ledger's approval queue.
        from django.db.models.signals import post_delete, post_save

        from audit.actions import register_actions
        from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service
        from counter.services import payments  # noqa: F401
        from counter.services.catalog import catalog_cache_clear

        register_actions(
            [
                ("card.replaced", _("Card blocked and replaced")),
                ("card.unlocked", _("Card unlocked")),
                ("citizen.read", _("Citizen record read")),
                ("citizen.read_refused", _("Citizen record read refused")),
            ]
        )

        # Any catalog change empties this process's cache of fees and accounts.
        for model in (Agency, Service, FeeSchedule, FeeComponent, ReferenceField):
            post_save.connect(
                catalog_cache_clear, sender=model, dispatch_uid=f"cc-{model.__name__}"
            )
            post_delete.connect(
                catalog_cache_clear, sender=model, dispatch_uid=f"cd-{model.__name__}"
            )
