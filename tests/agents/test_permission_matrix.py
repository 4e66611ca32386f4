"""Who gets what, for every URL of the project and every persona.

The matrix must name every URL pattern: a new view without a row here fails
`test_every_url_is_in_the_matrix`, so no page ships without a scope decision.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ANON = "anonymous"
PERSONAS = [
    ANON,
    "agent_a",
    "agent_b",
    "supervisor_a",
    "regional_a",
    "regional_other",
    "head_office",
    "auditor",
]
LOGIN = "login-redirect"

# url name -> (args for reverse, {persona: expected status}); missing personas use "*"
MATRIX: dict[str, tuple[tuple, dict[str, int | str]]] = {
    "home": ((), {ANON: LOGIN, "*": 302}),
    "healthz": ((), {"*": 200}),
    "favicon": ((), {"*": 302}),  # to the static mark, for everyone
    "login": ((), {ANON: 200, "*": 302}),
    "logout": ((), {"*": 405}),  # GET is refused: logging out is a POST
    "set_language": ((), {"*": 302}),  # GET redirects back without changing anything
    "counter:home": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    "float:session": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    # Without an open session the close page sends the agent back to the till page.
    "float:close": ((), {ANON: LOGIN, "agent_a": 302, "agent_b": 302, "*": 403}),
    "float:open": ((), {"*": 405}),
    "float:top_up": ((), {"*": 405}),
    "float:drop": ((), {"*": 405}),
    "float:branch": ((), {ANON: LOGIN, "supervisor_a": 200, "*": 403}),
    "float:vault": ((), {"*": 405}),
    "float:decide": ((1,), {"*": 405}),
    "float:vault_confirm": ((1,), {"*": 405}),
    "counter:citizen_search": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    "counter:citizen_new": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    # Citizens are reached by a token signed for the agent who searched, never an id:
    # a made-up one (here, the id 1 and an invented signature) opens nothing, so 404.
    "counter:citizen_detail": (
        ("MQ:1xYLaK:made-up",),
        {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403},
    ),
    "counter:citizen_send_code": (("MQ:1xYLaK:made-up",), {"*": 405}),
    "counter:citizen_verify": (("MQ:1xYLaK:made-up",), {"*": 405}),
    "counter:service_search": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    "counter:pay": (("NOPE",), {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403}),
    "agencies:inquiry": (("NOPE",), {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403}),
    "counter:payments": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    # Every role may look at a payment of its scope; an unknown reference is a 404.
    "counter:payment": (("000000000000",), {ANON: LOGIN, "*": 404}),
    "counter:void": (("000000000000",), {"*": 405}),
    "counter:cards": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    # Without a citizen the issue page sends the agent back to find one.
    "counter:card_issue": ((), {ANON: LOGIN, "agent_a": 302, "agent_b": 302, "*": 403}),
    "counter:card_top_up": ((), {"*": 405}),
    "counter:card_balance": ((), {"*": 405}),
    "counter:card_replace": ((), {"*": 405}),
    "counter:card_unlock": ((), {ANON: LOGIN, "supervisor_a": 200, "*": 403}),
    # The wallet: a QR is its agent's only (an unknown one is 404 to every agent).
    "wallet:qr": (("000000000000",), {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403}),
    "wallet:qr_status": (
        ("000000000000",),
        {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403},
    ),
    "wallet:qr_citizen": (
        ("000000000000",),
        {ANON: LOGIN, "agent_a": 404, "agent_b": 404, "*": 403},
    ),
    "wallet:qr_print": (("000000000000",), {"*": 405}),
    "wallet:qr_cancel": (("000000000000",), {"*": 405}),
    "wallet:callback": ((), {"*": 405}),  # the provider POSTs, signed
    # The refund queue: a branch's supervisor, and head office (money of unknown QRs too).
    "wallet:refunds": (
        (),
        {ANON: LOGIN, "supervisor_a": 200, "head_office": 200, "*": 404},
    ),
    "wallet:refund_approve": ((1,), {"*": 405}),
    # An agency POSTs its request's status, signed with its own secret.
    "agencies:status_webhook": (("LOCAL",), {"*": 405}),
    # The refund desk: agents of any branch (a refund is found, never listed).
    "agencies:refunds": ((), {ANON: LOGIN, "agent_a": 200, "agent_b": 200, "*": 403}),
    "agencies:refund_payout": ((), {"*": 405}),
    "reconciliation:list": ((), {ANON: LOGIN, "head_office": 200, "*": 404}),
    "reconciliation:detail": ((1,), {ANON: LOGIN, "*": 404}),
    "receipt": (("000000000000",), {ANON: LOGIN, "*": 404}),
    "receipt_pdf": (("000000000000",), {ANON: LOGIN, "*": 404}),
    "receipt_print": (("000000000000",), {"*": 405}),  # printing is a POST
    # A print's link is its printer's only, for a few minutes: a forged one is 404.
    "receipt_print_pdf": (("forged",), {ANON: LOGIN, "*": 404}),
    # Public: a forged token is "not genuine", a page, for everyone.
    "receipt_verify": (("forged",), {"*": 200}),
    # Each supervisor is sent to their own board.
    # No session 1 exists: every logged-in role gets the same 404 (nothing leaks).
    "report_session": ((1,), {ANON: LOGIN, "*": 404}),
    "report_branch": (
        ("A0001",),
        {ANON: LOGIN, "agent_a": 403, "agent_b": 403, "regional_other": 404, "*": 200},
    ),
    "report_governorate": (
        ("01",),
        {
            ANON: LOGIN,
            "agent_a": 403,
            "agent_b": 403,
            "supervisor_a": 403,
            "regional_other": 404,
            "*": 200,
        },
    ),
    "report_national": ((), {ANON: LOGIN, "head_office": 200, "auditor": 200, "*": 403}),
    "settlement_list": ((), {ANON: LOGIN, "head_office": 200, "auditor": 200, "*": 403}),
    "settlement_run": ((), {"*": 405}),
    "settlement_confirmation": ((1,), {ANON: LOGIN, "head_office": 404, "auditor": 404, "*": 403}),
    "settlement_csv": ((1,), {ANON: LOGIN, "head_office": 404, "auditor": 404, "*": 403}),
    "dashboard:home": ((), {ANON: LOGIN, "agent_a": 403, "agent_b": 403, "*": 302}),
    "dashboard:governorate": (
        ("01",),
        {
            ANON: LOGIN,
            "agent_a": 403,
            "agent_b": 403,
            "supervisor_a": 404,
            "regional_a": 200,
            "regional_other": 404,
            "head_office": 200,
            "auditor": 200,
        },
    ),
    "dashboard:nation": (
        (),
        {ANON: LOGIN, "agent_a": 403, "agent_b": 403, "head_office": 200, "auditor": 200, "*": 404},
    ),
    "dashboard:decide": ((1,), {"*": 405}),
    # The audit log: head office and auditors read it; nobody else sees it.
    "audit:list": ((), {ANON: LOGIN, "head_office": 200, "auditor": 200, "*": 403}),
    # No entry 0 ever exists (ids start at 1): the same 404 for both readers.
    "audit:detail": ((0,), {ANON: LOGIN, "head_office": 404, "auditor": 404, "*": 403}),
    "dashboard:branch": (
        ("A0001",),
        {
            ANON: LOGIN,
            "agent_a": 403,
            "agent_b": 403,
            "supervisor_a": 200,
            "regional_a": 200,
            "regional_other": 404,
            "head_office": 200,
            "auditor": 200,
        },
    ),
}
# Django's admin has its own permission system (is_staff + model permissions).
EXCLUDED_NAMESPACES = {"admin"}


def _all_url_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            if ns in EXCLUDED_NAMESPACES:
                continue
            child = f"{namespace}{ns}:" if ns else namespace
            yield from _all_url_names(pattern, child)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_url_is_in_the_matrix():
    assert set(_all_url_names()) == set(MATRIX)


CASES = [(name, persona) for name in MATRIX for persona in PERSONAS]


@pytest.mark.parametrize(("url_name", "persona"), CASES)
def test_permission_matrix(client, personas, branch_b, url_name, persona):
    args, expected_by_persona = MATRIX[url_name]
    expected = expected_by_persona.get(persona, expected_by_persona.get("*"))
    if persona != ANON:
        client.force_login(personas[persona])
    url = reverse(url_name, args=args)
    response = client.get(url)
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == expected, (url, persona)


def test_a_branch_supervisor_gets_404_for_another_branch(client, supervisor_a, branch_b):
    client.force_login(supervisor_a)
    response = client.get(reverse("dashboard:branch", args=[branch_b.code]))
    assert response.status_code == 404
    assert branch_b.name_en.encode() not in response.content


def test_a_regional_supervisor_sees_only_branches_of_their_governorate(
    client, regional_a, branch_a, branch_b
):
    client.force_login(regional_a)
    response = client.get(reverse("dashboard:home"), follow=True)
    codes = [row["branch"].code for row in response.context["board"].rows]
    assert codes == [branch_a.code]


def test_head_office_lands_on_the_nation(client, head_office, branch_a, branch_b):
    client.force_login(head_office)
    response = client.get(reverse("dashboard:home"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:nation")


def test_a_user_without_a_profile_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x-pass-123")
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 403
    assert client.get(reverse("dashboard:home")).status_code == 403


def test_a_deactivated_user_loses_access_at_once(client, supervisor_a):
    client.force_login(supervisor_a)
    assert client.get(reverse("dashboard:branch", args=["A0001"])).status_code == 200
    supervisor_a.is_active = False
    supervisor_a.save(update_fields=["is_active"])
    response = client.get(reverse("dashboard:branch", args=["A0001"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_payment_of_branch_a_is_404_for_everyone_outside_its_scope(
    client, personas, fixed_service, citizen, open_till
):
    from counter.services.payments import payment_post_cash

    payment = payment_post_cash(
        agent=personas["agent_a"],
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key="matrix-payment",
    )
    url = reverse("counter:payment", args=[payment.reference])
    expected = {
        "agent_a": 200,
        "agent_b": 404,
        "supervisor_a": 200,
        "regional_a": 200,
        "regional_other": 404,
        "head_office": 200,
        "auditor": 200,
    }
    seen = {}
    for name, user in personas.items():
        client.force_login(user)
        seen[name] = client.get(url).status_code
    assert seen == expected
