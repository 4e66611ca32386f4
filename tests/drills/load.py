"""The drills' load client: agents posting cash payments over HTTP, as the counter screen does.

Each agent logs in for real and posts the payment form's confirm step (CSRF
token, reference field, cash tendered, an idempotency key of its own). A
payment whose outcome the client did not see (no response, an error page) is
kept and re-sent later with the same key and the same form content.
"""

from __future__ import annotations

import html
import http.client
import http.cookiejar
import itertools
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg

SERVICE = "LA-106"  # certified copy of a licence: 24 EGP, one reference field
CITIZEN_NATIONAL_ID = "28503150123451"  # a demo citizen


class NoResponse(Exception):
    """The request got no HTTP answer: refused, reset, or timed out."""


@dataclass
class Response:
    status: int
    location: str
    body: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer: the payment's receipt is where it points


class Client:
    """One browser: cookies, CSRF header, no redirects followed."""

    def __init__(self, base: str, *, timeout: float = 20) -> None:
        self.base = base
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects()
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def request(self, path: str, data: dict[str, str] | None = None) -> Response:
        headers = {}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers = {"X-CSRFToken": self.cookie("csrftoken") or "", "Referer": self.base + path}
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                text = response.read().decode(errors="replace")
                return Response(response.status, response.headers.get("Location", ""), text)
        except urllib.error.HTTPError as error:
            try:
                text = error.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                text = ""
            return Response(error.code, error.headers.get("Location", ""), text)
        except (OSError, http.client.HTTPException) as error:
            raise NoResponse(f"{type(error).__name__}: {error}") from error

    def login(self, username: str, password: str) -> None:
        self.request("/accounts/login/")
        answer = self.request("/accounts/login/", {"username": username, "password": password})
        assert answer.status == 302 and self.cookie("sessionid"), f"login failed for {username}"


def first_match(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return match.group(1)


def open_till(base: str, *, agent: str, supervisor: str, password: str, amount: str) -> None:
    """Open `agent`'s till through the screens: the agent asks, the supervisor approves."""
    asking = Client(base)
    asking.login(agent, password)
    page = asking.request("/float/session/").body
    counter = first_match(r'(?s)name="counter".*?<option value="(\d+)"', page)
    key = first_match(r'name="idempotency_key" value="([0-9a-f]{32})"', page)
    answer = asking.request(
        "/float/session/open/", {"counter": counter, "amount": amount, "idempotency_key": key}
    )
    assert answer.status == 302, f"opening float request refused ({answer.status})"
    approving = Client(base)
    approving.login(supervisor, password)
    pending = first_match(
        r"/float/requests/(\d+)/decide/", approving.request("/float/branch/").body
    )
    answer = approving.request(f"/float/requests/{pending}/decide/", {"decision": "approve"})
    assert answer.status == 302, f"approval refused ({answer.status})"
    assert "/float/session/close/" in asking.request("/float/session/").body, "till not open"


def _receipt_of(answer: Response) -> str | None:
    """The receipt a confirming POST answered with: its page (posted and printed now), or
    a 302 to it (a re-send, whose original was printed the first time)."""
    if answer.status == 302 and "/receipts/" in answer.location:
        return first_match(r"/receipts/([0-9]+)/", answer.location)
    if answer.status == 200 and 'data-page="/receipts/' in answer.body:
        return first_match(r'data-page="/receipts/([0-9]+)/"', answer.body)
    return None


# Outcomes of one POST.
OK = "ok"  # the receipt page, or a 302 to it
ERROR_PAGE = "error page"  # 5xx: an error page, the payment must not be half-posted
NO_RESPONSE = "no response"  # refused, reset, timed out: outcome unknown
REFUSED = "refused"  # 200 with the form's error, 4xx: a domain refusal (unexpected here)


@dataclass
class Attempt:
    outcome: str
    phase: str
    status: int | None = None
    detail: str = ""
    at: float = field(default_factory=time.monotonic)  # when the answer (or none) came


@dataclass
class Payment:
    agent: str
    key: str
    licence: str
    data: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    reference: str | None = None

    @property
    def done(self) -> bool:
        return self.reference is not None


class PaymentLoad:
    """One thread per agent posting cash payments until stopped."""

    def __init__(self, base: str, agents: list[str], password: str) -> None:
        self.base = base
        self.clients = {}
        for agent in agents:
            client = Client(base)
            client.login(agent, password)
            self.clients[agent] = client
        # Each agent finds the citizen: a link to a citizen carries a token signed for
        # the agent who searched, which opens nothing for another agent.
        self.citizens = {}
        for agent, client in self.clients.items():
            found = client.request(f"/counter/citizens/search/?q={CITIZEN_NATIONAL_ID}").body
            self.citizens[agent] = first_match(r"/counter/citizens/([\w-]+:[\w:-]+)/", found)
        first = next(iter(self.clients))
        form = self.clients[first].request(self.path(first)).body
        assert 'name="ref_licence_no"' in form, "the payment form changed: no licence field"
        self.payments: list[Payment] = []
        self.phase = "before"
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._threads: list[threading.Thread] = []

    def path(self, agent: str) -> str:
        return f"/counter/pay/{SERVICE}/?citizen={self.citizens[agent]}"

    def new_payment(self, agent: str) -> Payment:
        with self._lock:
            number = next(self._numbers)
        # The licence number is unique per payment: a duplicate shows up in the database
        # by its content, independently of the idempotency records.
        licence = f"{number}/2026"
        # The key the form would carry (uuid4 hex, made when it is rendered).
        key = uuid.uuid4().hex
        data = {
            "ref_licence_no": licence,
            "tendered": "50",
            "method": "cash",
            "citizen": self.citizens[agent],
            "idempotency_key": key,
            "confirm": "1",
        }
        payment = Payment(agent=agent, key=key, licence=licence, data=data)
        with self._lock:
            self.payments.append(payment)
        return payment

    def post(self, payment: Payment) -> Attempt:
        phase = self.phase
        try:
            answer = self.clients[payment.agent].request(self.path(payment.agent), payment.data)
        except NoResponse as error:
            attempt = Attempt(NO_RESPONSE, phase, detail=str(error))
        else:
            reference = _receipt_of(answer)
            if reference is not None:
                attempt = Attempt(OK, phase, answer.status)
                assert payment.reference in (None, reference), "a re-send gave another receipt"
                payment.reference = reference
            elif answer.status >= 500:
                # The app runs with DEBUG on here: the error page names the exception.
                error = re.search(r'class="exception_value">([^<]*)<', answer.body)
                detail = html.unescape(error.group(1)) if error else answer.body[:200]
                attempt = Attempt(ERROR_PAGE, phase, answer.status, detail)
            else:
                error = re.search(r'class="errorlist[^"]*"[^>]*>\s*<li>([^<]*)', answer.body)
                detail = error.group(1) if error else answer.body[:200]
                attempt = Attempt(REFUSED, phase, answer.status, detail)
        payment.attempts.append(attempt)
        return attempt

    def _work(self, agent: str) -> None:
        while not self._stop.is_set():
            self._running.wait()
            attempt = self.post(self.new_payment(agent))
            if attempt.outcome != OK:
                time.sleep(0.2)  # as a person would, before the next citizen

    def start(self) -> None:
        for agent in self.clients:
            thread = threading.Thread(
                target=self._work, args=(agent,), name=f"load-{agent}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def pause(self) -> None:
        """No new payments (those under way finish): the app's pool goes idle."""
        self._running.clear()
        time.sleep(1)

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def pending(self) -> list[Payment]:
        return [p for p in self.payments if not p.done]

    def resend(self, *, within: float = 30) -> int:
        """Re-send every payment without a seen outcome, same key and form, until each is done.

        Returns the number of re-send requests.
        """
        self.phase = "re-send"
        requests = 0
        deadline = time.monotonic() + within
        while self.pending() and time.monotonic() < deadline:
            for payment in self.pending():
                self.post(payment)
                requests += 1
            if self.pending():
                time.sleep(0.5)
        return requests

    def outcomes(self, phase: str | None = None) -> Counter:
        return Counter(
            a.outcome for p in self.payments for a in p.attempts if phase in (None, a.phase)
        )


@dataclass
class Books:
    """What the database holds for the payments the client sent."""

    posted_by_key: dict[str, str]  # idempotency key → payment reference
    payments_by_licence: Counter
    references_by_licence: dict[str, set[str]]
    broken: list[str]  # payments without a whole transfer, transfers without a payment, ...


def read_books(database_url: str, payments: list[Payment]) -> Books:
    keys = [p.key for p in payments]
    licences = [p.licence for p in payments]
    with psycopg.connect(database_url, autocommit=True) as conn:
        posted = dict(
            conn.execute(
                """
                SELECT r.key, p.reference FROM float_management_idempotencyrecord r
                LEFT JOIN counter_payment p ON p.id = r.result_id
                WHERE r.action = 'payment_cash' AND r.key = ANY(%s)
                """,
                [keys],
            ).fetchall()
        )
        rows = conn.execute(
            """
            SELECT p.references->>'licence_no', p.reference FROM counter_payment p
            WHERE p.references->>'licence_no' = ANY(%s)
            """,
            [licences],
        ).fetchall()
        broken = [
            f"idempotency key {key} has no payment" for key, ref in posted.items() if ref is None
        ]
        broken += [
            f"payment {ref}: transfer of kind {kind} with {n} entries summing to {total}"
            for ref, kind, n, total in conn.execute(
                """
                SELECT p.reference, t.kind, count(e.id), coalesce(sum(e.amount), 0)
                FROM counter_payment p
                JOIN float_management_transfer t ON t.id = p.transfer_id
                LEFT JOIN float_management_entry e ON e.transfer_id = t.id
                GROUP BY p.reference, t.kind
                HAVING t.kind <> 'payment' OR count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
                """
            ).fetchall()
        ]
        broken += [
            f"payment transfer #{pk} has no payment"
            for (pk,) in conn.execute(
                """
                SELECT t.id FROM float_management_transfer t
                WHERE t.kind = 'payment'
                  AND NOT EXISTS (SELECT 1 FROM counter_payment p WHERE p.transfer_id = t.id)
                """
            ).fetchall()
        ]
        broken += [
            f"payment {ref} has {lines} fee lines summing to {total} of {expected}"
            for ref, lines, total, expected in conn.execute(
                """
                SELECT p.reference, count(l.id), coalesce(sum(l.amount), 0), p.total
                FROM counter_payment p LEFT JOIN counter_paymentline l ON l.payment_id = p.id
                GROUP BY p.id HAVING count(l.id) = 0 OR coalesce(sum(l.amount), 0) <> p.total
                """
            ).fetchall()
        ]
    by_licence: dict[str, set[str]] = {}
    for licence, reference in rows:
        by_licence.setdefault(licence, set()).add(reference)
    return Books(
        posted_by_key={k: v for k, v in posted.items() if v is not None},
        payments_by_licence=Counter(licence for licence, _ in rows),
        references_by_licence=by_licence,
        broken=broken,
    )


@dataclass
class Tally:
    """The counts each drill prints and asserts."""

    title: str
    rows: dict[str, int | str] = field(default_factory=dict)

    def table(self) -> str:
        width = max(len(k) for k in self.rows)
        lines = [f"== {self.title} =="]
        lines += [f"  {name.ljust(width)}  {value}" for name, value in self.rows.items()]
        return "\n".join(lines)


def tally(
    title: str,
    load: PaymentLoad,
    *,
    posted_before_resend: set[str],
    resend_requests: int,
    books: Books,
    extra: dict[str, int | str] | None = None,
) -> Tally:
    """Count the drill: what the client saw against what the database holds.

    `posted_before_resend` are the keys found in the database before the
    re-send, so a failed attempt can be told apart: nothing posted (failed
    cleanly) or posted with the answer lost (kill -9, a crash after commit).
    """
    payments = load.payments
    attempts = [a for p in payments for a in p.attempts]
    unseen = [p for p in payments if p.attempts[0].outcome != OK]
    lost = [p for p in payments if p.key not in books.posted_by_key or not p.done]
    lost += [p for p in payments if p.done and books.posted_by_key.get(p.key) != p.reference]
    duplicated = sum(n - 1 for n in books.payments_by_licence.values() if n > 1)
    outcomes = Counter(a.outcome for a in attempts)
    rows: dict[str, int | str] = {
        "payments sent (keys)": len(payments),
        "requests sent": len(attempts),
        "succeeded at once": sum(1 for p in payments if p.attempts[0].outcome == OK),
        "first try without a seen outcome": len(unseen),
        "  error page (5xx)": sum(1 for p in unseen if p.attempts[0].outcome == ERROR_PAGE),
        "  no response": sum(1 for p in unseen if p.attempts[0].outcome == NO_RESPONSE),
        "    of which cut in flight (not refused)": sum(
            1
            for p in unseen
            if p.attempts[0].outcome == NO_RESPONSE
            and "ConnectionRefused" not in p.attempts[0].detail
            and "Connection refused" not in p.attempts[0].detail
        ),
        "  refused by the form": sum(1 for p in unseen if p.attempts[0].outcome == REFUSED),
        "failed cleanly (nothing posted)": sum(
            1 for p in unseen if p.key not in posted_before_resend
        ),
        "posted, answer lost": sum(1 for p in unseen if p.key in posted_before_resend),
        "retried (payments re-sent)": sum(1 for p in payments if len(p.attempts) > 1),
        "re-send requests": resend_requests,
        "all attempts: ok / 5xx / no response / refused": " / ".join(
            str(outcomes[o]) for o in (OK, ERROR_PAGE, NO_RESPONSE, REFUSED)
        ),
        "payments in the database": sum(books.payments_by_licence.values()),
        "lost": len(lost),
        "duplicated": duplicated,
        "broken (half-posted)": len(books.broken),
    }
    rows.update(extra or {})
    return Tally(title, rows)
