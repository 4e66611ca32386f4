"""Report pages: session, branch, governorate, national.

Daily reports come as HTML, `?format=csv` or `?format=pdf`. Objects out of
the person's scope are 404; pages meant for another role are 403.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from agents.models import Branch, Governorate
from agents.permissions import (
    Action,
    get_scoped_or_404,
    national_only,
    own_rows_for_agents,
    regional_or_national,
    require,
    scoped_governorates,
)
from core.clock import local_today
from float_management.models import SessionStatus, TillSession
from receipts.reports import data
from receipts.reports.forms import ReportDayForm
from receipts.reports.pdf import daily_report_pdf

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
        {"report": data.session_report(session)},
    )


# --- Daily reports ----------------------------------------------------------------------


def _daily_response(request: HttpRequest, scope: data.ReportScope) -> HttpResponse:
    """The daily report of `scope` as a page, or `?format=csv` / `pdf` as a download."""
    form = _day_form(request)
    output = request.GET.get("format", "html")
    if output not in ("html", "csv", "pdf"):
        return HttpResponseBadRequest(_("Unknown format."))
    if not form.is_valid():
        if output != "html":
            return HttpResponseBadRequest(form.errors["day"][0])
        return render(request, "receipts/reports/daily.html", {"form": form, "report": None})
    report = data.daily_report(day=form.cleaned_data["day"], scope=scope)
    if output == "html":
        return _daily_page(request, form, report)
    return _daily_download(report, output)


def _day_form(request: HttpRequest) -> ReportDayForm:
    params = request.GET.copy()
    params.setdefault("day", local_today().isoformat())  # shown in the day field
    return ReportDayForm(params)


def _daily_page(
    request: HttpRequest, form: ReportDayForm, report: data.DailyReport
) -> HttpResponse:
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


def _daily_download(report: data.DailyReport, extension: str) -> HttpResponse:
    if extension == "csv":
        response = HttpResponse(data.daily_report_csv(report), content_type="text/csv")
        response["Content-Type"] = "text/csv; charset=utf-8"
    else:
        response = HttpResponse(daily_report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{data.daily_report_filename(report, extension)}"'
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
