from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from audit import receivers  # noqa: F401  (connects the auth and admin receivers)
        from audit.chain import CHAIN_CONSTRAINT, CHAIN_CONSTRAINT_SQLITE
        from core.retry import retry_on_unique

        # Two writers appending to one audit stream: the loser runs its transaction again.
        retry_on_unique(CHAIN_CONSTRAINT, sqlite_message=CHAIN_CONSTRAINT_SQLITE)
