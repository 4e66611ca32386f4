"""Asking an agency what is due, and writing what it must be told with the payment.

- `inquiry_make`: the agent typed a reference; the agency's system says what is
  due (through its adapter, its timeouts and its circuit breaker). The answer is
  kept for `INQUIRY_MINUTES` for this agent: the payment must fit it.
- `PaymentHooks` (registered with counter.integrations): a payment of an
  integrated service is refused unless it fits the agent's inquiry (locked, and
  then used up by that payment), and writes its notification (and its request)
  in its own transaction; a void writes the void's notification in the void's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from agencies.adapters import adapter_for
from agencies.errors import AgencyUnavailable
from agencies.models import (
    Inquiry,
    Integration,
    Notification,
    NotificationKind,
    ServiceRequest,
    StatusChange,
)
from core.errors import InvalidAmount, InvalidState
from core.money import format_amount
from counter import integrations
from counter.services.catalog import references_clean

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from counter.models import Citizen, Payment, Service

INQUIRY_MINUTES = 15
INTEGRATIONS_TTL = 60.0
_integrations: tuple[float, dict[int, Integration]] = (0.0, {})


def integrations_cache_clear(**_kwargs: Any) -> None:
    global _integrations
    _integrations = (0.0, {})


def integration_for(service: Service) -> Integration | None:
    """The service's integration, if it has one: all of them read once a minute.

    A payment asks on every post, so the table (one row per integrated service) is
    kept in memory; a save clears this process's copy, the others follow within
    the minute, as the catalog's fees do.
    """
    global _integrations
    now = time.monotonic()
    expires, by_service = _integrations
    if expires <= now:
        by_service = {i.service_id: i for i in Integration.objects.all()}
        _integrations = (now + INTEGRATIONS_TTL, by_service)
    return by_service.get(service.pk)


def _reference_of(integration: Integration, references: Mapping[str, str]) -> str:
    if integration.reference_field:
        return references.get(integration.reference_field, "")
    return next(iter(references.values()), "")


class NeedsInquiry(InvalidState):
    """The payment of an inquire-first service fits no inquiry of this agent's."""

    field = None


def inquiry_make(*, agent: User, branch_id: int, service: Service, reference: str) -> Inquiry:
    """Ask the agency what is due under `reference`, and keep its answer for the payment.

    Raises the agency's error (agencies.errors) when it cannot say: nothing is kept
    and no money may be taken.
    """
    integration = integration_for(service)
    if integration is None or not integration.inquire_first:
        raise InvalidState(_("This service's amount is typed at the counter, not asked for."))
    field = integration.reference_field
    cleaned = references_clean(service=service, data={field: reference} if field else {})
    reference = cleaned.get(field, reference) if field else reference
    adapter = adapter_for(service.agency.code)
    if adapter is None:
        raise AgencyUnavailable(agency_code=service.agency.code, detail="no system configured")
    started = time.monotonic()
    presentment = adapter.inquire(service.code, reference)
    elapsed = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    return Inquiry.objects.create(
        token=secrets.token_urlsafe(16),
        agent=agent,
        branch_id=branch_id,
        service=service,
        reference=reference,
        name_masked=presentment.name_masked[:120],
        bills=[
            {
                "bill_id": bill.bill_id,
                "amount": bill.amount,
                "due_date": bill.due_date.isoformat(),
                "description": bill.description[:200],
            }
            for bill in presentment.bills
        ],
        total=presentment.total,
        minimum=presentment.minimum,
        partial_allowed=presentment.partial_allowed,
        advance_allowed=presentment.advance_allowed,
        created_at=now,
        expires_at=now + timedelta(minutes=INQUIRY_MINUTES),
        elapsed_ms=elapsed,
    )


def inquiry_for_agent(*, agent: User, token: str) -> Inquiry | None:
    """The agent's own inquiry of this token, still open (not paid, not expired)."""
    if not token or len(token) > 32:
        return None
    return (
        Inquiry.objects.select_related("service")
        .filter(token=token, agent=agent, payment__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def amount_fits(inquiry: Inquiry, amount: int | None) -> None:
    """Refuse an amount the agency's answer does not allow (InvalidAmount, on the amount)."""
    due = inquiry.total
    if amount is None:
        raise _on_amount(_("Type the amount to pay."))
    if due == 0 and not inquiry.advance_allowed:
        raise _on_amount(_("Nothing is due on this account: no money may be taken."))
    if amount == due:
        return
    if amount < due:
        if not inquiry.partial_allowed:
            raise _on_amount(
                _("The agency asks for exactly %(due)s EGP on this account.")
                % {"due": format_amount(due)}
            )
        if amount < inquiry.minimum:
            raise _on_amount(
                _("The agency takes at least %(minimum)s EGP as a part payment.")
                % {"minimum": format_amount(inquiry.minimum)}
            )
        return
    if not inquiry.advance_allowed:
        raise _on_amount(
            _("The agency takes no more than what is due: %(due)s EGP.")
            % {"due": format_amount(due)}
        )


def _on_amount(message: str) -> InvalidAmount:
    error = InvalidAmount(message)
    error.field = "amount"
    return error


class AgencyPaymentHooks(integrations.PaymentHooks):
    """What an integrated service's payment and void do besides the counter's own work."""

    def pay_page(
        self, request: HttpRequest, service: Service, citizen: Citizen | None
    ) -> HttpResponse | Mapping[str, Any] | None:
        integration = integration_for(service)
        if integration is None or not integration.inquire_first or request.method != "GET":
            return None
        inquiry = inquiry_for_agent(agent=request.user, token=request.GET.get("inquiry", ""))
        if inquiry is None or inquiry.service_id != service.pk:
            query = {"citizen": citizen.token} if citizen else {}
            url = reverse("agencies:inquiry", args=[service.code])
            return redirect(f"{url}?{urlencode(query)}" if query else url)
        field = integration.reference_field or "reference"
        amount = request.GET.get("amount") or ""
        return {f"ref_{field}": inquiry.reference, "amount": amount or format_amount(inquiry.total)}

    def check(
        self,
        *,
        agent: User,
        service: Service,
        references: Mapping[str, str],
        amount: int | None,
        lock: bool,
    ) -> Any:
        integration = integration_for(service)
        if integration is None:
            return None
        if not integration.inquire_first:
            return integration
        reference = _reference_of(integration, references)
        inquiries = Inquiry.objects.filter(
            agent=agent,
            service=service,
            reference=reference,
            payment__isnull=True,
            expires_at__gt=timezone.now(),
        ).order_by("-created_at", "-pk")
        if lock:
            inquiries = inquiries.select_for_update()
        inquiry = inquiries.first()
        if inquiry is None:
            raise NeedsInquiry(
                _(
                    "Ask the agency what is due on this reference first (its answer is kept "
                    "%(minutes)d minutes)."
                )
                % {"minutes": INQUIRY_MINUTES}
            )
        amount_fits(inquiry, amount)
        return (integration, inquiry)

    def posted(self, payment: Payment, held: Any) -> None:
        if held is None:
            return
        integration, inquiry = held if isinstance(held, tuple) else (held, None)
        if inquiry is not None:
            inquiry.payment = payment
            inquiry.save(update_fields=["payment"])
        agency_id = payment.service.agency_id
        Notification.objects.create(
            payment=payment,
            agency_id=agency_id,
            kind=NotificationKind.PAYMENT,
            created_at=payment.created_at,
            next_attempt_at=payment.created_at,
        )
        if integration.opens_request:
            request = ServiceRequest.objects.create(
                payment=payment, agency_id=agency_id, updated_at=payment.created_at
            )
            StatusChange.objects.create(
                request=request,
                status=request.status,
                change_id=f"opened:{payment.reference}",
                changed_by=payment.agent.get_username(),
                changed_at=payment.created_at,
            )
        transaction.on_commit(notifications_wake)

    def voided(self, payment: Payment, *, by: User) -> None:
        if integration_for(payment.service) is None:
            return
        now = timezone.now()
        Notification.objects.create(
            payment=payment,
            agency_id=payment.service.agency_id,
            kind=NotificationKind.VOID,
            created_at=now,
            next_attempt_at=now,
        )
        transaction.on_commit(notifications_wake)


def notifications_wake() -> None:
    """Tell a waiting worker there is something to deliver (PostgreSQL's NOTIFY; else nothing).

    The worker polls anyway; this only shortens the time from commit to delivery.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("NOTIFY agency_outbox")
