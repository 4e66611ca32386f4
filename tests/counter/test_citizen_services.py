"""Registering a citizen and verifying their mobile with an SMS code."""

import contextlib
import re
import threading
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import NotAllowed
from counter.models import Citizen, OtpChallenge, SmsMessage
from counter.selectors.citizens import citizen_search, otp_pending_for
from counter.services import citizens as services
from counter.services.citizens import (
    OtpExpired,
    OtpThrottled,
    OtpUnavailable,
    OtpWrong,
    citizen_register,
    otp_send,
    otp_verify,
)
from tests.factories import governorate

MAN_1985 = "28506150112355"  # 15 June 1985, Cairo, 13th digit 5: a man
MOBILE = "+201012345678"


def _details(agent, **overrides):
    return {
        "agent": agent,
        "national_id": MAN_1985,
        "name_ar": "محمد أحمد علي",
        "name_en": "Mohamed Ahmed Ali",
        "mobile": "01012345678",
        "consent": True,
    } | overrides


def _last_code(mobile=MOBILE):
    body = SmsMessage.objects.filter(to=mobile).first().body  # newest first
    return re.search(r"\b([0-9]{6})\b", body).group(1)


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Run the SMS sends of the block, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def citizen(agent_a, sent):
    with sent():
        registered, created = citizen_register(**_details(agent_a))
    assert created
    return registered


def _age_codes(delta):
    """Move every code back in time, as if `delta` had passed."""
    OtpChallenge.objects.update(
        created_at=F("created_at") - delta, expires_at=F("expires_at") - delta
    )


# --- Registration ----------------------------------------------------------------


def test_registering_reads_birth_date_governorate_and_sex_from_the_id(citizen, agent_a, branch_a):
    citizen.refresh_from_db()
    assert citizen.birth_date == date(1985, 6, 15)
    assert citizen.governorate.code == "01"
    assert citizen.sex == Citizen.Sex.MALE
    assert citizen.registered_by == agent_a
    assert citizen.registered_branch == branch_a
    assert citizen.consent_at is not None


def test_the_mobile_is_linked_only_once_the_code_comes_back(citizen):
    citizen.refresh_from_db()
    assert citizen.mobile == ""
    assert not citizen.mobile_verified
    assert otp_pending_for(citizen).mobile == MOBILE


def test_an_id_typed_in_arabic_digits_is_stored_in_ascii(agent_a, sent):
    with sent():
        citizen, _ = citizen_register(**_details(agent_a, national_id="٢٨٥٠٦١٥٠١١٢٣٥٥"))
    assert citizen.national_id == MAN_1985


def test_a_second_registration_finds_the_first_citizen_unchanged(citizen, agent_b, sent):
    with sent():
        again, created = citizen_register(
            **_details(agent_b, name_ar="اسم آخر", name_en="", mobile="01112345678")
        )
    assert created is False
    assert again.pk == citizen.pk
    again.refresh_from_db()
    assert again.name_ar == "محمد أحمد علي"
    assert again.registered_by != agent_b
    assert Citizen.objects.count() == 1
    assert OtpChallenge.objects.count() == 1  # no code to the second number
    assert SmsMessage.objects.count() == 1


def test_a_registration_that_loses_the_race_returns_the_winner(citizen, agent_b, monkeypatch):
    # Both counters looked before either inserted: the unique index decides.
    real = services._citizen_with
    calls = []

    def looked_too_early(national_id):
        calls.append(national_id)
        return None if len(calls) == 1 else real(national_id)

    monkeypatch.setattr(services, "_citizen_with", looked_too_early)
    again, created = citizen_register(**_details(agent_b))
    assert (again.pk, created) == (citizen.pk, False)
    assert len(calls) == 2
    assert OtpChallenge.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_counters_registering_one_id_at_once_make_one_citizen(agent_a, agent_b, monkeypatch):
    governorate("01")
    real = services._citizen_with
    both_looked = threading.Barrier(2, timeout=10)
    state = threading.local()
    looks = []

    def look_then_wait(national_id):
        found = real(national_id)
        looks.append(found)
        if not getattr(state, "waited", False):
            state.waited = True
            both_looked.wait()
        return found

    monkeypatch.setattr(services, "_citizen_with", look_then_wait)
    results, errors = [], []

    def register(agent):
        try:
            results.append(citizen_register(**_details(agent)))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(a,)) for a in (agent_a, agent_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(created for _citizen, created in results) == [False, True]
    assert len({c.pk for c, _created in results}) == 1
    assert Citizen.objects.count() == 1
    assert OtpChallenge.objects.count() == 1
    # Both looked and found nobody; the loser looked again after the unique index refused it.
    assert [found is None for found in looks] == [True, True, False]


def test_bad_input_is_reported_field_by_field(agent_a):
    with pytest.raises(ValidationError) as caught:
        citizen_register(
            **_details(
                agent_a,
                national_id="29002310112345",
                name_ar="Mohamed",
                name_en="محمد",
                mobile="0223456789",
                consent=False,
            )
        )
    assert set(caught.value.error_dict) == {
        "national_id",
        "name_ar",
        "name_en",
        "mobile",
        "consent",
    }
    assert not Citizen.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "محمد 2", "محمد ٢", "Ali"])
def test_the_arabic_name_must_be_arabic_letters(agent_a, name):
    with pytest.raises(ValidationError) as caught:
        citizen_register(**_details(agent_a, name_ar=name))
    assert set(caught.value.error_dict) == {"name_ar"}


def test_the_arabic_name_is_kept_with_single_spaces(agent_a, sent):
    with sent():
        citizen, _ = citizen_register(**_details(agent_a, name_ar="  عبد   الله  "))
    assert citizen.name_ar == "عبد الله"


def test_only_a_counter_agent_registers_a_citizen(supervisor_a):
    with pytest.raises(NotAllowed):
        citizen_register(**_details(supervisor_a))
    assert not Citizen.objects.exists()


def test_a_rolled_back_registration_sends_no_code(agent_a, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        citizen_register(**_details(agent_a))
        raise RuntimeError("the caller's transaction fails later")
    assert callbacks == []
    assert not SmsMessage.objects.exists()
    assert not Citizen.objects.exists()


def test_the_code_is_sent_only_after_commit(agent_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        citizen_register(**_details(agent_a))
        assert not SmsMessage.objects.exists()
    assert len(callbacks) == 2  # the code's SMS, then the citizen_registered signal
    callbacks[0]()
    message = SmsMessage.objects.get()
    assert message.to == MOBILE
    assert "رمز" in message.body and "code" in message.body  # Arabic and English


def test_a_number_throttled_refuses_the_registration_next_to_the_mobile(citizen, agent_a, sent):
    with sent():
        for _ in range(4):
            _age_codes(timedelta(minutes=2))
            otp_send(agent=agent_a, citizen=citizen)
    _age_codes(timedelta(minutes=2))
    with pytest.raises(ValidationError) as caught:
        citizen_register(**_details(agent_a, national_id="29001010112345"))
    assert set(caught.value.error_dict) == {"mobile"}
    assert Citizen.objects.count() == 1


# --- The code ---------------------------------------------------------------------


def test_the_right_code_links_the_mobile(citizen, agent_a):
    verified = otp_verify(agent=agent_a, citizen=citizen, code=_last_code())
    verified.refresh_from_db()
    assert verified.mobile == MOBILE
    assert verified.mobile_verified_at is not None
    assert OtpChallenge.objects.get().verified_at is not None
    assert list(citizen_search("01012345678")) == [verified]


def test_the_code_may_be_typed_in_arabic_digits(citizen, agent_a):
    code = _last_code().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert otp_verify(agent=agent_a, citizen=citizen, code=code).mobile == MOBILE


def test_the_same_right_code_twice_is_no_error(citizen, agent_a):
    code = _last_code()
    otp_verify(agent=agent_a, citizen=citizen, code=code)
    assert otp_verify(agent=agent_a, citizen=citizen, code=code).mobile == MOBILE


def test_a_wrong_code_is_counted_even_though_the_call_fails(citizen, agent_a):
    wrong = "000000" if _last_code() != "000000" else "111111"
    with pytest.raises(OtpWrong, match="4"):
        otp_verify(agent=agent_a, citizen=citizen, code=wrong)
    challenge = OtpChallenge.objects.get()
    assert challenge.attempts == 1
    assert not challenge.burned
    citizen.refresh_from_db()
    assert citizen.mobile == ""


def test_five_wrong_codes_burn_it_and_then_even_the_right_code_fails(citizen, agent_a):
    right = _last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(OtpWrong):
            otp_verify(agent=agent_a, citizen=citizen, code=wrong)
    challenge = OtpChallenge.objects.get()
    assert (challenge.attempts, challenge.burned) == (5, True)
    with pytest.raises(OtpUnavailable):
        otp_verify(agent=agent_a, citizen=citizen, code=right)
    citizen.refresh_from_db()
    assert citizen.mobile == ""
    assert otp_pending_for(citizen) is None


def test_an_expired_code_is_refused(citizen, agent_a):
    OtpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(OtpExpired):
        otp_verify(agent=agent_a, citizen=citizen, code=_last_code())
    citizen.refresh_from_db()
    assert citizen.mobile == ""


def test_a_code_lasts_five_minutes(citizen):
    challenge = OtpChallenge.objects.get()
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=5)


@pytest.mark.parametrize("typed", ["12345", "1234567", "abcdef", ""])
def test_a_code_that_is_not_six_digits_is_refused_without_spending_a_try(citizen, agent_a, typed):
    with pytest.raises(OtpWrong):
        otp_verify(agent=agent_a, citizen=citizen, code=typed)
    assert OtpChallenge.objects.get().attempts == 0


def test_verifying_without_any_code_sent_says_so(agent_a, branch_a):
    citizen = Citizen.objects.create(
        national_id=MAN_1985,
        birth_date=date(1985, 6, 15),
        governorate=governorate("01"),
        sex="M",
        name_ar="محمد",
        consent_at=timezone.now(),
        registered_by=agent_a,
        registered_branch=branch_a,
    )
    with pytest.raises(OtpUnavailable):
        otp_verify(agent=agent_a, citizen=citizen, code="123456")


def test_the_code_is_not_stored_in_clear(citizen):
    code = _last_code()
    challenge = OtpChallenge.objects.get()
    for field in OtpChallenge._meta.concrete_fields:
        assert code not in str(field.value_from_object(challenge)), field.name


def test_two_codes_for_the_same_number_have_different_hashes(citizen, agent_a, sent):
    _age_codes(timedelta(minutes=2))
    with sent():
        otp_send(agent=agent_a, citizen=citizen)
    first, second = OtpChallenge.objects.order_by("created_at")
    assert first.code_hash != second.code_hash


def test_a_second_code_within_a_minute_is_refused_with_the_wait(citizen, agent_a):
    with pytest.raises(OtpThrottled, match=r"\d+"):
        otp_send(agent=agent_a, citizen=citizen)
    assert OtpChallenge.objects.count() == 1


def test_a_new_code_after_a_minute_replaces_the_first(citizen, agent_a, sent):
    old = _last_code()
    _age_codes(timedelta(seconds=61))
    with sent():
        otp_send(agent=agent_a, citizen=citizen)
    new = _last_code()
    first, second = OtpChallenge.objects.order_by("created_at")
    assert first.burned and not second.burned
    if old != new:  # one chance in a million they are the same
        with pytest.raises(OtpWrong):
            otp_verify(agent=agent_a, citizen=citizen, code=old)
    assert otp_verify(agent=agent_a, citizen=citizen, code=new).mobile == MOBILE


def test_a_sixth_code_in_an_hour_is_refused_until_the_oldest_is_an_hour_old(citizen, agent_a, sent):
    with sent():
        for _ in range(4):
            _age_codes(timedelta(minutes=10))
            otp_send(agent=agent_a, citizen=citizen)
    _age_codes(timedelta(minutes=10))  # the oldest is 50 minutes old
    with pytest.raises(OtpThrottled, match="10"):
        otp_send(agent=agent_a, citizen=citizen)
    _age_codes(timedelta(minutes=10))
    with sent():
        otp_send(agent=agent_a, citizen=citizen)
    assert OtpChallenge.objects.count() == 6


def test_the_hourly_limit_is_per_number(citizen, agent_a, sent):
    with sent():
        for _ in range(4):
            _age_codes(timedelta(minutes=2))
            otp_send(agent=agent_a, citizen=citizen)
        _age_codes(timedelta(minutes=2))
        with pytest.raises(OtpThrottled):
            otp_send(agent=agent_a, citizen=citizen)
        otp_send(agent=agent_a, citizen=citizen, mobile="01112345678")
    assert otp_pending_for(citizen).mobile == "+201112345678"


def test_a_code_to_a_new_number_links_that_number(citizen, agent_a, sent):
    otp_verify(agent=agent_a, citizen=citizen, code=_last_code())
    _age_codes(timedelta(minutes=2))
    with sent():
        otp_send(agent=agent_a, citizen=citizen, mobile="٠١٥١٢٣٤٥٦٧٨")
    verified = otp_verify(agent=agent_a, citizen=citizen, code=_last_code("+201512345678"))
    assert verified.mobile == "+201512345678"


def test_a_code_to_a_landline_is_refused(citizen, agent_a):
    _age_codes(timedelta(minutes=2))
    with pytest.raises(ValidationError) as caught:
        otp_send(agent=agent_a, citizen=citizen, mobile="0223456789")
    assert set(caught.value.error_dict) == {"mobile"}


def test_only_a_counter_agent_sends_and_checks_codes(citizen, supervisor_a):
    with pytest.raises(NotAllowed):
        otp_send(agent=supervisor_a, citizen=citizen)
    with pytest.raises(NotAllowed):
        otp_verify(agent=supervisor_a, citizen=citizen, code=_last_code())


def test_verifying_a_code_takes_a_fixed_number_of_queries(
    citizen, agent_a, django_assert_num_queries
):
    code = _last_code()
    # savepoint, locked challenge, challenge update, citizen update, release
    with django_assert_num_queries(5):
        otp_verify(agent=agent_a, citizen=citizen, code=code)


# --- Search -----------------------------------------------------------------------


@pytest.mark.parametrize("query", [MAN_1985, "٢٨٥٠٦١٥٠١١٢٣٥٥", "2 850615 01 1235 5"])
def test_a_citizen_is_found_by_national_id_in_any_digits(citizen, query):
    assert list(citizen_search(query)) == [citizen]


def test_an_unverified_mobile_finds_nobody(citizen):
    assert list(citizen_search("01012345678")) == []


@pytest.mark.parametrize("query", ["", "2850615", "محمد", "28506150112356"])
def test_anything_else_finds_nobody(citizen, query):
    assert list(citizen_search(query)) == []


def test_a_search_by_mobile_returns_at_most_ten(agent_a, branch_a):
    for n in range(12):
        Citizen.objects.create(
            national_id=f"290010101{n:04d}5",
            birth_date=date(1990, 1, 1),
            governorate=governorate("01"),
            sex="M",
            name_ar="محمد",
            mobile=MOBILE,
            mobile_verified_at=timezone.now(),
            consent_at=timezone.now(),
            registered_by=agent_a,
            registered_branch=branch_a,
        )
    assert len(citizen_search("+20 10 1234 5678")) == 10
