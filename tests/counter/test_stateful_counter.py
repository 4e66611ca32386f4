"""A random walk through the counter's services, insiders included, checked after every step.

Payments by cash and card, retries with the same key, cards issued, topped up,
locked by wrong PINs, unlocked, replaced (the balance moving once a supervisor
approves), voids and refunds, prints. Mixed in are people acting without the
right: an agent of another branch, an auditor, the requester deciding their own
request, a supervisor of another branch, a replay with other content. Each of
those must be refused and change nothing. A plain-Python model keeps the
balances, the cards, the payments and the prints; every invariant is checked
after every step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Count, Max, Min
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from audit.models import AuditEntry
from audit.verify import audit_verify
from core.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotAllowed,
    TillOverLimit,
)
from counter.errors import CardUnusable, WrongPin
from counter.models import Payment, PrepaidCard, TopUp
from counter.services import cards, payments
from counter.services.catalog import catalog_cache_clear
from float_management import services as till
from float_management.models import (
    NON_NEGATIVE_KINDS,
    Account,
    Decision,
    IdempotencyRecord,
    Request,
    RequestKind,
    Transfer,
    TransferKind,
)
from float_management.verify import ledger_verify
from receipts import selectors as receipt_selectors
from receipts import services as receipt_services
from receipts.models import Receipt, ReceiptPrint

pytestmark = pytest.mark.django_db

# 30 walks in the everyday run ("dev"); a fifth of the profile's count in the others
# (200 in "ci", tests/conftest.py): a walk here costs about five of the ledger's.
EXAMPLES = (
    30 if settings.get_current_profile_name() == "dev" else settings.default.max_examples // 5
)
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    # No example database: the examples live in a rolled-back transaction, and nothing
    # should be written outside tests/.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TOTAL = 5_450  # the licence renewal (tests/conftest.py: fixed_service)
PINS = st.sampled_from(["1234", "0000", "9876", "٤٥٦٧"])  # Arabic-Indic digits are digits
TOP_UPS = st.sampled_from([0, 1, 5_450, 10_000, 250_000, 500_000, 600_000])
TENDERED = st.sampled_from([5_000, TOTAL, 10_000, 20_000])
LAYOUTS = st.sampled_from(["roll", "a4"])
ASCII = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


def key() -> str:
    return uuid.uuid4().hex


@dataclass
class CardModel:
    pk: int
    number: str
    pin: str
    balance: int = 0
    topped_up: int = 0  # today
    blocked: bool = False
    failed: int = 0
    locked: bool = False
    replaced_by: str | None = None  # number


@dataclass
class PaymentModel:
    pk: int
    reference: str
    method: str
    card: str | None  # number
    key: str
    call: Callable[..., Payment]  # the same keyed call again, with keyword overrides
    voided: bool = False
    void_request: int | None = None  # pending


@dataclass
class Model:
    tills: dict[int, int]  # account pk -> balance
    cards: dict[str, CardModel] = field(default_factory=dict)
    payments: list[PaymentModel] = field(default_factory=list)
    top_ups: list[str] = field(default_factory=list)  # references
    prints: dict[str, int] = field(default_factory=dict)  # reference -> prints so far
    moves: dict[int, str] = field(default_factory=dict)  # pending request pk -> old card


def snapshot(*, cleared: str | None = None) -> tuple:
    """Everything a refused move must leave as it was (card `cleared`: no wrong PINs)."""
    cards_now = [
        (number, status, 0 if number == cleared else failed, locked_at, replaced_by)
        for number, status, failed, locked_at, replaced_by in PrepaidCard.objects.values_list(
            "number", "status", "failed_pin_attempts", "locked_at", "replaced_by"
        )
    ]
    return (
        Transfer.objects.count(),
        Request.objects.count(),
        Decision.objects.count(),
        Payment.objects.count(),
        TopUp.objects.count(),
        IdempotencyRecord.objects.count(),
        ReceiptPrint.objects.count(),
        AuditEntry.objects.count(),
        sorted(Account.objects.values_list("pk", "balance")),
        sorted(cards_now),
        sorted(Payment.objects.values_list("pk", "void_transfer", "voided_at")),
        sorted(Receipt.objects.values_list("reference", "original_printed_at", "reprints")),
    )


def test_the_counter_refuses_insiders_and_keeps_every_balance_under_any_sequence(
    branch_a,
    agent_a,
    agent_b,
    supervisor_a,
    supervisor_b,
    auditor,
    citizen,
    fixed_service,
    open_till,
    counter_b,
):
    # Agent B works at branch B's till, so what refuses them is the scope, not a closed till.
    till.vault_move_confirm(
        witness=agent_b,
        movement=till.vault_move(
            branch=agent_b.profile.branch,
            direction="in",
            amount=1_000_000,
            handled_by=supervisor_b,
            witnessed_by=agent_b,
            idempotency_key=key(),
        ),
    )
    till_b = till.till_session_request_open(
        agent=agent_b, counter=counter_b, amount=100_000, idempotency_key=key()
    )
    till.request_decide(request=till_b.requests.get(), supervisor=supervisor_b, approve=True)
    till_b.refresh_from_db()
    tries = django_settings.CARD_PIN_TRIES
    max_balance = django_settings.CARD_MAX_BALANCE
    daily = django_settings.CARD_DAILY_TOP_UP_LIMIT
    till_limit = branch_a.till_cash_limit
    till_a = open_till.account_id

    class CounterDay(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            # One savepoint per example, rolled back in teardown (as in the ledger's walk).
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.steps = 0
            self.model = Model(
                tills=dict(
                    Account.objects.filter(pk__in=[till_a, till_b.account_id]).values_list(
                        "pk", "balance"
                    )
                )
            )

        def teardown(self):
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
            # The fee accounts the example made are rolled back with it (see conftest.py).
            catalog_cache_clear()

        # --- helpers ---------------------------------------------------------------------

        def refused(
            self,
            error: type[Exception],
            call: Callable[[], object],
            *,
            right_pin_at: CardModel | None = None,
        ) -> None:
            """`call()` raises `error` and changes nothing at all.

            A card payment checks its PIN before its key; the right PIN clears the card's
            count of wrong tries even when the payment is then refused (`right_pin_at`).
            """
            before = snapshot(cleared=right_pin_at and right_pin_at.number)
            with pytest.raises(error):
                call()
            assert snapshot() == before
            if right_pin_at is not None:
                right_pin_at.failed = 0

        def replayed(self, payment: PaymentModel, error: type[Exception], **other) -> None:
            """`payment`'s key again with `other` content: refused, nothing written."""
            if payment.method == "cash":
                return self.refused(error, lambda: payment.call(**other))
            card = self.model.cards[payment.card]
            if not self.usable(card):  # the card is checked before the key
                return self.refused(CardUnusable, lambda: payment.call(**other))
            self.refused(error, lambda: payment.call(**other), right_pin_at=card)

        def live(self, number: str) -> CardModel:
            card = self.model.cards[number]
            while card.replaced_by is not None:
                card = self.model.cards[card.replaced_by]
            return card

        def usable(self, card: CardModel) -> bool:
            return not card.blocked and not card.locked

        def check_pin(self, card: CardModel, pin: str, call: Callable[[], object]) -> bool:
            """Run a call that checks `pin` first; False (and the model updated) if it fails.

            A wrong PIN is refused but counted: only the card's count (and lock) changes.
            """
            if not self.usable(card):
                self.refused(CardUnusable, call)
                return False
            if pin.translate(ASCII) == card.pin.translate(ASCII):
                card.failed = 0
                return True
            with pytest.raises(WrongPin):
                call()
            card.failed += 1
            if card.failed >= tries:
                card.locked = True
            stored = PrepaidCard.objects.get(number=card.number)
            assert (stored.failed_pin_attempts, stored.is_locked) == (card.failed, card.locked)
            if card.locked:
                assert stored.locked_branch_id == branch_a.pk
            return False

        def cards_drawn(self, data, label: str = "card") -> CardModel:
            # In the order they were issued: their numbers are random.
            return data.draw(st.sampled_from(list(self.model.cards)), label=label)

        # --- payments ---------------------------------------------------------------------

        @rule(tendered=TENDERED)
        def pay_cash(self, tendered):
            paid_with = key()

            def call(*, agent=agent_a, tendered=tendered, references=None):
                return payments.payment_post_cash(
                    agent=agent,
                    service=fixed_service,
                    citizen=citizen,
                    amount=None,
                    references=references or {"licence": "123456"},
                    tendered=tendered,
                    idempotency_key=paid_with,
                )

            if self.model.tills[till_a] > till_limit:
                return self.refused(TillOverLimit, call)
            if tendered < TOTAL:
                return self.refused(InvalidAmount, call)
            payment = call()
            assert (payment.total, payment.change) == (TOTAL, tendered - TOTAL)
            self.model.tills[till_a] += TOTAL
            self.model.payments.append(
                PaymentModel(payment.pk, payment.reference, "cash", None, paid_with, call)
            )

        @precondition(lambda self: self.model.cards)
        @rule(data=st.data(), right_pin=st.sampled_from([True, True, True, False]), wrong=PINS)
        def pay_by_card(self, data, right_pin, wrong):
            card = self.model.cards[self.cards_drawn(data)]
            pin = card.pin if right_pin or wrong == card.pin else wrong
            paid_with = key()

            def call(*, agent=agent_a, pin=pin, references=None):
                return payments.payment_post_card(
                    agent=agent,
                    service=fixed_service,
                    citizen=citizen,
                    amount=None,
                    references=references or {"licence": "123456"},
                    card_number=card.number,
                    pin=pin,
                    idempotency_key=paid_with,
                )

            if not self.check_pin(card, pin, call):
                return
            if card.balance < TOTAL:
                with pytest.raises(InsufficientFunds):
                    call()
                return
            payment = call()
            assert payment.card_balance_after == card.balance - TOTAL
            card.balance -= TOTAL
            self.model.payments.append(
                PaymentModel(payment.pk, payment.reference, "card", card.number, paid_with, call)
            )

        @precondition(lambda self: self.model.cards)
        @rule(data=st.data(), times=st.integers(min_value=1, max_value=3), wrong=PINS)
        def mistype_the_pin(self, data, times, wrong):
            """Wrong PINs in a row at a card payment: the third locks the card."""
            card = self.model.cards[self.cards_drawn(data)]
            if wrong.translate(ASCII) == card.pin.translate(ASCII):
                wrong = "1111" if card.pin != "1111" else "2222"
            for _ in range(times):
                self.check_pin(
                    card,
                    wrong,
                    lambda: payments.payment_post_card(
                        agent=agent_a,
                        service=fixed_service,
                        citizen=citizen,
                        amount=None,
                        references={"licence": "123456"},
                        card_number=card.number,
                        pin=wrong,
                        idempotency_key=key(),
                    ),
                )

        @precondition(lambda self: self.model.payments)
        @rule(data=st.data(), how=st.sampled_from(["same", "other", "other method", "agent b"]))
        def retry(self, data, how):
            """The same key again: the same content gives the first payment; anything else fails."""
            payment = data.draw(st.sampled_from(self.model.payments), label="payment")
            if how == "same":
                card = self.model.cards[payment.card] if payment.method == "card" else None
                if card is not None and not self.usable(card):
                    # The key is known and the request the same: the first payment comes
                    # back although its card is blocked or locked now, and nothing moves.
                    before = snapshot()
                    assert payment.call().pk == payment.pk
                    assert snapshot() == before
                    return
                before = snapshot(cleared=card and card.number)
                assert payment.call().pk == payment.pk
                assert snapshot() == before
                if card is not None:
                    card.failed = 0
                return
            if how == "other":
                return self.replayed(payment, IdempotencyConflict, references={"licence": "654321"})
            if how == "agent b":
                # Another branch's agent sending our key: their payload is not ours.
                return self.replayed(payment, IdempotencyConflict, agent=agent_b)
            # The same key for a payment by the other method.
            usable = [c for c in self.model.cards.values() if self.usable(c)]
            if payment.method == "cash" and not usable:
                return
            if payment.method == "card":
                other = lambda: payments.payment_post_cash(  # noqa: E731
                    agent=agent_a,
                    service=fixed_service,
                    citizen=citizen,
                    amount=None,
                    references={"licence": "123456"},
                    tendered=TOTAL,
                    idempotency_key=payment.key,
                )
                return self.refused(IdempotencyConflict, other)
            card = data.draw(st.sampled_from(usable), label="card")

            def by_card():
                return payments.payment_post_card(
                    agent=agent_a,
                    service=fixed_service,
                    citizen=citizen,
                    amount=None,
                    references={"licence": "123456"},
                    card_number=card.number,
                    pin=card.pin,
                    idempotency_key=payment.key,
                )

            self.refused(IdempotencyConflict, by_card, right_pin_at=card)

        # --- cards ------------------------------------------------------------------------

        @precondition(lambda self: len(self.model.cards) < 6)
        @rule(pin=PINS)
        def issue_a_card(self, pin):
            card = cards.card_issue(agent=agent_a, citizen=citizen, pin=pin, idempotency_key=key())
            self.model.cards[card.number] = CardModel(card.pk, card.number, pin)

        @precondition(lambda self: self.model.cards)
        @rule(data=st.data(), amount=TOP_UPS)
        def top_up(self, data, amount):
            card = self.model.cards[self.cards_drawn(data)]

            def call():
                return cards.card_top_up(
                    agent=agent_a, card_number=card.number, amount=amount, idempotency_key=key()
                )

            if amount <= 0:
                return self.refused(InvalidAmount, call)
            if self.model.tills[till_a] > till_limit:
                return self.refused(TillOverLimit, call)
            if card.blocked:
                return self.refused(CardUnusable, call)
            if card.balance + amount > max_balance or card.topped_up + amount > daily:
                return self.refused(InvalidAmount, call)
            top_up = call()
            assert top_up.balance_after == card.balance + amount
            card.balance += amount
            card.topped_up += amount
            self.model.tills[till_a] += amount
            self.model.top_ups.append(top_up.reference)

        @precondition(lambda self: self.model.cards)
        @rule(data=st.data(), right_pin=st.booleans(), new_pin=PINS)
        def replace_a_card(self, data, right_pin, new_pin):
            """A lost card: the holder proves it with the old PIN; the balance move waits."""
            old = self.model.cards[self.cards_drawn(data)]
            proof = old.pin if right_pin else "1111"

            def call():
                return cards.card_replace(
                    agent=agent_a,
                    card_number=old.number,
                    new_pin=new_pin,
                    proof_pin=proof,
                    idempotency_key=key(),
                )

            if old.blocked:  # a blocked card's holder proves it with a code, not a PIN
                return self.refused(WrongPin, call)
            if not self.check_pin(old, proof, call):
                return
            new = call()
            old.blocked, old.replaced_by = True, new.number
            self.model.cards[new.number] = CardModel(new.pk, new.number, new_pin)
            moves = Request.objects.filter(kind=RequestKind.CARD_MOVE, subject_id=old.pk)
            if old.balance > 0:
                self.model.moves[moves.get(decision__isnull=True).pk] = old.number
            else:
                assert not moves.exists()

        @precondition(lambda self: any(c.locked for c in self.model.cards.values()))
        @rule(data=st.data())
        def unlock_a_card(self, data):
            """The branch supervisor unlocks it with the holder's national ID."""
            locked = [n for n, c in self.model.cards.items() if c.locked]
            card = self.model.cards[data.draw(st.sampled_from(locked), label="card")]
            cards.card_unlock(
                supervisor=supervisor_a, card_number=card.number, national_id=citizen.national_id
            )
            card.locked, card.failed = False, 0

        # --- voids and balance moves: asked by the agent, decided by the supervisor ----------

        @precondition(lambda self: self.model.payments)
        @rule(data=st.data(), approve=st.sampled_from([True, True, False, None]))
        def void_a_payment(self, data, approve):
            payment = data.draw(st.sampled_from(self.model.payments), label="payment")

            def ask():
                return payments.void_request(
                    agent=agent_a,
                    payment=Payment.objects.get(pk=payment.pk),
                    reason="Wrong service",
                    idempotency_key=key(),
                )

            if payment.voided or payment.void_request is not None:
                return self.refused(InvalidState, ask)
            payment.void_request = ask().pk
            if approve is not None:
                self.decide_void(payment, approve)

        def decide_void(self, payment: PaymentModel, approve: bool) -> None:
            request = Request.objects.get(pk=payment.void_request)
            till.request_decide(
                request=request, supervisor=supervisor_a, approve=approve, reason="No"
            )
            payment.void_request = None
            if not approve:
                return
            payment.voided = True
            if payment.method == "cash":
                self.model.tills[till_a] -= TOTAL
            else:  # back onto the card in use now, if the one that paid was replaced
                self.live(payment.card).balance += TOTAL

        @precondition(lambda self: any(p.void_request for p in self.model.payments))
        @rule(data=st.data(), approve=st.booleans())
        def decide_a_pending_void(self, data, approve):
            waiting = [p for p in self.model.payments if p.void_request]
            self.decide_void(data.draw(st.sampled_from(waiting), label="payment"), approve)

        @precondition(lambda self: self.model.moves)
        @rule(data=st.data(), approve=st.sampled_from([True, True, False]))
        def decide_a_balance_move(self, data, approve):
            request_pk = data.draw(st.sampled_from(sorted(self.model.moves)), label="move")
            old = self.model.cards[self.model.moves.pop(request_pk)]
            till.request_decide(
                request=Request.objects.get(pk=request_pk),
                supervisor=supervisor_a,
                approve=approve,
                reason="Not the holder",
            )
            if approve:
                self.live(old.number).balance += old.balance
                old.balance = 0

        # --- prints -----------------------------------------------------------------------

        @precondition(lambda self: self.model.payments or self.model.top_ups)
        @rule(data=st.data(), by_supervisor=st.sampled_from([False, False, True]), layout=LAYOUTS)
        def print_a_receipt(self, data, by_supervisor, layout):
            references = [p.reference for p in self.model.payments] + self.model.top_ups
            reference = data.draw(st.sampled_from(references), label="receipt")
            printed = receipt_services.receipt_print(
                user=supervisor_a if by_supervisor else agent_a,
                receipt=receipt_selectors.receipt_find(reference),
                layout=layout,
            )
            self.model.prints[reference] = self.model.prints.get(reference, 0) + 1
            assert printed.number == self.model.prints[reference]

        # --- people acting without the right ----------------------------------------------

        @rule(data=st.data())
        def an_insider_tries(self, data):
            """Each of these must be refused, and change nothing."""
            moves: list[tuple[type[Exception], Callable[[], object]]] = []
            for payment in self.model.payments:
                row = Payment.objects.get(pk=payment.pk)
                moves += [
                    # Another branch's agent voids or prints our payment.
                    (
                        InvalidState,
                        lambda row=row: payments.void_request(
                            agent=agent_b, payment=row, reason="Mine now", idempotency_key=key()
                        ),
                    ),
                    (
                        NotAllowed,
                        lambda p=payment: receipt_services.receipt_print(
                            user=agent_b,
                            receipt=receipt_selectors.receipt_find(p.reference),
                            layout="roll",
                        ),
                    ),
                    # An auditor reads; they void, print and pay nothing.
                    (
                        NotAllowed,
                        lambda p=payment: receipt_services.receipt_print(
                            user=auditor,
                            receipt=receipt_selectors.receipt_find(p.reference),
                            layout="roll",
                        ),
                    ),
                    (
                        NotAllowed,
                        lambda row=row: payments.void_request(
                            agent=auditor, payment=row, reason="Audit", idempotency_key=key()
                        ),
                    ),
                    # A supervisor cannot ask for a void (to approve it themself).
                    (
                        NotAllowed,
                        lambda row=row: payments.void_request(
                            agent=supervisor_a, payment=row, reason="Mine", idempotency_key=key()
                        ),
                    ),
                ]
                if payment.void_request is not None:
                    request = Request.objects.get(pk=payment.void_request)
                    for person in (agent_a, supervisor_b, auditor):  # agent_a asked for it
                        moves.append(
                            (
                                NotAllowed,
                                lambda r=request, p=person: till.request_decide(
                                    request=r, supervisor=p, approve=True
                                ),
                            )
                        )
            for request_pk in self.model.moves:
                request = Request.objects.get(pk=request_pk)
                for person in (agent_a, supervisor_b, auditor):
                    moves.append(
                        (
                            NotAllowed,
                            lambda r=request, p=person: till.request_decide(
                                request=r, supervisor=p, approve=True
                            ),
                        )
                    )
            for card in self.model.cards.values():
                moves += [
                    (
                        NotAllowed,
                        lambda c=card: cards.card_top_up(
                            agent=auditor, card_number=c.number, amount=100, idempotency_key=key()
                        ),
                    ),
                    (
                        NotAllowed,
                        lambda c=card: cards.card_unlock(
                            supervisor=auditor,
                            card_number=c.number,
                            national_id=citizen.national_id,
                        ),
                    ),
                    # Another post office's supervisor: as if there were no such card.
                    (
                        CardUnusable,
                        lambda c=card: cards.card_unlock(
                            supervisor=supervisor_b,
                            card_number=c.number,
                            national_id=citizen.national_id,
                        ),
                    ),
                ]
                if card.locked:
                    moves.append(
                        (
                            NotAllowed,
                            lambda c=card: cards.card_unlock(
                                supervisor=supervisor_a,
                                card_number=c.number,
                                national_id="29001010100023",
                            ),
                        )
                    )
            moves += [
                (
                    NotAllowed,
                    lambda: payments.payment_post_cash(
                        agent=auditor,
                        service=fixed_service,
                        citizen=citizen,
                        amount=None,
                        references={"licence": "123456"},
                        tendered=TOTAL,
                        idempotency_key=key(),
                    ),
                ),
                (
                    NotAllowed,
                    lambda: cards.card_issue(
                        agent=auditor, citizen=citizen, pin="1234", idempotency_key=key()
                    ),
                ),
            ]
            error, call = data.draw(st.sampled_from(moves), label="insider")
            self.refused(error, call)

        # --- invariants -------------------------------------------------------------------

        @invariant()
        def tills_and_cards_hold_what_the_model_says(self):
            stored = dict(
                Account.objects.filter(pk__in=self.model.tills).values_list("pk", "balance")
            )
            assert stored == self.model.tills
            stored_cards = {
                c.number: (
                    c.account.balance,
                    c.status == PrepaidCard.Status.BLOCKED,
                    c.failed_pin_attempts,
                    c.is_locked,
                    c.replaced_by.number if c.replaced_by_id else None,
                )
                for c in PrepaidCard.objects.select_related("account", "replaced_by")
            }
            assert stored_cards == {
                n: (c.balance, c.blocked, c.failed, c.locked, c.replaced_by)
                for n, c in self.model.cards.items()
            }

        @invariant()
        def the_ledger_and_the_audit_log_are_sound(self):
            report = ledger_verify()
            assert report.ok, report.problems
            # The audit log is walked every third step: each walk costs about as much as
            # a step, and a break stays a break until the example ends.
            self.steps += 1
            if self.steps % 3 == 1:
                audit = audit_verify()
                assert audit.ok, (audit.breaks, audit.mismatches)

        @invariant()
        def no_cash_or_card_is_below_zero(self):
            assert not Account.objects.filter(kind__in=NON_NEGATIVE_KINDS, balance__lt=0).exists()

        @invariant()
        def each_payment_is_voided_at_most_once_and_as_the_model_says(self):
            voids = Transfer.objects.filter(kind=TransferKind.VOID)
            assert not voids.values("memo").annotate(n=Count("pk")).filter(n__gt=1).exists()
            stored = dict(Payment.objects.values_list("pk", "void_transfer"))
            assert {pk: v is not None for pk, v in stored.items()} == {
                p.pk: p.voided for p in self.model.payments
            }
            approved = Decision.objects.filter(approved=True, request__kind=RequestKind.VOID)
            assert approved.count() == sum(p.voided for p in self.model.payments)

        @invariant()
        def every_printed_receipt_has_exactly_one_original_and_numbered_copies(self):
            rows = (
                ReceiptPrint.objects.values("receipt__reference", "receipt__reprints")
                .annotate(n=Count("pk"), first=Min("number"), last=Max("number"))
                .order_by()
            )
            counted = {}
            for row in rows:
                assert (row["first"], row["last"]) == (1, row["n"])
                assert row["receipt__reprints"] == row["n"] - 1
                counted[row["receipt__reference"]] = row["n"]
            assert counted == self.model.prints
            originals = (
                ReceiptPrint.objects.filter(number=1).values("receipt").annotate(n=Count("pk"))
            )
            assert all(row["n"] == 1 for row in originals)
            assert not Receipt.objects.filter(
                original_printed_at__isnull=True, prints__isnull=False
            ).exists()

    run_state_machine_as_test(CounterDay, settings=SETTINGS)


def test_a_payment_that_fails_after_making_its_fee_accounts_leaves_no_stale_account_behind(
    agent_a, citizen, fixed_service, open_till
):
    """The first payment of a service at a branch makes its fee accounts; if it then fails
    (here an empty card), the rollback takes those rows away. Their ids stayed cached, so
    every later payment of the service at the branch failed (or, on SQLite, where a
    rolled-back id is given to the next new row, credited someone else's account)."""
    empty = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=key())
    with pytest.raises(InsufficientFunds):
        payments.payment_post_card(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            card_number=empty.number,
            pin="1234",
            idempotency_key=key(),
        )
    other = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=key())

    payment = payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=TOTAL,
        idempotency_key=key(),
    )

    credited = {line.account.key: line.amount for line in payment.lines.select_related("account")}
    assert credited == {
        "payable:LOCAL:LIC-RENEW:fee:A0001": 5_000,
        "commission:commission:A0001": 300,
        "payable:LOCAL:LIC-RENEW:stamp:A0001": 150,
    }
    other.account.refresh_from_db()
    assert other.account.balance == 0
    report = ledger_verify()
    assert report.ok, report.problems
