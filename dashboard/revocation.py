"""Close a person's open dashboards the moment they lose the right to them.

Every board socket joins its person's group (`user.<id>`). When the person is
deactivated, their password is changed, their role or scope changes, or they
log out, a message goes to that group after commit and the consumer closes the
socket with an application close code; the page then shows "not live". HTTP
needs none of this: every request reads the user and profile afresh. The
message is the fast path; every board also checks its person again in the
database every DASHBOARD_RECHECK_SECONDS (`dashboard.consumers`).

Bulk `QuerySet.update()` sends no signals: deactivate people with `save()`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from agents.models import Profile
from dashboard import live

logger = logging.getLogger(__name__)

User = get_user_model()
_USER_FIELDS = ("is_active", "password")
_PROFILE_FIELDS = ("role", "branch_id", "governorate_id")
SEND_TIMEOUT = 5.0  # seconds a revocation may hold the request that caused it


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(user_id: int) -> None:
    """Send `access.revoked` to the person's group and wait until the layer has it.

    Waited for, not handed to a background thread: a deactivation in a process
    that exits at once (`manage.py shell`, a script) must still reach the
    boards. Consumers also check their person again every
    DASHBOARD_RECHECK_SECONDS, so a message lost all the same (the layer down
    at that moment) closes the board at the next check.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    group, message = user_group(user_id), {"type": "access.revoked"}
    try:
        loop = live.consumer_loop()
        if loop is None:
            async_to_sync(_send_within_timeout)(layer, group, message)
        elif _running_loop() is loop:
            loop.create_task(layer.group_send(group, message))  # cannot wait on our own loop
        else:
            # This process serves boards: send on their loop, as the dashboard pushes
            # do (the in-memory layer's queues belong to that loop).
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            try:
                future.result(timeout=SEND_TIMEOUT)
            finally:
                future.cancel()  # no-op once done; a send past the timeout is given up
    except Exception:
        logger.exception("closing the dashboards of user %s failed", user_id)


async def _send_within_timeout(layer, group: str, message: dict) -> None:
    await asyncio.wait_for(layer.group_send(group, message), timeout=SEND_TIMEOUT)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def sockets_close_for(*, user_id: int) -> None:
    """Close every open dashboard of `user_id` once the current transaction commits."""
    transaction.on_commit(partial(_send, user_id))


def _changed(instance, fields: tuple[str, ...], update_fields) -> bool:
    """Did any of `fields` change against the stored row? (One query, only when it can have.)"""
    if instance._state.adding or instance.pk is None:
        return False
    names = {*fields, *(f.removesuffix("_id") for f in fields)}
    if update_fields is not None and not names & set(update_fields):
        return False
    stored = type(instance).objects.filter(pk=instance.pk).values_list(*fields).first()
    if stored is None:
        return False
    return stored != tuple(getattr(instance, f) for f in fields)


@receiver(pre_save, sender=User, dispatch_uid="dashboard.revocation.user_pre_save")
def _user_pre_save(sender, instance, update_fields=None, **kwargs):
    instance._revoke_sockets = _changed(instance, _USER_FIELDS, update_fields)


@receiver(post_save, sender=User, dispatch_uid="dashboard.revocation.user_post_save")
def _user_post_save(sender, instance, created, **kwargs):
    if created:
        return
    if not instance.is_active or getattr(instance, "_revoke_sockets", False):
        sockets_close_for(user_id=instance.pk)
    instance._revoke_sockets = False


@receiver(pre_save, sender=Profile, dispatch_uid="dashboard.revocation.profile_pre_save")
def _profile_pre_save(sender, instance, update_fields=None, **kwargs):
    instance._revoke_sockets = _changed(instance, _PROFILE_FIELDS, update_fields)


@receiver(post_save, sender=Profile, dispatch_uid="dashboard.revocation.profile_post_save")
def _profile_post_save(sender, instance, created, **kwargs):
    if getattr(instance, "_revoke_sockets", False):
        sockets_close_for(user_id=instance.user_id)
    instance._revoke_sockets = False


@receiver(post_delete, sender=Profile, dispatch_uid="dashboard.revocation.profile_post_delete")
def _profile_post_delete(sender, instance, **kwargs):
    sockets_close_for(user_id=instance.user_id)


@receiver(user_logged_out, dispatch_uid="dashboard.revocation.logged_out")
def _logged_out(sender, request, user, **kwargs):
    if user is not None and user.pk is not None:
        sockets_close_for(user_id=user.pk)
