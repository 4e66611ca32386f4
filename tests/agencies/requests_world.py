"""A service whose payment opens a request at its agency, paid, and the agency's webhook.

The fixtures are imported by the test modules of requests and refunds (this folder's
conftest names `agency` the scripted HTTP agency, so the catalog here is its own).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.conf import settings
from django.urls import reverse

AGENCY = "LICS"
SECRET = "webhook-secret-for-tests"
TOTAL = 5_450  # 50.00 fee + 3.00 commission + 1.50 stamp duty


@pytest.fixture
def agency_system(settings):
    settings.AGENCY_SYSTEMS = {AGENCY: {"url": "http://127.0.0.1:9", "secret": SECRET}}
    return settings.AGENCY_SYSTEMS[AGENCY]


@pytest.fixture
def request_service(db, agency_system):
    """A licence renewal whose agency processes it after the payment (54.50 EGP)."""
    from agencies.models import Integration
    from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service

    licences = Agency.objects.create(code=AGENCY, name_ar="إدارة التراخيص", name_en="Licences")
    service = Service.objects.create(
        code="LIC-REQ",
        agency=licences,
        budget_item="1/2/3/46",
        name_ar="طلب تجديد رخصة",
        name_en="Licence renewal request",
        requires_citizen=False,
    )
    schedule = FeeSchedule.objects.create(service=service, effective_from=datetime.date(2020, 1, 1))
    for position, (code, kind, amount) in enumerate(
        [
            ("fee", "agency_fee", 5000),
            ("commission", "commission", 300),
            ("stamp", "stamp_duty", 150),
        ]
    ):
        FeeComponent.objects.create(
            schedule=schedule,
            code=code,
            kind=kind,
            amount=amount,
            position=position,
            name_ar=code,
            name_en=code,
        )
    ReferenceField.objects.create(
        service=service,
        code="licence",
        label_ar="رقم الرخصة",
        label_en="Licence number",
        pattern=r"^[0-9]{6}$",
    )
    Integration.objects.create(service=service, opens_request=True)
    return service


def pay(agent, service, citizen):
    from counter.services import payments

    return payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=TOTAL,
        idempotency_key=uuid.uuid4().hex,
    )


@pytest.fixture
def paid(agent_a, open_till, citizen, request_service):
    """agent_a's cash payment of the request service, for the bound citizen."""
    return pay(agent_a, request_service, citizen)


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_AGENCY_TIMESTAMP": ts, "HTTP_X_AGENCY_SIGNATURE": signature}


def change(payment, status: str, **fields) -> dict:
    """The simulator's body for one change (changed_at now, unless given)."""
    return {
        "event": "request.status",
        "payment_reference": payment.reference,
        "status": status,
        "reason": None,
        "refundable": False,
        "changed_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "by": "clerk.amal",
        "change_id": "CH" + uuid.uuid4().hex[:16],
        "delivery": 1,
        **fields,
    }


def post_signed(client, body, *, agency: str = AGENCY, headers: dict | None = None, **sign_kw):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    # The request activates its language in this thread, where the test then reads
    # messages: English, as the tests' own (the app's first language is Arabic).
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.post(
        reverse("agencies:status_webhook", args=[agency]),
        data=raw,
        content_type="application/json",
        **(headers if headers is not None else sign(raw, **sign_kw)),
    )
