"""The mobile-wallet provider: citizens' phones pay the EMVCo QR shown on the counter screen.

Run: ``python -m simulators.wallet --port 8701 --callback-url URL --secret S --merchant-id M``
(or WALLET_SIM_PORT, WALLET_SIM_CALLBACK_URL, WALLET_SIM_SECRET, WALLET_SIM_MERCHANT_ID;
``--callback-retries 5 --callback-backoff 0.5`` set the callback's retries).

API (amounts are integer piastres):

- ``POST /v1/payments`` {"qr", "wallet", "fault"?}: pays the QR, 201 with the transaction,
  then calls the app back (in the background) with a signed ``payment.paid``.
- ``GET /v1/payments?reference=R``, ``GET /v1/payments/<txn_id>``: status queries.
- ``POST /v1/refunds`` {"refund_id", "txn_id", "amount"}: idempotent by ``refund_id``.
- ``GET /v1/settlement?day=YYYY-MM-DD``: the day's CSV (Cairo days).
- ``POST|DELETE /v1/faults``, ``POST /v1/config``, ``GET /v1/callbacks``: for tests.

Faults (globally or per payment; the payment's own win): ``lost``, ``duplicate``,
``delay`` (seconds), ``bad_signature``, ``replay`` (true or seconds before the replay,
1 s by default), ``out_of_order`` (the callback waits until the next payment without
this fault has sent its own), ``pay_twice``, ``slow_status`` (seconds),
``settlement_mismatches`` (drop the first payment by txn_id, add 100 to the second,
add a phantom ``WT<yyyymmdd>999999`` of 5000 at noon).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field

from simulators.common import (
    App,
    Deliveries,
    Faults,
    HttpError,
    Request,
    Response,
    Signed,
    add_callback_arguments,
    base_parser,
    cairo_day_bounds,
    cairo_noon,
    env,
    iso,
    json_response,
    now_utc,
    parse_day,
    positive_int,
    required_str,
    serve,
    text_response,
)

log = logging.getLogger("simulators.wallet")

FAULTS = {
    "lost",
    "duplicate",
    "delay",
    "bad_signature",
    "replay",
    "out_of_order",
    "pay_twice",
    "slow_status",
    "settlement_mismatches",
}
CALLBACK_TIMEOUT = 5.0
PHANTOM_AMOUNT = 5000
SETTLEMENT_COLUMNS = ("txn_id", "reference", "amount", "paid_at", "kind")
MISMATCH_DELTA = 100


# --- EMVCo merchant-presented QR, parsed the way a provider would ------------------


class QrError(ValueError):
    pass


def crc16_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def parse_tlv(payload: str) -> dict[str, str]:
    """Split ``payload`` into its two-digit tags; a tag seen twice is an error."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(payload):
        header = payload[position : position + 4]
        if len(header) < 4 or not header.isdigit():
            raise QrError(f"bad TLV header at {position}: {header!r}")
        tag, length = header[:2], int(header[2:])
        value = payload[position + 4 : position + 4 + length]
        if len(value) != length:
            raise QrError(f"tag {tag} is cut short")
        if tag in fields:
            raise QrError(f"tag {tag} appears twice")
        fields[tag] = value
        position += 4 + length
    return fields


def decode_qr(payload: str) -> dict[str, str]:
    """Check the CRC (tag 63, last) and return the top-level tags."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise QrError("the CRC (tag 63, length 04) must come last")
    expected = payload[-4:]
    if not re.fullmatch(r"[0-9A-F]{4}", expected):
        raise QrError("the CRC must be 4 upper-case hex digits")
    actual = f"{crc16_ccitt_false(payload[:-4].encode()):04X}"
    if actual != expected:
        raise QrError(f"bad CRC: {expected}, computed {actual}")
    return parse_tlv(payload)


def amount_piastres(text: str) -> int:
    match = re.fullmatch(r"(\d{1,10})(?:\.(\d{1,2}))?", text)
    if match is None:
        raise QrError(f"bad amount: {text!r}")
    pounds, fraction = match.groups()
    piastres = int(pounds) * 100 + int((fraction or "0").ljust(2, "0"))
    if piastres <= 0:
        raise QrError("the amount must be positive")
    return piastres


def read_qr(payload: str) -> tuple[int, str, str]:
    """The amount in piastres, the payment reference and the merchant id of a QR."""
    fields = decode_qr(payload)
    if "54" not in fields:
        raise QrError("no amount (tag 54): a counter QR must carry one")
    amount = amount_piastres(fields["54"])
    reference = parse_tlv(fields.get("62", "")).get("05")
    if not reference:
        raise QrError("no payment reference (tag 62 sub 05)")
    merchant_id = parse_tlv(fields.get("26", "")).get("01")
    if not merchant_id:
        raise QrError("no merchant id (tag 26 sub 01)")
    if fields.get("53", "818") != "818":
        raise QrError(f"currency {fields['53']} is not the Egyptian pound (818)")
    return amount, reference, merchant_id


# --- The provider -------------------------------------------------------------------


@dataclass
class Refund:
    refund_id: str
    txn_id: str
    amount: int
    refunded_at: str
    request: dict = field(repr=False, default_factory=dict)

    def as_json(self) -> dict:
        return {
            "refund_id": self.refund_id,
            "txn_id": self.txn_id,
            "amount": self.amount,
            "status": "refunded",
            "refunded_at": self.refunded_at,
        }


class WalletProvider(App):
    def __init__(
        self,
        *,
        callback_url: str | None,
        secret: str,
        merchant_id: str | None,
        retries: int = 5,
        backoff: float = 0.5,
    ):
        super().__init__()
        self.lock = threading.Lock()
        self.deliveries = Deliveries(
            prefix="Wallet",
            noun="callback",
            retries=retries,
            backoff=backoff,
            lock=self.lock,
            timeout=CALLBACK_TIMEOUT,
            logger=log,
        )
        self.callback_url = callback_url
        self.secret = secret
        self.merchant_id = merchant_id
        self.faults = Faults(FAULTS, self.lock)
        self.txns: dict[str, dict] = {}
        self.refunds: dict[str, Refund] = {}
        # Callbacks held by ``out_of_order``, released by the next payment's callback.
        self.held: list[threading.Event] = []
        # Real ids never start with 2, so a phantom WT<yyyymmdd>999999 cannot be one.
        self._txn_numbers = itertools.count(random.randrange(3 * 10**13, 8 * 10**13))

        self.faults.install(self)
        self.route("POST", "/v1/config", self.configure)
        self.route("POST", "/v1/payments", self.pay)
        self.route("GET", "/v1/payments", self.payments_for)
        self.route("GET", r"/v1/payments/(?P<txn_id>[^/]+)", self.payment)
        self.route("POST", "/v1/refunds", self.refund)
        self.route("GET", "/v1/settlement", self.settlement)
        self.route("GET", "/v1/callbacks", self.callback_log)

    # -- configuration

    def configure(self, request: Request) -> Response:
        data = request.json()
        unknown = sorted(set(data) - {"callback_url", "secret", "merchant_id"})
        if unknown:
            raise HttpError(400, f"unknown settings: {', '.join(unknown)}")
        for key in ("callback_url", "secret", "merchant_id"):
            if key in data and not (isinstance(data[key], str) and data[key]):
                raise HttpError(400, f"{key} must be a non-empty string")
        with self.lock:
            if "callback_url" in data:
                self.callback_url = data["callback_url"]
            if "secret" in data:
                self.secret = data["secret"]
            if "merchant_id" in data:
                self.merchant_id = data["merchant_id"]
            answer = {"callback_url": self.callback_url, "merchant_id": self.merchant_id}
        log.info("config now %s", answer)
        return json_response(200, answer)

    # -- payments

    def pay(self, request: Request) -> Response:
        data = request.json()
        qr = required_str(data, "qr")
        wallet = required_str(data, "wallet")
        faults = {**self.faults.snapshot(), **self.faults.validate(data.get("fault") or {})}
        try:
            amount, reference, merchant_id = read_qr(qr)
        except QrError as exc:
            raise HttpError(400, f"QR refused: {exc}") from None
        if self.merchant_id and merchant_id != self.merchant_id:
            raise HttpError(400, f"QR refused: unknown merchant {merchant_id}")

        txns = [self._record(amount, reference, merchant_id, wallet)]
        if faults.get("pay_twice"):
            txns.append(self._record(amount, reference, merchant_id, wallet))
        for txn in txns:
            self._call_back(txn, faults)
        return json_response(201, txns[0])

    def _record(self, amount: int, reference: str, merchant_id: str, wallet: str) -> dict:
        with self.lock:
            txn_id = f"WT{next(self._txn_numbers):014d}"
            txn = {
                "txn_id": txn_id,
                "reference": reference,
                "amount": amount,
                "currency": "818",
                "wallet": wallet,
                "merchant_id": merchant_id,
                "paid_at": iso(now_utc()),
                "status": "paid",
            }
            self.txns[txn_id] = txn
        log.info("paid %s: %s piastres for %s", txn_id, amount, reference)
        return dict(txn)

    def payments_for(self, request: Request) -> Response:
        reference = request.query.get("reference")
        if not reference:
            raise HttpError(400, "reference is required")
        self._slow_status()
        with self.lock:
            found = [dict(txn) for txn in self.txns.values() if txn["reference"] == reference]
        return json_response(200, {"payments": found})

    def payment(self, request: Request, txn_id: str) -> Response:
        self._slow_status()
        with self.lock:
            txn = self.txns.get(txn_id)
        if txn is None:
            raise HttpError(404, f"no transaction {txn_id}")
        return json_response(200, dict(txn))

    def _slow_status(self) -> None:
        seconds = self.faults.snapshot().get("slow_status")
        if seconds:
            time.sleep(float(seconds))

    # -- callbacks

    def _call_back(self, txn: dict, faults: dict) -> None:
        if faults.get("lost"):
            log.info("fault lost: no callback for %s", txn["txn_id"])
            with self.lock:
                # The payment that would have released held callbacks still does.
                released, self.held = self.held, []
            for event in released:
                event.set()
            return
        with self.lock:
            url, secret = self.callback_url, self.secret
            if faults.get("out_of_order"):
                wait_for = threading.Event()
                self.held.append(wait_for)
                releases = []
            else:
                wait_for = None
                releases, self.held = self.held, []
        threading.Thread(
            target=self._deliver_all,
            args=(url, txn, secret, faults, wait_for, releases),
            name=f"callback-{txn['txn_id']}",
            daemon=True,
        ).start()

    def _signed(self, txn: dict, secret: str, *, wrong_key: bool, delivery: int = 1) -> Signed:
        body = json.dumps(
            {
                "event": "payment.paid",
                # A second delivery of the same news is a message of its own, signed anew
                # (as providers that deliver at least once do); a replay is the same bytes.
                "delivery": delivery,
                "txn_id": txn["txn_id"],
                "reference": txn["reference"],
                "amount": txn["amount"],
                "currency": txn["currency"],
                "paid_at": txn["paid_at"],
                "merchant_id": txn["merchant_id"],
            }
        ).encode()
        return self.deliveries.sign(body, secret, wrong_key=wrong_key)

    def _deliver_all(self, url, txn, secret, faults, wait_for, releases) -> None:
        try:
            if wait_for is not None:
                log.info("fault out_of_order: holding the callback of %s", txn["txn_id"])
                wait_for.wait()
            delay = faults.get("delay")
            if delay:
                time.sleep(float(delay))
            # Signed when sent, as a provider does: a held callback is late, not stale.
            callback = self._signed(txn, secret, wrong_key=bool(faults.get("bad_signature")))
            self._deliver(url, txn, callback, "original")
            if faults.get("duplicate"):
                again = self._signed(
                    txn, secret, wrong_key=bool(faults.get("bad_signature")), delivery=2
                )
                self._deliver(url, txn, again, "duplicate")
        finally:
            for event in releases:
                event.set()
        replay = faults.get("replay")
        if replay:
            time.sleep(1.0 if replay is True else float(replay))
            self._deliver(url, txn, callback, "replay")

    def _deliver(self, url: str | None, txn: dict, callback: Signed, kind: str) -> None:
        self.deliveries.deliver(url, callback, kind, {"txn_id": txn["txn_id"]})

    def callback_log(self, request: Request) -> Response:
        return json_response(200, {"callbacks": self.deliveries.entries()})

    # -- refunds

    def refund(self, request: Request) -> Response:
        data = request.json()
        refund_id = required_str(data, "refund_id")
        txn_id = required_str(data, "txn_id")
        amount = positive_int(data, "amount")
        asked = {"refund_id": refund_id, "txn_id": txn_id, "amount": amount}
        with self.lock:
            done = self.refunds.get(refund_id)
            if done is not None:
                if done.request != asked:
                    raise HttpError(409, f"refund {refund_id} was made with other details")
                return json_response(201, done.as_json())
            txn = self.txns.get(txn_id)
            if txn is None:
                raise HttpError(404, f"no transaction {txn_id}")
            refunded = sum(r.amount for r in self.refunds.values() if r.txn_id == txn_id)
            left = txn["amount"] - refunded
            if amount > left:
                raise HttpError(422, f"only {left} piastres of {txn_id} are left to refund")
            done = Refund(refund_id, txn_id, amount, iso(now_utc()), asked)
            self.refunds[refund_id] = done
        log.info("refunded %s: %s piastres of %s", refund_id, amount, txn_id)
        return json_response(201, done.as_json())

    # -- settlement

    def settlement(self, request: Request) -> Response:
        day = parse_day(request)
        start, end = (iso(moment) for moment in cairo_day_bounds(day))
        with self.lock:
            payments = [
                {**txn, "kind": "payment"}
                for txn in self.txns.values()
                if start <= txn["paid_at"] < end
            ]
            refunds = [
                {
                    "txn_id": refund.txn_id,
                    # The refund's row names it by our refund id, as a payment's row
                    # names it by our reference.
                    "reference": refund.refund_id,
                    "amount": -refund.amount,
                    "paid_at": refund.refunded_at,
                    "kind": "refund",
                }
                for refund in self.refunds.values()
                if start <= refund.refunded_at < end
            ]
        if self.faults.snapshot().get("settlement_mismatches"):
            payments = mismatched(payments, day)
        rows = sorted(payments + refunds, key=lambda row: (row["paid_at"], row["txn_id"]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["txn_id", "reference", "amount", "paid_at", "kind"])
        for row in rows:
            writer.writerow(
                [row[key] for key in ("txn_id", "reference", "amount", "paid_at", "kind")]
            )
        return text_response(200, out.getvalue(), "text/csv")


def mismatched(payments: list[dict], day) -> list[dict]:
    """Drop the first payment by txn_id, add 100 to the second, add a phantom one."""
    ordered = sorted(payments, key=lambda row: row["txn_id"])
    rows = ordered[1:]
    if rows:
        rows[0] = {**rows[0], "amount": rows[0]["amount"] + MISMATCH_DELTA}
    rows.append(
        {
            "txn_id": phantom_txn_id(day),
            "reference": "PHANTOM",
            "amount": PHANTOM_AMOUNT,
            "paid_at": iso(cairo_noon(day)),
            "kind": "payment",
        }
    )
    return rows


def phantom_txn_id(day) -> str:
    return f"WT{day:%Y%m%d}999999"


def main(argv: list[str] | None = None) -> None:
    parser = base_parser(
        "Mobile-wallet provider simulator", port_env="WALLET_SIM_PORT", default_port=8701
    )
    add_callback_arguments(parser, "WALLET_SIM", "wallet-sim-secret")
    parser.add_argument("--merchant-id", default=env("WALLET_SIM_MERCHANT_ID"))
    args = parser.parse_args(argv)
    app = WalletProvider(
        callback_url=args.callback_url,
        secret=args.secret,
        merchant_id=args.merchant_id,
        retries=args.callback_retries,
        backoff=args.callback_backoff,
    )
    serve(app, host=args.host, port=args.port, name="wallet-sim", log_level=args.log_level)


if __name__ == "__main__":
    main()
