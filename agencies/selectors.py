"""Reads of requests and refunds for pages above (the receipt's verification page)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agencies.models import ServiceRequest

if TYPE_CHECKING:
    from counter.models import Payment


def service_request_of(payment: Payment) -> ServiceRequest | None:
    """The request the payment opened (its current status), or None for an ordinary payment.

    For the public verification page: `templates/agencies/_request_status.html` shows it
    (the status and when; never the agency officer's name nor the reason's detail).
    """
    return ServiceRequest.objects.filter(payment=payment).first()
