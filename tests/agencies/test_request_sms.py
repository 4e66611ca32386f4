"""The citizen's SMS on each change: Arabic, one UCS-2 segment, only to the bound mobile."""

# The shared fixtures are imported by name, and test arguments name them again.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest

from agencies.models import RequestStatus
from agencies.statuses import SMS_LIMIT, bound_mobile, status_sms_body, ucs2_segments
from counter.models import SmsMessage
from tests.agencies.requests_world import (  # noqa: F401 (fixtures)
    agency_system,
    change,
    paid,
    pay,
    post_signed,
    request_service,
)

LONGEST_REFERENCE = "9" * 14  # Payment.reference's max_length
ARABIC = re.compile(r"[\u0600-\u06FF]")


def test_the_segment_count_follows_ucs2():
    assert ucs2_segments("") == 1
    assert ucs2_segments("ب" * 70) == 1
    assert ucs2_segments("ب" * 71) == 2  # a long message is cut in parts of 67
    assert ucs2_segments("ب" * 134) == 2
    assert ucs2_segments("ب" * 135) == 3
    assert ucs2_segments("ب" * 69 + "😀") == 2  # outside the basic plane: two units


@pytest.mark.parametrize(
    ("status", "refundable"),
    [(status, False) for status in RequestStatus.values] + [(RequestStatus.REJECTED, True)],
)
def test_every_status_fits_one_arabic_segment_with_the_longest_reference(status, refundable):
    body = status_sms_body(status=status, refundable=refundable, reference=LONGEST_REFERENCE)

    assert ucs2_segments(body) == 1
    assert len(body.encode("utf-16-le")) // 2 <= SMS_LIMIT
    assert LONGEST_REFERENCE in body
    assert ARABIC.search(body)


def test_the_refundable_rejection_says_so_and_the_other_does_not():
    refundable = status_sms_body(status="rejected", refundable=True, reference="1")
    final = status_sms_body(status="rejected", refundable=False, reference="1")
    assert "استردوا" in refundable
    assert "استردوا" not in final
    # Refundable means nothing but for a rejection.
    assert status_sms_body(status="ready", refundable=True, reference="1") == status_sms_body(
        status="ready", refundable=False, reference="1"
    )


@pytest.mark.django_db
def test_only_a_verified_mobile_is_bound(paid, citizen):
    assert bound_mobile(paid) == citizen.mobile
    citizen.mobile_verified_at = None
    citizen.save()
    paid.refresh_from_db()
    assert bound_mobile(paid) is None


@pytest.mark.django_db
def test_a_citizen_without_a_bound_mobile_gets_no_sms(
    client, paid, citizen, django_capture_on_commit_callbacks
):
    citizen.mobile_verified_at = None  # typed, never confirmed by a code
    citizen.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(client, change(paid, "ready")).status_code == 200
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_a_payment_without_a_citizen_gets_no_sms(
    client, agent_a, open_till, request_service, django_capture_on_commit_callbacks
):
    payment = pay(agent_a, request_service, None)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(client, change(payment, "in_review")).status_code == 200
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_each_change_texts_the_bound_mobile_and_nothing_else(
    client, paid, citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("in_review", "rejected"):
            post_signed(client, change(paid, status, refundable=True))

    sent = list(SmsMessage.objects.order_by("pk"))
    assert [sms.to for sms in sent] == [citizen.mobile, citizen.mobile]
    assert [ucs2_segments(sms.body) for sms in sent] == [1, 1]
    assert "استردوا" in sent[1].body
