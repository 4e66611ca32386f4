"""Log a person out after a stretch of inactivity at the counter."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _

_KEY = "last_seen"
# Writing the session on every request would cost a write per payment;
# refreshing the stamp once a minute is precise enough for a 30-minute timeout.
_REFRESH_EVERY = 60


def session_idle_expired(session: Mapping[str, Any], now: int | None = None) -> bool:
    """Has this session been idle longer than SESSION_IDLE_TIMEOUT? (Never stamped: no.)

    The websocket consumers ask too: a cookie that HTTP would log out opens no board.
    """
    last_seen = session.get(_KEY)
    if last_seen is None:
        return False
    now = int(time.time()) if now is None else now
    return now - last_seen > settings.SESSION_IDLE_TIMEOUT


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get(_KEY)
            if session_idle_expired(request.session, now):
                logout(request)
                messages.info(request, _("You were logged out after a period of inactivity."))
            elif last_seen is None or now - last_seen >= _REFRESH_EVERY:
                request.session[_KEY] = now
        response = self.get_response(request)
        # Stamp a session at login, not at its first use: a cookie taken from a
        # login that was never followed by a page must expire as well.
        if request.user.is_authenticated and _KEY not in request.session:
            request.session[_KEY] = int(time.time())
        return response


class ArabicFirstLocaleMiddleware(LocaleMiddleware):
    """Arabic unless the person chose English with the switch.

    Counter PCs often run English browsers; the browser's Accept-Language must
    not decide the counter's language, only the person's own choice (cookie).
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
