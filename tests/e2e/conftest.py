"""End-to-end fixtures: the app served by daphne on loopback, driven by Debian's chromium.

These tests run as their own pytest invocation (`pytest tests/e2e -p no:django`
is not needed: they use no test database; the server has its own SQLite file,
migrated and seeded with seed_demo). Playwright is used through its sync API
with executable_path=/usr/bin/chromium: no browser is ever downloaded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.bench.servers import free_port

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
PASSWORD = "e2e-demo-pass"
# axe-core from the npm registry (package.json at the root, `npm ci`); never from a CDN.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_BLOCKING = {"serious", "critical"}


def seeded_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an app on its own SQLite file, migrated and seeded with the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update({"DJANGO_SQLITE_PATH": str(db_path), "DJANGO_DEBUG": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "seed_demo", "--password", PASSWORD],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return env


class Daphne:
    """One daphne process on a free loopback port; stopped by stop()."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")  # noqa: SIM115
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
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"daphne did not start; see {log_path}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@dataclass(frozen=True)
class App:
    """A served app: its base URL, its SQLite file and the environment it runs with."""

    base: str
    db_path: Path
    env: dict[str, str]

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a management command against the server's own database."""
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the server's database as an operator would (read-only)."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()


WALLET_SECRET = "e2e-wallet-secret"


@pytest.fixture(scope="session")
def wallet_simulator():
    """The wallet provider's simulator, its own process; the app is told its address."""
    from simulators.testing import start

    with start("wallet", secret=WALLET_SECRET) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def agency_simulator(tmp_path_factory):
    """The electricity company's own system (simulators/agency.py), its own process."""
    from simulators.testing import start

    state = tmp_path_factory.mktemp("agency") / "elec.json"
    with start("agency", agency="ELEC", state=str(state)) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, wallet_simulator, agency_simulator):
    """A seeded demo app under daphne (in-memory channel layer), with its database at hand.

    Its wallet provider is the simulator, which calls the app back once it is up.
    """
    folder = tmp_path_factory.mktemp("e2e")
    db_path = folder / "e2e.sqlite3"
    env = seeded_env(
        db_path,
        WALLET_PROVIDER_URL=wallet_simulator.url,
        WALLET_PROVIDER_SECRET=WALLET_SECRET,
        ACQUIRER_URL="http://127.0.0.1:9",  # none: the demo's card approval is invented
        AGENCY_SYSTEMS_JSON=json.dumps({"ELEC": {"url": agency_simulator.url}}),
    )
    daphne = Daphne(env, folder / "daphne.log")
    answer = wallet_simulator.post(
        "/v1/config", {"callback_url": f"{daphne.base}/wallet/callback/"}
    )
    assert answer.status == 200, answer.text
    yield App(base=daphne.base, db_path=db_path, env=env)
    daphne.stop()


@pytest.fixture(scope="session")
def server(app_server):
    """The seeded demo app's base URL."""
    return app_server.base


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


# Headless Chromium has no printer: a real print() of the receipt's PDF frame crashed its
# renderer now and then. Every page records its prints instead (window.top.__prints).
RECORD_PRINTS = """
window.print = function () {
  const top = window.top;
  top.__prints = top.__prints || [];
  top.__prints.push({type: document.contentType, url: location.href});
};
"""


@pytest.fixture
def login(browser, server):
    """Open a fresh browser context logged in as `username`; returns its page."""
    contexts = []

    def _login(username: str, *, language: str | None = None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_PRINTS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        # Wait for the navigation each click starts, not for the load state of the page
        # already shown (that returns at once, and the next step raced the login).
        with page.expect_navigation(wait_until="load"):
            page.click("button.primary")
        assert "/accounts/login/" not in page.url, f"{username} could not log in"
        if language == "en":
            with page.expect_navigation(wait_until="load"):
                page.click("button[name=language][value=en]")
        return page

    yield _login
    for context in contexts:
        context.close()


DEMO_CITIZEN_ID = "28503150123451"  # a demo citizen (invented), verified by seed_demo


def open_pay_form(page, server: str, licence: str) -> None:
    """From the agent's home, by keyboard: the demo citizen, then LA-106 with `licence` typed.

    Leaves the focus after the licence field (the first method's field, the cash).
    """
    page.goto(server + "/counter/")
    page.wait_for_selector("#citizen-q:focus")
    page.keyboard.type(DEMO_CITIZEN_ID)
    page.keyboard.press("Enter")
    page.wait_for_selector("#citizen-results a:focus")
    page.keyboard.press("Enter")
    page.wait_for_selector("#pay-service:focus")
    page.wait_for_load_state("load")
    page.keyboard.press("Enter")
    page.wait_for_selector("#service-q:focus")
    page.wait_for_load_state("load")  # htmx binds the type-ahead once the page has loaded
    page.keyboard.type("LA-106")
    page.wait_for_selector("#service-results a")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("input[name=ref_licence_no]:focus")
    page.keyboard.type(licence)
    page.keyboard.press("Tab")


def screenshot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"  # a name may hold folders: "full_day/ar/till"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (id, impact, help, nodes)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def describe_violation(name: str, url: str, violation: dict) -> str:
    nodes = "\n".join(f"      {n['target']}: {n['summary']}" for n in violation["nodes"][:8])
    return f"{name} ({url}): {violation['id']} ({violation['impact']}) {violation['help']}\n{nodes}"
