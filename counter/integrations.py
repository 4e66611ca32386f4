"""What apps above the counter add to a payment: one registry of hooks, asked in order.

The counter knows nothing of the agencies' own systems (they sit above it, in
`agencies`). An app that must take part in a payment registers a `PaymentHooks`
in its AppConfig.ready(), and the counter calls every registered one:

- `pay_page`: before the pay form is shown. A response (the agency's inquiry
  first) is shown instead; a mapping is the form's initial values.
- `check`: before the payment, with its service, references and amount. It
  raises a DomainError (or a ValidationError naming a reference) to refuse it.
  With `lock=True` it runs in the payment's own transaction, and what it returns
  is handed to `posted`.
- `posted`: in the payment's transaction, once the payment and its lines exist.
  What it writes commits or rolls back with the payment (the agencies' outbox).
- `voided`: in the void's transaction, once the reversal is posted.

A hook that has nothing to do for a service returns None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest, HttpResponse

    from counter.models import Citizen, Payment, Service


class PaymentHooks:
    """Every hook does nothing; an app overrides those it needs."""

    def pay_page(
        self, request: HttpRequest, service: Service, citizen: Citizen | None
    ) -> HttpResponse | Mapping[str, Any] | None:
        return None

    def check(
        self,
        *,
        agent: User,
        service: Service,
        references: Mapping[str, str],
        amount: int | None,
        lock: bool,
    ) -> Any:
        return None

    def posted(self, payment: Payment, held: Any) -> None:
        pass

    def voided(self, payment: Payment, *, by: User) -> None:
        pass


_registry: list[PaymentHooks] = []


def register(hooks: PaymentHooks) -> None:
    if any(type(existing) is type(hooks) for existing in _registry):
        return  # ready() twice (a test's app registry): once is enough
    _registry.append(hooks)


def unregister(hooks_class: type[PaymentHooks]) -> None:
    _registry[:] = [hooks for hooks in _registry if type(hooks) is not hooks_class]


def all() -> list[PaymentHooks]:
    return list(_registry)


def check(**kwargs: Any) -> list[Any]:
    """Every hook's check, in order: what each holds for its `posted`."""
    return [hooks.check(**kwargs) for hooks in _registry]


def posted(payment: Payment, held: list[Any]) -> None:
    for hooks, kept in zip(_registry, held, strict=True):
        hooks.posted(payment, kept)


def voided(payment: Payment, *, by: User) -> None:
    for hooks in _registry:
        hooks.voided(payment, by=by)
