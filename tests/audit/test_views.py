"""The auditors' screen and the admin: read and filter, never change."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audit import log
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(agent_a, agent_b, branch_a, branch_b):
    """Four entries: two of branch A (one of them yesterday), one of B, one login failure."""
    from django.db import transaction

    with transaction.atomic():
        log.append(stream="till:1", action="transfer.payment", actor=agent_a, branch=branch_a)
        old = log.append(stream="till:1", action="transfer.void", actor=agent_a, branch=branch_a)
        log.append(stream="till:2", action="transfer.payment", actor=agent_b, branch=branch_b)
        log.append(
            stream=log.login_stream("ghost"), action="auth.login_failed", actor_username="ghost"
        )
    # Move one entry to yesterday (the app never does this; the test sets the scene).
    yesterday = timezone.now() - datetime.timedelta(days=1)
    from tests.audit.conftest import trigger_off

    with trigger_off():
        AuditEntry.objects.filter(pk=old.pk).update(at=yesterday)


def _listed(client, **query):
    response = client.get(reverse("audit:list"), query)
    assert response.status_code == 200
    return [(e.stream, e.action) for e in response.context["entries"]]


def test_the_auditor_sees_every_entry_newest_first(client, auditor, entries):
    client.force_login(auditor)
    seen = _listed(client)
    assert seen[-1] == ("till:1", "transfer.void")  # yesterday's, last
    assert {"transfer.payment", "auth.login_failed", "transfer.void"} <= {a for _s, a in seen}


def test_the_auditor_filters_by_branch_person_action_and_days(client, auditor, entries):
    client.force_login(auditor)
    assert _listed(client, branch="B0001") == [("till:2", "transfer.payment")]
    assert _listed(client, actor="agent_a", action="transfer.payment") == [
        ("till:1", "transfer.payment")
    ]
    assert _listed(client, actor="ghost") == [("login:ghost", "auth.login_failed")]
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    assert _listed(client, since=yesterday, until=yesterday) == [("till:1", "transfer.void")]
    today = timezone.localdate().isoformat()
    assert ("till:1", "transfer.void") not in _listed(client, since=today)


def test_a_bad_filter_shows_the_error_and_no_rows(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse("audit:list"), {"since": "2026-05-02", "until": "2026-05-01"})
    assert response.status_code == 200
    assert response.context["entries"] == []
    assert response.context["form"].errors


def test_the_list_is_paginated(client, auditor, entries, monkeypatch):
    monkeypatch.setattr("audit.views.PER_PAGE", 2)
    client.force_login(auditor)
    first = client.get(reverse("audit:list"))
    assert len(first.context["entries"]) == 2 and first.context["next_page"] == 2
    second = client.get(reverse("audit:list"), {"page": 2})
    assert second.context["previous_page"] == 1
    assert not {e.pk for e in first.context["entries"]} & {e.pk for e in second.context["entries"]}


def test_head_office_reads_an_entry_and_sees_that_its_hash_matches(client, head_office, entries):
    entry = AuditEntry.objects.get(stream="till:2")
    client.force_login(head_office)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("audit:detail", args=[entry.pk]))
    assert response.status_code == 200
    assert entry.hash.encode() in response.content
    assert b"matches its hash" in response.content


@pytest.mark.parametrize("persona", ["agent_a", "supervisor_a", "regional_a"])
def test_other_roles_are_refused(client, personas, persona):
    client.force_login(personas[persona])
    assert client.get(reverse("audit:list")).status_code == 403


def test_the_list_only_answers_get(client, auditor):
    client.force_login(auditor)
    assert client.post(reverse("audit:list")).status_code == 405


# --- The admin: read-only for everyone ---------------------------------------------


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pass-for-tests")


@pytest.fixture
def staff_auditor(auditor):
    """The auditor as the demo sets them up: staff with every view permission."""
    from django.contrib.auth.models import Permission

    auditor.is_staff = True
    auditor.save(update_fields=["is_staff"])
    auditor.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return auditor


@pytest.fixture
def staff_head_office(head_office):
    head_office.is_staff = head_office.is_superuser = True
    head_office.save(update_fields=["is_staff", "is_superuser"])
    return head_office


@pytest.mark.parametrize("who", ["superuser", "staff_head_office", "staff_auditor"])
def test_nobody_can_add_change_or_delete_an_entry_in_the_admin(client, request, entries, who):
    client.force_login(request.getfixturevalue(who))
    entry = AuditEntry.objects.get(stream="till:2")
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])

    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="action"' not in page.content  # no editable field
    assert client.post(change, {"action": "forged"}).status_code == 403
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    delete = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse("admin:audit_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "transfer.payment" and entry.hash_matches
    assert AuditEntry.objects.filter(stream="till:2").count() == 1


def test_the_audit_log_is_in_the_menu_of_those_who_may_read_it(
    client, auditor, head_office, supervisor_a
):
    from django.urls import reverse

    link = f'href="{reverse("audit:list")}"'
    for person, shown in ((auditor, True), (head_office, True), (supervisor_a, False)):
        client.force_login(person)
        assert (
            link in client.get(reverse("dashboard:home"), follow=True).content.decode()
        ) is shown
