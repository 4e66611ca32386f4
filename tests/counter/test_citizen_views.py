"""The citizen screens through HTTP: find, register, verify the mobile."""

import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from counter.citizen_links import citizen_pk_from_token, citizen_token
from counter.models import Citizen, OtpChallenge, SmsMessage
from counter.services.citizens import citizen_register
from counter.views.citizens import shown_national_id

WOMAN_1990 = "29001010112345"
ARABIC_WOMAN_1990 = "٢٩٠٠١٠١٠١١٢٣٤٥"
MOBILE = "+201012345678"
HTMX = {"HX-Request": "true"}


def _url(name, agent, citizen):
    """A citizen's page (or one of its actions) as a search shows it to `agent`."""
    return reverse(f"counter:{name}", args=[citizen_token(agent=agent, citizen=citizen)])


def _last_code(mobile=MOBILE):
    return re.search(r"\b([0-9]{6})\b", SmsMessage.objects.filter(to=mobile).first().body)[1]


@pytest.fixture
def citizen(agent_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        registered, _ = citizen_register(
            agent=agent_a,
            national_id=WOMAN_1990,
            name_ar="فاطمة حسن",
            name_en="Fatma Hassan",
            mobile="01012345678",
            consent=True,
        )
    return registered


def test_an_agent_registers_and_verifies_a_citizen_end_to_end(
    client, agent_a, django_capture_on_commit_callbacks
):
    client.force_login(agent_a)

    found = client.get(reverse("counter:citizen_search"), {"q": ARABIC_WOMAN_1990})
    new_url = f"{reverse('counter:citizen_new')}?national_id={WOMAN_1990}"
    assert new_url in found.content.decode()

    form_page = client.get(new_url)
    assert form_page.context["form"]["national_id"].value() == WOMAN_1990

    data = {
        "national_id": ARABIC_WOMAN_1990,
        "name_ar": "فاطمة حسن",
        "name_en": "Fatma Hassan",
        "mobile": "٠١٠ ١٢٣٤ ٥٦٧٨",
        "consent": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        registered = client.post(reverse("counter:citizen_new"), data)
    citizen = Citizen.objects.get()
    assert registered.status_code == 302
    detail_url = registered["Location"]
    token = detail_url.split("/")[-2]
    assert detail_url == reverse("counter:citizen_detail", args=[token])
    assert citizen_pk_from_token(agent=agent_a, token=token) == citizen.pk
    assert citizen.mobile == ""

    page = client.get(detail_url).content.decode()
    verify_url = reverse("counter:citizen_verify", args=[token])
    assert verify_url in page

    verified = client.post(verify_url, {"code": _last_code()})
    assert verified.status_code == 302
    citizen.refresh_from_db()
    assert citizen.mobile == MOBILE
    assert citizen.mobile_verified

    by_mobile = client.get(reverse("counter:citizen_search"), {"q": "01012345678"})
    assert list(by_mobile.context["citizens"]) == [citizen]


def test_the_form_keeps_what_was_typed_and_shows_each_error_by_its_field(client, agent_a):
    client.force_login(agent_a)
    data = {
        "national_id": "29002310112345",  # 31 February
        "name_ar": "فاطمة حسن",
        "name_en": "",
        "mobile": "0223456789",
        "consent": "on",
    }
    response = client.post(reverse("counter:citizen_new"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"national_id", "mobile"}
    html = response.content.decode()
    assert 'value="29002310112345"' in html
    assert 'value="فاطمة حسن"' in html
    assert 'value="0223456789"' in html
    # The first field in error gets the focus.
    assert form["national_id"].field.widget.attrs.get("autofocus")
    assert not Citizen.objects.exists()


def test_registering_without_consent_is_refused(client, agent_a):
    client.force_login(agent_a)
    data = {"national_id": WOMAN_1990, "name_ar": "فاطمة", "mobile": "01012345678"}
    response = client.post(reverse("counter:citizen_new"), data)
    assert "consent" in response.context["form"].errors
    assert not Citizen.objects.exists()


def test_registering_a_known_id_opens_the_known_citizen(client, agent_b, citizen):
    client.force_login(agent_b)
    data = {
        "national_id": WOMAN_1990,
        "name_ar": "اسم آخر",
        "mobile": "01112345678",
        "consent": "on",
    }
    response = client.post(reverse("counter:citizen_new"), data)
    token = response["Location"].split("/")[-2]
    assert response["Location"] == reverse("counter:citizen_detail", args=[token])
    assert citizen_pk_from_token(agent=agent_b, token=token) == citizen.pk
    citizen.refresh_from_db()
    assert citizen.name_ar == "فاطمة حسن"


def test_an_htmx_search_gets_only_the_results(client, agent_a, citizen):
    client.force_login(agent_a)
    response = client.get(reverse("counter:citizen_search"), {"q": WOMAN_1990}, headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert _url("citizen_detail", agent_a, citizen) in html
    assert WOMAN_1990 in html  # agents see the whole ID


def test_a_plain_search_gets_the_whole_page(client, agent_a, citizen):
    client.force_login(agent_a)
    response = client.get(reverse("counter:citizen_search"), {"q": WOMAN_1990})
    html = response.content.decode()
    assert "<html" in html
    assert 'id="citizen-results"' in html
    assert html.count('id="citizen-results"') == 1
    assert _url("citizen_detail", agent_a, citizen) in html


def test_a_search_for_an_impossible_id_says_why(client, agent_a):
    client.force_login(agent_a)
    response = client.get(reverse("counter:citizen_search"), {"q": "29002310112345"})
    assert response.context["hint"]
    assert response.context["register_id"] == ""
    assert reverse("counter:citizen_new") + "?" not in response.content.decode()


def test_an_agent_of_another_branch_finds_and_opens_the_citizen(client, agent_b, citizen):
    client.force_login(agent_b)
    found = client.get(reverse("counter:citizen_search"), {"q": WOMAN_1990})
    assert list(found.context["citizens"]) == [citizen]
    page = client.get(_url("citizen_detail", agent_b, citizen))
    assert page.status_code == 200


def test_the_citizen_page_shows_identity_mobile_and_the_pay_link(
    client, agent_a, branch_a, citizen
):
    client.force_login(agent_a)
    code = _last_code()
    client.post(_url("citizen_verify", agent_a, citizen), {"code": code})
    token = citizen_token(agent=agent_a, citizen=citizen)
    html = client.get(reverse("counter:citizen_detail", args=[token])).content.decode()
    assert WOMAN_1990 in html
    assert MOBILE in html
    assert branch_a.name_ar in html  # where they were registered (Arabic is the default)
    assert "1990" in html
    pay = f'id="pay-service" class="button primary" href="{reverse("counter:home")}?citizen='
    assert pay + token + '"' in html


def test_an_unknown_citizen_is_404(client, agent_a):
    client.force_login(agent_a)
    gone = Citizen(pk=999)
    assert client.get(_url("citizen_detail", agent_a, gone)).status_code == 404


def test_a_wrong_code_over_htmx_swaps_the_panel_with_the_tries_left(client, agent_a, citizen):
    client.force_login(agent_a)
    wrong = "000000" if _last_code() != "000000" else "111111"
    response = client.post(_url("citizen_verify", agent_a, citizen), {"code": wrong}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="code-panel"' in html
    assert response.context["verify_form"].errors["code"]
    assert f'value="{wrong}"' in html
    assert OtpChallenge.objects.get().attempts == 1


def test_a_right_code_over_htmx_shows_the_verified_mobile(client, agent_a, citizen):
    client.force_login(agent_a)
    response = client.post(
        _url("citizen_verify", agent_a, citizen), {"code": _last_code()}, headers=HTMX
    )
    assert response.status_code == 200
    assert MOBILE in response.content.decode()
    assert response.context["citizen"].mobile_verified


def test_sending_a_code_too_soon_shows_the_wait(client, agent_a, citizen):
    client.force_login(agent_a)
    response = client.post(_url("citizen_send_code", agent_a, citizen), {"mobile": ""})
    assert response.status_code == 200
    assert response.context["send_form"].non_field_errors()
    assert OtpChallenge.objects.count() == 1


def test_sending_a_code_to_a_bad_number_shows_it_by_the_field(client, agent_a, citizen):
    client.force_login(agent_a)
    url = _url("citizen_send_code", agent_a, citizen)
    response = client.post(url, {"mobile": "+447700900123"}, headers=HTMX)
    assert response.context["send_form"].errors["mobile"]
    assert 'value="+447700900123"' in response.content.decode()


@pytest.mark.parametrize("name", ["citizen_send_code", "citizen_verify"])
def test_the_code_actions_refuse_get(client, agent_a, citizen, name):
    client.force_login(agent_a)
    assert client.get(_url(name, agent_a, citizen)).status_code == 405


@pytest.mark.parametrize("name", ["citizen_search", "citizen_detail"])
def test_the_read_pages_refuse_post(client, agent_a, citizen, name):
    client.force_login(agent_a)
    args = [citizen_token(agent=agent_a, citizen=citizen)] if name == "citizen_detail" else []
    assert client.post(reverse(f"counter:{name}", args=args)).status_code == 405


@pytest.mark.parametrize("name", ["citizen_search", "citizen_new", "citizen_detail"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, agent_a, citizen, name):
    args = [citizen_token(agent=agent_a, citizen=citizen)] if name == "citizen_detail" else []
    response = client.get(reverse(f"counter:{name}", args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["supervisor_a", "regional_a", "head_office", "auditor"])
@pytest.mark.parametrize("name", ["citizen_search", "citizen_new", "citizen_detail"])
def test_people_who_do_not_work_a_counter_are_forbidden(client, personas, citizen, persona, name):
    client.force_login(personas[persona])
    token = citizen_token(agent=personas[persona], citizen=citizen)
    args = [token] if name == "citizen_detail" else []
    assert client.get(reverse(f"counter:{name}", args=args)).status_code == 403


@pytest.mark.parametrize("persona", ["supervisor_a", "head_office"])
def test_a_supervisor_cannot_send_or_check_codes(client, personas, citizen, persona):
    client.force_login(personas[persona])
    who = personas[persona]
    send = client.post(_url("citizen_send_code", who, citizen), {"mobile": ""})
    verify = client.post(_url("citizen_verify", who, citizen), {"code": "123456"})
    assert (send.status_code, verify.status_code) == (403, 403)
    assert OtpChallenge.objects.get().attempts == 0


@pytest.mark.parametrize(
    ("persona", "shown"),
    [
        ("agent_a", WOMAN_1990),
        ("agent_b", WOMAN_1990),
        ("auditor", WOMAN_1990),
        ("supervisor_a", "2•••••••••••45"),
        ("regional_a", "2•••••••••••45"),
        ("head_office", "2•••••••••••45"),
    ],
)
def test_the_national_id_is_whole_only_for_those_who_check_id_cards(personas, persona, shown):
    assert shown_national_id(personas[persona], WOMAN_1990) == shown


def test_the_search_box_for_the_counter_page_is_keyboard_ready(rf, agent_a):
    request = rf.get("/")
    request.user = agent_a
    html = render_to_string("counter/_citizen_search.html", request=request)
    search = reverse("counter:citizen_search")
    assert f'action="{search}"' in html and f'hx-get="{search}"' in html
    assert 'name="q"' in html
    assert 'inputmode="numeric"' in html and 'dir="ltr"' in html
    assert "autofocus" in html
    assert 'hx-target="#citizen-results"' in html
    assert 'id="citizen-results"' in html
