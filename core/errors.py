"""Domain errors: each carries a message a person can read, in their language."""

from __future__ import annotations


class DomainError(Exception):
    """A refused operation. `str(error)` is the message to show at the counter."""

    def __init__(self, message: object) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class InvalidAmount(DomainError):
    pass


class InsufficientFunds(DomainError):
    pass


class InvalidState(DomainError):
    pass


class NotAllowed(DomainError):
    pass


class IdempotencyConflict(DomainError):
    pass


class TillOverLimit(DomainError):
    pass
