"""Every state-changing endpoint refuses GET and refuses a POST without a CSRF token.

Every URL pattern is classified here, as POST (changes state) or GET (reads):
a new URL without a row fails `test_every_url_is_classified`. For each POST
endpoint, as a persona allowed to use it: GET is 405 (or, for a form page,
writes nothing), a POST without the token is a 403 CSRF failure that writes
nothing, and the very same POST *with* the token gets past the CSRF check
(so the 403 is the token's doing, not the data's).
"""

import uuid

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from float_management import services as till
from tests.factories import wallet_qr

ANON = "anonymous"
CSRF_SECRET = "a" * 32  # a cookie's secret; the form token may be the same unmasked secret

# url name -> (persona allowed to use it, args for reverse, POST data, GET kind)
# GET kind: 405 (POST only) or "form" (a page whose GET shows the form, writing nothing).
POST: dict[str, tuple[str, tuple, dict, int | str]] = {
    "login": (ANON, (), {"username": "agent_a", "password": "pass-for-tests"}, "form"),
    "logout": ("agent_a", (), {}, 405),
    "set_language": ("agent_a", (), {"language": "en", "next": "/"}, "form"),
    "float:open": ("agent_b", (), {"counter": "{counter_b}", "amount": "500", "key": 1}, 405),
    "float:top_up": ("agent_a", (), {"top_up-amount": "100", "top_up-key": 1}, 405),
    "float:drop": ("agent_a", (), {"drop-amount": "100", "drop-key": 1}, 405),
    "float:close": ("agent_a", (), {"d{note_100}": "10", "key": 1}, "form"),
    "float:vault": (
        "supervisor_a",
        (),
        {"direction": "in", "amount": "1000", "witness": "{agent_a}", "key": 1},
        405,
    ),
    "float:decide": ("supervisor_a", ("{pending}",), {"decision": "approve"}, 405),
    "float:vault_confirm": ("agent_a", ("{vault}",), {"decision": "confirm"}, 405),
    "dashboard:decide": ("supervisor_a", ("{pending}",), {"decision": "approve"}, 405),
    "counter:citizen_new": (
        "agent_a",
        (),
        {
            "national_id": "29501010100023",
            "name_ar": "مواطنة جديدة",
            "mobile": "01112345678",
            "consent": "on",
        },
        "form",
    ),
    "counter:citizen_send_code": ("agent_a", ("{citizen}",), {"mobile": ""}, 405),
    "counter:citizen_verify": ("agent_a", ("{citizen}",), {"code": "123456"}, 405),
    "counter:pay": (
        "agent_a",
        ("LIC-RENEW",),
        {
            "ref_licence": "123456",
            "method": "cash",
            "tendered": "100",
            "citizen": "{citizen}",
            "confirm": "1",
            "key": 1,
        },
        "form",
    ),
    "counter:void": ("agent_a", ("{payment}",), {"reason": "wrong service", "key": 1}, 405),
    "counter:card_issue": (
        "agent_a",
        (),
        {"citizen": "{citizen}", "pin": "1234", "key": 1},
        "form",
    ),
    "counter:card_top_up": (
        "agent_a",
        (),
        {"top_up-card_number": "{card}", "top_up-amount": "50", "top_up-key": 1},
        405,
    ),
    # Reads a balance, but by POST: the card number stays out of URLs and logs.
    "counter:card_balance": ("agent_a", (), {"balance-card_number": "{card}"}, 405),
    "counter:card_replace": (
        "agent_a",
        (),
        {"replace-card_number": "{card}", "replace-pin": "4321", "replace-key": 1},
        405,
    ),
    "counter:card_unlock": (
        "supervisor_a",
        (),
        {"card_number": "{card}", "national_id": "29001010100015"},
        "form",
    ),
    "settlement_run": ("head_office", (), {"business_day": "2026-01-01"}, 405),
    # Reconciling asks the provider for its file (here unreachable: a message, nothing saved).
    "reconciliation:list": (
        "head_office",
        (),
        {"business_day": "2026-01-01", "source": "wallet"},
        "form",
    ),
    # Asking an agency what is due keeps its answer (here no system answers: a message).
    "agencies:inquiry": ("agent_a", ("ELEC-BILL",), {"reference": "412345678907"}, "form"),
    "wallet:qr_print": ("agent_a", ("{intent}",), {}, 405),
    "wallet:qr_cancel": ("agent_a", ("{intent}",), {}, 405),
    "wallet:refund_approve": ("supervisor_a", ("{refund}",), {}, 405),
    # Finding a refund is a POST: the national ID stays out of URLs and logs.
    "agencies:refunds": (
        "agent_a",
        (),
        {"payment_reference": "{payment}", "national_id": "29001010100015"},
        "form",
    ),
    "agencies:refund_payout": (
        "agent_a",
        (),
        {"payment_reference": "{payment}", "national_id": "29001010100015", "key": 1},
        405,
    ),
    # Printing counts: the original, then copies. Only a POST prints.
    "receipt_print": ("agent_a", ("{payment}",), {"layout": "roll"}, 405),
}

# Read-only pages: GET (and HEAD) only, nothing written by opening them.
GET = {
    "home",
    "healthz",
    "favicon",
    "counter:home",
    "float:session",
    "float:branch",
    "counter:citizen_search",
    "counter:citizen_detail",
    "counter:service_search",
    "counter:payments",
    "counter:payment",
    "counter:cards",
    "receipt",
    "receipt_pdf",
    "receipt_print_pdf",
    "receipt_verify",
    "report_session",
    "report_branch",
    "report_governorate",
    "report_national",
    "settlement_list",
    "settlement_confirmation",
    "settlement_csv",
    "dashboard:home",
    "dashboard:branch",
    "dashboard:governorate",
    "dashboard:nation",
    "audit:list",
    "audit:detail",
    "wallet:qr",
    "wallet:qr_status",
    "wallet:qr_citizen",
    "wallet:refunds",
    "reconciliation:detail",
}
# The wallet provider's callback: no session and no CSRF token, its HMAC signature instead
# (tested below and in tests/wallet).
SIGNED = {"wallet:callback", "agencies:status_webhook"}
# Django's admin has its own CSRF protection (every admin form is csrf_protect'ed).
EXCLUDED_NAMESPACES = {"admin"}
# Rows of these apps are counted before and after every refused request.
COUNTED_APPS = {
    "auth",
    "sessions",
    "axes",
    "agents",
    "float_management",
    "counter",
    "settlement",
    "receipts",
    "dashboard",
    "audit",
    "wallet",
    "reconciliation",
    "agencies",
}


def _all_url_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            if ns in EXCLUDED_NAMESPACES:
                continue
            yield from _all_url_names(pattern, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_url_is_classified():
    names = set(_all_url_names())
    assert not set(POST) & GET
    assert names == set(POST) | GET | SIGNED


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in COUNTED_APPS and model._meta.managed
    }


@pytest.fixture
def world(personas, fixed_service, bill_service, citizen, open_till, denominations, counter_b):
    """Something for every endpoint to act on: a pending request, a payment, a card."""
    from agencies.models import Integration
    from counter.citizen_links import citizen_token
    from counter.services import cards, payments
    from wallet import services as wallet_services

    # An agency asked before payment (agencies:inquiry).
    Integration.objects.create(service=bill_service, inquire_first=True, reference_field="bill")

    agent_a = personas["agent_a"]
    pending = till.float_request_top_up(
        agent=agent_a, session=open_till, amount=10_000, idempotency_key=uuid.uuid4().hex
    )
    payment = payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )
    card = cards.card_issue(
        agent=agent_a, citizen=citizen, pin="1234", idempotency_key=uuid.uuid4().hex
    )
    intent = wallet_qr(agent_a, fixed_service, citizen)
    paid_twice = [
        wallet_services.money_arrived(
            txn_id=f"WT-{n}",
            reference=intent.reference,
            amount=intent.total,
            paid_at=intent.created_at,
            via="callback",
        )
        for n in (1, 2)
    ][1]
    waiting = wallet_qr(agent_a, fixed_service, citizen)
    vault = till.vault_move(
        branch=open_till.branch,
        direction="in",
        amount=1_000,
        handled_by=personas["supervisor_a"],
        witnessed_by=agent_a,
        idempotency_key=uuid.uuid4().hex,
    )
    return {
        "personas": personas,
        "ids": {
            "pending": pending.pk,
            "vault": vault.pk,
            # Links to a citizen carry a token signed for the agent (agent_a here).
            "citizen": citizen_token(agent=agent_a, citizen=citizen),
            "payment": payment.reference,
            "intent": waiting.reference,
            "refund": paid_twice.pk,
            "card": card.number,
            "agent_a": agent_a.pk,
            "counter_b": counter_b.pk,
            "note_100": denominations[("note", 10000)].pk,
        },
    }


def _fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return str(ids[value[1:-1]])
    return value


def _request_of(url_name, world):
    persona, args, data, get_kind = POST[url_name]
    ids = world["ids"]
    url = reverse(url_name, args=[_fill(a, ids) for a in args])
    body = {}
    for name, value in data.items():
        if name.endswith("key") and value == 1:  # a fresh idempotency key
            body[name.replace("key", "idempotency_key")] = uuid.uuid4().hex
        else:
            body[_fill(name, ids)] = _fill(value, ids)
    return persona, url, body, get_kind


def _client(persona, world, *, enforce_csrf=True) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    if persona != ANON:
        client.force_login(world["personas"][persona])
    return client


@pytest.mark.parametrize("url_name", sorted(POST))
def test_a_state_changing_endpoint_refuses_get_or_writes_nothing_on_get(url_name, world):
    persona, url, body, get_kind = _request_of(url_name, world)
    client = _client(persona, world)
    before = _row_counts()
    # The form's data in the query string must not do what the POST does.
    response = client.get(url, body)
    if get_kind == 405:
        assert response.status_code == 405, (url, response.status_code)
    else:
        assert response.status_code in (200, 302), (url, response.status_code)
    assert _row_counts() == before


@pytest.mark.parametrize("url_name", sorted(POST))
def test_a_post_without_a_csrf_token_is_refused_and_writes_nothing(url_name, world):
    persona, url, body, _get_kind = _request_of(url_name, world)
    with_cookie = _client(persona, world)
    with_cookie.cookies["csrftoken"] = CSRF_SECRET  # a cookie, but no token in the form
    without_cookie = _client(persona, world)
    before = _row_counts()
    for client in (with_cookie, without_cookie):
        response = client.post(url, body)
        assert response.status_code == 403, url
        assert b"CSRF" in response.content
        assert _row_counts() == before


@pytest.mark.parametrize("url_name", sorted(POST))
def test_the_same_post_with_the_token_gets_past_the_csrf_check(url_name, world):
    """The control: the refusal above is the missing token's, not the data's or the role's."""
    persona, url, body, _get_kind = _request_of(url_name, world)
    client = _client(persona, world)
    client.cookies["csrftoken"] = CSRF_SECRET
    response = client.post(url, {**body, "csrfmiddlewaretoken": CSRF_SECRET})
    assert response.status_code in (200, 302), (url, response.status_code)
    assert b"CSRF verification failed" not in response.content


@pytest.mark.parametrize(
    ("url_name", "model"),
    [
        ("float:vault", "float_management.VaultMovement"),
        ("float:vault_confirm", "float_management.Transfer"),
        ("counter:citizen_new", "counter.Citizen"),
        ("counter:pay", "counter.Payment"),
        ("counter:void", "float_management.Request"),
        ("counter:card_issue", "counter.PrepaidCard"),
        ("receipt_print", "receipts.ReceiptPrint"),
    ],
)
def test_with_the_token_the_same_post_writes(url_name, model, world):
    """So 'nothing written' above could have failed: these posts do write, with a token."""
    persona, url, body, _get_kind = _request_of(url_name, world)
    client = _client(persona, world)
    client.cookies["csrftoken"] = CSRF_SECRET
    before = _row_counts()[model]
    response = client.post(url, {**body, "csrfmiddlewaretoken": CSRF_SECRET})
    assert response.status_code in (200, 302), url
    assert _row_counts()[model] == before + 1


def test_the_wallet_callback_refuses_get_and_an_unsigned_post_and_writes_nothing(world):
    client = Client(enforce_csrf_checks=True)
    url = reverse("wallet:callback")
    before = _row_counts()
    assert client.get(url).status_code == 405
    response = client.post(url, b'{"txn_id": "WT-9"}', content_type="application/json")
    assert response.status_code == 401
    assert _row_counts() == before


def test_the_agency_webhook_refuses_get_and_an_unsigned_post_and_writes_nothing(world, settings):
    settings.AGENCY_SYSTEMS = {"LOCAL": {"url": "http://127.0.0.1:9", "secret": "s"}}
    client = Client(enforce_csrf_checks=True)
    url = reverse("agencies:status_webhook", args=["LOCAL"])
    before = _row_counts()
    assert client.get(url).status_code == 405
    response = client.post(url, b'{"change_id": "CH1"}', content_type="application/json")
    assert response.status_code == 401
    assert _row_counts() == before


def test_logging_out_without_a_token_keeps_the_session(world):
    client = _client("agent_a", world)
    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("counter:home")).status_code == 200
