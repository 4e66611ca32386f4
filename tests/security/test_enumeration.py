"""Nothing to learn by trying: receipt checks and citizens' SMS codes.

(Login answers alike for unknown and known usernames: test_login_and_sessions.py.)
"""

import re
import uuid

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse

from counter.citizen_links import citizen_token
from counter.models import OtpChallenge, SmsMessage
from counter.services import payments
from receipts.tokens import reference_from, token_for


def _shape(response) -> tuple[int, str]:
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
    body = re.sub(r'"X-CSRFToken": "[^"]*"', "", body)
    body = re.sub(r'name="next" value="[^"]*"', "", body)  # the language switch echoes the path
    return response.status_code, body


@pytest.fixture
def payment(agent_a, fixed_service, citizen, open_till):
    return payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


# --- Receipt verification ---------------------------------------------------------------


def test_every_kind_of_wrong_token_gets_the_same_page(payment):
    """Forged, altered, unknown number, nonsense: one answer, nothing about which it was."""
    genuine = token_for(payment.reference)
    tokens = [
        "forged",
        genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        token_for("123456789012"),  # well signed, but no such receipt
        token_for("not a number"),
        ("9" if genuine[0] != "9" else "8") + genuine[1:],  # another receipt number
        "x" * 2000,
        "%D9%A1%D9%A2",  # Arabic-Indic digits
    ]
    shapes = {_shape(Client().get(reverse("receipt_verify", args=[t]))) for t in tokens}
    assert len(shapes) == 1
    ((status, body),) = shapes
    assert status == 200
    assert payment.reference not in body


def test_a_genuine_receipt_shows_no_more_than_the_paper_receipt(payment, citizen):
    html = Client().get(reverse("receipt_verify", args=[token_for(payment.reference)])).content
    html = html.decode()
    assert citizen.national_id not in html
    assert citizen.mobile not in html and citizen.mobile[-9:] not in html


def test_wrong_tokens_use_up_the_same_budget_as_right_ones(settings, payment):
    settings.RECEIPT_VERIFY_PER_MINUTE = 4
    client = Client()
    for _ in range(4):
        assert client.get(reverse("receipt_verify", args=["forged"])).status_code == 200
    genuine = client.get(reverse("receipt_verify", args=[token_for(payment.reference)]))
    assert genuine.status_code == 429
    assert genuine.context["status"] == "busy"
    assert "data" not in genuine.context


def test_the_budget_is_per_client_address(settings, payment):
    settings.RECEIPT_VERIFY_PER_MINUTE = 2
    url = reverse("receipt_verify", args=["forged"])
    one = Client(REMOTE_ADDR="10.0.0.1")
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert [one.get(url).status_code for _ in range(3)] == [200, 200, 429]
    assert other.get(url).status_code == 200


def test_reference_from_never_raises_on_odd_tokens():
    for token in [
        "",
        ":",
        "::",
        "a:b:c",
        "\x00",
        "١٢٣",
        "x" * 100_000,
        "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    ]:
        assert reference_from(token) is None


# --- Citizens' SMS codes: agents only, and the code never comes back ------------------------


def _url(name, client, citizen):
    """A citizen's page or action, linked for the person logged in on `client`."""
    user = get_user(client)
    return reverse(f"counter:{name}", args=[citizen_token(agent=user, citizen=citizen)])


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def post(client, citizen):
        with django_capture_on_commit_callbacks(execute=True):  # the SMS goes after commit
            return client.post(_url("citizen_send_code", client, citizen), {"mobile": ""})

    return post


@pytest.mark.parametrize(
    "who", ["supervisor_a", "regional_a", "regional_other", "head_office", "auditor"]
)
def test_only_agents_send_or_check_codes(personas, citizen, who, send):
    client = Client()
    client.force_login(personas[who])
    assert send(client, citizen).status_code == 403
    verify = _url("citizen_verify", client, citizen)
    assert client.post(verify, {"code": "123456"}).status_code == 403
    assert not SmsMessage.objects.exists()
    assert not OtpChallenge.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(citizen, send):
    response = send(Client(), citizen)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not SmsMessage.objects.exists()


def test_the_code_sent_never_appears_in_the_agents_pages(client, agent_a, citizen, send):
    client.force_login(agent_a)
    response = send(client, citizen)
    code = re.search(r"\b([0-9]{6})\b", SmsMessage.objects.get().body)[1]
    pages = [
        response,
        client.get(_url("citizen_detail", client, citizen)),
        client.post(_url("citizen_verify", client, citizen), {"code": "000000"}),
    ]
    for page in pages:
        assert code not in page.content.decode()
    challenge = OtpChallenge.objects.get()
    assert code not in challenge.code_hash


def test_a_wrong_code_says_only_how_many_tries_are_left(client, agent_a, citizen, send):
    client.force_login(agent_a)
    send(client, citizen)
    code = re.search(r"\b([0-9]{6})\b", SmsMessage.objects.get().body)[1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(_url("citizen_verify", client, citizen), {"code": wrong})
    errors = response.context["verify_form"].errors["code"]
    assert len(errors) == 1 and "4" in errors[0]
    assert code not in response.content.decode()


def test_an_unknown_citizen_is_a_plain_404(client, agent_a, send):
    client.force_login(agent_a)
    assert send(client, type("Unknown", (), {"pk": 999_999})).status_code == 404
    assert not SmsMessage.objects.exists()
