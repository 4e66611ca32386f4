"""What each action of the audit log means, for the auditors' screen and filter."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from float_management.models import TransferKind

EVENT_LABELS = {
    "request.approved": _("Request approved"),
    "request.rejected": _("Request rejected"),
    "auth.login": _("Login"),
    "auth.logout": _("Logout"),
    "auth.login_failed": _("Failed login"),
    "access.denied": _("Page refused"),
    "admin.addition": _("Admin: added"),
    "admin.change": _("Admin: changed"),
    "admin.deletion": _("Admin: deleted"),
    "card.replaced": _("Card blocked and replaced"),
    "card.unlocked": _("Card unlocked"),
    "citizen.read": _("Citizen record read"),
    "citizen.read_refused": _("Citizen record read refused"),
    "receipt.original_printed": _("Receipt original printed"),
    "receipt.copy_printed": _("Receipt copy printed"),
    "vault.move_recorded": _("Vault movement recorded"),
    "vault.move_cancelled": _("Vault movement cancelled"),
}


def action_choices() -> list[tuple[str, str]]:
    """Every action an entry can have: one per kind of transfer, then the other events."""
    transfers = [(f"transfer.{value}", label) for value, label in TransferKind.choices]
    return transfers + list(EVENT_LABELS.items())


def action_label(action: str) -> str:
    return str(dict(action_choices()).get(action, action))
