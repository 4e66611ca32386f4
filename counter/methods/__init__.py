"""Payment methods: one registry, keyed by the method stored on each payment.

A method is a module of its own (`cash`, `card`; later the wallet's QR and a
bank card on the terminal) that says how the citizen pays with it: the form
fields it needs and their rule, what it checks before the payment's
transaction and what it locks inside it, the ledger account the money comes
from and the columns of the payment it fills, its label (on screen, in
reports, and on the receipt in both languages) and its report column.

Nothing outside these modules asks which method a payment used: it asks the
registry (`get(payment.method)`) and the method answers. A new method is a
new module and one line at the end of this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import override

if TYPE_CHECKING:
    from django import forms
    from django.contrib.auth.models import User
    from django.http import HttpRequest, HttpResponse

    from counter.models import Payment
    from float_management.models import Account, TillSession

Label = str | Promise  # gettext_lazy, so that it is drawn in the language of the moment


@dataclass(frozen=True)
class ReportColumn:
    """A method's column in the reports: by key in the CSV, by its labels on the page."""

    key: str  # the CSV's column is f"{key}_egp"
    label: Label  # a short head ("Cash", "Card"): the PDF's by-service table
    amount: Label  # the head of its amounts ("Cash (EGP)")
    count: Label  # the head of its counts ("Cash payments")


@dataclass(frozen=True)
class Source:
    """Where a payment's money comes from: the account debited, and the payment's own columns."""

    account: Account
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """A line a method adds under a payment's total (on the confirmation, on the payment)."""

    label: Label
    value: str
    numeric: bool = True
    id: str = ""  # an HTML id a test or the browser looks for


class PaymentMethod:
    """What every method says about itself; a method overrides what it needs.

    `tender` is the cleaned values of the method's own form fields (and of its
    confirmation fields when the payment is confirmed): what the citizen
    handed over or typed.
    """

    key: str  # stored in Payment.method: at most 16 characters
    label: Label  # its name on screen and in the reports' summaries
    receipt_label: Label  # printed on the receipt in English and in Arabic
    column: ReportColumn
    into_till: bool = False  # does its money come into the till as cash?
    confirm_button: Label
    # Field name -> the error shown when it is left empty while this method is chosen.
    required: Mapping[str, Label] = {}

    def fields(self) -> dict[str, forms.Field]:
        """Its fields on the payment's first step (every one optional: see `required`)."""
        return {}

    def confirm_fields(self) -> dict[str, forms.Field]:
        """What is typed on the confirmation (the card's PIN), not carried from step one."""
        return {}

    def check_total(self, tender: Mapping[str, Any], total: int) -> None:
        """Refuse a tender that cannot pay `total`, before anything is posted."""

    def change(self, tender: Mapping[str, Any], total: int) -> int | None:
        """What the citizen gets back, if the method gives change."""
        return None

    def confirm_rows(self, tender: Mapping[str, Any], total: int) -> list[Row]:
        return []

    def payment_rows(self, payment: Payment) -> list[Row]:
        return []

    def receipt_rows(self, payment: Payment) -> list[tuple[str, str, str]]:
        """(English, Arabic, value) lines the receipt prints under the method's name."""
        return []

    def begin(self, request: HttpRequest, payment: Mapping[str, Any]) -> HttpResponse | None:
        """A method whose money arrives later (a wallet's QR) answers the confirmation itself.

        `payment` is the keywords of `payment_post` but the agent. None (every method
        paid at the counter there and then): the payment is posted now.
        """
        return None

    def payload(self, tender: Mapping[str, Any]) -> dict[str, Any]:
        """What of the tender makes a retried request the same request (idempotency)."""
        return {}

    def check(self, *, agent: User, tender: Mapping[str, Any]) -> None:
        """Before the payment's transaction: a check that must count even if the payment fails."""

    def lock(self, tender: Mapping[str, Any]) -> Any:
        """In the payment's transaction, before the till session: what the method locks."""
        return None

    def source(
        self, *, session: TillSession, tender: Mapping[str, Any], held: Any, total: int
    ) -> Source:
        """In the transaction, the session locked: the account debited with `total`."""
        raise NotImplementedError

    def void_redirect(self, payment: Payment) -> dict[int, Account]:
        """For a void: account id -> the account that gets the refund instead (none: as paid)."""
        return {}

    def voided(self, payment: Payment, *, by: User) -> None:
        """In the void's transaction, once its reversal is posted: what else the void does."""

    def receipt_labels(self) -> tuple[str, str]:
        """(English, Arabic) of `receipt_label`, as the receipt prints them side by side."""
        labels = _receipt_labels.get(self)
        if labels is None:
            with override("en"):
                en = str(self.receipt_label)
            with override("ar"):
                ar = str(self.receipt_label)
            labels = _receipt_labels[self] = (en, ar)
        return labels

    def __repr__(self) -> str:
        return f"<PaymentMethod {self.key}>"


_registry: dict[str, PaymentMethod] = {}
_receipt_labels: dict[PaymentMethod, tuple[str, str]] = {}


def register(method: PaymentMethod) -> PaymentMethod:
    """Add `method` to the registry; its key must be new and fit Payment.method."""
    if method.key in _registry:
        raise ValueError(f"A payment method {method.key!r} is already registered.")
    if not 0 < len(method.key) <= 16:
        raise ValueError(f"A payment method's key has 1 to 16 characters, not {method.key!r}.")
    _registry[method.key] = method
    return method


def unregister(key: str) -> None:
    method = _registry.pop(key)
    _receipt_labels.pop(method, None)


def get(key: str) -> PaymentMethod:
    """The method of this key; KeyError for a method nobody registered (never a default)."""
    return _registry[key]


def all() -> list[PaymentMethod]:
    """Every method, in the order they were registered (the order of columns and radios)."""
    return list(_registry.values())


def registered_keys() -> list[str]:
    return list(_registry)


def choices() -> list[tuple[str, Label]]:
    """(key, label) of every method: Payment.method's choices and the form's radios."""
    return [(method.key, method.label) for method in _registry.values()]


def default() -> PaymentMethod:
    """The method the form starts on: the first registered."""
    return next(iter(_registry.values()))


# The methods. A new one: its module, and its line here.
from counter.methods import card, cash, terminal  # noqa: E402

register(cash.Cash())
register(card.PrepaidCardMethod())
register(terminal.BankCardMethod())
# An app above the counter registers its own method in its AppConfig.ready() (the
# wallet: its QR, its provider and its callbacks are its own).
