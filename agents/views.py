from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from agents.models import Role
from agents.permissions import scope_of

logger = logging.getLogger(__name__)

_HOME_BY_ROLE = {
    Role.AGENT: "counter:home",
    Role.BRANCH_SUPERVISOR: "dashboard:home",
    Role.REGIONAL_SUPERVISOR: "dashboard:home",
    Role.HEAD_OFFICE: "dashboard:home",
    Role.AUDITOR: "dashboard:home",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to the screen of their role."""
    role = scope_of(request.user).role
    if role is None:
        # A login without a profile (e.g. a bare superuser) has no counter scope.
        if request.user.is_staff:
            return redirect("admin:index")
        raise PermissionDenied
    return redirect(_HOME_BY_ROLE[role])


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("healthz: database check failed")
        return False


async def _channel_layer_answers() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async with asyncio.timeout(2):
            channel = await layer.new_channel("healthz.")
            await layer.send(channel, {"type": "healthz.ping"})
            message = await layer.receive(channel)
        return message.get("type") == "healthz.ping"
    except Exception:
        logger.exception("healthz: channel layer check failed")
        return False


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the channel layer both answer, 503 otherwise."""
    database = await sync_to_async(_database_answers)()
    channel_layer = await _channel_layer_answers()
    ok = database and channel_layer
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "database": database,
            "channel_layer": channel_layer,
        },
        status=200 if ok else 503,
    )
