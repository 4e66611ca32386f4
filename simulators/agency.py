"""A government agency's own billing system: the electricity company's, a governorate's portal.

Run: ``python -m simulators.agency --port 8703 --agency ELEC --callback-url URL --secret S
--state FILE`` (or AGENCY_SIM_PORT, AGENCY_SIM_AGENCY, AGENCY_SIM_CALLBACK_URL,
AGENCY_SIM_SECRET, AGENCY_SIM_STATE; ``--callback-retries 5 --callback-backoff 0.5`` set
the webhook's retries, as the wallet's).

API (amounts are integer piastres):

- ``POST /v1/bills/inquiry`` {"service", "reference"}: the account's unpaid bills, or 404
  ``{"error": "unknown reference"}``. Accounts follow from the reference, so tests and
  the demo can predict them (see ``account``): 6 to 20 digits exist, unless they end
  in ``0000``; the last digit d gives 1 + d % 3 bills of 1000 + reference % 9000 + 500 i,
  due on the 1st of the months from 2026-10; partial payment (minimum 1000) when the
  first digit is even; never in advance. A bill paid in part shows what is left of it.
- ``POST /v1/payments`` {"payment_reference", "service", "reference", "bill_ids",
  "amount", "paid_at"}: 200 ``{"status": "accepted", "agency_txn_id", "payment_reference"}``.
  No ``bill_ids`` (an empty list) is a service's fee paid under its reference (a
  request, a licence): accepted as it is, no bill settled.
  Idempotent by ``payment_reference``: the same body again gets the same answer (even
  after a void: the status query tells what became of it), another body 409 ``conflict``.
  A bill already paid: 409 ``bill_already_paid``; an amount that does not settle the
  bills (or, when partial payment is allowed, is under the minimum or above them): 422;
  a bill that is not the account's: 422.
- ``GET /v1/payments/<payment_reference>``: 200 with the payment (``status`` accepted or
  voided), or 404 ``{"status": "unknown"}``.
- ``POST /v1/payments/<payment_reference>/void`` {"reason"}: 200 ``{"status": "voided"}``,
  idempotent; the bills are owed again. 404 for a payment it never accepted.
- ``POST /v1/requests/<payment_reference>/status`` {"status": in_review|ready|rejected,
  "reason"?, "refundable"?, "fault"?}: a control endpoint playing the agency's clerk. The
  change is recorded, then pushed (in the background) as a signed webhook to the callback
  URL: {"event": "request.status", "payment_reference", "status", "reason", "refundable"
  (false unless given), "changed_at", "by", "change_id", "delivery" (1, or 2 for a
  duplicate)}, headers ``X-Agency-Timestamp`` and ``X-Agency-Signature`` (hex HMAC-SHA256
  of ``timestamp + "." + body``, as ``core.signing``), retried as the wallet's callbacks
  are (network errors, 5xx, 409 and 429).
  ``GET /v1/requests/<payment_reference>`` lists the changes.
- ``GET /v1/webhooks`` (each delivery attempt), ``GET /v1/stats`` (inquiries, payments
  accepted, duplicates answered idempotently, voids), ``POST /v1/config``
  {"callback_url", "secret"}, ``GET|POST|DELETE /v1/faults``: for tests and the demo.

With ``--state FILE`` the payments, paid bills, request changes and counts are written
to FILE after every change (a temporary file, then ``os.replace``) and read back at
start, so a restarted agency still knows the payments it accepted. Webhooks not yet
delivered when it stops are not sent after the restart.

Faults, set globally (``POST /v1/faults``) or in a request's ``"fault"`` (the request's
own win; the status query has no body, so only global faults reach it):

- on the inquiry, the payment, the status query and the void: ``slow`` (seconds, 1 if
  true, then the request is served), ``timeout`` (the request is held unanswered and
  unprocessed for 60 s or the seconds given, then the connection is closed),
  ``error_5xx`` (503, nothing done), ``malformed`` (the request is served, the answer is
  a 200 whose body is the real one cut in half, so not JSON);
- on the payment only: ``bill_changed`` (409 ``bill_changed``, nothing recorded),
  ``already_paid`` (409 ``bill_already_paid``, nothing recorded), ``accept_no_answer``
  (a new payment is recorded as accepted, then the connection is closed without a byte:
  the unknown outcome; a replay of it is answered);
- on the webhooks (the status control): ``duplicate_webhook`` (each change is delivered
  twice, ``delivery`` 1 then 2, each signed anew, with the same ``change_id``) and
  ``bad_signature`` (signed with a wrong key).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from simulators.common import (
    App,
    Deliveries,
    Faults,
    HttpError,
    Request,
    Response,
    Signed,
    _handler_class,
    add_callback_arguments,
    base_parser,
    env,
    iso,
    json_response,
    now_utc,
    positive_int,
    required_str,
    serve,
)

log = logging.getLogger("simulators.agency")

FAULTS = {
    "slow",
    "timeout",
    "error_5xx",
    "malformed",
    "bill_changed",
    "already_paid",
    "accept_no_answer",
    "duplicate_webhook",
    "bad_signature",
}
TIMEOUT_HOLD = 60.0
SLOW_DEFAULT = 1.0
WEBHOOK_TIMEOUT = 5.0
STATE_VERSION = 1
REQUEST_STATUSES = ("in_review", "ready", "rejected")
PARTIAL_MINIMUM = 1000
FIRST_DUE = date(2026, 10, 1)
CLERKS = ("Hoda Mansour", "Karim Naguib", "Samia Fathy", "Tarek Abdelaziz")
# Whole names, masked word by word as the agency's screens show them.
NAMES = (
    ("محمد", "علي", "حسن"),
    ("Mona", "Adel"),
    ("فاطمة", "محمود", "السيد"),
    ("Sherif", "Ahmed", "Kamal"),
    ("أحمد", "سعيد"),
    ("Nadia", "Ibrahim", "Farag"),
    ("منى", "عبد", "الرحمن"),
)

# The handler's answer meaning "close the connection without a byte".
DROP = Response(0)


# --- Accounts, from the reference alone ----------------------------------------------


@dataclass(frozen=True)
class Bill:
    bill_id: str
    amount: int
    due_date: date
    description: str


@dataclass(frozen=True)
class Account:
    reference: str
    name_masked: str
    bills: tuple[Bill, ...]
    partial_allowed: bool


def mask(name: tuple[str, ...]) -> str:
    return " ".join(word[0] + "***" for word in name)


def account(service: str, reference: str) -> Account | None:
    """The account behind ``reference``, or None: the rules are in the module docstring."""
    if not re.fullmatch(r"\d{6,20}", reference) or reference.endswith("0000"):
        return None
    number = int(reference)
    bills = []
    for index in range(1 + int(reference[-1]) % 3):
        due = date(
            FIRST_DUE.year + (FIRST_DUE.month - 1 + index) // 12,
            (FIRST_DUE.month - 1 + index) % 12 + 1,
            1,
        )
        bills.append(
            Bill(
                bill_id=f"{reference}-{index + 1}",
                amount=1000 + number % 9000 + 500 * index,
                due_date=due,
                description=f"{service} {due:%Y-%m}",
            )
        )
    return Account(
        reference=reference,
        name_masked=mask(NAMES[number % len(NAMES)]),
        bills=tuple(bills),
        partial_allowed=int(reference[0]) % 2 == 0,
    )


# --- The agency -----------------------------------------------------------------------


def empty_state() -> dict:
    return {
        "version": STATE_VERSION,
        # Ids go on from here after a restart, so none is given twice.
        "next_txn": random.randrange(10**11, 9 * 10**11),
        "payments": {},
        # piastres paid so far on each bill, by bill_id
        "bill_paid": {},
        "requests": {},
        "stats": {"inquiries": 0, "payments_accepted": 0, "duplicates": 0, "voids": 0},
    }


class Agency(App):
    def __init__(
        self,
        *,
        agency: str,
        callback_url: str | None,
        secret: str,
        state_path: Path | None = None,
        retries: int = 5,
        backoff: float = 0.5,
    ):
        super().__init__()
        self.agency = agency
        self.callback_url = callback_url
        self.secret = secret
        self.state_path = state_path
        self.lock = threading.Lock()
        # Set when the process stops: requests held by ``timeout`` let go then.
        self.stopping = threading.Event()
        self.deliveries = Deliveries(
            prefix="Agency",
            noun="webhook",
            retries=retries,
            backoff=backoff,
            lock=self.lock,
            stopping=self.stopping,
            timeout=WEBHOOK_TIMEOUT,
            logger=log,
        )
        self.faults = Faults(FAULTS, self.lock)
        self.state = self._load()

        self.faults.install(self)
        self.route("POST", "/v1/config", self.configure)
        self.route("GET", "/v1/stats", self.stats)
        self.route("POST", "/v1/bills/inquiry", self.inquiry)
        self.route("POST", "/v1/payments", self.pay)
        self.route("GET", r"/v1/payments/(?P<payment_reference>[^/]+)", self.payment)
        self.route("POST", r"/v1/payments/(?P<payment_reference>[^/]+)/void", self.void)
        self.route("POST", r"/v1/requests/(?P<payment_reference>[^/]+)/status", self.change)
        self.route("GET", r"/v1/requests/(?P<payment_reference>[^/]+)", self.request_log)
        self.route("GET", "/v1/webhooks", self.webhook_log)

    # -- state

    def _load(self) -> dict:
        if self.state_path is None or not self.state_path.exists():
            return empty_state()
        state = json.loads(self.state_path.read_text())
        if state.get("version") != STATE_VERSION:
            raise SystemExit(f"{self.state_path}: not a state file of version {STATE_VERSION}")
        log.info("state read from %s: %s payments", self.state_path, len(state["payments"]))
        return state

    def _save(self) -> None:
        """Write the state; the caller holds the lock, so writes never interleave."""
        if self.state_path is None:
            return
        # In the same directory, so os.replace is a rename: a reader sees all or nothing.
        fd, temporary = tempfile.mkstemp(
            prefix=self.state_path.name + ".", suffix=".tmp", dir=self.state_path.parent
        )
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.state, out, ensure_ascii=False)
            os.replace(temporary, self.state_path)
        except BaseException:
            os.unlink(temporary)
            raise

    # -- configuration and counts

    def configure(self, request: Request) -> Response:
        data = request.json()
        unknown = sorted(set(data) - {"callback_url", "secret"})
        if unknown:
            raise HttpError(400, f"unknown settings: {', '.join(unknown)}")
        for key in ("callback_url", "secret"):
            if key in data and not (isinstance(data[key], str) and data[key]):
                raise HttpError(400, f"{key} must be a non-empty string")
        with self.lock:
            self.callback_url = data.get("callback_url", self.callback_url)
            self.secret = data.get("secret", self.secret)
            answer = {"agency": self.agency, "callback_url": self.callback_url}
        log.info("config now %s", answer)
        return json_response(200, answer)

    def stats(self, request: Request) -> Response:
        with self.lock:
            return json_response(200, {"agency": self.agency, **self.state["stats"]})

    # -- faults on the agency's own API

    def _faults(self, data: dict) -> dict:
        return {**self.faults.snapshot(), **self.faults.validate(data.get("fault") or {})}

    def _served(self, faults: dict, serve_it: Callable[[], Response]) -> Response:
        """``serve_it()``, late, refused, held or garbled as ``faults`` say."""
        if faults.get("error_5xx"):
            return json_response(503, {"error": "service unavailable"})
        hold = faults.get("timeout")
        if hold:
            seconds = TIMEOUT_HOLD if hold is True else float(hold)
            log.info("fault timeout: holding the request %s s", seconds)
            self.stopping.wait(seconds)
            return DROP
        slow = faults.get("slow")
        if slow:
            time.sleep(SLOW_DEFAULT if slow is True else float(slow))
        response = serve_it()
        if faults.get("malformed") and response is not DROP:
            # The real answer cut short, as a proxy that gave up half way would pass it on.
            return Response(200, response.body[: len(response.body) // 2])
        return response

    # -- bills

    def inquiry(self, request: Request) -> Response:
        data = request.json()
        service = required_str(data, "service")
        reference = required_str(data, "reference")
        return self._served(self._faults(data), lambda: self._inquiry(service, reference))

    def _inquiry(self, service: str, reference: str) -> Response:
        found = account(service, reference)
        with self.lock:
            self.state["stats"]["inquiries"] += 1
            self._save()
            if found is None:
                return json_response(404, {"error": "unknown reference"})
            owed = self._owed(found)
        bills = [
            {
                "bill_id": bill.bill_id,
                "amount": left,
                "due_date": bill.due_date.isoformat(),
                "description": bill.description,
            }
            for bill, left in owed
        ]
        total = sum(bill["amount"] for bill in bills)
        return json_response(
            200,
            {
                "reference": reference,
                "name_masked": found.name_masked,
                "bills": bills,
                "partial_allowed": found.partial_allowed,
                "advance_allowed": False,
                "minimum": min(PARTIAL_MINIMUM, total) if found.partial_allowed else total,
                "total": total,
            },
        )

    def _owed(self, found: Account) -> list[tuple[Bill, int]]:
        """The account's bills still owed, with what is left of each; the lock is held."""
        paid = self.state["bill_paid"]
        owed = [(bill, bill.amount - paid.get(bill.bill_id, 0)) for bill in found.bills]
        return [(bill, left) for bill, left in owed if left > 0]

    # -- payments

    def pay(self, request: Request) -> Response:
        data = request.json()
        asked = {
            "payment_reference": required_str(data, "payment_reference"),
            "service": required_str(data, "service"),
            "reference": required_str(data, "reference"),
            "bill_ids": bill_ids(data),
            "amount": positive_int(data, "amount"),
            "paid_at": paid_at(data),
        }
        faults = self._faults(data)
        return self._served(faults, lambda: self._pay(asked, faults))

    def _pay(self, asked: dict, faults: dict) -> Response:
        key = asked["payment_reference"]
        with self.lock:
            done = self.state["payments"].get(key)
            if done is not None:
                if done["request"] != asked:
                    return json_response(409, {"error": "conflict"})
                self.state["stats"]["duplicates"] += 1
                self._save()
                log.info("payment %s again: answered as before", key)
                return json_response(200, accepted(done))
            if faults.get("bill_changed"):
                return json_response(409, {"error": "bill_changed"})
            if faults.get("already_paid"):
                return json_response(409, {"error": "bill_already_paid"})
            if asked["bill_ids"]:
                found = account(asked["service"], asked["reference"])
                if found is None:
                    return json_response(404, {"error": "unknown reference"})
                allocation = self._allocate(found, asked)
            else:
                allocation = {}  # a fee for a service (a request, a licence): no bill settled
            self.state["next_txn"] += 1
            payment = {
                "status": "accepted",
                "agency_txn_id": f"AG{self.state['next_txn']:012d}",
                "payment_reference": key,
                "service": asked["service"],
                "reference": asked["reference"],
                "bill_ids": asked["bill_ids"],
                "amount": asked["amount"],
                "paid_at": asked["paid_at"],
                "accepted_at": iso(now_utc()),
                "voided_at": None,
                "void_reason": None,
                "allocation": allocation,
                "request": asked,
            }
            paid = self.state["bill_paid"]
            for bill_id, amount in allocation.items():
                paid[bill_id] = paid.get(bill_id, 0) + amount
            self.state["payments"][key] = payment
            self.state["stats"]["payments_accepted"] += 1
            self._save()
        log.info("accepted %s: %s piastres for %s", key, asked["amount"], asked["reference"])
        if faults.get("accept_no_answer"):
            log.info("fault accept_no_answer: %s accepted, the answer is not sent", key)
            return DROP
        return json_response(200, accepted(payment))

    def _allocate(self, found: Account, asked: dict) -> dict[str, int]:
        """What the payment settles on each bill, oldest first; or an HttpError."""
        owed = {bill.bill_id: left for bill, left in self._owed(found)}
        known = {bill.bill_id for bill in found.bills}
        for bill_id in asked["bill_ids"]:
            if bill_id not in known:
                raise HttpError(422, f"bill {bill_id} is not on account {found.reference}")
            if bill_id not in owed:
                raise HttpError(409, "bill_already_paid")
        chosen = [bill for bill in found.bills if bill.bill_id in asked["bill_ids"]]
        due = sum(owed[bill.bill_id] for bill in chosen)
        amount = asked["amount"]
        partial = found.partial_allowed and min(PARTIAL_MINIMUM, due) <= amount < due
        if amount != due and not partial:
            raise HttpError(422, f"the amount {amount} does not settle the bills ({due} due)")
        allocation = {}
        for bill in chosen:
            share = min(amount, owed[bill.bill_id])
            if share:
                allocation[bill.bill_id] = share
            amount -= share
        return allocation

    def payment(self, request: Request, payment_reference: str) -> Response:
        return self._served(self.faults.snapshot(), lambda: self._payment(payment_reference))

    def _payment(self, payment_reference: str) -> Response:
        with self.lock:
            payment = self.state["payments"].get(payment_reference)
            if payment is None:
                return json_response(404, {"status": "unknown"})
            return json_response(200, public(payment))

    def void(self, request: Request, payment_reference: str) -> Response:
        data = request.json()
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise HttpError(400, "reason must be a string")
        return self._served(self._faults(data), lambda: self._void(payment_reference, reason))

    def _void(self, payment_reference: str, reason: str | None) -> Response:
        with self.lock:
            payment = self.state["payments"].get(payment_reference)
            if payment is None:
                return json_response(404, {"error": "unknown payment"})
            if payment["status"] != "voided":
                payment["status"] = "voided"
                payment["voided_at"] = iso(now_utc())
                payment["void_reason"] = reason
                paid = self.state["bill_paid"]
                for bill_id, amount in payment["allocation"].items():
                    paid[bill_id] -= amount
                self.state["stats"]["voids"] += 1
                self._save()
                log.info("voided %s", payment_reference)
            answer = {
                "status": "voided",
                "payment_reference": payment_reference,
                "agency_txn_id": payment["agency_txn_id"],
                "voided_at": payment["voided_at"],
            }
        return json_response(200, answer)

    # -- service requests and their webhooks

    def change(self, request: Request, payment_reference: str) -> Response:
        data = request.json()
        status = data.get("status")
        if status not in REQUEST_STATUSES:
            raise HttpError(400, f"status must be one of {', '.join(REQUEST_STATUSES)}")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise HttpError(400, "reason must be a string")
        refundable = data.get("refundable", False)
        if not isinstance(refundable, bool):
            raise HttpError(400, "refundable must be true or false")
        faults = self._faults(data)
        with self.lock:
            if payment_reference not in self.state["payments"]:
                raise HttpError(404, f"no payment {payment_reference}")
            change = {
                "event": "request.status",
                "payment_reference": payment_reference,
                "status": status,
                "reason": reason,
                "refundable": refundable,
                "changed_at": iso(now_utc()),
                "by": random.choice(CLERKS),
                "change_id": "CH" + secrets.token_hex(8),
            }
            self.state["requests"].setdefault(payment_reference, []).append(change)
            self._save()
            url, secret = self.callback_url, self.secret
        log.info("request %s now %s (%s)", payment_reference, status, change["change_id"])
        threading.Thread(
            target=self._deliver_all,
            args=(url, secret, change, faults),
            name=f"webhook-{change['change_id']}",
            daemon=True,
        ).start()
        return json_response(200, change)

    def request_log(self, request: Request, payment_reference: str) -> Response:
        with self.lock:
            changes = list(self.state["requests"].get(payment_reference, []))
        return json_response(200, {"payment_reference": payment_reference, "changes": changes})

    def _signed(self, change: dict, secret: str, *, wrong_key: bool, delivery: int) -> Signed:
        # ``delivery`` makes a second delivery a message of its own, signed anew.
        body = json.dumps({**change, "delivery": delivery}, ensure_ascii=False).encode()
        return self.deliveries.sign(body, secret, wrong_key=wrong_key)

    def _deliver_all(self, url: str | None, secret: str, change: dict, faults: dict) -> None:
        wrong_key = bool(faults.get("bad_signature"))
        deliveries = 2 if faults.get("duplicate_webhook") else 1
        fields = {
            "change_id": change["change_id"],
            "payment_reference": change["payment_reference"],
        }
        for delivery in range(1, deliveries + 1):
            webhook = self._signed(change, secret, wrong_key=wrong_key, delivery=delivery)
            kind = "original" if delivery == 1 else "duplicate"
            self.deliveries.deliver(url, webhook, kind, fields)

    def webhook_log(self, request: Request) -> Response:
        return json_response(200, {"webhooks": self.deliveries.entries()})


def bill_ids(data: dict) -> list[str]:
    value = data.get("bill_ids")
    if (
        not isinstance(value, list)
        or not all(isinstance(item, str) and item for item in value)
        or len(set(value)) != len(value)
    ):
        raise HttpError(400, "bill_ids must be a list of distinct bill ids")
    return value


def paid_at(data: dict) -> str:
    value = required_str(data, "paid_at")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise HttpError(400, f"paid_at is not an ISO date and time: {value!r}") from None
    return value


def accepted(payment: dict) -> dict:
    """The answer to the payment, the same each time it is asked."""
    return {
        "status": "accepted",
        "agency_txn_id": payment["agency_txn_id"],
        "payment_reference": payment["payment_reference"],
    }


def public(payment: dict) -> dict:
    return {key: value for key, value in payment.items() if key not in ("request", "allocation")}


# --- Serving: common.serve's handler, plus a dropped connection ----------------------


def _dropping_handler(app: App):
    class Handler(_handler_class(app)):
        def _send(self, response: Response) -> None:
            if response is DROP:
                # No status line, no byte: the client sees the connection closed.
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            super()._send(response)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = base_parser(
        "Government agency billing simulator", port_env="AGENCY_SIM_PORT", default_port=8703
    )
    parser.add_argument("--agency", default=env("AGENCY_SIM_AGENCY", "AGENCY"))
    add_callback_arguments(parser, "AGENCY_SIM", "agency-sim-secret")
    parser.add_argument("--state", type=Path, default=env("AGENCY_SIM_STATE"))
    args = parser.parse_args(argv)
    app = Agency(
        agency=args.agency,
        callback_url=args.callback_url,
        secret=args.secret,
        state_path=args.state,
        retries=args.callback_retries,
        backoff=args.callback_backoff,
    )
    # On SIGTERM or SIGINT the requests ``timeout`` holds are let go, which the server
    # would otherwise wait for before it exits.
    serve(
        app,
        host=args.host,
        port=args.port,
        name="agency-sim",
        log_level=args.log_level,
        handler_class=_dropping_handler,
        on_stop=app.stopping.set,
    )


if __name__ == "__main__":
    main()
