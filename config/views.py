"""Site-wide pages that belong to no app: refused requests (400, CSRF) and the favicon."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Every 400 of the site (config.urls.handler400), in the layout and the person's language.

    Django's own handler renders 400.html without the request, so no navigation and
    no language switch; here the person keeps both. A body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (a 10 MB paste into a field) is refused before any
    view reads it: nothing was changed, and the page says so.
    """
    context = {"too_large": isinstance(exception, _TOO_LARGE)}
    return render(request, "400.html", context, status=400)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on their own: send them to the static mark."""
    return HttpResponseRedirect(static("favicon.svg"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check (settings.CSRF_FAILURE_VIEW): mostly one left open.

    Django's own view renders 403_csrf.html without its reason; the reason is shown
    here, small and in English, for whoever the person calls for help.
    """
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
