from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = _("Agencies' systems")

    def ready(self) -> None:
        from agencies.adapters import agency_systems

        # A typo in AGENCY_SYSTEMS_JSON fails at start-up, not at the first citizen's inquiry.
        agency_systems()
