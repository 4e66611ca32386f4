"""HTTP plumbing shared by the simulators: a JSON handler, the command line, shutdown.

A simulator is an ``App`` whose ``handle`` maps a ``Request`` to a ``Response``;
``serve`` puts it behind a ``ThreadingHTTPServer`` with ``/health`` and stops
cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import sleep
from time import time as epoch_seconds
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

log = logging.getLogger("simulators")

CAIRO = ZoneInfo("Africa/Cairo")

MAX_BODY = 1_000_000


class HttpError(Exception):
    """Raised by a handler to answer ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> dict:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HttpError(400, "body must be a JSON object")
        return data


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data) -> Response:
    return Response(status, json.dumps(data).encode())


def text_response(status: int, text: str, content_type: str = "text/plain") -> Response:
    return Response(status, text.encode(), content_type=f"{content_type}; charset=utf-8")


Route = Callable[..., Response]


class App:
    """A simulator: a table of (method, path pattern) to handler.

    Patterns are regular expressions matched against the whole path; named
    groups become keyword arguments of the handler.
    """

    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Route]] = []
        self.route("GET", "/health", lambda request: json_response(200, {"ok": True}))

    def route(self, method: str, pattern: str, handler: Route) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def handle(self, request: Request) -> Response:
        allowed = []
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            try:
                return handler(request, **match.groupdict())
            except HttpError as exc:
                return json_response(exc.status, {"error": exc.message})
        if allowed:
            response = json_response(405, {"error": f"{request.method} not allowed"})
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return json_response(404, {"error": f"no such path: {request.path}"})


def _handler_class(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "Simulator/1"
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(json_response(413, {"error": "body too large"}))
                return
            body = self.rfile.read(length) if length else b""
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            request = Request(
                method=self.command,
                path=parts.path.rstrip("/") or "/",
                query=query,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
            try:
                response = app.handle(request)
            except Exception:
                log.exception("%s %s failed", self.command, self.path)
                response = json_response(500, {"error": "simulator error"})
            self._send(response)

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

        def log_message(self, format, *args):
            log.info("%s %s", self.address_string(), format % args)

    return Handler


def base_parser(description: str, *, port_env: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env(port_env, str(default_port))))
    parser.add_argument("--log-level", default=os.environ.get("SIM_LOG_LEVEL", "INFO"))
    return parser


def add_callback_arguments(parser: argparse.ArgumentParser, env_prefix: str, default_secret: str):
    """``--callback-url``, ``--secret``, ``--callback-retries``, ``--callback-backoff``.

    Each falls back on ``<env_prefix>_CALLBACK_URL``, ``_SECRET``, ``_CALLBACK_RETRIES``
    and ``_CALLBACK_BACKOFF``.
    """
    parser.add_argument("--callback-url", default=env(f"{env_prefix}_CALLBACK_URL"))
    parser.add_argument("--secret", default=env(f"{env_prefix}_SECRET", default_secret))
    parser.add_argument(
        "--callback-retries", type=int, default=int(env(f"{env_prefix}_CALLBACK_RETRIES", "5"))
    )
    parser.add_argument(
        "--callback-backoff",
        type=float,
        default=float(env(f"{env_prefix}_CALLBACK_BACKOFF", "0.5")),
    )


def serve(
    app: App,
    *,
    host: str,
    port: int,
    name: str,
    log_level: str = "INFO",
    handler_class: Callable[[App], type[BaseHTTPRequestHandler]] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then finish the requests under way.

    ``handler_class(app)`` makes the request handler (``_handler_class`` by default);
    ``on_stop()`` is called first thing on the signal, to let go of held requests.
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=log_level.upper(),
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
    )
    server = ThreadingHTTPServer((host, port), (handler_class or _handler_class)(app))
    server.daemon_threads = True

    def stop(signum, frame):
        log.info("signal %s: shutting down", signum)
        if on_stop is not None:
            on_stop()
        # shutdown() waits for serve_forever() to return, which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("listening on http://%s:%s", *server.server_address[:2])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        log.info("stopped")


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_day(request: Request) -> date:
    raw = request.query.get("day")
    if not raw:
        raise HttpError(400, "day is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HttpError(400, f"day is not YYYY-MM-DD: {raw!r}") from None


def cairo_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and ends in Cairo (end excluded)."""
    start = datetime.combine(day, time(0), tzinfo=CAIRO)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=CAIRO)
    return start.astimezone(UTC), end.astimezone(UTC)


def cairo_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=CAIRO).astimezone(UTC)


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def positive_int(data: dict, key: str) -> int:
    value = data.get(key)
    # bool is an int to Python, not to the provider.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise HttpError(400, f"{key} must be a positive integer (piastres)")
    return value


def required_str(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"{key} is required")
    return value


class Faults:
    """The fault switches set by ``POST /v1/faults``, cleared by ``DELETE``."""

    def __init__(self, known: set[str], lock: threading.Lock):
        self.known = known
        self._lock = lock
        self._active: dict = {}

    def validate(self, data) -> dict:
        if not isinstance(data, dict):
            raise HttpError(400, "faults must be a JSON object")
        unknown = sorted(set(data) - self.known)
        if unknown:
            raise HttpError(400, f"unknown faults: {', '.join(unknown)}")
        for name, value in data.items():
            # A number of seconds (delay, replay, slow_status) or a switch; never a string,
            # which would only fail later, in a thread nobody watches.
            if not isinstance(value, bool | int | float | None) or (
                not isinstance(value, bool) and value is not None and value < 0
            ):
                raise HttpError(400, f"fault {name} must be true, false or a number of seconds")
        return dict(data)

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._active)

    def install(self, app: App) -> None:
        app.route("GET", "/v1/faults", lambda request: json_response(200, self.snapshot()))
        app.route("POST", "/v1/faults", self._set)
        app.route("DELETE", "/v1/faults", self._clear)

    def _set(self, request: Request) -> Response:
        data = self.validate(request.json())
        with self._lock:
            self._active.update(data)
            # A fault set to false or null is switched off.
            self._active = {key: value for key, value in self._active.items() if value}
            active = dict(self._active)
        log.info("faults now %s", active)
        return json_response(200, active)

    def _clear(self, request: Request) -> Response:
        with self._lock:
            self._active = {}
        log.info("faults cleared")
        return json_response(200, {})


@dataclass
class Signed:
    """A signed message: the exact bytes and headers, sent as many times as a fault asks."""

    body: bytes
    headers: dict[str, str]


class Deliveries:
    """Signed callbacks (webhooks) POSTed with retries, and the log of every attempt.

    The signature is the hex HMAC-SHA256 of ``timestamp + "." + body``, in the headers
    ``X-<prefix>-Timestamp`` and ``X-<prefix>-Signature``. A delivery is one attempt and
    up to ``retries`` more, ``backoff`` seconds apart, doubling, on network errors, 5xx,
    409 and 429. With ``stopping``, the pauses end (and are no longer taken) once it is set.
    """

    def __init__(
        self,
        *,
        prefix: str,
        noun: str,
        retries: int,
        backoff: float,
        lock: threading.Lock,
        stopping: threading.Event | None = None,
        timeout: float = 5.0,
        logger: logging.Logger = log,
    ):
        self.prefix = prefix
        self.logger = logger
        self.noun = noun
        self.retries = retries
        self.backoff = backoff
        self.stopping = stopping
        self.timeout = timeout
        self._lock = lock
        self.log: list[dict] = []

    def sign(self, body: bytes, secret: str, *, wrong_key: bool = False) -> Signed:
        timestamp = str(int(epoch_seconds()))
        key = (secret + "-not-the-key" if wrong_key else secret).encode()
        signature = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            f"X-{self.prefix}-Timestamp": timestamp,
            f"X-{self.prefix}-Signature": signature,
        }
        return Signed(body, headers)

    def deliver(self, url: str | None, message: Signed, kind: str, fields: dict) -> None:
        """POST ``message``; each attempt is logged as ``fields`` plus its outcome."""
        ident = next(iter(fields.values()), "")
        pause = self.backoff
        for attempt in range(1, self.retries + 2):
            status, error = self.post(url, message)
            with self._lock:
                self.log.append(
                    {
                        **fields,
                        "kind": kind,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "at": iso(now_utc()),
                    }
                )
            self.logger.info(
                "%s %s %s attempt %s: %s", self.noun, ident, kind, attempt, status or error
            )
            if url is None or (status is not None and 200 <= status < 300):
                return
            if status is not None and 400 <= status < 500 and status not in (409, 429):
                return
            if attempt <= self.retries and not (
                self.stopping is not None and self.stopping.is_set()
            ):
                if self.stopping is None:
                    sleep(pause)
                else:
                    self.stopping.wait(pause)
                pause *= 2

    def post(self, url: str | None, message: Signed) -> tuple[int | None, str | None]:
        if url is None:
            return None, "no callback url configured"
        request = urllib.request.Request(
            url, data=message.body, headers=message.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError) as exc:
            return None, str(getattr(exc, "reason", exc))

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self.log)
