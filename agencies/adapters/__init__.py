"""Clients of the agencies' own billing systems, one backend per kind of system.

``settings.AGENCY_SYSTEMS`` (from the ``AGENCY_SYSTEMS_JSON`` environment variable) maps
an agency's code to its system::

    {"EEHC": {"adapter": "agencies.adapters.json_http.JsonHttpAdapter",
              "url": "http://127.0.0.1:8703", "timeout": 5.0, "inquiry_ceiling": 30.0,
              "retries": 1, "secret": "..."}}

Optional keys: ``breaker_failures`` (5), ``breaker_window`` (60 s), ``breaker_cool_off``
(30 s). ``adapter_for(code)`` returns that agency's adapter, every call going through the
agency's circuit breaker (agencies.breaker), or None when the agency has no system of its
own. Errors are in agencies.errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from agencies.breaker import Breaker

DEFAULT_ADAPTER = "agencies.adapters.json_http.JsonHttpAdapter"
DEFAULTS: dict[str, Any] = {
    "adapter": DEFAULT_ADAPTER,
    "timeout": 5.0,
    "inquiry_ceiling": 30.0,
    "retries": 1,
    "secret": "",
    "breaker_failures": 5,
    "breaker_window": 60.0,
    "breaker_cool_off": 30.0,
}
_BREAKER_KEYS = ("breaker_failures", "breaker_window", "breaker_cool_off")


@dataclass(frozen=True)
class Bill:
    bill_id: str
    amount: int  # piastres
    due_date: date
    description: str


@dataclass(frozen=True)
class Presentment:
    """What the agency says a citizen owes under a reference (amounts in piastres)."""

    reference: str
    name_masked: str
    bills: tuple[Bill, ...]
    partial_allowed: bool
    advance_allowed: bool
    minimum: int
    total: int


@dataclass(frozen=True)
class NotifyPayment:
    """A payment taken at our counter, told to the agency (``paid_at`` aware, UTC)."""

    payment_reference: str
    service_code: str
    reference: str
    bill_ids: tuple[str, ...]
    amount: int  # piastres
    paid_at: datetime


@dataclass(frozen=True)
class Ack:
    """The agency holds the payment under its own id (``status``: accepted or voided)."""

    agency_txn_id: str
    status: str = "accepted"


class AgencyAdapter(Protocol):
    def inquire(self, service_code: str, reference: str) -> Presentment: ...

    def notify_payment(self, payment: NotifyPayment) -> Ack: ...

    def payment_status(self, payment_reference: str) -> Ack | None: ...

    def notify_void(self, payment_reference: str, reason: str) -> None: ...


class GuardedAdapter:
    """An adapter whose every call goes through its agency's circuit breaker."""

    def __init__(self, inner: AgencyAdapter, breaker: Breaker):
        self.inner = inner
        self.breaker = breaker

    def inquire(self, service_code: str, reference: str) -> Presentment:
        return self.breaker.call(lambda: self.inner.inquire(service_code, reference))

    def notify_payment(self, payment: NotifyPayment) -> Ack:
        return self.breaker.call(lambda: self.inner.notify_payment(payment))

    def payment_status(self, payment_reference: str) -> Ack | None:
        return self.breaker.call(lambda: self.inner.payment_status(payment_reference))

    def notify_void(self, payment_reference: str, reason: str) -> None:
        return self.breaker.call(lambda: self.inner.notify_void(payment_reference, reason))


def agency_systems() -> dict[str, dict[str, Any]]:
    """``settings.AGENCY_SYSTEMS`` checked and completed with the defaults.

    Raises ImproperlyConfigured naming the agency and the key on anything that does not fit.
    """
    raw = getattr(settings, "AGENCY_SYSTEMS", {}) or {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(
            "AGENCY_SYSTEMS (AGENCY_SYSTEMS_JSON) must be an object of agency code -> system"
        )
    return {code: _checked(code, system) for code, system in raw.items()}


def adapter_for(
    agency_code: str, *, now: Callable[[], float] | None = None
) -> AgencyAdapter | None:
    """The adapter of the agency's own system, or None if it has none (nothing to ask)."""
    system = agency_systems().get(agency_code)
    if system is None:
        return None
    backend = import_string(system["adapter"])
    options = {k: v for k, v in system.items() if k != "adapter" and k not in _BREAKER_KEYS}
    breaker = Breaker(
        agency_code,
        failures=system["breaker_failures"],
        window=system["breaker_window"],
        cool_off=system["breaker_cool_off"],
        **({"now": now} if now is not None else {}),
    )
    return GuardedAdapter(backend(agency_code=agency_code, **options), breaker)


def _checked(code: Any, system: Any) -> dict[str, Any]:
    where = f"AGENCY_SYSTEMS[{code!r}]"
    if not isinstance(code, str) or not code:
        raise ImproperlyConfigured(f"{where}: an agency code must be a non-empty string")
    if not isinstance(system, dict):
        raise ImproperlyConfigured(f"{where} must be an object with at least a url")
    unknown = set(system) - set(DEFAULTS) - {"url"}
    if unknown:
        raise ImproperlyConfigured(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    merged = {**DEFAULTS, **system}
    url = merged.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{where}.url must be an http(s) URL; got {url!r}")
    for key in ("timeout", "inquiry_ceiling", "breaker_window", "breaker_cool_off"):
        merged[key] = _positive(where, key, merged[key])
    for key, minimum in (("retries", 0), ("breaker_failures", 1)):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ImproperlyConfigured(
                f"{where}.{key} must be a whole number of at least {minimum}; got {value!r}"
            )
    if not isinstance(merged["secret"], str):
        raise ImproperlyConfigured(f"{where}.secret must be a string")
    try:
        import_string(merged["adapter"])
    except ImportError as error:
        raise ImproperlyConfigured(f"{where}.adapter cannot be imported: {error}") from None
    return merged


def _positive(where: str, key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ImproperlyConfigured(
            f"{where}.{key} must be a positive number of seconds; got {value!r}"
        )
    return float(value)
