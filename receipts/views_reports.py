"""Report pages (session, branch, governorate, national) and head office's settlement pages.

Daily reports come as HTML, `?format=csv` or `?format=pdf`. Objects out of
the person's scope are 404; pages meant for another role are 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from agents.models import Branch, Governorate
from agents.permissions import (
    Action,
    can,
    get_scoped_or_404,
    national_only,
    own_rows_for_agents,
    regional_or_national,
    require,
    scoped_governorates,
)
from core.clock import local_today
from core.errors import DomainError
from float_management.models import SessionStatus, TillSession
from receipts import reports
from receipts.forms_reports import ReportDayForm, SettlementRunForm
from receipts.reports_pdf import daily_report_pdf
from settlement import selectors as settlement_selectors
from settlement import services as settlement_services
from settlement.models import SettlementBatch

# --- The session report -------------------------------------------------------------


@require_GET
@require(Action.VIEW)
def session_report(request: HttpRequest, pk: int) -> HttpResponse:
    """An agent sees their own sessions; supervisors, head office and auditors those in scope."""
    sessions = own_rows_for_agents(request.user, TillSession.objects.all())
    session = get_scoped_or_404(request.user, sessions, pk=pk)
    if session.agent_id == request.user.pk and session.status in (
        SessionStatus.REQUESTED,
        SessionStatus.OPEN,
    ):
        # Blind means blind: its parts (float + top-ups + cash taken − drops) add up to
        # the expected cash the close page hides, so the agent sees them after counting.
        return render(request, "receipts/reports/session_blind.html")
    return render(
        request,
        "receipts/reports/session.html",
        {"report": reports.session_report(session)},
    )


# --- Daily reports ----------------------------------------------------------------------


def _daily_response(request: HttpRequest, scope: reports.ReportScope) -> HttpResponse:
    data = request.GET.copy()
    data.setdefault("day", local_today().isoformat())  # shown in the day field
    form = ReportDayForm(data)
    output = request.GET.get("format", "html")
    if output not in ("html", "csv", "pdf"):
        return HttpResponseBadRequest(_("Unknown format."))
    if not form.is_valid():
        if output != "html":
            return HttpResponseBadRequest(form.errors["day"][0])
        return render(request, "receipts/reports/daily.html", {"form": form, "report": None})

    report = reports.daily_report(day=form.cleaned_data["day"], scope=scope)
    if output == "csv":
        response = HttpResponse(reports.daily_report_csv(report), content_type="text/csv")
        response["Content-Type"] = "text/csv; charset=utf-8"
    elif output == "pdf":
        response = HttpResponse(daily_report_pdf(report), content_type="application/pdf")
    else:
        query = {"day": report.day.isoformat()}
        return render(
            request,
            "receipts/reports/daily.html",
            {
                "form": form,
                "report": report,
                "csv_query": urlencode({**query, "format": "csv"}),
                "pdf_query": urlencode({**query, "format": "pdf"}),
            },
        )
    extension = output
    response["Content-Disposition"] = (
        f'attachment; filename="{reports.daily_report_filename(report, extension)}"'
    )
    return response


@require_GET
@require(Action.WATCH)
def report_branch(request: HttpRequest, code: str) -> HttpResponse:
    """Supervisors of the branch, the regional supervisor of its governorate, the nation."""
    branch = get_scoped_or_404(
        request.user, Branch.objects.select_related("governorate"), branch_path="", code=code
    )
    return _daily_response(request, branch)


@require_GET
@regional_or_national
def report_governorate(request: HttpRequest, code: str) -> HttpResponse:
    """The regional supervisor of the governorate, head office and auditors."""
    governorates = scoped_governorates(request.user, Governorate.objects.filter(abroad=False))
    return _daily_response(request, get_object_or_404(governorates, code=code))


@require_GET
@national_only
def report_national(request: HttpRequest) -> HttpResponse:
    return _daily_response(request, None)


# --- Settlement ---------------------------------------------------------------------------


def _settlement_list_response(
    request: HttpRequest, form: SettlementRunForm | None = None
) -> HttpResponse:
    batches = SettlementBatch.objects.select_related("agency", "created_by").order_by(
        "-business_day", "agency__code"
    )
    agency = request.GET.get("agency", "")
    if agency:  # one agency's confirmations, latest first
        batches = batches.filter(agency__code=agency)
    may_settle = can(request.user, Action.SETTLE)
    return render(
        request,
        "receipts/reports/settlement_list.html",
        {
            "batches": batches[:200],
            "agency": agency,
            "may_settle": may_settle,
            "form": (form or SettlementRunForm()) if may_settle else None,
        },
    )


@require_GET
@national_only
def settlement_list(request: HttpRequest) -> HttpResponse:
    """The latest batches; head office also gets the form to settle a day."""
    return _settlement_list_response(request)


@require_POST
@require(Action.SETTLE)
def settlement_run(request: HttpRequest) -> HttpResponse:
    form = SettlementRunForm(request.POST)
    if form.is_valid():
        day = form.cleaned_data["business_day"]
        try:
            batches = settlement_services.settlement_run(business_day=day, by=request.user)
        except DomainError as error:
            form.add_error(None, str(error))
        else:
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
            return redirect("settlement_list")
    return _settlement_list_response(request, form)


def _batch_or_404(pk: int) -> SettlementBatch:
    return get_object_or_404(SettlementBatch.objects.select_related("agency", "created_by"), pk=pk)


@never_cache
@require_GET
@national_only
def settlement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(pk)
    response = HttpResponse(settlement_selectors.settlement_csv(batch), content_type="text/csv")
    response["Content-Type"] = "text/csv; charset=utf-8"
    response["Content-Disposition"] = (
        f'attachment; filename="{settlement_selectors.settlement_csv_filename(batch)}"'
    )
    return response


@require_GET
@national_only
def settlement_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation for the agency: batch, value date, total, count (printable)."""
    batch = _batch_or_404(pk)
    return render(
        request,
        "receipts/reports/settlement_confirmation.html",
        {"batch": batch, "confirmation": settlement_selectors.settlement_confirmation(batch)},
    )


urlpatterns = [
    path("reports/session/<int:pk>/", session_report, name="report_session"),
    path("reports/branch/<str:code>/", report_branch, name="report_branch"),
    path("reports/governorate/<str:code>/", report_governorate, name="report_governorate"),
    path("reports/national/", report_national, name="report_national"),
    path("settlement/", settlement_list, name="settlement_list"),
    path("settlement/run/", settlement_run, name="settlement_run"),
    path("settlement/<int:pk>/", settlement_confirmation, name="settlement_confirmation"),
    path("settlement/<int:pk>/csv/", settlement_csv, name="settlement_csv"),
]
