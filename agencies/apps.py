from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = _("Agencies' systems")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from agencies.adapters import agency_systems
        from agencies.models import Integration
        from agencies.services import AgencyPaymentHooks, integrations_cache_clear
        from counter import integrations

        # A typo in AGENCY_SYSTEMS_JSON fails at start-up, not at the first citizen's inquiry.
        agency_systems()
        # An integrated service's payments and voids write the agency's notification in
        # their own transaction (counter.integrations).
        integrations.register(AgencyPaymentHooks())
        post_save.connect(integrations_cache_clear, sender=Integration, dispatch_uid="ai-save")
        post_delete.connect(integrations_cache_clear, sender=Integration, dispatch_uid="ai-del")
