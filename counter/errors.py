"""Errors of the counter's work, on top of the ledger's."""

from core.errors import DomainError


class WrongPin(DomainError):
    pass


class CardUnusable(DomainError):
    pass


class CitizenRequired(DomainError):
    pass
