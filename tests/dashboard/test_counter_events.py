"""The counter's own events (a card locked or unlocked, a citizen registered) push boards."""

import uuid

import pytest

from counter import signals
from counter.errors import WrongPin
from counter.services import cards
from counter.services.citizens import citizen_register
from dashboard import live


@pytest.fixture
def published(settings, monkeypatch):
    settings.DASHBOARD_PUSHES = True
    groups: list[tuple[str, ...]] = []
    monkeypatch.setattr(live, "publish", lambda *names: groups.append(names))
    return groups


@pytest.fixture
def card(agent_a, citizen):
    return cards.card_issue(
        agent=agent_a, citizen=citizen, pin="1234", idempotency_key=uuid.uuid4().hex
    )


def _wrong_pin(card, branch_id):
    with pytest.raises(WrongPin):
        cards.card_check_pin(card_number=card.number, pin="9999", branch_id=branch_id)


def _local(branch):
    return (f"branch.{branch.pk}", f"governorate.{branch.governorate_id}")


def test_a_card_locked_by_wrong_pins_pushes_its_branch_and_governorate_after_commit(
    card, branch_a, published, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for _ in range(settings.CARD_PIN_TRIES - 1):
            _wrong_pin(card, branch_a.pk)
        assert callbacks == []  # a wrong try that does not lock announces nothing
        _wrong_pin(card, branch_a.pk)
        assert published == []  # nothing before the commit
    assert published == [_local(branch_a)]


def test_a_card_locked_at_another_branch_pushes_both_branches(
    card, branch_a, branch_b, published, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(settings.CARD_PIN_TRIES):
            _wrong_pin(card, branch_b.pk)
    assert published == [_local(branch_a) + _local(branch_b)]


def test_an_unlocked_card_pushes_its_branch_and_governorate_after_commit(
    card, citizen, supervisor_a, branch_a, published, settings, django_capture_on_commit_callbacks
):
    for _ in range(settings.CARD_PIN_TRIES):
        _wrong_pin(card, branch_a.pk)
    sent = []
    signals.card_unlocked.connect(
        lambda **kwargs: sent.append(kwargs), weak=False, dispatch_uid="t"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            cards.card_unlock(
                supervisor=supervisor_a, card_number=card.number, national_id=citizen.national_id
            )
            assert sent == [] and published == []  # nothing before the commit
    finally:
        signals.card_unlocked.disconnect(dispatch_uid="t")
    assert [(s["card"].pk, s["branch_id"]) for s in sent] == [(card.pk, branch_a.pk)]
    # The audited unlock pushes the same groups (coalesced by the live window).
    assert published == [_local(branch_a), _local(branch_a)]


def test_a_registered_citizen_pushes_the_branch_that_registered_them(
    agent_a, branch_a, published, django_capture_on_commit_callbacks
):
    details = {
        "agent": agent_a,
        "national_id": "28506150112355",
        "name_ar": "محمد أحمد علي",
        "name_en": "Mohamed Ahmed Ali",
        "mobile": "01012345678",
        "consent": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        citizen, created = citizen_register(**details)
        assert created and published == []
    assert published == [_local(branch_a)]

    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again, created = citizen_register(**details)
    assert again == citizen and not created
    assert published == []  # found as they were: nothing new to show
