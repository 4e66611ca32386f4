"""What the counter answers once a payment is posted: its receipt, printing.

Confirm and print are one step at the counter. The receipts app sits above the
counter (it reads payments), so the counter cannot call it: it registers its
answer here when it is ready (receipts.apps), as apps register their audit
actions. Without it, the agent sees the payment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.shortcuts import redirect

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from counter.models import Payment

Answer = Callable[["HttpRequest", "Payment"], "HttpResponse"]
_answer: Answer | None = None


def register(answer: Answer) -> None:
    """Name the view that answers a posted payment (the receipts app's ready() calls this)."""
    global _answer
    _answer = answer


def paid(request: HttpRequest, payment: Payment) -> HttpResponse:
    """The answer to the request that posted `payment` (or found it posted: a retry)."""
    if _answer is None:
        return redirect("counter:payment", reference=payment.reference)
    return _answer(request, payment)
