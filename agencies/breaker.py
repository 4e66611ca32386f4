"""A circuit breaker per agency, so that a dead agency slows nobody else's counter.

After ``failures`` consecutive failures (the first of them less than ``window`` seconds
before the last) the circuit opens: for ``cool_off`` seconds every call fails at once with
``CircuitOpen``. Then one caller, and one only, makes a trial call (half-open): its
success closes the circuit, its failure opens it for another cool-off.

The state lives in Django's cache, so every process of every counter sees the same
circuit (Redis in production). Times are wall-clock (``time.time``), the only clock two
processes share. When the cache fails the breaker fails open: calls go through, unguarded.

A failure is the agency failing us (``AgencyUnavailable``, ``OutcomeUnknown``). A refusal
or an unknown reference is an answer: the agency is alive, and it resets the count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache as default_cache

from agencies.errors import AgencyRefused, AgencyUnavailable, CircuitOpen, OutcomeUnknown

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A trial call that never reported back (its process died) frees the way after this long.
TRIAL_SECONDS = 120.0


class Breaker:
    def __init__(
        self,
        agency_code: str,
        *,
        failures: int = 5,
        window: float = 60.0,
        cool_off: float = 30.0,
        now: Callable[[], float] = time.time,
        cache=None,
    ):
        self.agency_code = agency_code
        self.failures = failures
        self.window = window
        self.cool_off = cool_off
        self.now = now
        self.cache = cache if cache is not None else default_cache
        prefix = f"agencies:breaker:{agency_code}"
        self._failures_key = f"{prefix}:failures"
        self._open_key = f"{prefix}:open-until"
        self._trial_key = f"{prefix}:trial"
        self._window_key = f"{prefix}:window-start"
        # How long the cache keeps the keys: well past any window or cool-off (the cache's
        # own clock is not ``now``, which the tests drive); the times inside decide.
        self._ttl = window + cool_off + TRIAL_SECONDS + 3600

    def call(self, fn: Callable[[], T]) -> T:
        trial = self._admit()
        try:
            result = fn()
        except (AgencyUnavailable, OutcomeUnknown):
            self._failed(trial)
            raise
        except AgencyRefused:
            # An answer, if not the one hoped for: the agency is alive.
            self._succeeded(trial)
            raise
        except Exception:
            # Our own bug, not the agency's failure: a trial is over either way.
            if trial:
                self._quietly(self.cache.delete, self._trial_key)
            raise
        self._succeeded(trial)
        return result

    def state(self) -> str:
        """closed, open or half-open: for the boards and the tests."""
        until = self._quietly(self.cache.get, self._open_key)
        if until is None:
            return "closed"
        return "open" if self.now() < until else "half-open"

    def _admit(self) -> bool:
        """Let the call through (True when it is the half-open trial) or raise CircuitOpen."""
        until = self._quietly(self.cache.get, self._open_key)
        if until is None:
            return False
        now = self.now()
        if now < until:
            raise CircuitOpen(
                agency_code=self.agency_code,
                seconds=max(1, round(until - now)),
                detail=f"circuit open for {until - now:.0f} s more",
            )
        if self._quietly(self.cache.add, self._trial_key, now, self._ttl, fallback=True):
            return True
        started = self._quietly(self.cache.get, self._trial_key)
        if started is not None and now - started >= TRIAL_SECONDS:
            self._quietly(self.cache.set, self._trial_key, now, self._ttl)
            return True
        raise CircuitOpen(
            agency_code=self.agency_code,
            seconds=1,
            detail="circuit half-open: another call is trying the agency",
        )

    def _failed(self, trial: bool) -> None:
        if trial:
            self._open()
            return
        now = self.now()
        started = self._quietly(self.cache.get, self._window_key)
        if started is None or now - started > self.window:
            # The first failure of a new window: older ones are forgotten.
            fresh = {self._window_key: now, self._failures_key: 0}
            self._quietly(self.cache.set_many, fresh, self._ttl)
        count = self._quietly(self._incr)
        if count is not None and count >= self.failures:
            self._open()

    def _incr(self) -> int:
        try:
            return self.cache.incr(self._failures_key)
        except ValueError:
            # The count vanished (evicted, or reset by a success) since we looked.
            self.cache.set(self._failures_key, 1, self._ttl)
            return 1

    def _open(self) -> None:
        until = self.now() + self.cool_off
        logger.warning("agency %s: circuit open until %s", self.agency_code, until)
        # Half-open is "the key is there and its time has passed".
        self._quietly(self.cache.set, self._open_key, until, self._ttl)
        self._quietly(
            self.cache.delete_many, [self._failures_key, self._window_key, self._trial_key]
        )

    def _succeeded(self, trial: bool) -> None:
        keys = [self._failures_key, self._window_key]
        if trial:
            keys += [self._open_key, self._trial_key]
            logger.info("agency %s: circuit closed", self.agency_code)
        self._quietly(self.cache.delete_many, keys)

    def _quietly(self, operation, *args, fallback=None):
        try:
            return operation(*args)
        except Exception as error:  # noqa: BLE001 - any cache failure: fail open
            logger.warning("agency %s: breaker cache unavailable: %s", self.agency_code, error)
            return fallback


def guarded(agency_code: str, call: Callable[[], T], **options) -> T:
    """Run ``call`` through the agency's breaker (options as ``Breaker``'s)."""
    return Breaker(agency_code, **options).call(call)
