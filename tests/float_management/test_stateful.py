"""A random walk through the till's day, checked against a plain-Python model after every step."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.db.models import Count, F
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotAllowed,
)
from core.money import MAX_AMOUNT
from float_management import services
from float_management.models import (
    ACTIVE_STATUSES,
    NON_NEGATIVE_KINDS,
    Account,
    Decision,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
)
from float_management.verify import ledger_verify

pytestmark = pytest.mark.django_db

# 30 walks in the everyday run ("dev"); other profiles (tests/conftest.py) set the count.
EXAMPLES = 30 if settings.get_current_profile_name() == "dev" else settings.default.max_examples
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    # No example database: the examples live in a rolled-back transaction, and nothing
    # should be written outside tests/.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

GOOD_AMOUNTS = st.integers(min_value=1, max_value=300_000)
BAD_AMOUNTS = st.sampled_from([0, -1, -50_000, 100.0, True, "100", MAX_AMOUNT + 1])
# About one amount in eight is refused: enough to exercise the refusals without starving
# the day of successful steps (st.one_of alone draws the short list of bad ones too often).
VERDICTS = st.sampled_from(["approve", "approve", "reject", "later"])
AMOUNTS = st.tuples(st.sampled_from([True] * 7 + [False]), GOOD_AMOUNTS, BAD_AMOUNTS).map(
    lambda drawn: drawn[1] if drawn[0] else drawn[2]
)


def is_good(amount: object) -> bool:
    return type(amount) is int and 0 < amount <= MAX_AMOUNT


@dataclass
class SessionModel:
    pk: int
    agent: str
    counter: str
    till: str  # account key
    status: str = SessionStatus.REQUESTED
    # request pk -> (kind, amount or counted total)
    pending: dict[int, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Replay:
    """A keyed call that succeeded: the same call again must return `result_pk`."""

    name: str
    call: Callable[[object], object]  # takes the amount
    amount: int
    result_pk: int


def test_the_till_day_keeps_the_ledger_sound_under_any_sequence(
    branch_a,
    branch_b,
    counter_a,
    counter_a2,
    agent_a,
    agent_a2,
    supervisor_a,
    supervisor_b,
    denominations,
):
    agents = {"agent_a": agent_a, "agent_a2": agent_a2}
    counters = {"counter_a": counter_a, "counter_a2": counter_a2}
    values = {d.pk: d.value for d in denominations.values()}
    counts_strategy = st.dictionaries(
        st.sampled_from(sorted(values)), st.integers(min_value=0, max_value=20), max_size=4
    )
    vault, transit, over_short = (
        f"{k}:{branch_a.code}" for k in ("vault", "transit", "over_short")
    )

    class TillDay(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            # Each example runs inside a savepoint of the test's transaction and is rolled
            # back in teardown(), so it starts from the fixtures alone. Hypothesis calls
            # teardown() in a finally, even when a step fails; the services' own atomic()
            # blocks nest as savepoints inside this one.
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.balances: dict[str, int] = {vault: 0, transit: 0, over_short: 0}
            self.sessions: list[SessionModel] = []
            self.replays: list[Replay] = []
            self.decided: list[tuple[int, bool, int]] = []  # request pk, approved, decision pk
            self.free_keys: list[str] = []  # keys of failed attempts: free to use again

        def teardown(self):
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

        # --- helpers ---------------------------------------------------------------------

        def key(self, reuse: bool) -> str:
            if reuse and self.free_keys:
                return self.free_keys.pop()
            return uuid.uuid4().hex

        def refused(
            self, error: type[Exception], call: Callable[[], object], key: str | None = None
        ) -> None:
            """`call()` raises `error`, writes nothing, and leaves its key free."""
            transfers, requests = Transfer.objects.count(), Request.objects.count()
            decisions = Decision.objects.count()
            with pytest.raises(error):
                call()
            assert Transfer.objects.count() == transfers
            assert Request.objects.count() == requests
            assert Decision.objects.count() == decisions
            if key is not None:
                self.free_keys.append(key)

        def some_session(self, data) -> SessionModel:
            """Mostly an open session (when there is one), sometimes any."""
            open_ = [s for s in self.sessions if s.status == SessionStatus.OPEN]
            if open_ and data.draw(st.sampled_from([True, True, True, False]), label="open"):
                return data.draw(st.sampled_from(open_), label="session")
            return data.draw(st.sampled_from(self.sessions), label="session")

        def active(self, *, agent: str | None = None, counter: str | None = None) -> bool:
            return any(
                s.status in ACTIVE_STATUSES and (s.agent == agent or s.counter == counter)
                for s in self.sessions
            )

        def pending(self) -> list[tuple[SessionModel, int]]:
            return [(s, pk) for s in self.sessions for pk in sorted(s.pending)]

        # --- vault ------------------------------------------------------------------------

        @initialize(amount=st.integers(min_value=500_000, max_value=5_000_000))
        def fill_the_vault(self, amount):
            """The day starts with cash in the vault, so openings and top-ups can be approved."""
            self.vault_move(amount=amount, direction="in", reuse=False)

        @rule(amount=AMOUNTS, direction=st.sampled_from(["in", "out"]), reuse=st.booleans())
        def vault_move(self, amount, direction, reuse):
            key = self.key(reuse)

            def call(amount):
                movement = services.vault_move(
                    branch=branch_a,
                    direction=direction,
                    amount=amount,
                    handled_by=supervisor_a,
                    witnessed_by=agent_a2,
                    idempotency_key=key,
                )
                return services.vault_move_confirm(witness=agent_a2, movement=movement)

            if not is_good(amount):
                return self.refused(InvalidAmount, lambda: call(amount), key)
            sign = 1 if direction == "in" else -1
            if self.balances[vault] + sign * amount < 0:
                # Recorded (its key is used), then refused when the witness confirms.
                return self.refused(InsufficientFunds, lambda: call(amount))
            movement = call(amount)
            self.balances[vault] += sign * amount
            self.balances[transit] -= sign * amount
            self.replays.append(Replay("vault_move", call, amount, movement.pk))

        # --- the agent's requests ---------------------------------------------------------------

        def request_open(self, agent, counter, amount, reuse) -> tuple[SessionModel, int] | None:
            key = self.key(reuse)

            def call(amount):
                return services.till_session_request_open(
                    agent=agents[agent],
                    counter=counters[counter],
                    amount=amount,
                    idempotency_key=key,
                )

            if not is_good(amount):
                return self.refused(InvalidAmount, lambda: call(amount), key)
            if self.active(agent=agent, counter=counter):
                return self.refused(InvalidState, lambda: call(amount), key)
            session = call(amount)
            request = session.requests.get()
            assert (request.kind, request.amount) == (RequestKind.OPENING_FLOAT, amount)
            self.sessions.append(
                SessionModel(
                    pk=session.pk,
                    agent=agent,
                    counter=counter,
                    till=session.account.key,
                    pending={request.pk: (RequestKind.OPENING_FLOAT, amount)},
                )
            )
            self.balances[session.account.key] = 0
            self.replays.append(Replay("request_open", call, amount, session.pk))
            return self.sessions[-1], request.pk

        def request_top_up(self, model, amount, reuse) -> tuple[SessionModel, int] | None:
            agent = model.agent
            key = self.key(reuse)
            session = TillSession.objects.get(pk=model.pk)

            def call(amount):
                return services.float_request_top_up(
                    agent=agents[agent], session=session, amount=amount, idempotency_key=key
                )

            if not is_good(amount):
                return self.refused(InvalidAmount, lambda: call(amount), key)
            if model.status != SessionStatus.OPEN:
                return self.refused(InvalidState, lambda: call(amount), key)
            request = call(amount)
            model.pending[request.pk] = (RequestKind.TOP_UP_FLOAT, amount)
            self.replays.append(Replay("top_up", call, amount, request.pk))
            return model, request.pk

        @precondition(lambda self: self.sessions)
        @rule(
            data=st.data(),
            share=st.integers(min_value=1, max_value=130),
            bad=st.sampled_from([None] * 7 + [0, -1, 1.5, True]),
            reuse=st.booleans(),
        )
        def cash_drop(self, data, share, bad, reuse):
            """A drop of `share` percent of the till (above 100: refused), or a bad amount."""
            model = self.some_session(data)
            amount = bad if bad is not None else max(1, self.balances[model.till] * share // 100)
            key = self.key(reuse)
            session = TillSession.objects.get(pk=model.pk)

            def call(amount):
                return services.cash_drop(
                    agent=agents[model.agent], session=session, amount=amount, idempotency_key=key
                )

            if not is_good(amount):
                return self.refused(InvalidAmount, lambda: call(amount), key)
            if model.status != SessionStatus.OPEN:
                return self.refused(InvalidState, lambda: call(amount), key)
            if amount > self.balances[model.till]:
                return self.refused(InsufficientFunds, lambda: call(amount), key)
            transfer = call(amount)
            self.balances[model.till] -= amount
            self.balances[vault] += amount
            self.replays.append(Replay("cash_drop", call, amount, transfer.pk))

        def submit_count(self, model, counts, reuse) -> tuple[SessionModel, int] | None:
            agent = model.agent
            key = self.key(reuse)
            session = TillSession.objects.get(pk=model.pk)

            def call():
                return services.till_session_submit_count(
                    agent=agents[agent], session=session, counts=counts, idempotency_key=key
                )

            if model.status != SessionStatus.OPEN or model.pending:
                return self.refused(InvalidState, call, key)
            request = call()
            total = sum(values[pk] * quantity for pk, quantity in counts.items())
            assert request.amount == (total or None)
            model.status = SessionStatus.CLOSING
            model.pending[request.pk] = (RequestKind.CLOSE, total)
            return model, request.pk

        # --- a request and its decision in one step ---------------------------------------
        # Most steps ask and decide at once, so 25 steps reach the close; "later" leaves
        # the request pending for decide_a_pending_request.

        @rule(
            agent=st.sampled_from(sorted(agents)),
            counter=st.sampled_from(sorted(counters)),
            amount=AMOUNTS,
            reuse=st.booleans(),
            verdict=VERDICTS,
        )
        def open_till(self, agent, counter, amount, reuse, verdict):
            asked = self.request_open(agent, counter, amount, reuse)
            if asked and verdict != "later":
                self.decide(*asked, approve=verdict == "approve", reason="Not today")

        @precondition(lambda self: self.sessions)
        @rule(data=st.data(), amount=AMOUNTS, reuse=st.booleans(), verdict=VERDICTS)
        def top_up(self, data, amount, reuse, verdict):
            asked = self.request_top_up(self.some_session(data), amount, reuse)
            if asked and verdict != "later":
                self.decide(*asked, approve=verdict == "approve", reason="The vault is low")

        @precondition(lambda self: self.sessions)
        @rule(
            data=st.data(),
            counts=counts_strategy,
            recount=st.none() | counts_strategy,
            reuse=st.booleans(),
            verdict=VERDICTS,
        )
        def close(self, data, counts, recount, reuse, verdict):
            asked = self.submit_count(self.some_session(data), counts, reuse)
            if asked and verdict != "later":
                approve = verdict == "approve"
                self.decide(
                    *asked,
                    approve=approve,
                    reason="Count again",
                    recount=recount if approve else None,
                )

        # --- the supervisor's decisions ---------------------------------------------------

        def decide(self, model, request_pk, *, approve, reason="", recount=None) -> None:
            kind, amount = model.pending[request_pk]
            request = Request.objects.get(pk=request_pk)

            def call():
                return services.request_decide(
                    request=request,
                    supervisor=supervisor_a,
                    approve=approve,
                    reason=reason,
                    recount=recount,
                )

            if not approve and not reason.strip():
                return self.refused(InvalidState, call)
            if approve and kind != RequestKind.CLOSE and amount > self.balances[vault]:
                return self.refused(InsufficientFunds, call)

            decision = call()
            assert decision.approved == approve
            del model.pending[request_pk]
            self.decided.append((request_pk, approve, decision.pk))
            if not approve:
                if kind == RequestKind.OPENING_FLOAT:
                    model.status = SessionStatus.REJECTED
                elif kind == RequestKind.CLOSE:
                    model.status = SessionStatus.OPEN
                return
            if kind in (RequestKind.OPENING_FLOAT, RequestKind.TOP_UP_FLOAT):
                self.balances[vault] -= amount
                self.balances[model.till] += amount
                model.status = SessionStatus.OPEN
                return
            counted = amount
            if recount is not None:
                counted = sum(values[pk] * quantity for pk, quantity in recount.items())
            expected = self.balances[model.till]
            session = TillSession.objects.get(pk=model.pk)
            assert (session.counted, session.expected, session.variance) == (
                counted,
                expected,
                counted - expected,
            )
            self.balances[over_short] += counted - expected
            self.balances[model.till] = 0
            self.balances[vault] += counted
            model.status = SessionStatus.CLOSED

        @precondition(lambda self: self.pending())
        @rule(
            data=st.data(),
            approve=st.booleans(),
            reason=st.sampled_from(["Count again, please", "  ", ""]),
        )
        def decide_a_pending_request(self, data, approve, reason):
            model, request_pk = data.draw(st.sampled_from(self.pending()), label="request")
            recount = None
            if approve and model.pending[request_pk][0] == RequestKind.CLOSE:
                recount = data.draw(st.none() | counts_strategy, label="recount")
            self.decide(model, request_pk, approve=approve, reason=reason, recount=recount)

        # --- people acting without the right ---------------------------------------------

        @rule(data=st.data(), who=st.sampled_from(["agent_a", "agent_a2", "supervisor_b"]))
        def act_without_the_right(self, data, who):
            """Someone decides a request of branch A, or drops cash from another agent's till."""
            person = {**agents, "supervisor_b": supervisor_b}[who]
            intrusions = [("decide", model, pk) for model, pk in self.pending()]
            intrusions += [("drop", s, None) for s in self.sessions if s.agent != who]
            if not intrusions:
                return
            what, model, request_pk = data.draw(st.sampled_from(intrusions), label="intrusion")

            def call():
                if what == "decide":
                    request = Request.objects.get(pk=request_pk)
                    return services.request_decide(request=request, supervisor=person, approve=True)
                session = TillSession.objects.get(pk=model.pk)
                return services.cash_drop(
                    agent=person, session=session, amount=1, idempotency_key=uuid.uuid4().hex
                )

            self.refused(NotAllowed, call)

        # --- retries ----------------------------------------------------------------------

        @precondition(lambda self: self.replays or self.decided)
        @rule(data=st.data(), same=st.booleans())
        def retry(self, data, same):
            """A keyed call or a decision again: the same returns the first, other content fails."""
            done = [("call", r) for r in self.replays] + [("decision", d) for d in self.decided]
            what, first = data.draw(st.sampled_from(done), label="first")
            transfers, requests = Transfer.objects.count(), Request.objects.count()
            sessions, decisions = TillSession.objects.count(), Decision.objects.count()
            if what == "call":
                if same:
                    assert first.call(first.amount).pk == first.result_pk
                else:
                    with pytest.raises(IdempotencyConflict):
                        first.call(first.amount + 1)
            else:
                request_pk, approved, decision_pk = first

                def again(approve: bool) -> Decision:
                    return services.request_decide(
                        request=Request.objects.get(pk=request_pk),
                        supervisor=supervisor_a,
                        approve=approve,
                        reason="Again",
                    )

                if same:
                    assert again(approved).pk == decision_pk
                else:
                    with pytest.raises(InvalidState):
                        again(not approved)
            assert Transfer.objects.count() == transfers
            assert Request.objects.count() == requests
            assert TillSession.objects.count() == sessions
            assert Decision.objects.count() == decisions

        # --- invariants -------------------------------------------------------------------

        @invariant()
        def every_transfer_sums_to_zero_and_balances_match_their_entries(self):
            report = ledger_verify()
            assert report.ok, report.problems

        @invariant()
        def every_balance_is_what_the_model_says(self):
            stored = {a.key: a.balance for a in Account.objects.exclude(balance=0)}
            expected = {key: amount for key, amount in self.balances.items() if amount}
            assert stored == expected

        @invariant()
        def no_cash_or_card_is_below_zero(self):
            assert not Account.objects.filter(kind__in=NON_NEGATIVE_KINDS, balance__lt=0).exists()

        @invariant()
        def a_counter_and_an_agent_have_at_most_one_active_session(self):
            active = TillSession.objects.filter(status__in=ACTIVE_STATUSES)
            for column in ("counter", "agent"):
                crowded = active.values(column).annotate(n=Count("pk")).filter(n__gt=1)
                assert not crowded.exists(), column

        @invariant()
        def every_session_is_in_the_state_the_model_says(self):
            stored = dict(TillSession.objects.values_list("pk", "status"))
            assert stored == {s.pk: s.status for s in self.sessions}

        @invariant()
        def every_decision_is_four_eyed(self):
            assert not Decision.objects.filter(decided_by=F("requested_by")).exists()

    run_state_machine_as_test(TillDay, settings=SETTINGS)
