"""Cash and card payments through the services: exact to the piastre, once per key."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from core.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    TillOverLimit,
)
from counter.errors import CitizenRequired, WrongPin
from counter.models import Payment, PrepaidCard
from counter.services import cards, payments
from float_management.models import Account, Transfer
from float_management.verify import ledger_verify
from tests.factories import fund_vault


def _key():
    return uuid.uuid4().hex


def _cash(agent, service, citizen, *, tendered=10_000, amount=None, refs=None, key=None):
    return payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=amount,
        references=refs if refs is not None else {"licence": "123456"},
        tendered=tendered,
        idempotency_key=key or _key(),
    )


def test_a_cash_payment_credits_each_fee_component_and_fills_the_till(
    agent_a, fixed_service, citizen, open_till
):
    payment = _cash(agent_a, fixed_service, citizen, tendered=10_000)
    assert (payment.total, payment.tendered, payment.change) == (5_450, 10_000, 4_550)
    assert [line.amount for line in payment.lines.all()] == [5_000, 300, 150]
    open_till.account.refresh_from_db()
    assert open_till.account.balance == 100_000 + 5_450
    assert Account.objects.get(key="commission:commission:A0001").balance == 300
    assert Account.objects.get(key="payable:LOCAL:LIC-RENEW:fee:A0001").balance == 5_000
    assert payment.references == {"licence": "123456"}
    assert ledger_verify().ok


def test_the_reference_is_twelve_digits_with_a_check_digit(
    agent_a, fixed_service, citizen, open_till
):
    from counter.checkdigit import luhn_valid

    payment = _cash(agent_a, fixed_service, citizen)
    assert len(payment.reference) == 12 and luhn_valid(payment.reference)


def test_a_retry_with_the_same_key_gives_the_same_payment(
    agent_a, fixed_service, citizen, open_till
):
    key = _key()
    first = _cash(agent_a, fixed_service, citizen, key=key)
    second = _cash(agent_a, fixed_service, citizen, key=key)
    assert first.pk == second.pk
    assert Payment.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        _cash(agent_a, fixed_service, citizen, key=key, tendered=20_000)


def test_a_variable_bill_takes_the_typed_amount_within_its_bounds(agent_a, bill_service, open_till):
    payment = _cash(
        agent_a, bill_service, None, amount=12_345, tendered=20_000, refs={"bill": "123456789012"}
    )
    assert payment.total == 12_345 + 200
    for bad in (0, 50, 2_000_001):
        with pytest.raises((InvalidAmount, InvalidState, ValidationError)):
            _cash(
                agent_a,
                bill_service,
                None,
                amount=bad,
                tendered=3_000_000,
                refs={"bill": "123456789012"},
            )
    assert Payment.objects.count() == 1


def test_bad_references_are_refused_and_nothing_is_posted(
    agent_a, fixed_service, citizen, open_till
):
    with pytest.raises(ValidationError):
        _cash(agent_a, fixed_service, citizen, refs={"licence": "12"})
    assert not Transfer.objects.filter(kind="payment").exists()


def test_a_service_for_registered_citizens_needs_one(agent_a, fixed_service, open_till):
    with pytest.raises(CitizenRequired):
        _cash(agent_a, fixed_service, None)


def test_cash_short_of_the_total_is_refused(agent_a, fixed_service, citizen, open_till):
    with pytest.raises(InvalidAmount):
        _cash(agent_a, fixed_service, citizen, tendered=5_000)
    assert not Payment.objects.exists()


def test_no_payment_without_an_open_till(agent_a, fixed_service, citizen, counter_a):
    with pytest.raises(InvalidState):
        _cash(agent_a, fixed_service, citizen)


def test_an_inactive_service_is_refused(agent_a, fixed_service, citizen, open_till):
    fixed_service.is_active = False
    fixed_service.save()
    with pytest.raises(InvalidState):
        _cash(agent_a, fixed_service, citizen)


def test_a_till_over_its_limit_takes_no_cash_until_a_drop(
    agent_a, fixed_service, citizen, open_till, branch_a
):
    from float_management import services as till

    branch_a.till_cash_limit = 100_000  # the float alone fills it
    branch_a.save()
    _cash(agent_a, fixed_service, citizen)  # exactly at the limit + one payment: now over
    with pytest.raises(TillOverLimit):
        _cash(agent_a, fixed_service, citizen)
    till.cash_drop(agent=agent_a, session=open_till, amount=50_000, idempotency_key=_key())
    _cash(agent_a, fixed_service, citizen)
    assert Payment.objects.count() == 2


@pytest.fixture
def card(agent_a, citizen, open_till):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=10_000, idempotency_key=_key())
    card.account.refresh_from_db()
    return card


def _card_pay(agent, service, citizen, card, pin="1234", key=None):
    return payments.payment_post_card(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        card_number=card.number,
        pin=pin,
        idempotency_key=key or _key(),
    )


def test_a_card_payment_debits_the_card_and_records_the_balance_after(
    agent_a, fixed_service, citizen, card, open_till
):
    payment = _card_pay(agent_a, fixed_service, citizen, card)
    card.account.refresh_from_db()
    assert card.account.balance == 10_000 - 5_450 == payment.card_balance_after
    open_till.account.refresh_from_db()
    assert open_till.account.balance == 100_000 + 10_000  # only the top-up's cash
    assert payment.tendered is None and payment.change is None
    assert ledger_verify().ok


def test_a_card_can_never_be_overspent(agent_a, fixed_service, citizen, card):
    _card_pay(agent_a, fixed_service, citizen, card)
    with pytest.raises(InsufficientFunds):
        _card_pay(agent_a, fixed_service, citizen, card)
    card.account.refresh_from_db()
    assert card.account.balance == 10_000 - 5_450


def _lock(agent, service, citizen, card):
    for _ in range(3):
        with pytest.raises(WrongPin):
            _card_pay(agent, service, citizen, card, pin="9999")
    card.refresh_from_db()


def test_a_retry_of_a_card_payment_gets_it_back_after_the_card_locked(
    agent_a, fixed_service, citizen, card
):
    """The answer to a card payment was lost; the card locked before the retry came. The
    retry used to be refused (the PIN check ran before the key was looked at), and the
    agent could not show the citizen the payment they had made."""
    key = _key()
    first = _card_pay(agent_a, fixed_service, citizen, card, key=key)
    _lock(agent_a, fixed_service, citizen, card)
    assert card.is_locked

    again = _card_pay(agent_a, fixed_service, citizen, card, key=key)

    assert again.pk == first.pk and Payment.objects.count() == 1
    card.account.refresh_from_db()
    assert card.account.balance == 10_000 - 5_450  # charged once
    assert ledger_verify().ok


def test_three_wrong_pins_lock_the_card_until_a_supervisor_unlocks(
    agent_a, supervisor_a, fixed_service, citizen, card
):
    _lock(agent_a, fixed_service, citizen, card)
    assert card.is_locked and card.failed_pin_attempts == 3
    assert card.locked_branch == agent_a.profile.branch
    with pytest.raises(cards.CardUnusable):
        _card_pay(agent_a, fixed_service, citizen, card)  # even the right PIN
    cards.card_unlock(
        supervisor=supervisor_a, card_number=card.number, national_id=citizen.national_id
    )
    assert _card_pay(agent_a, fixed_service, citizen, card).total == 5_450


def test_an_agent_cannot_unlock_a_card(agent_a, citizen, card):
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        cards.card_unlock(
            supervisor=agent_a, card_number=card.number, national_id=citizen.national_id
        )


def test_only_a_supervisor_of_the_post_office_where_it_locked_unlocks_a_card(
    agent_a, supervisor_b, fixed_service, citizen, card
):
    """The finding: a supervisor of Giza unlocked a card locked at Attaba."""
    _lock(agent_a, fixed_service, citizen, card)

    with pytest.raises(cards.CardUnusable):
        cards.card_unlock(
            supervisor=supervisor_b, card_number=card.number, national_id=citizen.national_id
        )

    card.refresh_from_db()
    assert card.is_locked


def test_a_card_is_unlocked_only_with_the_holders_national_id(
    agent_a, supervisor_a, fixed_service, citizen, card
):
    from core.errors import NotAllowed

    _lock(agent_a, fixed_service, citizen, card)

    with pytest.raises(NotAllowed):
        cards.card_unlock(
            supervisor=supervisor_a, card_number=card.number, national_id="29001010100023"
        )

    card.refresh_from_db()
    assert card.is_locked


def test_an_unlock_is_audited(agent_a, supervisor_a, fixed_service, citizen, card):
    from audit.models import AuditEntry

    _lock(agent_a, fixed_service, citizen, card)

    cards.card_unlock(
        supervisor=supervisor_a, card_number=card.number, national_id=citizen.national_id
    )

    entry = AuditEntry.objects.get(action="card.unlocked")
    assert entry.actor_id == supervisor_a.pk and entry.object_id == str(card.pk)
    assert entry.branch_id == supervisor_a.profile.branch_id


def test_the_pin_is_stored_hashed(card):
    assert "1234" not in card.pin_hash and len(card.pin_hash) > 20


def test_the_pin_hash_is_keyed_so_a_dump_alone_does_not_reveal_it(card, settings):
    """Ten thousand PINs are tried in no time against an unkeyed hash; not without the key."""
    assert card.pin_hash.startswith("hmac-sha256$")
    assert cards.pin_matches("1234", card.pin_hash) == "current"
    assert not cards.pin_matches("1235", card.pin_hash)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-another-key-another-key-another-key"
    assert not cards.pin_matches("1234", card.pin_hash)
    settings.SECRET_KEY_FALLBACKS = [old_key]  # a rotated key: still the card's PIN
    assert cards.pin_matches("1234", card.pin_hash) == "stale"


def test_a_pin_checked_under_a_rotated_key_is_hashed_again_under_the_new_one(
    agent_a, fixed_service, citizen, open_till, card, settings
):
    old_key, old_hash = settings.SECRET_KEY, card.pin_hash
    settings.SECRET_KEY = "another-key-another-key-another-key-another-key"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert _card_pay(agent_a, fixed_service, citizen, card).total == 5_450
    card.refresh_from_db()
    assert card.pin_hash != old_hash
    assert cards.pin_matches("1234", card.pin_hash) == "current"


def test_a_card_issued_with_a_pbkdf2_pin_hash_still_pays(
    agent_a, fixed_service, citizen, open_till, card
):
    from django.contrib.auth.hashers import make_password

    card.pin_hash = make_password("1234")
    card.save(update_fields=["pin_hash"])
    assert _card_pay(agent_a, fixed_service, citizen, card).total == 5_450
    card.refresh_from_db()
    assert card.pin_hash.startswith("hmac-sha256$")  # upgraded on the first right PIN
    with pytest.raises(cards.WrongPin):
        _card_pay(agent_a, fixed_service, citizen, card, pin="9999")


def test_a_top_up_respects_the_maximum_balance_and_the_daily_limit(agent_a, card, settings):
    settings.CARD_DAILY_TOP_UP_LIMIT = 15_000
    with pytest.raises(InvalidAmount):
        cards.card_top_up(
            agent=agent_a, card_number=card.number, amount=6_000, idempotency_key=_key()
        )
    settings.CARD_DAILY_TOP_UP_LIMIT = 1_000_000
    settings.CARD_MAX_BALANCE = 12_000
    with pytest.raises(InvalidAmount):
        cards.card_top_up(
            agent=agent_a, card_number=card.number, amount=3_000, idempotency_key=_key()
        )
    card.account.refresh_from_db()
    assert card.account.balance == 10_000


def test_a_bad_card_number_is_refused(agent_a, open_till):
    with pytest.raises(cards.CardUnusable):
        cards.card_top_up(
            agent=agent_a, card_number="6280000000000001", amount=100, idempotency_key=_key()
        )


def _replace(agent, card, *, proof_pin="1234", proof_code="", key=None):
    return cards.card_replace(
        agent=agent,
        card_number=card.number,
        new_pin="4321",
        proof_pin=proof_pin,
        proof_code=proof_code,
        idempotency_key=key or _key(),
    )


def _approve_move(supervisor, card):
    from float_management.models import Request
    from float_management.services import request_decide

    request = Request.objects.get(kind="card_move", subject_id=card.pk, decision__isnull=True)
    return request_decide(request=request, supervisor=supervisor, approve=True)


def test_a_lost_card_is_blocked_and_its_balance_moves_to_the_new_one_once_approved(
    agent_a, supervisor_a, fixed_service, citizen, card, open_till
):
    new = _replace(agent_a, card)
    card.refresh_from_db()
    assert card.status == PrepaidCard.Status.BLOCKED and card.replaced_by == new
    with pytest.raises(cards.CardUnusable):
        _card_pay(agent_a, fixed_service, citizen, card)
    new.account.refresh_from_db()
    assert new.account.balance == 0  # nothing moves before a second person approves

    _approve_move(supervisor_a, card)

    card.account.refresh_from_db()
    new.account.refresh_from_db()
    assert (card.account.balance, new.account.balance) == (0, 10_000)
    assert _card_pay(agent_a, fixed_service, citizen, new, pin="4321").card_balance_after == 4_550
    assert ledger_verify().ok


def test_a_card_is_not_replaced_without_the_citizens_proof(agent_a, citizen, card, open_till):
    with pytest.raises(WrongPin):
        _replace(agent_a, card, proof_pin="")
    with pytest.raises(WrongPin):
        _replace(agent_a, card, proof_pin="9999")
    card.refresh_from_db()
    assert card.status == PrepaidCard.Status.ACTIVE and card.failed_pin_attempts == 1
    assert PrepaidCard.objects.count() == 1


def _sent_code(capture, send) -> str:
    import re

    from counter.models import SmsMessage

    with capture(execute=True):
        send()
    return re.search(r"(?<!\d)(\d{6})(?!\d)", SmsMessage.objects.last().body).group(1)


def test_a_code_to_another_number_proves_nothing(
    agent_a, citizen, card, open_till, django_capture_on_commit_callbacks
):
    """An agent who sends a code to their own phone cannot use it as the citizen's proof."""
    from counter.models import OtpChallenge
    from counter.services import citizens

    code = _sent_code(
        django_capture_on_commit_callbacks,
        lambda: citizens.otp_send(agent=agent_a, citizen=citizen, mobile="01198765432"),
    )
    assert OtpChallenge.objects.get().mobile != citizen.mobile

    with pytest.raises(citizens.OtpUnavailable):
        _replace(agent_a, card, proof_pin="", proof_code=code)

    card.refresh_from_db()
    assert card.status == PrepaidCard.Status.ACTIVE


def test_a_code_to_the_linked_mobile_proves_it_is_the_citizen(
    agent_a, supervisor_a, citizen, card, open_till, django_capture_on_commit_callbacks
):
    from counter.services import citizens

    code = _sent_code(
        django_capture_on_commit_callbacks,
        lambda: citizens.otp_send_to_bound_mobile(agent=agent_a, citizen=citizen),
    )

    new = _replace(agent_a, card, proof_pin="", proof_code=code)
    _approve_move(supervisor_a, card)

    new.account.refresh_from_db()
    assert new.account.balance == 10_000


def test_the_agent_who_asked_cannot_approve_the_balance_move(agent_a, citizen, card, open_till):
    from core.errors import NotAllowed

    _replace(agent_a, card)

    with pytest.raises(NotAllowed):
        _approve_move(agent_a, card)

    card.account.refresh_from_db()
    assert card.account.balance == 10_000


def test_a_refused_move_can_be_asked_again_with_a_new_code(
    agent_a, supervisor_a, citizen, card, open_till, django_capture_on_commit_callbacks
):
    from counter.services import citizens
    from float_management.models import Request
    from float_management.services import request_decide

    new = _replace(agent_a, card)
    request = Request.objects.get(kind="card_move")
    request_decide(request=request, supervisor=supervisor_a, approve=False, reason="check ID")
    with pytest.raises(WrongPin):  # blocked: the old PIN no longer proves anything
        _replace(agent_a, card)
    code = _sent_code(
        django_capture_on_commit_callbacks,
        lambda: citizens.otp_send_to_bound_mobile(agent=agent_a, citizen=citizen),
    )

    again = _replace(agent_a, card, proof_pin="", proof_code=code)
    _approve_move(supervisor_a, card)

    assert again == new
    new.account.refresh_from_db()
    assert new.account.balance == 10_000
    assert ledger_verify().ok


# --- Voids -----------------------------------------------------------------------------


def test_an_approved_void_reverses_the_payment(
    agent_a, supervisor_a, fixed_service, citizen, open_till
):
    from float_management.services import request_decide

    payment = _cash(agent_a, fixed_service, citizen)
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="خطأ في الخدمة", idempotency_key=_key()
    )
    request_decide(request=request, supervisor=supervisor_a, approve=True)
    payment.refresh_from_db()
    open_till.account.refresh_from_db()
    assert payment.is_voided and payment.void_transfer.reverses_id == payment.transfer_id
    assert open_till.account.balance == 100_000
    assert Account.objects.get(key="payable:LOCAL:LIC-RENEW:fee:A0001").balance == 0
    assert ledger_verify().ok


def test_a_void_needs_a_reason_and_cannot_be_asked_twice(
    agent_a, fixed_service, citizen, open_till
):
    payment = _cash(agent_a, fixed_service, citizen)
    with pytest.raises(InvalidState):
        payments.void_request(agent=agent_a, payment=payment, reason=" ", idempotency_key=_key())
    payments.void_request(agent=agent_a, payment=payment, reason="خطأ", idempotency_key=_key())
    with pytest.raises(InvalidState):
        payments.void_request(agent=agent_a, payment=payment, reason="خطأ", idempotency_key=_key())


def test_the_requester_cannot_approve_their_own_void(agent_a, fixed_service, citizen, open_till):
    from core.errors import NotAllowed
    from float_management.services import request_decide

    payment = _cash(agent_a, fixed_service, citizen)
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="x", idempotency_key=_key()
    )
    with pytest.raises(NotAllowed):
        request_decide(request=request, supervisor=agent_a, approve=True)


def test_a_void_of_a_card_payment_puts_the_money_back_on_the_card(
    agent_a, supervisor_a, fixed_service, citizen, card
):
    from float_management.services import request_decide

    payment = _card_pay(agent_a, fixed_service, citizen, card)
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="x", idempotency_key=_key()
    )
    request_decide(request=request, supervisor=supervisor_a, approve=True)
    card.account.refresh_from_db()
    assert card.account.balance == 10_000


def test_a_void_of_a_card_payment_refunds_the_cards_replacement(
    agent_a, supervisor_a, fixed_service, citizen, card
):
    """Card pays, card is replaced, the payment is voided: the refund is not stranded."""
    from float_management.services import request_decide

    payment = _card_pay(agent_a, fixed_service, citizen, card)
    new = _replace(agent_a, card)
    _approve_move(supervisor_a, card)
    request = payments.void_request(
        agent=agent_a, payment=payment, reason="x", idempotency_key=_key()
    )

    request_decide(request=request, supervisor=supervisor_a, approve=True)

    card.account.refresh_from_db()
    new.account.refresh_from_db()
    assert (card.account.balance, new.account.balance) == (0, 10_000)
    assert _card_pay(agent_a, fixed_service, citizen, new, pin="4321").card_balance_after == 4_550
    assert ledger_verify().ok


def test_no_void_once_the_session_is_closing(
    agent_a, fixed_service, citizen, open_till, denominations
):
    from float_management.services import till_session_submit_count

    payment = _cash(agent_a, fixed_service, citizen)
    till_session_submit_count(agent=agent_a, session=open_till, counts={}, idempotency_key=_key())
    with pytest.raises(InvalidState):
        payments.void_request(agent=agent_a, payment=payment, reason="x", idempotency_key=_key())


def test_no_payment_once_the_count_is_submitted(
    agent_a, fixed_service, citizen, open_till, denominations
):
    from float_management.services import till_session_submit_count

    till_session_submit_count(agent=agent_a, session=open_till, counts={}, idempotency_key=_key())
    with pytest.raises(InvalidState):
        _cash(agent_a, fixed_service, citizen)


def _statements(ctx) -> list[str]:
    """What the payment itself sent (the test's own savepoints left out)."""
    return [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]


def test_a_cash_payment_takes_at_most_ten_sql_statements(
    agent_a, fixed_service, citizen, open_till
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _cash(agent_a, fixed_service, citizen)  # the first one also creates the fee accounts
    with CaptureQueriesContext(connection) as ctx:
        _cash(agent_a, fixed_service, citizen)
    print(f"\ncash payment: {len(_statements(ctx))} SQL statements")
    assert len(_statements(ctx)) <= 10, _statements(ctx)


def test_no_account_row_is_written_by_payments_of_two_branches(
    agent_a, agent_b, supervisor_b, counter_b, branch_b, fixed_service, citizen, open_till
):
    """A row every branch updates would make the whole nation queue on one lock."""
    from float_management import services as till
    from float_management.models import Entry

    fund_vault(branch=branch_b, supervisor=supervisor_b, witness=agent_b, amount=1_000_000)
    session_b = till.till_session_request_open(
        agent=agent_b, counter=counter_b, amount=50_000, idempotency_key=_key()
    )
    till.request_decide(request=session_b.requests.get(), supervisor=supervisor_b, approve=True)
    in_a = _cash(agent_a, fixed_service, citizen)
    in_b = _cash(agent_b, fixed_service, citizen)
    written_by_a = set(
        Entry.objects.filter(transfer=in_a.transfer).values_list("account", flat=True)
    )
    written_by_b = set(
        Entry.objects.filter(transfer=in_b.transfer).values_list("account", flat=True)
    )
    assert len(written_by_a) == len(written_by_b) == 4
    assert written_by_a.isdisjoint(written_by_b)
