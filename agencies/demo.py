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
from django.utils import timezone

from agencies.adapters import adapter_for
from agencies.errors import AgencyError
from agencies.models import Integration, ServiceRequest
from agencies.services import inquiry_make
from agencies.statuses import status_change_receive
from counter.demo import CITIZENS
from counter.models import Citizen, Payment, Service
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


# Cemetery plot requests and what the local administration has done with each so far:
# (application number, the changes it pushed, as (status, reason, refundable)).
PLOT_REQUESTS = [
    ("20260101", []),
    ("20260102", [("in_review", "", False)]),
    ("20260103", [("in_review", "", False), ("ready", "", False)]),
    (
        "20260104",
        [("in_review", "", False), ("rejected", "لا توجد مقابر متاحة في هذا الحي", True)],
    ),
]


def _plot_requests(agent, service: Service) -> None:
    """Four plots paid, each request as far as the agency has taken it (as its webhook would)."""
    people = [Citizen.objects.get(national_id=row[0]) for row in CITIZENS]
    for n, (application, changes) in enumerate(PLOT_REQUESTS):
        payment = payments.payment_post_cash(
            agent=agent,
            service=service,
            citizen=people[n % len(people)],
            amount=None,
            references={"application_no": application},
            tendered=60_000,
            idempotency_key=f"demo:agency:plot:{application}",
        )
        for step, (status, reason, refundable) in enumerate(changes, start=1):
            status_change_receive(
                agency=service.agency,
                payment_reference=payment.reference,
                change_id=f"demo-{application}-{step}",
                status=status,
                reason=reason,
                refundable=refundable,
                changed_by="موظف الوحدة المحلية",
                changed_at=timezone.now(),
            )


def seed(ctx: DemoContext) -> None:
    agent = User.objects.select_related("profile").get(username="agent.01001.1")
    service = {s.code: s for s in Service.objects.filter(code__in=["EL-201", "LA-108"])}
    _integrations(service)
    electricity = _electricity(agent, service["EL-201"])
    _plot_requests(agent, service["LA-108"])
    states = sorted(
        ServiceRequest.objects.filter(payment__service=service["LA-108"]).values_list(
            "status", flat=True
        )
    )
    ctx.say(
        f"Agencies: electricity asked first ({electricity}); cemetery plot requests: "
        f"{', '.join(states)}."
    )
