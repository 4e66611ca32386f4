"""The agencies' own systems in the demo: electricity asked first, cemetery plots as requests.

- EL-201 (electricity bill) is "inquire first": the agent types the bill number and
  the electricity company's system says what is due. With `make run` its simulator
  answers; the demo pays one account's bills through it.
- LA-108 (cemetery plot reservation) opens a request the local administration
  processes: the demo day has requests submitted, in review, ready and rejected.

Every payment of both is told to the agency by the outbox worker. Idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from agencies.adapters import adapter_for
from agencies.errors import AgencyError
from agencies.models import Integration
from agencies.services import inquiry_make
from counter.models import Payment, Service
from counter.services import payments

if TYPE_CHECKING:
    from agents.demo import DemoContext

User = get_user_model()

ELECTRICITY_ACCOUNT = "412345678907"  # the simulator's: two bills, 123.14 EGP in all


def _integrations(service: dict[str, Service]) -> None:
    Integration.objects.update_or_create(
        service=service["EL-201"],
        defaults={"inquire_first": True, "opens_request": False, "reference_field": "bill_no"},
    )
    Integration.objects.update_or_create(
        service=service["LA-108"],
        defaults={
            "inquire_first": False,
            "opens_request": True,
            "reference_field": "application_no",
        },
    )


def _electricity(agent, service: Service) -> str:
    """One electricity account paid as its company's system presents it."""
    key = "demo:agency:elec:1"
    if Payment.objects.filter(service=service, references__bill_no=ELECTRICITY_ACCOUNT).exists():
        return "paid"
    if adapter_for("ELEC") is None:
        return "skipped (no electricity system configured: `make run` starts its simulator)"
    try:
        inquiry = inquiry_make(
            agent=agent,
            branch_id=agent.profile.branch_id,
            service=service,
            reference=ELECTRICITY_ACCOUNT,
        )
    except AgencyError as error:
        return f"skipped ({error.detail or error.message})"
    payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=None,
        amount=inquiry.total,
        references={"bill_no": ELECTRICITY_ACCOUNT},
        tendered=inquiry.total + 10_000,
        idempotency_key=key,
    )
    return "paid"


def seed(ctx: DemoContext) -> None:
    agent = User.objects.select_related("profile").get(username="agent.01001.1")
    service = {s.code: s for s in Service.objects.filter(code__in=["EL-201", "LA-108"])}
    _integrations(service)
    electricity = _electricity(agent, service["EL-201"])
    ctx.say(f"Agencies: electricity asked first ({electricity}); cemetery plots as requests.")
