"""The dashboards' websocket: joins the one group its person may see, forwards pushes.

It joins through its process's hub (dashboard.hub): the process, not each
socket, is the group's member, and hands each push to its sockets.

A socket is sent its whole board when it opens and whenever the page asks
("board"): pushes carry only what changed, and a page that missed one asks
(dashboard.diffs).

Each socket also joins its person's own group (`user.<id>`): when the person
is deactivated, changes role or scope, or logs out, `dashboard.revocation`
sends `access.revoked` there and every open board of theirs closes at once.
Should that message be lost, each board checks its person again in the
database every DASHBOARD_RECHECK_SECONDS and closes the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from importlib import import_module
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth

from agents.middleware import session_idle_expired
from agents.permissions import Action, can
from dashboard import diffs, live
from dashboard.access import board_group
from dashboard.hub import hub
from dashboard.revocation import user_group

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# Application close codes (4000-4999), read by nobody but logs and tests:
# the page shows "not live" on any close.
CLOSE_REFUSED = 4403  # the handshake is refused: not logged in, or out of scope
CLOSE_REVOKED = 4401  # an open board loses its right: deactivated, scope changed, logged out


class _ReadOnlySession(dict):
    """Session data for `auth.get_user` that no check can write back.

    On a password hash signed with an old key, `get_user` cycles the session
    key; from a periodic check that would log the person's browser out.
    """

    def flush(self) -> None:
        self.clear()

    def cycle_key(self) -> None:
        pass


def _group_for(
    session: Mapping[str, Any] | None,
    user: User | AnonymousUser | None,
    kwargs: dict,
    language: str,
) -> str | None:
    """The group this socket may join, or None: idle-expired, out of scope, not logged in.

    The one rule for the handshake and for every later check of an open board.
    """
    if session is not None and session_idle_expired(session):
        return None
    base = board_group(user, kwargs["kind"], kwargs.get("ident"))
    if base is None:
        return None
    approver = can(user, Action.APPROVE) and base.startswith("branch.")
    auditor = can(user, Action.AUDIT) and base.startswith(("branch.", "governorate."))
    return live.group_name(base, language, approver, auditor)


def _group_now(session_key: str | None, kwargs: dict, language: str) -> str | None:
    """`_group_for`, with the session and the person read again from the database."""
    if not session_key:
        return None
    session = _ReadOnlySession(
        import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    )
    user = auth.get_user(SimpleNamespace(session=session))
    return _group_for(session, user, kwargs, language)


class BoardConsumer(AsyncWebsocketConsumer):
    group: str | None = None
    own_group: str | None = None
    _recheck: asyncio.Task | None = None
    # Pushes that came before the whole board went out, sent after it; None from then on.
    _held: list[str] | None = None

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
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        language = cookie if cookie in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        kwargs = self.scope["url_route"]["kwargs"]
        group = await database_sync_to_async(_group_for)(
            self.scope.get("session"), user, kwargs, language
        )
        if group is None:
            if self.own_group is not None:
                await self.channel_layer.group_discard(self.own_group, self.channel_name)
                self.own_group = None
            await self.close(code=CLOSE_REFUSED)  # before accept: the handshake is refused
            return
        self.group = group
        await self.accept()
        # Pushes reach the board through this process's hub (dashboard.hub). Joined before the
        # whole board is read: a push recorded after the read reaches the socket after it.
        self._held = []
        await hub().join(self.group, self)
        try:
            await self._send_board()
        except BaseException:
            await hub().leave(self.group, self)  # the socket dies without a disconnect
            raise
        while self._held:
            await self.send(text_data=self._held.pop(0))
        self._held = None
        session_key = self.scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        self._recheck = asyncio.create_task(self._recheck_forever(session_key, kwargs, language))

    async def _recheck_forever(self, session_key: str | None, kwargs: dict, language: str) -> None:
        """Check the person again now and then: a revocation message can be lost.

        Spread over the interval, so boards that connected together (after a
        restart) do not all query at once.
        """
        every = float(settings.DASHBOARD_RECHECK_SECONDS)
        while True:
            await asyncio.sleep(every * random.uniform(0.5, 1.0))
            try:
                group = await database_sync_to_async(_group_now)(session_key, kwargs, language)
            except Exception:
                # The database is unreachable: keep the board (HTTP fails meanwhile) and
                # check again next time, as the page cannot tell anyway.
                logger.warning("dashboard recheck failed; trying again later", exc_info=True)
                continue
            if group != self.group:
                await self.close(code=CLOSE_REVOKED)
                return

    async def disconnect(self, code: int) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        if self.group is not None:
            await hub().leave(self.group, self)
        if self.own_group is not None:
            await self.channel_layer.group_discard(self.own_group, self.channel_name)

    async def deliver(self, text: str) -> None:
        """A push to this socket's group, handed over by the hub."""
        if self._held is not None:
            self._held.append(text)
        else:
            await self.send(text_data=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "board" and self.group is not None:
            await self._send_board()

    async def _send_board(self) -> None:
        last = await database_sync_to_async(live.last_board)(self.group)
        await self.send(text_data=diffs.whole(last))

    async def access_revoked(self, event: dict) -> None:
        await self.close(code=CLOSE_REVOKED)
