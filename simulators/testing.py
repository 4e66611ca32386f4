"""Start a simulator as a real process, for tests and the dev launcher.

    with start("wallet", callback_url=url, secret="s") as wallet:
        wallet.post("/v1/payments", {"qr": qr, "wallet": "01000000000"})

Keyword options become command-line flags (``callback_url`` -> ``--callback-url``).
Only the standard library, so it runs wherever the simulators do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 10.0


class SimulatorError(RuntimeError):
    pass


@dataclass
class SimResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self):
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Simulator:
    """A running simulator process; ``stop()`` (or leaving the ``with``) ends it."""

    def __init__(self, kind: str, process: subprocess.Popen, port: int, stderr_file):
        self.kind = kind
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._stderr = stderr_file
        self._stderr_text = ""

    def request(self, method: str, path: str, data=None, *, timeout=REQUEST_TIMEOUT):
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json"} if body is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return SimResponse(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return SimResponse(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, **kwargs) -> SimResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs) -> SimResponse:
        return self.request("POST", path, {} if json is None else json, **kwargs)

    def delete(self, path: str, **kwargs) -> SimResponse:
        return self.request("DELETE", path, **kwargs)

    def stderr(self) -> str:
        """What the simulator has logged so far (all of it, once stopped)."""
        if self._stderr.closed:
            return self._stderr_text
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._stderr.closed:
            self._stderr_text = self.stderr()
            self._stderr.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Simulator {self.kind} at {self.url}>"


def _flags(options: dict) -> list[str]:
    flags = []
    for key, value in options.items():
        if value is None:
            continue
        flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


def start(kind: str, *, timeout: float = START_TIMEOUT, **options) -> Simulator:
    """Run ``python -m simulators.<kind>`` on a free loopback port; return once it is healthy."""
    # Another process may take the free port before the simulator binds it: try again then.
    for _ in range(3):
        simulator = _spawn(kind, options)
        if _wait_healthy(simulator, timeout):
            return simulator
        if simulator.is_running():
            output = simulator.stderr()
            simulator.stop()
            raise SimulatorError(f"{kind} simulator not healthy after {timeout}s:\n{output}")
        output = simulator.stderr()
        simulator.stop()
        if "Address already in use" not in output:
            break
    raise SimulatorError(f"{kind} simulator exited with {simulator.process.returncode}:\n{output}")


def _spawn(kind: str, options: dict) -> Simulator:
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    # Closed by Simulator.stop(); a file, not a pipe, so a chatty simulator never blocks.
    stderr_file = tempfile.TemporaryFile()  # noqa: SIM115
    command = [sys.executable, "-m", f"simulators.{kind}", "--port", str(port)]
    process = subprocess.Popen(
        command + _flags(options),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr_file,
    )
    return Simulator(kind, process, port, stderr_file)


def _wait_healthy(simulator: Simulator, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not simulator.is_running():
            return False
        try:
            if simulator.get("/health", timeout=1.0).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False
