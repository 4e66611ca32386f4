"""Head office's settlement pages: the batches, the form to settle a day, each batch's files.

Head office and auditors read them; only head office settles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from agents.permissions import Action, can, national_only, require
from core.errors import DomainError
from reconciliation.selectors import day_exceptions
from settlement import selectors, services
from settlement.forms import SettlementRunForm
from settlement.models import SettlementBatch


def _settlement_list_response(
    request: HttpRequest, form: SettlementRunForm | None = None
) -> HttpResponse:
    agency = request.GET.get("agency", "")  # one agency's confirmations, latest first
    may_settle = can(request.user, Action.SETTLE)
    # The day just settled: what its providers' files and our books still disagree on.
    day = SettlementRunForm({"business_day": request.GET.get("day", "")})
    unmatched_day = day.cleaned_data["business_day"] if may_settle and day.is_valid() else None
    return render(
        request,
        "settlement/list.html",
        {
            "batches": selectors.settlement_batches(agency_code=agency)[:200],
            "agency": agency,
            "may_settle": may_settle,
            "form": (form or SettlementRunForm()) if may_settle else None,
            "unmatched_day": unmatched_day,
            "unmatched": day_exceptions(unmatched_day) if unmatched_day else [],
            "unconfirmed": (
                selectors.day_notification_exceptions(unmatched_day) if unmatched_day else []
            ),
        },
    )


@require_GET
@national_only
def settlement_list(request: HttpRequest) -> HttpResponse:
    """The latest batches; head office also gets the form to settle a day."""
    return _settlement_list_response(request)


def _announce(request: HttpRequest, day: date, batches: list[SettlementBatch]) -> None:
    if batches:
        messages.success(
            request,
            _("%(day)s is settled: %(count)s agency batches, value date %(value)s.")
            % {
                "day": day.isoformat(),
                "count": len(batches),
                "value": batches[0].value_date.isoformat(),
            },
        )
    else:
        messages.success(
            request,
            _("Nothing to settle on %(day)s: no payments owed to an agency.")
            % {"day": day.isoformat()},
        )


@require_POST
@require(Action.SETTLE)
def settlement_run(request: HttpRequest) -> HttpResponse:
    form = SettlementRunForm(request.POST)
    if form.is_valid():
        day = form.cleaned_data["business_day"]
        try:
            batches = services.settlement_run(business_day=day, by=request.user)
        except services.SettlementHeld as held:
            # The others were settled: the day's page lists what the held ones wait for.
            messages.warning(request, str(held))
            return redirect(f"{reverse('settlement_list')}?day={day.isoformat()}")
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            _announce(request, day, batches)
            return redirect(f"{reverse('settlement_list')}?day={day.isoformat()}")
    return _settlement_list_response(request, form)


def _batch_or_404(pk: int) -> SettlementBatch:
    return get_object_or_404(selectors.settlement_batches(), pk=pk)


async def _served_asynchronously(chunks: Iterator[str]) -> AsyncIterator[str]:
    """The chunks, one at a time, for an ASGI server.

    Given a synchronous iterator under ASGI, Django reads it whole into a list
    before sending (its own warning says so): the memory streaming is meant to
    save. Each chunk is read in the request's thread, on its database connection.
    """
    next_chunk = sync_to_async(next, thread_sensitive=True)
    done = object()
    while (chunk := await next_chunk(chunks, done)) is not done:
        yield chunk


@never_cache
@require_GET
@national_only
def settlement_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The batch's settlement file, streamed as it is read (a national day: 330,000 lines)."""
    batch = _batch_or_404(pk)
    selectors.settlement_csv_check(batch)
    chunks = selectors.settlement_csv_chunks(batch)
    response = StreamingHttpResponse(
        _served_asynchronously(chunks) if isinstance(request, ASGIRequest) else chunks,
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{selectors.settlement_csv_filename(batch)}"'
    )
    return response


@require_GET
@national_only
def settlement_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation for the agency: batch, value date, total, count (printable)."""
    batch = _batch_or_404(pk)
    return render(
        request,
        "settlement/confirmation.html",
        {"batch": batch, "confirmation": selectors.settlement_confirmation(batch)},
    )
