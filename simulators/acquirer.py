"""The card terminal and its acquiring bank.

Run: ``python -m simulators.acquirer --port 8702`` (or ACQUIRER_SIM_PORT).

- ``POST /v1/authorizations`` {"terminal_id", "amount", "card_last4"}: what the terminal
  does when a card is tapped; 201 with the approval code its screen shows the agent.
- ``GET /v1/settlement?day=YYYY-MM-DD``: the bank's CSV of the day's authorizations
  (Cairo days), sorted by time.
- ``POST|DELETE /v1/faults``: ``settlement_mismatches`` drops the first authorization
  by approval code, adds 100 to the second and adds a phantom ``ZZ9999`` of 5000 at noon
  (on the first one's terminal, or ``T-PHANTOM`` on a day without any).
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import re
import secrets
import string
import threading

from simulators.common import (
    App,
    Faults,
    HttpError,
    Request,
    Response,
    base_parser,
    cairo_day_bounds,
    cairo_noon,
    iso,
    json_response,
    now_utc,
    parse_day,
    positive_int,
    required_str,
    serve,
    text_response,
)

log = logging.getLogger("simulators.acquirer")

CODE_ALPHABET = string.ascii_uppercase + string.digits
PHANTOM_CODE = "ZZ9999"
PHANTOM_AMOUNT = 5000
MISMATCH_DELTA = 100
COLUMNS = ("approval_code", "terminal_id", "card_last4", "amount", "authorized_at")


class Acquirer(App):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.faults = Faults({"settlement_mismatches"}, self.lock)
        self.authorizations: dict[str, dict] = {}
        self._auth_numbers = itertools.count(1)
        self.faults.install(self)
        self.route("POST", "/v1/authorizations", self.authorize)
        self.route("GET", "/v1/settlement", self.settlement)

    def authorize(self, request: Request) -> Response:
        data = request.json()
        terminal_id = required_str(data, "terminal_id")
        amount = positive_int(data, "amount")
        card_last4 = data.get("card_last4")
        if not isinstance(card_last4, str) or not re.fullmatch(r"\d{4}", card_last4):
            raise HttpError(400, "card_last4 must be 4 digits")
        with self.lock:
            code = self._new_code()
            authorization = {
                "approval_code": code,
                "auth_id": f"AU{next(self._auth_numbers):012d}",
                "terminal_id": terminal_id,
                "amount": amount,
                "card_last4": card_last4,
                "authorized_at": iso(now_utc()),
            }
            self.authorizations[code] = authorization
        log.info("approved %s: %s piastres on %s", code, amount, terminal_id)
        return json_response(201, authorization)

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
            if code != PHANTOM_CODE and code not in self.authorizations:
                return code

    def settlement(self, request: Request) -> Response:
        day = parse_day(request)
        start, end = (iso(moment) for moment in cairo_day_bounds(day))
        with self.lock:
            rows = [
                dict(row)
                for row in self.authorizations.values()
                if start <= row["authorized_at"] < end
            ]
        if self.faults.snapshot().get("settlement_mismatches"):
            rows = mismatched(rows, day)
        rows.sort(key=lambda row: (row["authorized_at"], row["approval_code"]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row[column] for column in COLUMNS])
        return text_response(200, out.getvalue(), "text/csv")


def mismatched(rows: list[dict], day) -> list[dict]:
    """Drop the first authorization by code, add 100 to the second, add a phantom one."""
    ordered = sorted(rows, key=lambda row: row["approval_code"])
    terminal_id = ordered[0]["terminal_id"] if ordered else "T-PHANTOM"
    kept = ordered[1:]
    if kept:
        kept[0] = {**kept[0], "amount": kept[0]["amount"] + MISMATCH_DELTA}
    kept.append(
        {
            "approval_code": PHANTOM_CODE,
            "terminal_id": terminal_id,
            "card_last4": "0000",
            "amount": PHANTOM_AMOUNT,
            "authorized_at": iso(cairo_noon(day)),
        }
    )
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("Card acquirer simulator", port_env="ACQUIRER_SIM_PORT", default_port=8702)
    args = parser.parse_args(argv)
    serve(Acquirer(), host=args.host, port=args.port, name="acquirer-sim", log_level=args.log_level)


if __name__ == "__main__":
    main()
