"""A scripted agency: a stdlib HTTP server on a free port whose answers each test writes.

``agency.script(*steps)`` queues what the next requests get, one step a request, the last
step repeating; ``agency.requests`` is what came in. Steps: ``answer(status, data)``,
``raw(status, body)``, ``slow(seconds, step)``, ``drop()`` (read the request, close the
connection without a word), ``trickle(seconds)`` (an answer sent a byte at a time).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.utils.translation import override


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


Step = Callable[[BaseHTTPRequestHandler, "Agency"], None]


def raw(status: int, body: bytes) -> Step:
    def step(handler, agency):
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return step


def answer(status: int, data=None) -> Step:
    return raw(status, json.dumps({} if data is None else data).encode())


def slow(seconds: float, then: Step | None = None) -> Step:
    def step(handler, agency):
        # Woken at teardown, so no thread outlives its test by long.
        if agency.released.wait(seconds):
            return
        (then or answer(200))(handler, agency)

    return step


def drop() -> Step:
    def step(handler, agency):
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return step


def trickle(seconds: float) -> Step:
    """Headers at once, then a byte of body every 0.1 s for ``seconds``."""

    def step(handler, agency):
        body = b" " * int(seconds * 10) + b"{}"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for byte in body:
            if agency.released.wait(0.1):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return step


class Agency:
    def __init__(self):
        self.requests: list[Seen] = []
        self.steps: list[Step] = [answer(200)]
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.url = ""

    def script(self, *steps: Step) -> None:
        self.steps = list(steps)

    def next_step(self, seen: Seen) -> Step:
        with self.lock:
            self.requests.append(seen)
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        agency: Agency = self.server.agency
        seen = Seen(self.command, self.path, dict(self.headers.items()), body)
        with contextlib.suppress(OSError):  # the client gave up (a timeout under test)
            agency.next_step(seen)(self, agency)
        self.close_connection = True

    do_GET = do_POST = _serve

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a connection the test cut on purpose


@pytest.fixture
def agency():
    server = _Server(("127.0.0.1", 0), _Handler)
    server.agency = Agency()
    server.agency.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.agency
    server.agency.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url():
    """The URL of a port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _fresh_breakers():
    # The breakers live in the cache, which outlives a test (locmem is per process).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _in_english():
    """The messages are read here in English (the app's first language is Arabic)."""
    with override("en"):
        yield
