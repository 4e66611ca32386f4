from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Dashboards")

    def ready(self) -> None:
        # Connect the signal receivers: live pushes, and closing the boards of
        # people who lose access.
        from dashboard import receivers, revocation  # noqa: F401
