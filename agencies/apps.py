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
        self._refunds_ready()

    def _refunds_ready(self) -> None:
        from agencies.refunds import approve_refund, on_payment_refused, reject_refund
        from agencies.signals import payment_refused
        from audit.actions import register_actions
        from float_management.models import RequestKind
        from float_management.services import APPROVAL_HANDLERS, REJECTION_HANDLERS

        # A refund's payout is a float_management request, decided in the approvals queue.
        APPROVAL_HANDLERS[RequestKind.REFUND] = approve_refund
        REJECTION_HANDLERS[RequestKind.REFUND] = reject_refund
        # In the outbox's transaction: the refund is held with the refusal, or neither.
        payment_refused.connect(on_payment_refused, dispatch_uid="agencies-refund-on-refusal")
        register_actions(
            [
                ("agencies.request_status", _("Agency request status received")),
                ("agencies.refund_opened", _("Agency refund held for a citizen")),
                ("agencies.refund_requested", _("Agency refund payout asked")),
                ("agencies.refund_paid", _("Agency refund paid out")),
            ]
        )
