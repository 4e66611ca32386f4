"""An agency system speaking our JSON API (the agency simulator speaks it too).

- ``POST /v1/bills/inquiry`` {"service", "reference"} -> the presentment, or 404;
- ``POST /v1/payments`` {"payment_reference", "service", "reference", "bill_ids", "amount",
  "paid_at"} -> 200 {"status": "accepted", "agency_txn_id", "payment_reference"}, 409
  {"error": "bill_already_paid" | "bill_changed" | "conflict"}, 422;
- ``GET /v1/payments/<payment_reference>`` -> 200 as above, or 404;
- ``POST /v1/payments/<payment_reference>/void`` {"reason"} -> 200.

Amounts are integer piastres. With a secret, each request carries ``X-Agency-Timestamp``
(unix seconds) and ``X-Agency-Signature``: HMAC-SHA256 of ``timestamp + "." + body``, lower-case
hex, as the wallet provider signs its callbacks to us.

http.client rather than urllib: a payment's outcome depends on whether the request had
left us when the connection failed, and urllib folds both cases into one URLError.
Every attempt has a deadline (``timeout``) enforced by a watchdog that cuts the socket, so
a server trickling its answer cannot hold a counter beyond it. Reads (inquiry, status) are
retried within ``inquiry_ceiling`` seconds over all their attempts;
writes (payment, void) never are: their caller resolves an OutcomeUnknown by status.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from agencies.adapters import Ack, Bill, NotifyPayment, Presentment
from agencies.errors import (
    AgencyRefused,
    AgencyUnavailable,
    BillChanged,
    OutcomeUnknown,
    UnknownReference,
)

MAX_ANSWER = 1_000_000  # bytes
RETRY_PAUSE = 0.2  # seconds between two attempts of a read
# 503 says the request was not acted on; other 5xx (500, 502, 504) may come after the
# agency acted (a crash after its commit, a gateway that gave up waiting).
NOT_ACTED_ON = {503}


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes


class _NotSent(Exception):
    """The request never fully left us: the agency cannot have acted on it."""


class _NoAnswer(Exception):
    """The request left us and no (whole) answer came back."""


class JsonHttpAdapter:
    def __init__(
        self,
        *,
        agency_code: str,
        url: str,
        timeout: float = 5.0,
        inquiry_ceiling: float = 30.0,
        retries: int = 1,
        secret: str = "",
    ):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.agency_code = agency_code
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.inquiry_ceiling = inquiry_ceiling
        self.retries = retries
        self.secret = secret

    # --- the four calls ---------------------------------------------------------------

    def inquire(self, service_code: str, reference: str) -> Presentment:
        deadline = time.monotonic() + self.inquiry_ceiling
        answer = self._read(
            "POST",
            "/v1/bills/inquiry",
            {"service": service_code, "reference": reference},
            deadline=deadline,
            what=f"the inquiry for {reference!r}",
        )
        if answer.status == 404:
            raise UnknownReference(
                agency_code=self.agency_code, detail=f"inquiry {reference!r}: 404"
            )
        self._refuse_4xx(answer, "inquiry")
        return self._presentment(self._ok_json(answer, "inquiry"), reference)

    def notify_payment(self, payment: NotifyPayment) -> Ack:
        if payment.paid_at.tzinfo is None:
            raise ValueError("paid_at must be an aware datetime")
        what = f"payment {payment.payment_reference}"
        answer = self._write(
            "POST",
            "/v1/payments",
            {
                "payment_reference": payment.payment_reference,
                "service": payment.service_code,
                "reference": payment.reference,
                "bill_ids": list(payment.bill_ids),
                "amount": payment.amount,
                "paid_at": payment.paid_at.isoformat(),
            },
            what=what,
        )
        self._refuse_4xx(answer, what)
        try:
            return self._ack(self._ok_json(answer, what), payment.payment_reference)
        except AgencyUnavailable as error:
            # A 2xx we cannot read: the agency most likely took the payment.
            raise OutcomeUnknown(agency_code=self.agency_code, detail=error.detail) from error

    def payment_status(self, payment_reference: str) -> Ack | None:
        what = f"the status of payment {payment_reference}"
        answer = self._read(
            "GET",
            f"/v1/payments/{_segment(payment_reference)}",
            None,
            deadline=time.monotonic() + self.inquiry_ceiling,
            what=what,
        )
        if answer.status == 404:
            return None
        self._refuse_4xx(answer, what)
        return self._ack(self._ok_json(answer, what), payment_reference)

    def notify_void(self, payment_reference: str, reason: str) -> None:
        what = f"the void of payment {payment_reference}"
        path = f"/v1/payments/{_segment(payment_reference)}/void"
        answer = self._write("POST", path, {"reason": reason}, what=what)
        self._refuse_4xx(answer, what)
        if not 200 <= answer.status < 300:
            raise OutcomeUnknown(
                agency_code=self.agency_code, detail=f"{what}: unexpected status {answer.status}"
            )

    # --- the wire ---------------------------------------------------------------------

    def _read(self, method, path, payload, *, deadline: float, what: str) -> _Answer:
        """An idempotent read, retried on failure until ``deadline`` (monotonic)."""
        attempts = self.retries + 1
        last = ""
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                answer = self._exchange(
                    method, path, payload, deadline=time.monotonic() + min(self.timeout, remaining)
                )
            except (_NotSent, _NoAnswer) as error:
                last = str(error)
            else:
                if answer.status < 500:
                    return answer
                last = f"status {answer.status} {_error_code(answer.body)}"
            if attempt + 1 < attempts:
                time.sleep(max(0.0, min(RETRY_PAUSE, deadline - time.monotonic())))
        if deadline - time.monotonic() <= 0:
            raise AgencyUnavailable(
                format_lazy(
                    _("The system of agency {agency} did not answer within {seconds} s."),
                    agency=self.agency_code,
                    seconds=f"{self.inquiry_ceiling:g}",
                ),
                agency_code=self.agency_code,
                detail=f"{what}: no answer within {self.inquiry_ceiling:g} s ({last or 'no time'})",
            )
        raise AgencyUnavailable(
            agency_code=self.agency_code, detail=f"{what}: {last} after {attempts} attempt(s)"
        )

    def _write(self, method, path, payload, *, what: str) -> _Answer:
        """A call that changes the agency's books: one attempt, its outcome classified."""
        try:
            answer = self._exchange(method, path, payload, deadline=time.monotonic() + self.timeout)
        except _NotSent as error:
            detail = f"{what}: {error}"
            raise AgencyUnavailable(agency_code=self.agency_code, detail=detail) from error
        except _NoAnswer as error:
            detail = f"{what}: {error}"
            raise OutcomeUnknown(agency_code=self.agency_code, detail=detail) from error
        if answer.status in NOT_ACTED_ON:
            raise AgencyUnavailable(
                agency_code=self.agency_code, detail=f"{what}: status {answer.status}"
            )
        if answer.status >= 500:
            raise OutcomeUnknown(
                agency_code=self.agency_code,
                detail=f"{what}: status {answer.status} {_error_code(answer.body)}",
            )
        return answer

    def _exchange(self, method: str, path: str, payload: Any, *, deadline: float) -> _Answer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _NotSent("timed out before sending")
        connection_class = (
            http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(self.host, self.port, timeout=remaining)
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.secret:
            stamp = str(int(time.time()))
            headers["X-Agency-Timestamp"] = stamp
            headers["X-Agency-Signature"] = hmac.new(
                self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        cut = threading.Event()
        watchdog = threading.Timer(remaining, _cut, args=(connection, cut))
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                connection.connect()
                connection.request(method, self.prefix + path, body=body or None, headers=headers)
            except (OSError, http.client.HTTPException) as error:
                raise _NotSent(_why(error, cut)) from error
            try:
                response = connection.getresponse()
                data = response.read(MAX_ANSWER + 1)
            except (OSError, http.client.HTTPException) as error:
                raise _NoAnswer(_why(error, cut)) from error
            if cut.is_set():
                # The socket was cut while the body was read: what we hold may be truncated.
                raise _NoAnswer("timed out while reading the answer")
            if len(data) > MAX_ANSWER:
                raise _NoAnswer(f"an answer of more than {MAX_ANSWER} bytes")
            return _Answer(response.status, data)
        finally:
            watchdog.cancel()
            connection.close()

    # --- reading the answers ------------------------------------------------------------

    def _refuse_4xx(self, answer: _Answer, what: str) -> None:
        if not 400 <= answer.status < 500:
            return
        code = _error_code(answer.body) or str(answer.status)
        detail = f"{what}: {answer.status} {code}"
        if answer.status == 404:
            raise UnknownReference(code, agency_code=self.agency_code, detail=detail)
        if answer.status == 409:
            raise BillChanged(code, agency_code=self.agency_code, detail=detail)
        raise AgencyRefused(code, agency_code=self.agency_code, detail=detail)

    def _ok_json(self, answer: _Answer, what: str) -> dict:
        if answer.status != 200:
            raise self._malformed(what, f"unexpected status {answer.status}")
        try:
            data = json.loads(answer.body)
        except ValueError:
            raise self._malformed(what, "the answer is not JSON") from None
        if not isinstance(data, dict):
            raise self._malformed(what, "the answer is not a JSON object")
        return data

    def _presentment(self, data: dict, reference: str) -> Presentment:
        what = f"the inquiry for {reference!r}"
        field = _Fields(data, what, self._malformed)
        if field.text("reference") != reference:
            raise self._malformed(what, f"it answers for another reference {data['reference']!r}")
        raw_bills = field.get("bills", list)
        bills = tuple(self._bill(raw, what) for raw in raw_bills)
        if len({bill.bill_id for bill in bills}) != len(bills):
            raise self._malformed(what, "two bills have the same bill_id")
        presentment = Presentment(
            reference=reference,
            name_masked=field.get("name_masked", str),
            bills=bills,
            partial_allowed=field.get("partial_allowed", bool),
            advance_allowed=field.get("advance_allowed", bool),
            minimum=field.piastres("minimum"),
            total=field.piastres("total"),
        )
        if presentment.total != sum(bill.amount for bill in bills):
            raise self._malformed(what, "total is not the sum of the bills")
        if presentment.minimum > presentment.total and not presentment.advance_allowed:
            raise self._malformed(what, "minimum is more than the total")
        return presentment

    def _bill(self, raw: Any, what: str) -> Bill:
        if not isinstance(raw, dict):
            raise self._malformed(what, "a bill is not an object")
        field = _Fields(raw, what, self._malformed)
        return Bill(
            bill_id=field.text("bill_id"),
            amount=field.piastres("amount"),
            due_date=field.day("due_date"),
            description=field.get("description", str),
        )

    def _ack(self, data: dict, payment_reference: str) -> Ack:
        what = f"payment {payment_reference}"
        field = _Fields(data, what, self._malformed)
        status = field.text("status")
        if status not in ("accepted", "voided"):
            raise self._malformed(what, f"unknown status {status!r}")
        if field.text("payment_reference") != payment_reference:
            raise self._malformed(what, "it answers for another payment")
        return Ack(agency_txn_id=field.text("agency_txn_id"), status=status)

    def _malformed(self, what: str, why: str) -> AgencyUnavailable:
        return AgencyUnavailable(agency_code=self.agency_code, detail=f"{what}: {why}")


class _Fields:
    """Typed, strict access to a JSON object's fields; anything else is malformed."""

    def __init__(self, data: dict, what: str, malformed):
        self.data = data
        self.what = what
        self.malformed = malformed

    def get(self, key: str, kind: type):
        if key not in self.data:
            raise self.malformed(self.what, f"{key} is missing")
        value = self.data[key]
        # bool is an int in Python, and an int is no bool: both checked exactly.
        if type(value) is not kind:
            raise self.malformed(self.what, f"{key} is not a {kind.__name__}: {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self.get(key, str)
        if not value.strip():
            raise self.malformed(self.what, f"{key} is empty")
        return value

    def piastres(self, key: str) -> int:
        value = self.get(key, int)
        if value < 0:
            raise self.malformed(self.what, f"{key} is negative: {value}")
        return value

    def day(self, key: str) -> date:
        value = self.get(key, str)
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            why = f"{key} is not a date (YYYY-MM-DD): {value!r}"
            raise self.malformed(self.what, why) from None


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _why(error: Exception, cut: threading.Event) -> str:
    if cut.is_set() or isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _error_code(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"])[:100]
    except (ValueError, KeyError, TypeError):
        return ""
