"""The circuit breaker per agency: opens on failures, half-opens after a cool-off, shared."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from agencies.adapters import adapter_for
from agencies.breaker import TRIAL_SECONDS, Breaker, guarded
from agencies.errors import (
    AgencyRefused,
    AgencyUnavailable,
    CircuitOpen,
    OutcomeUnknown,
    UnknownReference,
)
from tests.agencies.conftest import answer


class Clock:
    def __init__(self, at: float = 1_000_000.0):
        self.at = at

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def clock():
    return Clock()


def breaker(clock, code="EEHC", **options) -> Breaker:
    return Breaker(code, **{"failures": 3, "window": 60, "cool_off": 30, "now": clock, **options})


class Agency:
    """A stand-in call: answers, fails or refuses as told, and counts its calls."""

    def __init__(self):
        self.calls = 0
        self.error: Exception | None = None

    def __call__(self):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "answer"


def fail(b: Breaker, times: int, error: Exception | None = None) -> None:
    dead = Agency()
    dead.error = error or AgencyUnavailable(agency_code=b.agency_code, detail="down")
    for _ in range(times):
        with pytest.raises(type(dead.error)):
            b.call(dead)


def test_it_lets_calls_through_while_closed(clock):
    b = breaker(clock)
    call = Agency()

    assert b.call(call) == "answer"
    assert call.calls == 1
    assert b.state() == "closed"


def test_it_opens_after_consecutive_failures_and_then_fails_at_once(clock):
    b = breaker(clock)
    fail(b, 2)
    assert b.state() == "closed"

    fail(b, 1)

    assert b.state() == "open"
    call = Agency()
    with pytest.raises(CircuitOpen) as caught:
        b.call(call)
    assert call.calls == 0
    assert isinstance(caught.value, AgencyUnavailable)
    assert caught.value.seconds == 30
    assert "Try again in 30 s" in str(caught.value.message)


def test_outcome_unknown_counts_as_a_failure(clock):
    b = breaker(clock)

    fail(b, 3, OutcomeUnknown(agency_code="EEHC", detail="dropped"))

    assert b.state() == "open"


@pytest.mark.parametrize(
    "refusal",
    [UnknownReference(agency_code="EEHC"), AgencyRefused("invalid", agency_code="EEHC")],
    ids=["unknown reference", "refusal"],
)
def test_a_refusal_is_an_answer_and_breaks_the_run_of_failures(clock, refusal):
    b = breaker(clock)
    fail(b, 2)

    fail(b, 5, refusal)
    fail(b, 2)

    assert b.state() == "closed"


def test_a_success_breaks_the_run_of_failures(clock):
    b = breaker(clock)
    fail(b, 2)
    b.call(Agency())
    fail(b, 2)

    assert b.state() == "closed"


def test_failures_further_apart_than_the_window_do_not_add_up(clock):
    b = breaker(clock, window=60)
    fail(b, 2)
    clock.advance(61)

    fail(b, 2)
    assert b.state() == "closed"
    fail(b, 1)
    assert b.state() == "open"


def test_after_the_cool_off_one_trial_call_closes_it_on_success(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        b.call(Agency())

    clock.advance(1)
    assert b.state() == "half-open"
    others = Agency()

    def trial():
        # While the trial is out, every other caller is still refused at once.
        with pytest.raises(CircuitOpen, match="another call"):
            b.call(others)
        return "answer"

    assert b.call(trial) == "answer"
    assert others.calls == 0
    assert b.state() == "closed"
    fail(b, 2)
    assert b.state() == "closed"  # the count starts again from nothing


def test_a_failed_trial_opens_it_for_another_cool_off(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)

    fail(b, 1)

    assert b.state() == "open"
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        b.call(Agency())
    clock.advance(1)
    assert b.call(Agency()) == "answer"
    assert b.state() == "closed"


def test_a_trial_that_never_reported_back_frees_the_way(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    cache.add("agencies:breaker:EEHC:trial", clock(), 3600)  # a process that died mid-trial
    with pytest.raises(CircuitOpen):
        b.call(Agency())

    clock.advance(TRIAL_SECONDS)

    assert b.call(Agency()) == "answer"
    assert b.state() == "closed"


def test_one_agency_failing_leaves_the_others_closed(clock):
    fail(breaker(clock, "EEHC"), 3)

    assert breaker(clock, "EEHC").state() == "open"
    assert breaker(clock, "GIZA-LS").call(Agency()) == "answer"


def test_the_circuit_is_shared_through_the_cache(clock):
    fail(breaker(clock), 3)
    another_process = breaker(clock)

    with pytest.raises(CircuitOpen):
        another_process.call(Agency())


class BrokenCache:
    def __getattr__(self, name):
        def broken(*args, **kwargs):
            raise ConnectionError("the cache is down")

        return broken


def test_a_broken_cache_lets_every_call_through(clock):
    b = breaker(clock, cache=BrokenCache())
    fail(b, 10)

    call = Agency()
    assert b.call(call) == "answer"
    assert call.calls == 1


def test_our_own_bug_is_not_the_agencys_failure(clock):
    b = breaker(clock)

    fail(b, 5, KeyError("ours"))

    assert b.state() == "closed"


def test_guarded_runs_a_call_through_the_agencys_breaker(clock):
    fail(breaker(clock), 3)

    with pytest.raises(CircuitOpen):
        guarded("EEHC", Agency(), now=clock)
    assert guarded("GIZA-LS", Agency(), now=clock) == "answer"


def test_two_adapters_of_one_agency_share_its_breaker(agency, settings, clock):
    settings.AGENCY_SYSTEMS = {
        "EEHC": {"url": agency.url, "retries": 0, "breaker_failures": 2, "breaker_cool_off": 30},
        "GIZA-LS": {"url": agency.url, "retries": 0},
    }
    agency.script(answer(503), answer(503), answer(404))
    first, second = adapter_for("EEHC", now=clock), adapter_for("EEHC", now=clock)

    for adapter in (first, second):
        with pytest.raises(AgencyUnavailable):
            adapter.inquire("ELEC", "1")
    with pytest.raises(CircuitOpen):
        second.payment_status("P-1")
    with pytest.raises(CircuitOpen):
        adapter_for("EEHC", now=clock).notify_void("P-1", "x")

    assert len(agency.requests) == 2  # the open circuit asked nobody
    # Another agency's counter goes on (its system answers 404 here: an answer).
    assert adapter_for("GIZA-LS", now=clock).payment_status("P-1") is None
    assert len(agency.requests) == 3

    clock.advance(30)
    agency.script(
        answer(200, {"status": "accepted", "agency_txn_id": "T", "payment_reference": "P-1"})
    )
    assert second.payment_status("P-1").agency_txn_id == "T"
    assert first.inner is not second.inner
    assert Breaker("EEHC", now=clock).state() == "closed"
