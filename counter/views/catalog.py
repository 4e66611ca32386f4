"""Views: catalog. The agent finds the service the citizen wants to pay."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from agents.permissions import Action, require
from core.clock import local_today
from core.digits import normalize_digits
from counter.selectors.catalog import services_search

# The citizen being served is carried from page to page in the query string;
# anything that is not shaped like a signed token is dropped, not echoed (the
# payment form checks the signature).
_CITIZEN = re.compile(r"[0-9A-Za-z:_-]{1,100}")
# The longest search looked at; the search boxes say the same (maxlength), so a pasted
# page never leaves the browser (daphne drops a request line over 16 KB unanswered).
QUERY_MAX_LENGTH = 100


@require_GET
@require(Action.OPERATE_COUNTER)
def service_search(request: HttpRequest) -> HttpResponse:
    """Type-ahead search of the catalog: the result list for htmx, the whole page otherwise."""
    query = request.GET.get("q", "")[:QUERY_MAX_LENGTH]
    citizen = normalize_digits(request.GET.get("citizen", "").strip())
    context = {
        "query": query,
        "citizen": citizen if _CITIZEN.fullmatch(citizen) else "",
        "services": services_search(query, day=local_today()),
    }
    template = "counter/catalog/service_search.html"
    if request.htmx:
        template += "#results"
    response = render(request, template, context)
    # One URL, two shapes: caches must keep the fragment and the page apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


urlpatterns = [
    path("services/search/", service_search, name="service_search"),
]
