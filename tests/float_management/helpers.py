"""Small steps of the till's day, driven through the services, for the float tests."""

from __future__ import annotations

import uuid

from float_management import services
from float_management.models import Account, Request, RequestKind, TillSession
from tests.factories import fund_vault  # noqa: F401

VAULT_START = 1_000_000  # 10,000.00 EGP
OPENING_FLOAT = 200_000  # 2,000.00 EGP


def new_key() -> str:
    """A fresh idempotency key, as a rendered form would carry."""
    return uuid.uuid4().hex


def balance(account: Account) -> int:
    """The stored balance, read back from the database."""
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def opening_request(session: TillSession) -> Request:
    return session.requests.get(kind=RequestKind.OPENING_FLOAT)


def open_and_approve(*, agent, counter, supervisor, amount: int) -> TillSession:
    """Request an opening float and have `supervisor` approve it."""
    session = services.till_session_request_open(
        agent=agent, counter=counter, amount=amount, idempotency_key=new_key()
    )
    services.request_decide(request=opening_request(session), supervisor=supervisor, approve=True)
    session.refresh_from_db()
    return session


def counts_for(denominations, total: int) -> dict[int, int]:
    """Quantities by denomination pk that add up to `total` piastres (greedy, notes first)."""
    counts: dict[int, int] = {}
    left = total
    for denomination in sorted(denominations.values(), key=lambda d: -d.value):
        quantity, left = divmod(left, denomination.value)
        if quantity:
            counts[denomination.pk] = counts.get(denomination.pk, 0) + quantity
    assert left == 0, f"{total} cannot be counted in these denominations"
    return counts
