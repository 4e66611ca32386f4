"""One channel-layer member per process and board group; a push fans out to the sockets here.

With every socket a member of its group, a push to a thousand boards was a
thousand messages through Redis, each popped, decoded and dispatched to its
consumer by daphne: most of the core that a thousand boards cost. Instead each
process joins a group once, with one channel of its own, and hands each push
to the sockets of that group that it serves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from channels.layers import get_channel_layer

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

logger = logging.getLogger(__name__)


class Socket(Protocol):
    async def deliver(self, text: str) -> None: ...


class Hub:
    """The sockets of one event loop by group, and the channel that receives their pushes."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.sockets: dict[str, set[Socket]] = {}
        self.channel: str | None = None
        self.listener: asyncio.Task | None = None
        # Joins and leaves of one group run one at a time: a leave's group_discard must
        # not reach Redis after the next join's group_add.
        self.locks: dict[str, asyncio.Lock] = {}

    async def join(self, group: str, socket: Socket) -> None:
        if self.channel is None:
            # The layer's default prefix: channels-redis pops one Redis key for all the
            # process's channels of one prefix, and the sockets' own channels hold that pop.
            self.channel = await self.layer.new_channel()
            self.listener = asyncio.create_task(self._listen(self.channel))
        async with self.locks.setdefault(group, asyncio.Lock()):
            # Every time, as each socket did: a Redis that lost its groups (a restart) gets
            # this process back in with the next board that (re)connects.
            await self.layer.group_add(group, self.channel)
            self.sockets.setdefault(group, set()).add(socket)

    async def leave(self, group: str, socket: Socket) -> None:
        async with self.locks.setdefault(group, asyncio.Lock()):
            members = self.sockets.get(group)
            if members is None or socket not in members:
                return
            members.discard(socket)
            if not members:
                del self.sockets[group]
                # Nobody here watches: pushes to the group need not render for this process.
                await self.layer.group_discard(group, self.channel)

    async def _listen(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("dashboard hub could not receive; trying again", exc_info=True)
                await asyncio.sleep(1)
                continue
            for socket in list(self.sockets.get(message.get("group", ""), ())):
                try:
                    await socket.deliver(message["html"])
                except Exception:
                    logger.warning("a dashboard push was not delivered", exc_info=True)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """The hub of the running loop (daphne has one; each test has its own)."""
    loop = asyncio.get_running_loop()
    for other in [other for other in _hubs if other.is_closed()]:
        del _hubs[other]
    if loop not in _hubs:
        _hubs[loop] = Hub(get_channel_layer())
    return _hubs[loop]
