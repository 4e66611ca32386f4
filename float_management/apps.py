from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FloatManagementConfig(AppConfig):
    name = "float_management"
    verbose_name = _("Cash and ledger")
