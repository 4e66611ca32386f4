"""The sample day's payments outside the till: a bank card on the terminal, a wallet QR
paid, and the same QR paid a second time (a refund waiting for the supervisor).

With the simulators running (`make run` starts them before seeding), the card is
authorised by the acquirer's simulator and the QR is paid through the wallet's,
so their daily files know these payments and reconcile with them. Without them
(the tests' seeded apps), the same payments are made as if the provider had
answered, with invented ids. Idempotent: a second run adds nothing.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from counter.demo import CITIZENS
from counter.methods.terminal import terminal_id
from counter.models import Citizen, Payment, Service
from counter.services import payments
from wallet import services
from wallet.models import WalletTransaction
from wallet.providers import ProviderError, get_acquirer

if TYPE_CHECKING:
    from agents.demo import DemoContext
    from wallet.models import WalletIntent

User = get_user_model()


def _approval_code(total: int, branch_code: str, counter_number: int) -> str:
    """The acquirer's approval for the demo card, or an invented one if it is not running."""
    try:
        return (
            get_acquirer()
            .authorize(
                terminal_id=terminal_id(branch_code, counter_number),
                amount=total,
                card_last4="4242",
            )
            .approval_code
        )
    except (ProviderError, OSError):
        return "DEMO01"


def _phone_pays(intent: WalletIntent) -> bool:
    """A citizen's phone pays the QR at the wallet simulator (its own API, demo only)."""
    request = urllib.request.Request(
        f"{settings.WALLET_PROVIDER_URL}/v1/payments",
        data=json.dumps({"qr": intent.payload, "wallet": "201000000001"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 (loopback)
            return response.status == 201
    except OSError:
        return False


def _paid_through_simulator(intent: WalletIntent, times: int) -> bool:
    if not all(_phone_pays(intent) for _ in range(times)):
        return False
    # The app is not serving yet, so the callback cannot land: the status query finds it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        services.intents_query(older_than=0, now=timezone.now())
        if WalletTransaction.objects.filter(reference=intent.reference).count() >= times:
            return True
        time.sleep(0.3)
    return False


def seed(ctx: DemoContext) -> None:
    agent = User.objects.get(username="agent.01001.1")
    service = {s.code: s for s in Service.objects.all()}
    people = [Citizen.objects.get(national_id=row[0]) for row in CITIZENS]
    if not Payment.objects.filter(method="bankcard", agent=agent).exists():
        quote = payments.payment_fixed_quote(service=service["LA-102"])
        session = agent.till_sessions.filter(status="open").select_related("branch", "counter")
        session = session.get()
        payments.payment_post(
            agent=agent,
            service=service["LA-102"],
            citizen=people[2],
            amount=None,
            references={"application_no": "20261201"},
            method="bankcard",
            tender={
                "approval_code": _approval_code(
                    quote.total, session.branch.code, session.counter.number
                ),
                "card_last4": "4242",
            },
            idempotency_key="demo:pay:bankcard:1",
        )
    intent = services.intent_open(
        agent=agent,
        service=service["LA-101"],
        citizen=people[0],
        amount=None,
        references={"licence_no": "1357/2026"},
        method="wallet",
        tender={},
        idempotency_key="demo:wallet:1",
    )
    # Paid, then paid again by mistake: the second waits in the supervisor's refunds.
    if not WalletTransaction.objects.filter(
        reference=intent.reference
    ).exists() and not _paid_through_simulator(intent, times=2):
        for n in (1, 2):
            services.money_arrived(
                txn_id=f"WTDEMO{intent.reference}{n}",
                reference=intent.reference,
                amount=intent.total,
                paid_at=timezone.now(),
                wallet="201000000001",
                via="callback",
            )
    refunds = WalletTransaction.objects.exclude(status="applied").count()
    ctx.say(f"Wallet and bank card: 1 card payment, 1 wallet payment; {refunds} refund waiting.")
