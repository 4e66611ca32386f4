"""The citizen registry cannot be dumped: no ids in links, reads audited and limited per agent."""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from counter.models import Citizen, Payment

HTMX = {"HX-Request": "true"}
SEARCH = "/counter/citizens/search/"
LINK = re.compile(r'href="(/counter/citizens/([^/"]+)/)"')


def _another_citizen(agent, n: int) -> Citizen:
    return Citizen.objects.create(
        national_id=f"2900101{n:07d}",
        birth_date="1990-01-01",
        governorate=agent.profile.branch.governorate,
        sex="F",
        name_ar=f"مواطنة رقم {n}",
        consent_at=timezone.now(),
        registered_by=agent,
        registered_branch=agent.profile.branch,
    )


def _link(client, citizen) -> tuple[str, str]:
    """The citizen's page as the search shows it to the client's agent, and its token."""
    html = client.get(SEARCH, {"q": citizen.national_id}).content.decode()
    found = LINK.search(html)
    assert found, html
    return found[1], found[2]


def _reads(agent, action="citizen.read"):
    return list(
        AuditEntry.objects.filter(action=action, actor=agent)
        .order_by("seq")
        .values_list("stream", "branch_id", "data")
    )


# --- No sequential ids -----------------------------------------------------------------


def test_stepping_through_citizen_ids_shows_nobody(client, agent_a, citizen):
    client.force_login(agent_a)
    for pk in range(max(1, citizen.pk - 2), citizen.pk + 3):
        for url in (f"/counter/citizens/{pk}/", f"/counter/?citizen={pk}"):
            response = client.get(url)
            assert response.status_code == 404, url
            html = response.content.decode()
            assert citizen.name_ar not in html
            assert citizen.national_id not in html
    assert not AuditEntry.objects.filter(action="citizen.read").exists()


def test_no_link_or_form_carries_the_citizens_id(client, agent_a, citizen, fixed_service):
    client.force_login(agent_a)
    page, token = _link(client, citizen)
    assert token != str(citizen.pk)
    pages = [
        client.get(SEARCH, {"q": citizen.national_id}),
        client.get(page),
        client.get(reverse("counter:home"), {"citizen": token}),
        client.get(reverse("counter:pay", args=[fixed_service.code]), {"citizen": token}),
        client.get(reverse("counter:card_issue"), {"citizen": token}),
    ]
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        assert citizen.name_ar in html
        assert not re.search(rf"citizens/{citizen.pk}/|citizen={citizen.pk}\b", html)
        assert not re.search(rf'name="citizen" value="{citizen.pk}"', html)
        assert not re.search(r'id="citizen-\d*\d"', html.replace('id="citizen-1"', ""))


def test_a_link_found_by_one_agent_opens_nothing_for_another(
    client, agent_a, agent_b, citizen, fixed_service, django_user_model
):
    client.force_login(agent_a)
    page, token = _link(client, citizen)
    assert client.get(page).status_code == 200

    client.force_login(agent_b)
    for url in (
        page,
        f"{reverse('counter:home')}?citizen={token}",
        f"{reverse('counter:pay', args=[fixed_service.code])}?citizen={token}",
        f"{reverse('counter:card_issue')}?citizen={token}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert citizen.name_ar not in html
        assert citizen.national_id not in html
        assert reverse("counter:citizen_search") in html  # what to do instead
    assert _reads(agent_b) == []


def test_a_payment_posted_with_another_agents_link_posts_nothing(
    client, agent_a, agent_b, citizen, fixed_service, open_till
):
    client.force_login(agent_b)
    _, token = _link(client, citizen)
    client.force_login(agent_a)
    data = {
        "ref_licence": "123456",
        "method": "cash",
        "tendered": "100",
        "citizen": token,
        "idempotency_key": uuid.uuid4().hex,
        "confirm": "1",
    }
    response = client.post(reverse("counter:pay", args=[fixed_service.code]), data)
    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_a_link_older_than_a_working_day_opens_nothing(client, agent_a, citizen, monkeypatch):
    client.force_login(agent_a)
    # Signed a working day and a minute ago.
    stamp = signing.b62_encode(int(time.time()) - 8 * 3600 - 60)
    with monkeypatch.context() as m:
        m.setattr(signing.TimestampSigner, "timestamp", lambda self: stamp)
        page, token = _link(client, citizen)
    for url in (page, f"{reverse('counter:home')}?citizen={token}"):
        response = client.get(url)
        assert response.status_code == 404
        assert citizen.name_ar not in response.content.decode()


def test_an_altered_link_opens_nothing(client, agent_a, citizen):
    client.force_login(agent_a)
    page, token = _link(client, citizen)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(page.replace(token, altered)).status_code == 404
    assert client.get(reverse("counter:home"), {"citizen": altered}).status_code == 404


# --- Reads are audited -----------------------------------------------------------------


def test_a_search_that_finds_a_citizen_is_audited_then_their_page(
    client, agent_a, branch_a, citizen
):
    client.force_login(agent_a)
    page, _ = _link(client, citizen)
    stream = f"user:{agent_a.pk}"
    assert _reads(agent_a) == [(stream, branch_a.pk, {"citizen": citizen.pk, "via": "search"})]
    client.get(page)
    assert _reads(agent_a)[1:] == [(stream, branch_a.pk, {"citizen": citizen.pk, "via": "page"})]


def test_a_search_by_mobile_audits_every_citizen_it_shows(client, agent_a, citizen):
    sister = _another_citizen(agent_a, 1)
    sister.mobile = citizen.mobile
    sister.mobile_verified_at = timezone.now()
    sister.save()
    client.force_login(agent_a)
    client.get(SEARCH, {"q": "01012345678"}, headers=HTMX)
    assert sorted(data["citizen"] for _, _, data in _reads(agent_a)) == sorted(
        [citizen.pk, sister.pk]
    )


def test_a_search_that_finds_nobody_records_no_read(client, agent_a, citizen):
    client.force_login(agent_a)
    client.get(SEARCH, {"q": "29001010100023"})
    client.get(SEARCH, {"q": "2900101010001"})  # a digit short: no partial matches
    assert _reads(agent_a) == []


# --- Reads are limited per agent and hour ----------------------------------------------


def test_the_61st_different_citizen_in_an_hour_is_refused_and_the_refusal_audited(
    client, agent_a, agent_b, settings
):
    assert settings.CITIZEN_READS_PER_HOUR == 60
    citizens = [_another_citizen(agent_a, n) for n in range(61)]
    client.force_login(agent_a)
    for citizen in citizens[:60]:
        assert client.get(SEARCH, {"q": citizen.national_id}).status_code == 200

    refused = client.get(SEARCH, {"q": citizens[60].national_id})
    assert refused.status_code == 403
    html = refused.content.decode()
    assert citizens[60].name_ar not in html
    assert "/counter/citizens/" not in html.replace(SEARCH, "")  # no link to anyone
    assert "60" in html
    assert len(_reads(agent_a)) == 60
    [(stream, _, data)] = _reads(agent_a, "citizen.read_refused")
    assert stream == f"user:{agent_a.pk}"
    assert data == {"citizens": [citizens[60].pk], "via": "search", "limit": 60}

    # A citizen already read this hour is still served; the limit is the agent's own.
    again = client.get(SEARCH, {"q": citizens[0].national_id})
    assert citizens[0].name_ar in again.content.decode()
    client.force_login(agent_b)
    other = client.get(SEARCH, {"q": citizens[60].national_id})
    assert citizens[60].name_ar in other.content.decode()


def test_past_the_limit_the_citizens_page_is_refused_too(client, agent_a, citizen, settings):
    settings.CITIZEN_READS_PER_HOUR = 1
    client.force_login(agent_a)
    page, _ = _link(client, citizen)
    other = _another_citizen(agent_a, 1)
    # A page of the citizen already read opens; a search for another is refused.
    assert client.get(page).status_code == 200
    response = client.get(SEARCH, {"q": other.national_id}, headers=HTMX)
    assert response.status_code == 200  # htmx swaps no 403: the refusal is the result
    assert other.name_ar not in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert len(_reads(agent_a, "citizen.read_refused")) == 1


def test_reads_older_than_an_hour_no_longer_count(client, agent_a, citizen, settings, monkeypatch):
    settings.CITIZEN_READS_PER_HOUR = 1
    client.force_login(agent_a)
    real = timezone.now
    monkeypatch.setattr("django.utils.timezone.now", lambda: real() - timedelta(minutes=61))
    _link(client, citizen)
    monkeypatch.setattr("django.utils.timezone.now", real)
    other = _another_citizen(agent_a, 1)
    response = client.get(SEARCH, {"q": other.national_id})
    assert other.name_ar in response.content.decode()


def test_the_refusal_says_when_to_try_again(client, agent_a, citizen, settings, monkeypatch):
    settings.CITIZEN_READS_PER_HOUR = 1
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(agent_a)
    real = timezone.now
    monkeypatch.setattr("django.utils.timezone.now", lambda: real() - timedelta(minutes=50))
    _link(client, citizen)
    monkeypatch.setattr("django.utils.timezone.now", real)
    other = _another_citizen(agent_a, 1)
    response = client.get(SEARCH, {"q": other.national_id})
    assert response.status_code == 403
    assert response.context["error"] == (
        "You opened the records of 1 different citizens in the last hour, the most allowed. "
        "Try again in 10 minutes."
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tabs_cannot_both_take_the_last_read_of_the_hour(agent_a, citizen, settings):
    """Reads race on the agent's audit stream: the loser counts again and is refused."""
    from counter.services.citizens import CitizenReadsExhausted, citizen_read

    settings.CITIZEN_READS_PER_HOUR = 2
    citizen_read(agent=agent_a, citizens=[citizen], via="search")
    others = [_another_citizen(agent_a, n) for n in range(3)]
    barrier = threading.Barrier(len(others))
    read, refused = [], []

    def run(other):
        try:
            barrier.wait()
            citizen_read(agent=agent_a, citizens=[other], via="search")
            read.append(other.pk)
        except CitizenReadsExhausted:
            refused.append(other.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(read), len(refused)) == (1, 2)
    assert {data["citizen"] for _, _, data in _reads(agent_a)} == {citizen.pk, *read}
    assert len(_reads(agent_a, "citizen.read_refused")) == 2
