"""Close a person's open dashboards the moment they lose the right to them.

Every board socket joins its person's group (`user.<id>`). When the person is
deactivated, their password is changed, their role or scope changes, or they
log out, a message goes to that group after commit and the consumer closes the
socket with an application close code; the page then shows "not live". HTTP
needs none of this: every request reads the user and profile afresh.

Bulk `QuerySet.update()` sends no signals: deactivate people with `save()`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

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


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(user_id: int) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        # On the consumers' loop, as the dashboard pushes: the in-memory layer's
        # queues belong to that loop (a Redis layer would take any loop).
        future = asyncio.run_coroutine_threadsafe(
            layer.group_send(user_group(user_id), {"type": "access.revoked"}),
            live._target_loop(),
        )
        future.add_done_callback(partial(_log_failure, user_id))
    except Exception:
        logger.exception("closing the dashboards of user %s failed", user_id)


def _log_failure(user_id: int, future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error(
            "closing the dashboards of user %s failed",
            user_id,
            exc_info=future.exception(),
        )


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
