"""The counter's sample day: the catalog, citizens with verified mobiles, cash and card
payments, a card top-up and an approved void.

Every money step has a fixed idempotency key and citizens are keyed by national
ID, so running seed_demo again posts nothing new.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from agents.demo import DemoContext
from counter.demo_catalog import seed_catalog
from counter.models import Citizen, OtpChallenge, PrepaidCard, Service, SmsMessage
from counter.services import cards, citizens, payments
from float_management.models import Request, RequestKind
from float_management.services import request_decide

if TYPE_CHECKING:
    from django.contrib.auth.models import User


User = get_user_model()

# Invented people; the IDs have a valid structure (century, date, governorate, sex digit).
CITIZENS = [
    ("28503150123451", "محمد عبد الله حسن", "Mohamed Abdallah Hassan", "01012345670"),
    ("29207220104562", "فاطمة السيد علي", "Fatma El-Sayed Ali", "01123456781"),
    ("30001012101239", "عمر خالد محمود", "Omar Khaled Mahmoud", "01234567892"),
]


def _citizen(agent: User, national_id: str, name_ar: str, name_en: str, mobile: str) -> Citizen:
    citizen, _created = citizens.citizen_register(
        agent=agent,
        national_id=national_id,
        name_ar=name_ar,
        name_en=name_en,
        mobile=mobile,
        consent=True,
    )
    if not citizen.mobile_verified:
        # The code reaches the outbox when the registration commits; read it as the agent
        # reads it from the citizen's phone.
        challenge = OtpChallenge.objects.filter(citizen=citizen).latest("created_at", "pk")
        message = SmsMessage.objects.filter(to=challenge.mobile).order_by("-pk").first()
        code = re.search(r"\b(\d{6})\b", message.body).group(1)
        citizens.otp_verify(agent=agent, citizen=citizen, code=code)
        citizen.refresh_from_db()
    return citizen


def seed(ctx: DemoContext) -> None:
    seed_catalog(ctx)
    agent = User.objects.get(username="agent.01001.1")
    supervisor = User.objects.get(username="sup.01001")
    people = [_citizen(agent, *row) for row in CITIZENS]
    service = {s.code: s for s in Service.objects.all()}

    payments.payment_post_cash(
        agent=agent,
        service=service["LA-101"],
        citizen=people[0],
        amount=None,
        references={"licence_no": "1234/2026"},
        tendered=25_000,
        idempotency_key="demo:pay:1",
    )
    payments.payment_post_cash(
        agent=agent,
        service=service["EL-201"],
        citizen=None,
        amount=34_575,
        references={"bill_no": "100200300400"},
        tendered=40_000,
        idempotency_key="demo:pay:2",
    )
    card = PrepaidCard.objects.filter(citizen=people[1]).first() or cards.card_issue(
        agent=agent, citizen=people[1], pin="2468", idempotency_key="demo:card:1"
    )
    cards.card_top_up(
        agent=agent, card_number=card.number, amount=50_000, idempotency_key="demo:topup:1"
    )
    payments.payment_post_card(
        agent=agent,
        service=service["LA-106"],
        citizen=people[1],
        amount=None,
        references={"licence_no": "9876/2025"},
        card_number=card.number,
        pin="2468",
        idempotency_key="demo:pay:3",
    )
    mistaken = payments.payment_post_cash(
        agent=agent,
        service=service["LA-103"],
        citizen=people[2],
        amount=None,
        references={"licence_no": "5555/2024"},
        tendered=11_000,
        idempotency_key="demo:pay:4",
    )
    void = payments.void_request(
        agent=agent, payment=mistaken, reason="اختيار خدمة خاطئة", idempotency_key="demo:void:1"
    )
    request_decide(request=void, supervisor=supervisor, approve=True)
    pending = Request.objects.filter(kind=RequestKind.VOID, decision__isnull=True).count()
    ctx.say(
        f"Counter: {len(people)} citizens with verified mobiles, "
        f"4 payments (1 voided), a card topped up; {pending} voids pending."
    )
