"""The client's address, behind the reverse proxy and without one.

X-Forwarded-For is read only when the request comes from a proxy listed in
TRUSTED_PROXIES, and then from the right: every proxy appends the address it
saw, so the entries a client wrote itself are on the left and are never
believed. Rate limits, lockout records and audit addresses all use it.
"""

from ipaddress import ip_network

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from agents.addresses import client_ip
from audit import log
from audit.models import AuditEntry
from config.env import env_networks

PROXY = "10.1.0.5"
CITIZEN_ONE = "198.51.100.7"
CITIZEN_TWO = "203.0.113.9"


def _request(remote_addr: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = [ip_network("10.1.0.0/24"), ip_network("fd00::1")]
    return settings


# --- The setting ---------------------------------------------------------------------------


def test_no_proxy_is_trusted_by_default(monkeypatch):
    monkeypatch.delenv("DJANGO_TRUSTED_PROXIES", raising=False)
    assert env_networks("DJANGO_TRUSTED_PROXIES") == []


def test_the_setting_takes_addresses_and_networks_of_both_families(monkeypatch):
    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", "10.1.0.5, 172.16.0.0/12,fd00::/8")
    assert env_networks("DJANGO_TRUSTED_PROXIES") == [
        ip_network("10.1.0.5/32"),
        ip_network("172.16.0.0/12"),
        ip_network("fd00::/8"),
    ]


@pytest.mark.parametrize(
    "value",
    ["proxy.example", "10.1.0.300", "10.1.0.5/33", "10.1.0.5/24", "10.1.0.5,,10.1.0.6", "*"],
)
def test_the_setting_refuses_nonsense_with_the_variables_name(monkeypatch, value):
    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", value)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_TRUSTED_PROXIES"):
        env_networks("DJANGO_TRUSTED_PROXIES")


# --- client_ip -------------------------------------------------------------------------


def test_without_trusted_proxies_a_forged_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request(CITIZEN_ONE, forwarded="1.2.3.4")) == CITIZEN_ONE


def test_a_request_from_an_untrusted_address_keeps_that_address(behind_proxy):
    assert client_ip(_request(CITIZEN_ONE, forwarded="1.2.3.4")) == CITIZEN_ONE


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(behind_proxy):
    assert client_ip(_request(PROXY, forwarded=CITIZEN_ONE)) == CITIZEN_ONE


def test_a_spoofed_leftmost_entry_is_not_believed(behind_proxy):
    # The citizen sent "X-Forwarded-For: 1.2.3.4"; the proxy appended what it saw.
    assert client_ip(_request(PROXY, forwarded=f"1.2.3.4, {CITIZEN_ONE}")) == CITIZEN_ONE


def test_trusted_hops_are_skipped_from_the_right(behind_proxy):
    forwarded = f"1.2.3.4, {CITIZEN_TWO}, 10.1.0.9"
    assert client_ip(_request(PROXY, forwarded=forwarded)) == CITIZEN_TWO


def test_ipv6_proxies_and_clients_are_understood(behind_proxy):
    assert client_ip(_request("fd00::1", forwarded="2001:db8::7")) == "2001:db8::7"


@pytest.mark.parametrize("forwarded", ["", "unknown", "1.2.3.4, not-an-address", " , "])
def test_garbage_where_the_client_should_be_falls_back_to_the_proxy(behind_proxy, forwarded):
    assert client_ip(_request(PROXY, forwarded=forwarded)) == PROXY


def test_a_missing_header_from_the_proxy_falls_back_to_the_proxy(behind_proxy):
    assert client_ip(_request(PROXY)) == PROXY


# --- Where it is used -----------------------------------------------------------------------


def _verify(client: Client, forwarded: str | None = None) -> int:
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return client.get(reverse("receipt_verify", args=["forged"]), **extra).status_code


def test_two_citizens_behind_the_proxy_get_separate_receipt_check_budgets(behind_proxy, db):
    behind_proxy.RECEIPT_VERIFY_PER_MINUTE = 2
    proxy = Client(REMOTE_ADDR=PROXY)
    assert [_verify(proxy, CITIZEN_ONE) for _ in range(3)] == [200, 200, 429]
    assert _verify(proxy, CITIZEN_TWO) == 200


def test_a_forged_forwarded_header_does_not_buy_a_fresh_budget(settings, db):
    settings.TRUSTED_PROXIES = []
    settings.RECEIPT_VERIFY_PER_MINUTE = 2
    citizen = Client(REMOTE_ADDR=CITIZEN_ONE)
    statuses = [_verify(citizen, f"192.0.2.{n}") for n in range(3)]
    assert statuses == [200, 200, 429]


def test_a_spoofed_leftmost_entry_does_not_buy_a_fresh_budget_behind_the_proxy(behind_proxy, db):
    behind_proxy.RECEIPT_VERIFY_PER_MINUTE = 2
    proxy = Client(REMOTE_ADDR=PROXY)
    statuses = [_verify(proxy, f"192.0.2.{n}, {CITIZEN_ONE}") for n in range(3)]
    assert statuses == [200, 200, 429]


def test_the_audit_log_records_the_clients_address_not_the_proxys(behind_proxy, agent_a):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {CITIZEN_ONE}")
    response = client.post(reverse("login"), {"username": "agent_a", "password": "pass-for-tests"})
    assert response.status_code == 302
    login = AuditEntry.objects.get(stream=log.user_stream(agent_a.pk), action="auth.login")
    assert login.data["address"] == CITIZEN_ONE


def test_a_failed_login_is_recorded_with_the_clients_address(behind_proxy, agent_a):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CITIZEN_TWO)
    client.post(reverse("login"), {"username": "agent_a", "password": "wrong-one-123"})
    failed = AuditEntry.objects.get(stream=log.user_stream(agent_a.pk))
    assert failed.data["address"] == CITIZEN_TWO


def test_the_login_throttle_records_the_clients_address(behind_proxy, agent_a):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {CITIZEN_TWO}")
    client.post(reverse("login"), {"username": "agent_a", "password": "wrong-one-123"})
    assert AccessAttempt.objects.get(username="agent_a").ip_address == CITIZEN_TWO
