"""Appending: chains per stream, one transaction with the audited write, every hook."""

import hashlib

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit import chain, log
from audit.models import AuditEntry
from tests.audit.conftest import actions_of, key

pytestmark = pytest.mark.django_db


def _append(stream, action="test.event", **kwargs):
    with transaction.atomic():
        return log.append(stream=stream, action=action, **kwargs)


def test_each_entry_links_to_the_previous_one_of_its_stream(agent_a, branch_a):
    first = _append("test:a", actor=agent_a, branch=branch_a, data={"n": 1})
    other = _append("test:b", data={"n": 2})
    second = _append("test:a", actor=agent_a, object_type="thing", object_id=7)

    assert (first.seq, first.prev_hash) == (1, chain.ZERO_HASH)
    assert (other.seq, other.prev_hash) == (1, chain.ZERO_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    for entry in AuditEntry.objects.all():
        assert entry.hash_matches
    assert first.actor_username == "agent_a" and first.branch_id == branch_a.pk


def test_the_hash_covers_the_previous_hash_and_the_canonical_content(agent_a):
    entry = _append("test:a", actor=agent_a, data={"b": [1, 2], "a": "نص"})
    entry.refresh_from_db()
    content = (
        f'{{"action":"test.event","actor":{agent_a.pk},"actor_username":"agent_a",'
        f'"at":"{chain.iso(entry.at)}","branch":null,"data":{{"a":"\\u0646\\u0635","b":[1,2]}},'
        '"object_id":"","object_type":"","seq":1,"stream":"test:a"}'
    )
    assert entry.hash == hashlib.sha256((chain.ZERO_HASH + content).encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_an_append_outside_a_transaction_is_refused_and_writes_nothing():
    with pytest.raises(AssertionError):
        log.append(stream="test:a", action="test.event")
    assert not AuditEntry.objects.exists()


def test_a_cash_payment_appends_to_its_till_stream_within_ten_statements(cash_payment, open_till):
    cash_payment()  # the first one also creates the fee accounts
    with CaptureQueriesContext(connection) as ctx:
        payment = cash_payment()
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    print(f"\ncash payment: {len(statements)} SQL statements")
    for number, sql in enumerate(statements, 1):
        print(f"{number:2}. {sql[:160]}")
    assert len(statements) <= 10
    audit_inserts = [sql for sql in statements if sql.startswith('INSERT INTO "audit_auditentry"')]
    assert len(audit_inserts) == 1
    # The stream's head rides on the statement that locks the accounts: no SELECT of its own.
    # (The trigger moves it forward inside the INSERT: no statement of its own either.)
    (account_lock,) = [sql for sql in statements if 'FROM "float_management_account"' in sql]
    assert "audit_streamhead" in account_lock
    assert sum("audit_streamhead" in sql for sql in statements) == 1
    assert sum("audit_auditentry" in sql for sql in statements) == 1
    entry = AuditEntry.objects.get(object_type="transfer", object_id=str(payment.transfer_id))
    assert entry.stream == log.till_stream(open_till.pk)
    assert entry.action == "transfer.payment"
    assert entry.branch_id == open_till.branch_id
    assert entry.actor_username == "agent_a"
    assert sum(entry.data["legs"].values()) == 0
    assert entry.data["legs"][open_till.account.key] == payment.total


def test_a_payment_that_fails_leaves_no_audit_entry(cash_payment):
    from core.errors import InvalidAmount

    before = AuditEntry.objects.count()
    with pytest.raises(InvalidAmount):
        cash_payment(tendered=100)  # less than the total: refused after the lock
    assert AuditEntry.objects.count() == before


def test_a_payment_rolled_back_after_posting_leaves_no_audit_entry(cash_payment):
    before = AuditEntry.objects.count()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        cash_payment()
        assert AuditEntry.objects.count() == before + 1
        raise Boom
    assert AuditEntry.objects.count() == before


def test_a_void_appends_the_reversal_and_the_approval(
    cash_payment, agent_a, supervisor_a, open_till
):
    from counter.services import payments
    from float_management.services import request_decide

    payment = cash_payment()
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="wrong service", idempotency_key=key()
    )
    request_decide(request=request, supervisor=supervisor_a, approve=True)

    stream = log.till_stream(open_till.pk)
    assert actions_of(stream)[-3:] == ["transfer.payment", "transfer.void", "request.approved"]
    approval = AuditEntry.objects.filter(stream=stream).latest("seq")
    assert approval.actor_username == "supervisor_a"
    assert approval.data["kind"] == "void" and approval.data["subject"] == payment.pk


def test_opening_a_till_appends_its_float_and_the_approval(open_till, branch_a):
    assert actions_of(log.till_stream(open_till.pk)) == [
        "transfer.float_issue",
        "request.approved",
    ]
    # The vault was stocked before, outside any till: recorded by the supervisor, then
    # posted when the witness confirmed it.
    assert actions_of(log.branch_stream(branch_a)) == ["vault.move_recorded", "transfer.bank_in"]


def test_a_rejection_is_appended_with_its_reason(agent_b, supervisor_b, counter_b):
    from float_management.services import request_decide, till_session_request_open

    session = till_session_request_open(
        agent=agent_b, counter=counter_b, amount=1_000, idempotency_key=key()
    )
    request_decide(
        request=session.requests.get(), supervisor=supervisor_b, approve=False, reason="no cash"
    )
    entry = AuditEntry.objects.get(stream=log.till_stream(session.pk))
    assert entry.action == "request.rejected"
    assert entry.data["reason"] == "no cash"


def test_a_cash_drop_and_a_card_top_up_go_to_the_till_stream(agent_a, citizen, open_till):
    from counter.services import cards
    from float_management.services import cash_drop

    cash_drop(agent=agent_a, session=open_till, amount=1_000, idempotency_key=key())
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=500, idempotency_key=key())
    assert actions_of(log.till_stream(open_till.pk))[-2:] == [
        "transfer.cash_drop",
        "transfer.top_up",
    ]


def test_logging_in_and_out_is_appended_to_the_persons_stream(client, agent_a):
    assert (
        client.post(
            reverse("login"), {"username": "agent_a", "password": "pass-for-tests"}
        ).status_code
        == 302
    )
    client.post(reverse("logout"))
    assert actions_of(log.user_stream(agent_a.pk)) == ["auth.login", "auth.logout"]
    login = AuditEntry.objects.get(stream=log.user_stream(agent_a.pk), action="auth.login")
    assert login.branch_id == agent_a.profile.branch_id


def test_a_failed_login_records_the_username_tried_and_never_the_password(client, agent_a):
    client.post(reverse("login"), {"username": "agent_a", "password": "guess-one-secret"})
    client.post(reverse("login"), {"username": "nobody.here", "password": "guess-two-secret"})

    known = AuditEntry.objects.get(stream=log.user_stream(agent_a.pk))
    assert known.action == "auth.login_failed"
    assert known.actor_id is None and known.data["username"] == "agent_a"
    unknown = AuditEntry.objects.get(stream=log.login_stream("nobody.here"))
    assert unknown.action == "auth.login_failed" and unknown.actor_username == "nobody.here"
    everything = " ".join(chain.canonical(e.content()) for e in AuditEntry.objects.all())
    assert "guess-" not in everything


def test_a_refused_page_is_appended(client, agent_a):
    client.force_login(agent_a)
    assert client.get(reverse("audit:list")).status_code == 403
    entry = AuditEntry.objects.filter(action="access.denied").get()
    assert entry.stream == log.user_stream(agent_a.pk)
    assert entry.data["path"] == reverse("audit:list") and entry.data["method"] == "GET"


def test_a_refused_page_is_kept_even_inside_a_transaction_that_rolls_back(rf, agent_a):
    """The handler writes in its own atomic block; here it is a savepoint of the test's."""
    from django.core.exceptions import PermissionDenied

    from audit.views import permission_denied

    request = rf.get("/somewhere/")
    request.user = agent_a
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert AuditEntry.objects.filter(action="access.denied", data__path="/somewhere/").exists()


def test_an_admin_change_is_appended_by_the_admin_user(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", password="pass-for-tests")
    client.force_login(admin_user)
    response = client.post(reverse("admin:auth_group_add"), {"name": "Cashiers"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="admin.addition")
    assert entry.stream == log.user_stream(admin_user.pk)
    assert entry.object_type == "auth.group"
    assert entry.data["object"] == "Cashiers"


def test_a_bulk_admin_deletion_appends_every_object_deleted(client, django_user_model):
    from django.contrib.auth.models import Group

    admin_user = django_user_model.objects.create_superuser("root", password="pass-for-tests")
    groups = [Group.objects.create(name=name) for name in ("One", "Two", "Three")]
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:auth_group_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [g.pk for g in groups[:2]],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert list(Group.objects.values_list("name", flat=True)) == ["Three"]
    deleted = AuditEntry.objects.filter(action="admin.deletion").order_by("seq")
    assert sorted(e.data["object"] for e in deleted) == ["One", "Two"]
    assert {e.object_type for e in deleted} == {"auth.group"}
    assert {e.stream for e in deleted} == {log.user_stream(admin_user.pk)}


def test_deleting_one_object_in_the_admin_is_appended_once(client, django_user_model):
    from django.contrib.auth.models import Group

    admin_user = django_user_model.objects.create_superuser("root", password="pass-for-tests")
    group = Group.objects.create(name="Solo")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="admin.deletion").count() == 1
