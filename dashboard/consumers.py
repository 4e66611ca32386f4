"""The dashboards' websocket: joins the one group its person may see, forwards pushes.

Each socket also joins its person's own group (`user.<id>`): when the person
is deactivated, changes role or scope, or logs out, `dashboard.sessions`
sends `access.revoked` there and every open board of theirs closes at once.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from agents.middleware import session_idle_expired
from agents.permissions import Action, can
from dashboard import live
from dashboard.access import board_group
from dashboard.revocation import user_group

# Application close codes (4000-4999), read by nobody but logs and tests:
# the page shows "not live" on any close.
CLOSE_REFUSED = 4403  # the handshake is refused: not logged in, or out of scope
CLOSE_REVOKED = 4401  # an open board loses its right: deactivated, scope changed, logged out


def _board_for(scope: dict) -> str | None:
    """The group the socket's person may join, or None (also for an idle-expired session)."""
    session = scope.get("session")
    if session is not None and session_idle_expired(session):
        return None
    kwargs = scope["url_route"]["kwargs"]
    return board_group(scope.get("user"), kwargs["kind"], kwargs.get("ident"))


class BoardConsumer(AsyncWebsocketConsumer):
    group: str | None = None
    own_group: str | None = None

    async def connect(self) -> None:
        # Before anything is sent to this socket's groups: pushes and revocations
        # from other threads are then scheduled on the loop that serves it.
        live.adopt_loop(asyncio.get_running_loop())
        user = self.scope.get("user")
        if user is not None and getattr(user, "is_authenticated", False):
            # Joined before the permission check: a revocation committed while the
            # check runs still reaches this socket (it is handled once connect ends).
            self.own_group = user_group(user.pk)
            await self.channel_layer.group_add(self.own_group, self.channel_name)
        base = await database_sync_to_async(_board_for)(self.scope)
        if base is None:
            if self.own_group is not None:
                await self.channel_layer.group_discard(self.own_group, self.channel_name)
                self.own_group = None
            await self.close(code=CLOSE_REFUSED)  # before accept: the handshake is refused
            return
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        language = cookie if cookie in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        approver = await database_sync_to_async(can)(user, Action.APPROVE)
        self.group = live.group_name(base, language, approver and base.startswith("branch."))
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in (self.group, self.own_group):
            if group is not None:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def dashboard_update(self, event: dict) -> None:
        await self.send(text_data=event["html"])

    async def access_revoked(self, event: dict) -> None:
        await self.close(code=CLOSE_REVOKED)
