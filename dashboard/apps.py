from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Dashboards")

    def ready(self) -> None:
        from dashboard import receivers  # noqa: F401  (connects the signal receivers)
