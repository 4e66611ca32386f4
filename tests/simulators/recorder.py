"""A stand-in for the app's callback (webhook) view, and waiting for things to happen.

Shared by the simulators' tests: the wallet's callbacks and the agency's webhooks are
both POSTed to a ``Recorder``.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT = 20.0


def wait_until(condition, *, timeout: float = WAIT, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Recorder:
    """Records every POST it receives at ``url`` (path ``path``).

    Answers with the statuses in ``answers`` one by one, then 200. Each call is
    recorded with its path, lower-cased headers, body, arrival (``time.monotonic``)
    and the status it was answered.
    """

    def __init__(self, path: str = "/wallet/callback", noun: str = "calls"):
        self.received: list[dict] = []
        self.answers: list[int] = []
        self.noun = noun
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder._lock:
                    status = recorder.answers.pop(0) if recorder.answers else 200
                    recorder.received.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": time.monotonic(),
                            "answered": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self) -> list[dict]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[dict]:
        wait_until(lambda: len(self.calls()) >= count, timeout=timeout, what=f"{count} {self.noun}")
        return self.calls()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
