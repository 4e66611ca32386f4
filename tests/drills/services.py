"""The drills' own PostgreSQL cluster, Redis server and daphne, each free to kill.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379):
every service runs from a temporary folder on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.bench.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PASSWORD = "drill-demo-pass"


def missing_binaries() -> str | None:
    """Why the drills cannot run here, or None."""
    for binary in (PG_BIN / "initdb", PG_BIN / "pg_ctl", Path(REDIS_SERVER)):
        if not binary.exists():
            return f"{binary} is missing (PostgreSQL 15 server and redis-server are needed)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb must run as the postgres user"
    return None


class Postgres:
    """A throw-away cluster: initdb in a temp folder, pg_ctl start/stop on a free port."""

    def __init__(self) -> None:
        # Under /tmp itself (not pytest's 0700 folder): the postgres user must reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="drill-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root.
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "drill")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/drill"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=60 -c shared_buffers=32MB"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already down
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """redis-server in the foreground as a child process; stop() and start() on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.folder / f"redis-{self.port}.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    close = stop


class App:
    """The app under test on its own database and Redis: migrate, seed, serve with daphne.

    The port stays the same across restarts, as behind a load balancer, so the
    clients keep their base URL and cookies.
    """

    def __init__(
        self, *, database_url: str, redis_url: str, folder: Path, env: dict[str, str]
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))
        }
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "DJANGO_DEBUG": "1",
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.manage("migrate", "-v0")
        self.manage("seed_demo", "--password", PASSWORD)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            check=check,
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        self.starts += 1
        log = open(self.folder / f"daphne-{self.starts}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (503 while Redis or the database is down)
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"daphne did not start; see {self.folder}") from None
                time.sleep(0.1)

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def ledger_verify(self) -> subprocess.CompletedProcess:
        return self.manage("ledger_verify", check=False)
