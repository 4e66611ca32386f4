"""The QR on the counter's screen, its live status, the provider's callback, refunds."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from agents.permissions import Action, can, require, scope_of, scoped
from core.errors import DomainError
from core.signing import SignatureError, verify
from counter import receipting
from wallet import qr
from wallet.models import CallbackSeen, IntentStatus, ReceiptStatus, WalletIntent, WalletTransaction
from wallet.services import intent_cancel, money_arrived, refund_approve

logger = logging.getLogger(__name__)


def _own_intent(request: HttpRequest, reference: str) -> WalletIntent:
    """The agent's own QR: nobody else's counter shows or polls it."""
    return get_object_or_404(
        WalletIntent.objects.select_related("service", "citizen", "payment"),
        reference=reference,
        agent=request.user,
    )


def _status_context(intent: WalletIntent) -> dict[str, object]:
    now = timezone.now()
    pending = intent.status == IntentStatus.PENDING and intent.expires_at > now
    return {
        "intent": intent,
        "pending": pending,
        "expired": not pending and intent.status != IntentStatus.PAID,
        "seconds_left": max(0, int((intent.expires_at - now).total_seconds())) if pending else 0,
    }


@require_GET
@require(Action.OPERATE_COUNTER)
def qr_page(request: HttpRequest, reference: str) -> HttpResponse:
    intent = _own_intent(request, reference)
    context = {
        **_status_context(intent),
        "svg": qr.render_svg(intent.payload, aria_label=_("Scan to pay with your wallet")),
    }
    return render(request, "wallet/qr.html", context)


@require_GET
@require(Action.OPERATE_COUNTER)
def qr_citizen(request: HttpRequest, reference: str) -> HttpResponse:
    """The same QR for the citizen's screen (a second window turned to them): large, no controls.

    Opened by the agent from the QR page; it follows the same status and says when
    the money has arrived. Nothing of the agent's (no cancel, no print) is on it.
    """
    intent = _own_intent(request, reference)
    context = {
        **_status_context(intent),
        "svg": qr.render_svg(intent.payload, aria_label=_("Scan to pay with your wallet")),
    }
    if request.htmx:
        return render(request, "wallet/citizen.html#status", context)
    return render(request, "wallet/citizen.html", context)


@require_GET
@require(Action.OPERATE_COUNTER)
def qr_status(request: HttpRequest, reference: str) -> HttpResponse:
    """Polled by the QR page every second: pending, paid (then print), or expired."""
    intent = _own_intent(request, reference)
    return render(request, "wallet/qr.html#status", _status_context(intent))


@require_POST
@require(Action.OPERATE_COUNTER)
def qr_print(request: HttpRequest, reference: str) -> HttpResponse:
    """The paid QR's payment: its receipt, the original printed (once, as for cash)."""
    intent = _own_intent(request, reference)
    if intent.payment is None:
        messages.error(request, _("This QR is not paid."))
        return redirect("wallet:qr", reference=reference)
    return receipting.paid(request, intent.payment)


@require_POST
@require(Action.OPERATE_COUNTER)
def qr_cancel(request: HttpRequest, reference: str) -> HttpResponse:
    intent = intent_cancel(agent=request.user, intent=_own_intent(request, reference))
    if intent.status == IntentStatus.PAID:
        return redirect("wallet:qr", reference=reference)
    messages.success(request, _("The QR is cancelled; money paid to it now is refunded."))
    return redirect("counter:pay", code=intent.service.code)


# --- The provider's callback ------------------------------------------------------------


class _BadCallback(ValueError):
    pass


def _parse(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise _BadCallback("the body is not JSON") from error
    if not isinstance(data, dict):
        raise _BadCallback("the body is not an object")
    txn_id, reference, amount = data.get("txn_id"), data.get("reference"), data.get("amount")
    if not (isinstance(txn_id, str) and 0 < len(txn_id) <= 64):
        raise _BadCallback("txn_id")
    if not (isinstance(reference, str) and 0 < len(reference) <= 64):
        raise _BadCallback("reference")
    if type(amount) is not int or not 0 < amount < 10**13:
        raise _BadCallback("amount")
    try:
        paid_at = datetime.fromisoformat(str(data.get("paid_at")))
    except ValueError as error:
        raise _BadCallback("paid_at") from error
    if paid_at.tzinfo is None:
        raise _BadCallback("paid_at has no time zone")
    wallet = data.get("wallet") if isinstance(data.get("wallet"), str) else ""
    return {
        "txn_id": txn_id,
        "reference": reference,
        "amount": amount,
        "paid_at": paid_at,
        "wallet": wallet,
    }


@csrf_exempt  # the provider signs its request instead (core.signing)
@require_POST
def callback(request: HttpRequest) -> HttpResponse:
    """The provider says a citizen paid a QR: signed, once, and idempotent by its txn id."""
    body = request.body
    # As verify() compares it: the same signature in capitals is the same replay.
    signature = request.headers.get("X-Wallet-Signature", "").strip().lower()
    try:
        verify(
            settings.WALLET_PROVIDER_SECRET.encode(),
            request.headers.get("X-Wallet-Timestamp", ""),
            signature,
            body,
            now=time.time(),
        )
    except SignatureError as error:
        logger.warning("wallet callback refused: %s", error)
        return JsonResponse({"error": str(error)}, status=401)
    if CallbackSeen.objects.filter(signature=signature).exists():
        # The same signed bytes again: refused for good (a provider's own second delivery
        # is signed anew, and is answered as the duplicate it is, below).
        return JsonResponse({"error": "this callback was already received (a replay)"}, status=403)
    try:
        fields = _parse(body)
    except _BadCallback as error:
        return JsonResponse({"error": f"bad callback: {error}"}, status=400)
    try:
        txn = money_arrived(**fields, via="callback")
    except DomainError as error:
        return JsonResponse({"error": str(error)}, status=422)
    # The same request twice at once: both found the one transaction.
    with contextlib.suppress(IntegrityError):
        CallbackSeen.objects.create(signature=signature)
    return JsonResponse({"txn_id": txn.txn_id, "status": txn.status})


# --- Refunds: the supervisors' queue ----------------------------------------------------


def _refunds_in_scope(request: HttpRequest):  # noqa: ANN202
    waiting = WalletTransaction.objects.select_related("branch", "intent", "payment").exclude(
        status=ReceiptStatus.APPLIED
    )
    if can(request.user, Action.SETTLE):
        return waiting  # head office: every branch's and the money of unknown QRs
    return scoped(request.user, waiting)


@require_GET
@require(Action.VIEW)
def refunds(request: HttpRequest) -> HttpResponse:
    if not (can(request.user, Action.APPROVE) or can(request.user, Action.SETTLE)):
        raise Http404
    rows = _refunds_in_scope(request).order_by("status", "-received_at")[:500]
    return render(request, "wallet/refunds.html", {"rows": rows, "scope": scope_of(request.user)})


@require_POST
@require(Action.VIEW)
def refund_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not (can(request.user, Action.APPROVE) or can(request.user, Action.SETTLE)):
        raise Http404
    txn = get_object_or_404(_refunds_in_scope(request), pk=pk)
    if txn.branch_id is None and not can(request.user, Action.SETTLE):
        raise Http404
    try:
        refund_approve(supervisor=request.user, txn=txn)
        messages.success(request, _("Refund approved: it is sent to the wallet provider."))
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("wallet:refunds")


app_name = "wallet"
urlpatterns = [
    path("callback/", callback, name="callback"),
    path("refunds/", refunds, name="refunds"),
    path("refunds/<int:pk>/approve/", refund_approve_view, name="refund_approve"),
    path("<str:reference>/", qr_page, name="qr"),
    path("<str:reference>/status/", qr_status, name="qr_status"),
    path("<str:reference>/citizen/", qr_citizen, name="qr_citizen"),
    path("<str:reference>/print/", qr_print, name="qr_print"),
    path("<str:reference>/cancel/", qr_cancel, name="qr_cancel"),
]
