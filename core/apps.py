from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """What every app may use and that imports no app: errors, retry, the clock, money."""

    name = "core"
    verbose_name = _("Core")
