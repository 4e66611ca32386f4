"""Events that happen outside the services: logins, failed logins, logouts, admin changes.

Logins, logouts and failed logins are appended in a transaction of their own
(the login view runs in none, and a failed login must be kept whatever the
request does next). Admin changes are appended inside the admin's own
transaction, by the LogEntry the admin writes for each change.
"""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from agents.addresses import client_ip
from agents.permissions import scope_of
from audit import log

ADMIN_ACTIONS = {ADDITION: "admin.addition", CHANGE: "admin.change", DELETION: "admin.deletion"}


def _address(request) -> str:
    return "" if request is None else client_ip(request)


def _branch_id(user) -> int | None:
    return scope_of(user).branch_id


def _session_event(action: str, request, user) -> None:
    log.append_alone(
        stream=log.user_stream(user.pk),
        action=action,
        actor=user,
        object_type="user",
        object_id=user.pk,
        branch=_branch_id(user),
        data={"address": _address(request)},
    )


@receiver(user_logged_in, dispatch_uid="audit_login")
def on_login(sender, request, user, **kwargs):
    _session_event("auth.login", request, user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def on_logout(sender, request, user, **kwargs):
    if user is not None:  # None: logging out without being logged in
        _session_event("auth.logout", request, user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    """The username tried (never the password): on that person's stream when it exists."""
    User = get_user_model()
    username = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")
    username = username[:150]
    user_id = (
        User._default_manager.filter(**{User.USERNAME_FIELD: username})
        .values_list("pk", flat=True)
        .first()
        if username
        else None
    )
    log.append_alone(
        stream=log.user_stream(user_id) if user_id else log.login_stream(username),
        action="auth.login_failed",
        actor_username=username,
        object_type="user" if user_id else "",
        object_id=user_id or "",
        data={"username": username, "address": _address(request)},
    )


def record_denial(request) -> None:
    """A page refused (403), on the person's stream, in a transaction of its own."""
    user = getattr(request, "user", None)
    known = user is not None and user.is_authenticated
    log.append_or_log(
        stream=log.user_stream(user.pk) if known else log.ANONYMOUS,
        action="access.denied",
        actor=user if known else None,
        branch=_branch_id(user) if known else None,
        data={"method": request.method, "path": request.path[:200], "address": _address(request)},
    )


def append_admin_change(
    *, user, action: str, content_type, object_id: object, object_repr: str, change: str = ""
) -> None:
    """One admin change on the admin user's stream, inside the admin's transaction."""
    with transaction.atomic():
        log.append(
            stream=log.user_stream(user.pk),
            action=action,
            actor=user,
            object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
            object_id=object_id or "",
            branch=_branch_id(user),
            data={"object": object_repr, "change": change},
        )


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_change")
def on_admin_change(sender, instance: LogEntry, created: bool, raw: bool = False, **kwargs):
    """Every LogEntry the admin saves. (A bulk deletion of several objects writes its
    LogEntries with bulk_create, which sends no signal: audit.admin covers that.)"""
    if not created or raw:
        return
    append_admin_change(
        user=instance.user,
        action=ADMIN_ACTIONS.get(instance.action_flag, "admin.other"),
        content_type=instance.content_type,
        object_id=instance.object_id,
        object_repr=instance.object_repr,
        change=instance.change_message,
    )
