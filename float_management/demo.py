"""A sample day of cash: vaults stocked from the bank, tills opened, a drop, a close.

Every step goes through the services with a fixed idempotency key, so a
second run finds the first run's results and posts nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from agents.demo import DemoContext
from agents.models import Branch, Counter
from float_management import services
from float_management.models import Denomination, Request, RequestKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from float_management.models import TillSession


User = get_user_model()


def _decide(request: Request, supervisor: User) -> None:
    services.request_decide(request=request, supervisor=supervisor, approve=True)


def _open(code: str, number: int, amount: int, supervisor: User) -> tuple[User, TillSession]:
    agent = User.objects.get(username=f"agent.{code}.{number}")
    counter = Counter.objects.get(branch__code=code, number=number)
    session = services.till_session_request_open(
        agent=agent, counter=counter, amount=amount, idempotency_key=f"demo:{code}:{number}:open"
    )
    _decide(session.requests.get(kind=RequestKind.OPENING_FLOAT), supervisor)
    session.refresh_from_db()
    return agent, session


def seed(ctx: DemoContext) -> None:
    for branch in Branch.objects.filter(code__in=["01001", "01002", "21001", "02001", "25001"]):
        supervisor = User.objects.get(username=f"sup.{branch.code}")
        witness = User.objects.get(username=f"agent.{branch.code}.1")
        services.vault_move_confirm(
            witness=witness,
            movement=services.vault_move(
                branch=branch,
                direction="in",
                amount=50_000_000,
                handled_by=supervisor,
                witnessed_by=witness,
                idempotency_key=f"demo:{branch.code}:bank-in",
            ),
        )
    supervisor = User.objects.get(username="sup.01001")
    # Counter 1 works all day; counter 2 drops cash; counter 3 has already closed, 5 EGP short.
    _open("01001", 1, 500_000, supervisor)
    agent, session = _open("01001", 2, 300_000, supervisor)
    services.cash_drop(
        agent=agent, session=session, amount=100_000, idempotency_key="demo:01001:2:drop"
    )
    agent, session = _open("01001", 3, 200_000, supervisor)
    notes = {(d.form, d.value): d.pk for d in Denomination.objects.all()}
    counts = {
        notes[("note", 20000)]: 9,
        notes[("note", 10000)]: 1,
        notes[("note", 5000)]: 1,
        notes[("note", 2000)]: 2,
        notes[("note", 100)]: 5,
    }
    close = services.till_session_submit_count(
        agent=agent, session=session, counts=counts, idempotency_key="demo:01001:3:count"
    )
    _decide(close, supervisor)
    _open("21001", 1, 400_000, User.objects.get(username="sup.21001"))
    ctx.say("Cash: vaults stocked, four tills opened, a cash drop, one close 5.00 EGP short.")
