"""The ways of serving the app that the load bench compares, each started on loopback.

- `daphne`: one daphne process for HTTP and websockets (what `make run` uses).
- `gunicorn`: N gunicorn sync workers (config/wsgi.py) for HTTP, one daphne for
  the websockets. In production a proxy routes /ws/ to daphne; here the bench
  connects the dashboards to daphne's port directly.
- `uvicorn`: N uvicorn worker processes serving the ASGI app (HTTP and websockets).
- `granian`: N granian worker processes (Rust HTTP, the WSGI app, one blocking
  thread each) for HTTP, one daphne for the websockets, as with gunicorn.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("daphne", "gunicorn", "uvicorn", "granian")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One key for every process of a run: sessions made by one are valid in the others.
SECRET_KEY = secrets.token_urlsafe(40)


def server_env(pool_max: int) -> dict[str, str]:
    """Production settings on loopback: debug off, no TLS (the bench speaks plain HTTP)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DASHBOARD_PUSHES": "1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_HSTS_SECONDS": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_POOL_MIN_SIZE": "1",
            "DATABASE_POOL_MAX_SIZE": str(pool_max),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Servers:
    """Start one configuration; `http` and `ws` are its base URLs; stop() ends every process."""

    kind: str
    workers: int
    log_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    http: str = ""
    ws: str = ""

    def start(self) -> Servers:
        if self.kind not in KINDS:
            raise ValueError(f"unknown server {self.kind!r}; one of {', '.join(KINDS)}")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        port = free_port()
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"
        daphne = [python, "-m", "daphne", "-b", "127.0.0.1", "config.asgi:application"]
        if self.kind == "daphne":
            self._spawn("daphne", [*daphne[:5], "-p", str(port), daphne[5]], pool_max=20)
        elif self.kind == "gunicorn":
            self._spawn(
                "gunicorn",
                [
                    python,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(self.workers),
                    "--worker-class",
                    "sync",
                    "--keep-alive",
                    "5",
                    "--backlog",
                    "2048",
                ],
                pool_max=2,
            )
            ws_port = free_port()
            self.ws = f"ws://127.0.0.1:{ws_port}"
            self._spawn("daphne", [*daphne[:5], "-p", str(ws_port), daphne[5]], pool_max=4)
        elif self.kind == "granian":
            self._spawn(
                "granian",
                [
                    python,
                    "-m",
                    "granian",
                    "config.wsgi:application",
                    "--interface",
                    "wsgi",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(self.workers),
                    "--blocking-threads",
                    "1",
                    "--backlog",
                    "2048",
                    "--no-log",
                ],
                pool_max=2,
            )
            ws_port = free_port()
            self.ws = f"ws://127.0.0.1:{ws_port}"
            self._spawn("daphne", [*daphne[:5], "-p", str(ws_port), daphne[5]], pool_max=4)
        else:
            self._spawn(
                "uvicorn",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(self.workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--backlog",
                    "2048",
                ],
                pool_max=20,
            )
        self._wait(self.http)
        if self.ws.replace("ws://", "http://") != self.http:
            self._wait(self.ws.replace("ws://", "http://"))
        return self

    def _spawn(self, name: str, argv: list[str], *, pool_max: int) -> None:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.processes.append(
            subprocess.Popen(
                argv,
                cwd=ROOT,
                env=server_env(pool_max),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def _wait(self, base: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start; see {self.log_dir}")

    def pids(self) -> list[int]:
        """Every process of the server, workers included."""
        found = []
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                found += [parent.pid, *(c.pid for c in parent.children(recursive=True))]
            except psutil.NoSuchProcess:
                continue
        return found

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
