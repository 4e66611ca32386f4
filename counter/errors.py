"""Errors of the counter's work, on top of the ledger's."""

from core.errors import DomainError, InvalidAmount


class WrongPin(DomainError):
    pass


class CardUnusable(DomainError):
    pass


class CitizenRequired(DomainError):
    pass


class ShortTender(InvalidAmount):
    """Less money handed over than the total: shown next to the field it was typed in."""

    field = "tendered"


class ApprovalUsed(DomainError):
    """A terminal's approval code already paid a payment: shown next to the field."""

    field = "approval_code"
