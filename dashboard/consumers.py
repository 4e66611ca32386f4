"""The dashboards' websocket: joins the one group its person may see, forwards pushes."""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from agents.permissions import Action, can
from dashboard import live
from dashboard.access import board_group


class BoardConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        base = await database_sync_to_async(board_group)(
            self.scope.get("user"), kwargs["kind"], kwargs.get("ident")
        )
        if base is None:
            await self.close(code=4403)  # before accept: the handshake is refused
            return
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        language = cookie if cookie in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        approver = await database_sync_to_async(can)(self.scope.get("user"), Action.APPROVE)
        self.group = live.group_name(base, language, approver and base.startswith("branch."))
        await self.channel_layer.group_add(self.group, self.channel_name)
        live.adopt_loop(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event: dict) -> None:
        await self.send(text_data=event["html"])
