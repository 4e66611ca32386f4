"""Receipts: the page, printing (a POST: the original, then counted copies), verification."""

from __future__ import annotations

import dataclasses
import time

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from agents.addresses import client_ip
from agents.permissions import Action, can_see_branch, require
from core.errors import DomainError, NotAllowed
from counter.models import Payment
from receipts import selectors, services
from receipts.data import ReceiptData
from receipts.models import Receipt, ReceiptPrint
from receipts.tokens import print_token_for, reference_from, token_for

LAYOUTS = ReceiptPrint.Layout.values


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
    """The receipt on screen, with the print buttons for who may print.

    ?print=1 (where a payment sends its agent) prints at once, but only while
    the original is not printed: a reload does not print a second original.
    """
    receipt = _scoped_receipt(request, reference)
    data = selectors.receipt_data(receipt, copy_number=0, verify_url="")
    void_slip = None
    if receipt.kind == Receipt.Kind.PAYMENT and data.voided:
        void_slip = selectors.void_slip_for(receipt.payment)
    may_print = selectors.printer_role(request.user, receipt) is not None
    return render(
        request,
        "receipts/preview.html",
        {
            "receipt": receipt,
            "data": data,
            "void_slip": void_slip,
            "may_print": may_print,
            "auto_print": (
                may_print
                and request.GET.get("print") == "1"
                and receipt.original_printed_at is None
            ),
        },
    )


def payment_paid(request: HttpRequest, payment: Payment) -> HttpResponse:
    """The counter's answer to a payment it has just posted: the receipt, printing.

    Confirm and print are one step (counter.receipting): the original's print is
    recorded here, by the payment's own agent on the roll, and the page loads its
    PDF into the print frame at once, with no request in between. The page says
    where it lives (a reload reads the receipt, it does not post again). A retried
    confirmation (the same key: the same payment) finds the original printed and
    prints nothing more; its page offers a copy, as a reload does.
    """
    receipt = Receipt(reference=payment.reference, kind=Receipt.Kind.PAYMENT, payment=payment)
    try:
        printed = services.receipt_print_original(user=request.user, receipt=receipt)
    except DomainError as error:
        messages.error(request, str(error))
        printed = None
    if printed is None:
        return redirect("receipt", reference=payment.reference)
    data = selectors.payment_receipt_data(
        payment, kind=receipt.kind, reference=receipt.reference, copy_number=0, verify_url=""
    )
    return render(
        request,
        "receipts/preview.html",
        {
            "receipt": receipt,
            "data": data,
            "may_print": True,
            "print_link": reverse("receipt_print_pdf", args=[print_token_for(printed.pk)]),
            "page_url": reverse("receipt", args=[receipt.reference]),
        },
    )


def _pdf_response(data: ReceiptData, *, layout: str, filename: str) -> HttpResponse:
    from receipts.pdf import render_receipt  # ReportLab loads only when a PDF is asked for

    response = HttpResponse(render_receipt(data, layout=layout), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@never_cache
@require_GET
@require(Action.VIEW)
def receipt_pdf(request: HttpRequest, reference: str) -> HttpResponse:
    """The PDF to look at, for anyone who may see the receipt: it says PREVIEW, not a receipt.

    It counts nothing: a receipt is printed only by a POST (`receipt_print`).
    """
    layout = request.GET.get("layout", "roll")
    if layout not in LAYOUTS:
        raise Http404
    receipt = _scoped_receipt(request, reference)
    data = selectors.receipt_data(
        receipt, copy_number=0, verify_url=_verify_url(request, reference)
    )
    data = dataclasses.replace(data, preview=True)
    return _pdf_response(data, layout=layout, filename=f"receipt-{reference}-preview.pdf")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@require(Action.VIEW)
def receipt_print(request: HttpRequest, reference: str) -> HttpResponse:
    """Print the receipt: the first print is the original, later ones COPY 2, 3, ….

    Answers the receipt page's script with JSON (the print's own PDF link, for
    its print frame, and the new count), and a page without script with a
    redirect to that PDF.
    """
    receipt = _scoped_receipt(request, reference)
    layout = request.POST.get("layout", ReceiptPrint.Layout.ROLL)
    try:
        printed = services.receipt_print(user=request.user, receipt=receipt, layout=layout)
    except DomainError as error:
        status = 403 if isinstance(error, NotAllowed) else 400
        if _wants_json(request):
            return JsonResponse({"error": str(error)}, status=status)
        messages.error(request, str(error))
        return redirect("receipt", reference=reference)
    link = reverse("receipt_print_pdf", args=[print_token_for(printed.pk)])
    if not _wants_json(request):
        return redirect(link)
    status_html = render_to_string(
        "receipts/preview.html#print_status", {"receipt": receipt}, request=request
    )
    return JsonResponse({"pdf": link, "number": printed.number, "status": status_html})


@never_cache
@xframe_options_sameorigin  # the receipt page's print frame loads it
@require_GET
@require(Action.VIEW)
def receipt_print_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """One print's PDF, for its printer, for a few minutes: drawn again, never counted."""
    printed = selectors.print_for_link(token, user=request.user)
    if printed is None:
        raise Http404
    receipt = printed.receipt
    if not can_see_branch(request.user, selectors.branch_of(receipt)):
        raise Http404
    reference = receipt.reference
    data = selectors.print_data(printed, verify_url=_verify_url(request, reference))
    suffix = f"-copy{printed.copy_number}" if printed.copy_number else ""
    return _pdf_response(data, layout=printed.layout, filename=f"receipt-{reference}{suffix}.pdf")


def _over_rate(request: HttpRequest) -> bool:
    """A sliding minute per client address: enough for a person, useless for enumeration.

    The count of this minute plus the last minute's, weighted by how much of it is still
    inside the sliding window (the "sliding window counter"): a fixed window would let a
    client spend two budgets across a minute's edge, and reset one in the middle of a burst.
    """
    address = client_ip(request)
    now = time.time()
    window, into = divmod(now, 60)
    key = f"receipt-verify:{address}:{int(window)}"
    cache.add(key, 0, timeout=180)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=180)
        count = 1
    previous = cache.get(f"receipt-verify:{address}:{int(window) - 1}", 0)
    return previous * (1 - into / 60) + count > settings.RECEIPT_VERIFY_PER_MINUTE


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
