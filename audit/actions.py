"""What each action of the audit log means, for the auditors' screen and filter.

The log knows no app: each app names its own actions when it is ready
(`register_actions` in its AppConfig.ready), audit names its own here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_LABELS: dict[str, str | Promise] = {}


def register_actions(labels: Iterable[tuple[str, str | Promise]]) -> None:
    """Name actions for the auditors' filter and screen (an app's ready() calls this)."""
    for action, label in labels:
        _LABELS[action] = label


register_actions(
    [
        ("auth.login", _("Login")),
        ("auth.logout", _("Logout")),
        ("auth.login_failed", _("Failed login")),
        ("access.denied", _("Page refused")),
        ("admin.addition", _("Admin: added")),
        ("admin.change", _("Admin: changed")),
        ("admin.deletion", _("Admin: deleted")),
    ]
)


def action_choices() -> list[tuple[str, str | Promise]]:
    """Every action an entry can have, as the apps registered them."""
    return list(_LABELS.items())


def action_label(action: str) -> str:
    return str(_LABELS.get(action, action))
