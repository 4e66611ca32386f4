"""Receipts: the preview, the PDF (original, then counted copies), public verification."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from agents.addresses import client_ip
from agents.permissions import Action, can_see_branch, require
from receipts import selectors
from receipts.models import Receipt
from receipts.tokens import reference_from, token_for

LAYOUTS = ("roll", "a4")


def _scoped_receipt(request: HttpRequest, reference: str) -> Receipt:
    receipt = selectors.receipt_find(reference)
    if receipt is None or not can_see_branch(request.user, selectors.branch_of(receipt)):
        raise Http404
    return receipt


def _verify_url(request: HttpRequest, reference: str) -> str:
    return request.build_absolute_uri(reverse("receipt_verify", args=[token_for(reference)]))


@require_GET
@require(Action.VIEW)
def receipt_preview(request: HttpRequest, reference: str) -> HttpResponse:
    """The receipt on screen, with a print button; ?print=1 opens the print dialog at once."""
    receipt = _scoped_receipt(request, reference)
    data = selectors.receipt_data(
        receipt, copy_number=receipt.reprints, verify_url=_verify_url(request, reference)
    )
    void_slip = None
    if receipt.kind == Receipt.Kind.PAYMENT and data.voided:
        void_slip = selectors.void_slip_for(receipt.payment)
    return render(
        request,
        "receipts/preview.html",
        {
            "receipt": receipt,
            "data": data,
            "void_slip": void_slip,
            "auto_print": request.GET.get("print") == "1",
        },
    )


@never_cache
@require_GET
@require(Action.VIEW)
def receipt_pdf(request: HttpRequest, reference: str) -> HttpResponse:
    """The PDF. The first one printed is the original; every later one is a counted copy.

    Fetching it counts a print, so a link from another site (which the browser
    says with Sec-Fetch-Site) must not use up the original: it is refused.
    """
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise PermissionDenied
    layout = request.GET.get("layout", "roll")
    if layout not in LAYOUTS:
        raise Http404
    receipt = _scoped_receipt(request, reference)
    copy_number = selectors.receipt_print(receipt)
    data = selectors.receipt_data(
        receipt, copy_number=copy_number, verify_url=_verify_url(request, reference)
    )
    from receipts.pdf import render_receipt  # ReportLab loads only when a PDF is asked for

    response = HttpResponse(render_receipt(data, layout=layout), content_type="application/pdf")
    suffix = f"-copy{copy_number}" if copy_number else ""
    response["Content-Disposition"] = f'inline; filename="receipt-{reference}{suffix}.pdf"'
    return response


def _over_rate(request: HttpRequest) -> bool:
    """A fixed window per client address: enough for a person, useless for enumeration."""
    address = client_ip(request)
    window = int(time.time() // 60)
    key = f"receipt-verify:{address}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count > settings.RECEIPT_VERIFY_PER_MINUTE


@never_cache
@require_GET
def receipt_verify(request: HttpRequest, token: str) -> HttpResponse:
    """Public: genuine, voided or not genuine. Shows no more than the receipt itself."""
    if _over_rate(request):
        return render(request, "receipts/verify.html", {"status": "busy"}, status=429)
    reference = reference_from(token)
    receipt = selectors.receipt_find(reference) if reference else None
    if receipt is None:
        return render(request, "receipts/verify.html", {"status": "forged"})
    data = selectors.receipt_data(receipt, copy_number=0, verify_url="")
    return render(
        request,
        "receipts/verify.html",
        {"status": "voided" if data.voided else "genuine", "data": data, "receipt": receipt},
    )
