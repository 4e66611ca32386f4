"""The auditors' screen: the audit log, filtered, read-only; and the project's 403 page."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_GET

from agents.permissions import Action, require
from audit import selectors
from audit.actions import action_label
from audit.forms import AuditFilterForm
from audit.models import AuditEntry
from audit.receivers import record_denial

PER_PAGE = 50
# Past this page the first row's offset no longer fits the databases' 64-bit integers.
MAX_PAGE = (2**63 - 1) // PER_PAGE


def _page_number(request: HttpRequest) -> int:
    """The page asked for; 1 for anything but a number; no such page (404) past MAX_PAGE."""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1
    if page > MAX_PAGE:
        raise Http404(_("No such page."))
    return page


@require_GET
@require(Action.AUDIT)
def entry_list(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by day range, branch, person and action; 50 a page."""
    form = AuditFilterForm(request.GET)
    page = _page_number(request)
    entries, has_next = [], False
    if form.is_valid():  # every field is optional: no filter is a valid filter
        data = form.cleaned_data
        entries, has_next = selectors.page_of(
            selectors.audit_entries(
                since=data["since"],
                until=data["until"],
                branch_code=data["branch"],
                actor=data["actor"],
                action=data["action"],
            ),
            page=page,
            per_page=PER_PAGE,
        )
    for entry in entries:
        entry.action_label = action_label(entry.action)
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "entries": entries,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if has_next else None,
        },
    )


@require_GET
@require(Action.AUDIT)
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry.objects.select_related("branch", "actor"), pk=pk)
    entry.action_label = action_label(entry.action)
    entry.data_json = json.dumps(entry.data, indent=2, sort_keys=True, ensure_ascii=False)
    return render(request, "audit/detail.html", {"entry": entry})


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Every 403 of the site (config.urls.handler403): recorded, then Django's own page."""
    record_denial(request)
    return defaults.permission_denied(request, exception)
