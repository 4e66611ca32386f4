"""Refuse, once for every view, addresses no page can use."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _


def _unusable(text: str) -> bool:
    """A NUL (PostgreSQL stores no NUL in text) or a lone surrogate (not encodable)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class RefuseUnusableCharactersMiddleware:
    """A path or query string with a NUL or a lone surrogate is a 400 with a plain message.

    No person types these; a view that passed them on would fail in the database
    (a 500 on PostgreSQL) or look up something nobody can have. Refused here, before
    any view reads them. Form bodies are not read here: form fields refuse NUL
    themselves (Django's ProhibitNullCharactersValidator).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _unusable(request.path) or any(
            _unusable(key) or any(_unusable(value) for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                _("This address contains a character that is not allowed."),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
