"""Head office's reconciliation pages: the latest run per source and day, a run's exceptions.

Only head office (who settles) sees them; anyone else gets a 404, as if they
were not there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from agents.permissions import Action, can
from core.clock import local_today
from core.forms import DayField
from reconciliation import selectors, services
from reconciliation.models import ReconciliationRun, Source
from wallet.providers import ProviderRefused, ProviderUnavailable


def _head_office_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can(request.user, Action.SETTLE):
            raise Http404
        return view(request, *args, **kwargs)

    return login_required(wrapper)


class ReconciliationRunForm(forms.Form):
    business_day = DayField(label=gettext_lazy("Business day"))
    source = forms.ChoiceField(label=gettext_lazy("Source"), choices=Source.choices)

    def clean_business_day(self) -> date:
        day = self.cleaned_data["business_day"]
        if day > local_today():
            raise forms.ValidationError(gettext_lazy("There is no file yet for a day to come."))
        return day


_UNAVAILABLE = {
    Source.WALLET: gettext_lazy(
        "The wallet provider could not be reached, so nothing was reconciled or saved. "
        "Try again in a few minutes."
    ),
    Source.BANKCARD: gettext_lazy(
        "The card acquirer could not be reached, so nothing was reconciled or saved. "
        "Try again in a few minutes."
    ),
}


@require_http_methods(["GET", "POST"])
@_head_office_only
def reconciliation_list(request: HttpRequest) -> HttpResponse:
    """The latest run of each source and day, and the form to run one (POST)."""
    form = ReconciliationRunForm(request.POST or None, initial={"business_day": local_today()})
    if request.method == "POST" and form.is_valid():
        source = form.cleaned_data["source"]
        try:
            run = services.reconciliation_run(
                source=source, business_day=form.cleaned_data["business_day"], by=request.user
            )
        except ProviderUnavailable:
            form.add_error(None, _UNAVAILABLE[source])
        except ProviderRefused as refused:
            form.add_error(
                None,
                _("The provider refused to send its file (%(reason)s); nothing was saved.")
                % {"reason": refused.message},
            )
        else:
            messages.success(
                request,
                _("Reconciled: %(matched)s matched, %(exceptions)s to look into.")
                % {"matched": run.matched, "exceptions": run.exceptions},
            )
            return redirect("reconciliation:detail", run.pk)
    return render(
        request,
        "reconciliation/list.html",
        {"runs": selectors.latest_runs()[:200], "form": form},
    )


@require_GET
@_head_office_only
def reconciliation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A run: its exceptions first, then how many lines matched."""
    run = get_object_or_404(ReconciliationRun.objects.select_related("ran_by"), pk=pk)
    latest = selectors.latest_runs().filter(source=run.source, business_day=run.business_day)
    return render(
        request,
        "reconciliation/detail.html",
        {
            "run": run,
            "exceptions": selectors.run_exceptions(run),
            "latest": latest.first(),
        },
    )


app_name = "reconciliation"
urlpatterns = [
    path("", reconciliation_list, name="list"),
    path("<int:pk>/", reconciliation_detail, name="detail"),
]
