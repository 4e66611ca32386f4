"""Make dashboards live: domain events → coalesced pushes of fresh HTML fragments.

The ledger and the counter send their signals after commit; the receivers here
mark the touched groups (the branch, its governorate, the nation) dirty. A
group is pushed at most once per WINDOW seconds: the first event pushes at
once, later ones within the window schedule one trailing push, which renders
the figures as they are *then*. So a burst of any size becomes at most two
pushes a second, each with the latest numbers. A push sends each group only
the parts of its board that changed since its last push (dashboard.diffs).

Pushes run on an asyncio loop: the loop of this process's websocket consumers
when there is one (always so under daphne), else a private background loop
(e.g. in a process that only serves HTTP). With several processes, the cache
(Redis) holds the window's gate, so the limit is per group, not per process.
Publishing never raises into the caller: a payment must succeed even when the
channel layer is down; failures are logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from dashboard import diffs
from dashboard.fragments import render_board
from dashboard.groups import groups_for_branch

if TYPE_CHECKING:
    from agents.models import Branch

logger = logging.getLogger(__name__)

WINDOW = 1.0  # seconds between two pushes of one group
LOCK_SECONDS = 30.0  # longest a push may hold its board's lock (a process dying holds it)


@dataclass
class _GroupState:
    last: float = float("-inf")  # loop time of the last push, in seconds
    timer: asyncio.TimerHandle | None = None


_states: dict[asyncio.AbstractEventLoop, dict[str, _GroupState]] = {}
_consumer_loop: asyncio.AbstractEventLoop | None = None
_private_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
pushes_sent = 0  # for tests and benchmarks
_in_flight = 0  # pushes started and not finished, in this process


def _alive(loop: asyncio.AbstractEventLoop | None) -> bool:
    return loop is not None and not loop.is_closed() and loop.is_running()


def adopt_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Consumers call this on connect: pushes then run on the loop they listen on."""
    global _consumer_loop
    with _loop_lock:
        if not _alive(_consumer_loop):
            _consumer_loop = loop


def consumer_loop() -> asyncio.AbstractEventLoop | None:
    """The loop this process's websocket consumers run on, or None when it has none."""
    with _loop_lock:
        return _consumer_loop if _alive(_consumer_loop) else None


def _target_loop() -> asyncio.AbstractEventLoop:
    """The consumers' loop when this process has one, else a private background loop."""
    global _private_loop
    with _loop_lock:
        if _alive(_consumer_loop):
            return _consumer_loop
        if _private_loop is None or _private_loop.is_closed():
            _private_loop = asyncio.new_event_loop()
            threading.Thread(
                target=_private_loop.run_forever, name="dashboard-publisher", daemon=True
            ).start()
        return _private_loop


def group_name(base: str, language: str, can_approve: bool = False, can_audit: bool = False) -> str:
    """The group of one rendering: a board, in a language, for its approvers (the approve
    buttons), its auditors (links to the audit log) or its other viewers."""
    role = "approver" if can_approve else "auditor" if can_audit else "viewer"
    return f"{base}.{language}.{role}"


def _variants(base: str) -> list[tuple[str, bool, bool]]:
    """(language, can_approve, can_audit) of every rendering of the board `base`."""
    roles = [(False, False)]
    if base.startswith("branch."):
        roles.append((True, False))
    if base.startswith(("branch.", "governorate.")):
        roles.append((False, True))  # only these boards link to the audit log
    return [(code, *role) for code, _name in settings.LANGUAGES for role in roles]


def _render_all(base: str, variants: list[tuple[str, bool, bool]] | None = None) -> dict[str, str]:
    """The message of this push for each group of `base` whose board changed."""
    close_old_connections()
    try:
        boards = {
            group_name(base, language, approver, auditor): render_board(
                base,
                language=language,
                can_approve=approver,
                can_audit=auditor,
            )
            for language, approver, auditor in (_variants(base) if variants is None else variants)
        }
    finally:
        close_old_connections()
    return diffs.record(boards)


def last_board(group: str) -> diffs.Last:
    """The board a socket of `group` is sent whole: the last one pushed, else a fresh one."""
    base, language, role = group.rsplit(".", 2)

    def render() -> str:
        return render_board(
            base,
            language=language,
            can_approve=role == "approver",
            can_audit=role == "auditor",
        )

    return diffs.last_or(group, render)


async def _listened(layer: BaseChannelLayer, groups: list[str]) -> set[str]:
    """The groups that have a member: a board nobody watches is not rendered.

    Every payment marks its branch, governorate and the nation dirty; rendering
    each in every language and variant whether or not anyone looks cost more
    CPU than the payments themselves. Group membership is read where the layer
    keeps it (a sorted set per group in channels-redis, a dict in the in-memory
    layer); with another layer every group counts as listened to.
    """
    try:
        if hasattr(layer, "_group_key") and hasattr(layer, "consistent_hash"):
            found = set()
            for group in groups:
                connection = layer.connection(layer.consistent_hash(group))
                if await connection.zcard(layer._group_key(group)):
                    found.add(group)
            return found
        if isinstance(getattr(layer, "groups", None), dict):
            return {group for group in groups if layer.groups.get(group)}
    except Exception:
        # The layer is unreachable or too slow: a push now would fail the same way,
        # and the boards refresh themselves when their socket comes back.
        logger.warning("could not read dashboard group membership; push skipped", exc_info=True)
        return set()
    return set(groups)


def busy() -> bool:
    """A push of this process is due or under way (tests wait for the boards to be quiet)."""
    with _loop_lock:
        loops = list(_states.values())
    return _in_flight > 0 or any(
        state.timer is not None for states in loops for state in list(states.values())
    )


def _lock(base: str) -> bool:
    """Across processes: one push of a board at a time, so its numbers follow each other."""
    try:
        return cache.add(f"dashboard:pushing:{base}", 1, timeout=LOCK_SECONDS)
    except Exception:
        logger.exception("dashboard push lock unavailable; pushing without it")
        return True


def _unlock(base: str) -> None:
    cache.delete(f"dashboard:pushing:{base}")


async def _push(base: str) -> None:
    global pushes_sent, _in_flight
    layer = get_channel_layer()
    locked = False
    try:
        groups = {group_name(base, *variant): variant for variant in _variants(base)}
        listened = await _listened(layer, list(groups))
        unwatched = [group for group in groups if group not in listened]
        if unwatched:
            # Their last board goes out of date now. A board joining meanwhile must not be
            # sent it: drop it, then look again (the consumer joins, then reads it).
            await sync_to_async(diffs.forget, thread_sensitive=False)(unwatched)
            listened |= await _listened(layer, unwatched)
        variants = [variant for group, variant in groups.items() if group in listened]
        if not variants:
            return
        deadline = asyncio.get_running_loop().time() + LOCK_SECONDS
        while not (locked := await sync_to_async(_lock, thread_sensitive=False)(base)):
            if asyncio.get_running_loop().time() > deadline:
                logger.warning("dashboard push to %s skipped: its lock stayed taken", base)
                return
            await asyncio.sleep(0.05)
        messages = await sync_to_async(_render_all, thread_sensitive=False)(base, variants)
        for group, message in messages.items():
            # One message per process that serves the group (dashboard.hub), not per socket.
            await layer.group_send(
                group, {"type": "dashboard.update", "group": group, "html": message}
            )
        pushes_sent += 1
    except Exception:
        logger.exception("dashboard push to %s failed", base)
    finally:
        if locked:
            try:
                await sync_to_async(_unlock, thread_sensitive=False)(base)
            except Exception:
                logger.exception("dashboard push lock of %s not released", base)
        _in_flight -= 1


def _gate_open(base: str) -> bool:
    """Across processes: only one push per group and window (needs a shared cache)."""
    try:
        return cache.add(f"dashboard:gate:{base}", 1, timeout=WINDOW)
    except Exception:
        logger.exception("dashboard gate unavailable; pushing without it")
        return True


def _schedule(base: str) -> None:
    """Runs on the publisher loop: push now, or once at the end of the window."""
    loop = asyncio.get_running_loop()
    state = _states.setdefault(loop, {}).setdefault(base, _GroupState())
    if state.timer is not None:
        return  # a trailing push is already due; it will carry the latest figures
    global _in_flight
    wait = state.last + WINDOW - loop.time()
    if wait <= 0 and _gate_open(base):
        state.last = loop.time()
        _in_flight += 1  # until _push ends: busy() from now on
        loop.create_task(_push(base))
        return

    def trailing() -> None:
        state.timer = None
        _schedule(base)

    state.timer = loop.call_later(max(wait, 0.05), trailing)


def publish(*groups: str) -> None:
    """Mark `groups` dirty. Safe from any thread; never raises."""
    try:
        loop = _target_loop()
        for base in groups:
            loop.call_soon_threadsafe(_schedule, base)
    except Exception:
        logger.exception("dashboard publish failed")


def publish_branch(branch: Branch) -> None:
    publish(*groups_for_branch(branch.pk, branch.governorate_id))
