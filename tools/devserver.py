"""`make run`: everything the app needs on one laptop, from one command.

In order: the database migrated; the simulators of the wallet provider, the card
acquirer and two agencies' own systems (electricity, asked what is due first; the
local administration, whose requests push their status back) as real processes on
free loopback ports; the demo data (its wallet, bank-card and electricity payments go
through those simulators); then the workers and daphne. Their output is interleaved
here, each line named by its process. Ctrl-C (or any process ending) stops them all.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tools.bench.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Agencies whose own systems the demo plays (agencies/demo.py): their codes in the catalog.
AGENCY_SIMULATORS = ("ELEC", "LOCAL")


def _pump(name: str, stream) -> None:  # noqa: ANN001
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>9} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def _start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    threading.Thread(target=_pump, args=(name, process.stdout), daemon=True).start()
    return process


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {seconds:.0f} s")


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    options = parser.parse_args()

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("WALLET_PROVIDER_SECRET", "wallet-simulator-laptop-only-secret")
    wallet_port, acquirer_port = free_port(), free_port()
    env["WALLET_PROVIDER_URL"] = f"http://127.0.0.1:{wallet_port}"
    env["ACQUIRER_URL"] = f"http://127.0.0.1:{acquirer_port}"
    app = f"http://{options.host}:{options.port}"
    # The agencies' systems: each its simulator, its port, its secret for the webhooks.
    agencies = {code: free_port() for code in AGENCY_SIMULATORS}
    env.setdefault(
        "AGENCY_SYSTEMS_JSON",
        json.dumps(
            {
                code: {"url": f"http://127.0.0.1:{port}", "secret": f"{code}-laptop-only-secret"}
                for code, port in agencies.items()
            }
        ),
    )
    systems = json.loads(env["AGENCY_SYSTEMS_JSON"])

    _manage("migrate", "--noinput", env=env)
    processes: list[subprocess.Popen] = []

    def stop_all(*_args: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(0)))
    try:
        wallet = _start(
            "wallet",
            [
                PYTHON,
                "-m",
                "simulators.wallet",
                "--port",
                str(wallet_port),
                "--callback-url",
                f"{app}/wallet/callback/",
                "--secret",
                env["WALLET_PROVIDER_SECRET"],
            ],
            env,
        )
        processes.append(wallet)
        acquirer = _start(
            "acquirer",
            [PYTHON, "-m", "simulators.acquirer", "--port", str(acquirer_port)],
            env,
        )
        processes.append(acquirer)
        for code, port in agencies.items():
            agency = _start(
                code.lower(),
                [
                    PYTHON,
                    "-m",
                    "simulators.agency",
                    "--port",
                    str(port),
                    "--agency",
                    code,
                    "--callback-url",
                    f"{app}/agencies/webhook/{code}/status/",
                    "--secret",
                    systems.get(code, {}).get("secret", ""),
                    "--state",
                    str(ROOT / f".agency-{code}.json"),
                ],
                env,
            )
            processes.append(agency)
            _wait_healthy(f"http://127.0.0.1:{port}/health", agency)
        _wait_healthy(f"{env['WALLET_PROVIDER_URL']}/health", wallet)
        _wait_healthy(f"{env['ACQUIRER_URL']}/health", acquirer)
        _manage("seed_demo", env=env)
        processes.append(_start("worker", [PYTHON, "manage.py", "wallet_worker"], env))
        processes.append(_start("outbox", [PYTHON, "manage.py", "agency_worker"], env))
        web = _start(
            "daphne",
            [
                PYTHON,
                "-m",
                "daphne",
                "-b",
                options.host,
                "-p",
                str(options.port),
                "config.asgi:application",
            ],
            env,
        )
        processes.append(web)
        _wait_healthy(f"{app}/healthz", web)
        print(
            f"\nThe counters are at {app}/ (wallet simulator {env['WALLET_PROVIDER_URL']}, "
            f"acquirer simulator {env['ACQUIRER_URL']}, agencies' simulators "
            f"{', '.join(f'{c} :{p}' for c, p in agencies.items())}). "
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        ended = [" ".join(p.args[1:3]) for p in processes if p.poll() is not None]
        print(f"ended: {', '.join(ended)}; stopping the others", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all()


if __name__ == "__main__":
    main()
