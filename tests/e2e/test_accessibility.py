"""Accessibility of the main screens, checked by axe-core in the browser, in Arabic and English.

axe-core comes from the npm registry (package.json at the repository root,
`npm ci`), never from a CDN; without node_modules/axe-core the axe tests are
skipped with the reason. Every main screen of every role is scanned and no
violation of serious or critical impact is allowed.

The keyboard test needs no axe: on the counter screen every action is
reached by Tab, and each tab stop shows a visible focus ring.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import (
    AXE,
    AXE_BLOCKING,
    ROOT,
    axe_violations,
    describe_violation,
    screenshot,
)

LANGUAGES = ["ar", "en"]
CITIZEN_ID = "28503150123451"  # a demo citizen, verified by seed_demo

needs_axe = pytest.mark.skipif(
    not AXE.exists(), reason=f"no {AXE.relative_to(ROOT)} (run `npm ci` at the repository root)"
)


class Scanner:
    """Runs axe on each screen a test visits and keeps what it finds."""

    def __init__(self, page, language: str) -> None:
        self.page = page
        self.language = language
        self.found: list[str] = []
        self.minor: list[str] = []  # moderate and minor: printed, not failed
        self.screens: list[str] = []

    def scan(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        html = page.locator("html")
        assert html.get_attribute("lang") == self.language, f"{name}: lang"
        assert html.get_attribute("dir") == ("rtl" if self.language == "ar" else "ltr")
        violations = axe_violations(page)
        self.screens.append(name)
        screenshot(page, f"accessibility/{self.language}/{name}")
        for v in violations:
            if v["impact"] not in AXE_BLOCKING:
                self.minor.append(f"  {name}: {v['id']} ({v['impact']}) {len(v['nodes'])} nodes")
                continue
            self.found.append(f"[{self.language}] " + describe_violation(name, page.url, v))

    def visit(self, name: str, url: str) -> None:
        self.page.goto(url)
        self.scan(name)

    def assert_clean(self) -> None:
        assert not self.found, "axe violations:\n" + "\n".join(self.found)


def _agent_screens(scan: Scanner, base: str) -> None:
    page = scan.page
    scan.visit("counter-home", f"{base}/counter/")
    scan.visit("citizen-search", f"{base}/counter/citizens/search/?q={CITIZEN_ID}")
    citizen_url = page.locator("#citizen-results a").first.get_attribute("href")
    # The link carries a token signed for this agent (not the citizen's id); the same
    # token opens the counter screen and the payment form for this citizen.
    citizen = re.search(r"/citizens/([\w-]+:[\w:-]+)/", citizen_url).group(1)
    scan.visit("citizen-new", f"{base}/counter/citizens/new/?national_id=29001010112399")
    page.fill("#id_national_id", "2900")
    with page.expect_navigation(wait_until="load"):
        page.click("main form button.primary")
    scan.scan("citizen-new-errors")
    scan.visit("citizen-detail", base + citizen_url)
    page.goto(f"{base}/counter/?citizen={citizen}")
    page.wait_for_load_state("load")
    page.fill("#service-q", "LA-1")
    page.wait_for_selector("#service-results a")
    scan.scan("counter-service-search")
    scan.visit("payment-form", f"{base}/counter/pay/LA-106/?citizen={citizen}")
    with page.expect_navigation(wait_until="load"):
        page.click("main form button.primary")
    scan.scan("payment-form-errors")
    page.fill("input[name=ref_licence_no]", "1111/2026")
    page.fill("input[name=tendered]", "50")
    page.wait_for_selector("#pay-change:has-text('26.00')")
    scan.scan("payment-form-change")  # the change as typed; not posted
    # A variable amount's total is seen on a confirmation page before it is posted.
    scan.visit("payment-form-variable", f"{base}/counter/pay/LA-107/?citizen={citizen}")
    page.fill("input[name=ref_contract_no]", "123456")
    page.fill("input[name=amount]", "100")
    page.fill("input[name=tendered]", "200")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    page.wait_for_selector("#change-due")
    scan.scan("payment-confirm")  # not confirmed: nothing is posted
    scan.visit("payments-today", f"{base}/counter/payments/")
    reference = page.locator("#payment-results a").first.inner_text().strip()
    scan.visit("payment-detail", f"{base}/counter/payments/{reference}/")
    scan.visit("receipt-preview", f"{base}/receipts/{reference}/")
    scan.visit("cards", f"{base}/counter/cards/")
    page.fill("#id_balance-card_number", "1234")
    with page.expect_navigation(wait_until="load"):
        page.click("form[action$='/cards/balance/'] button")
    scan.scan("cards-errors")
    scan.visit("till-session", f"{base}/float/session/")
    report = page.locator("a[href*='/receipts/reports/session/']").first.get_attribute("href")
    scan.visit("close", f"{base}/float/session/close/")
    scan.visit("session-report", base + report)


def _supervisor_screens(scan: Scanner, base: str) -> None:
    scan.page.goto(f"{base}/dashboard/branches/01001/")
    scan.page.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    scan.scan("dashboard-branch")
    scan.visit("branch-cash", f"{base}/float/branch/")
    scan.visit("report-branch", f"{base}/receipts/reports/branch/01001/")
    scan.visit("card-unlock", f"{base}/counter/cards/unlock/")


def _regional_screens(scan: Scanner, base: str) -> None:
    scan.page.goto(f"{base}/dashboard/governorates/01/")
    scan.page.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    scan.scan("dashboard-governorate")
    scan.visit("report-governorate", f"{base}/receipts/reports/governorate/01/")


def _national_screens(scan: Scanner, base: str) -> None:
    scan.page.goto(f"{base}/dashboard/nation/")
    scan.page.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    scan.scan("dashboard-nation")
    scan.visit("report-national", f"{base}/receipts/reports/national/")
    scan.visit("settlement", f"{base}/settlement/")


ROLES = {
    "agent.01001.1": _agent_screens,
    "sup.01001": _supervisor_screens,
    "reg.01": _regional_screens,
    "headoffice": _national_screens,
}


@needs_axe
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_screen_has_no_serious_axe_violation(browser, server, language):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + "/accounts/login/")
        if language == "en":
            with page.expect_navigation(wait_until="load"):
                page.click("button[name=language][value=en]")
        scan = Scanner(page, language)
        scan.scan("login")
        scan.assert_clean()
    finally:
        context.close()


@needs_axe
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_public_verification_page_has_no_serious_axe_violation(browser, app_server, language):
    (reference,) = app_server.query("SELECT reference FROM counter_payment ORDER BY id LIMIT 1")[0]
    result = app_server.manage(
        "shell", "-c", f"from receipts.tokens import token_for; print(token_for('{reference}'))"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(app_server.base + "/accounts/login/")
        if language == "en":
            with page.expect_navigation(wait_until="load"):
                page.click("button[name=language][value=en]")
        scan = Scanner(page, language)
        scan.visit("verify-genuine", f"{app_server.base}/r/{token}")
        scan.visit("verify-altered", f"{app_server.base}/r/{token[:-2]}xx")
        scan.assert_clean()
    finally:
        context.close()


@needs_axe
@pytest.mark.parametrize(
    ("language", "branch"), [("ar", "21001"), ("en", "25001")], ids=["ar", "en"]
)
def test_a_pending_request_on_both_sides_has_no_serious_axe_violation(
    login, server, language, branch
):
    """The till waiting for its float, and the supervisor's queue with approve and reject."""
    agent = login(f"agent.{branch}.2", language=language)
    agent.goto(server + "/float/session/")
    agent.wait_for_load_state("load")
    agent.locator("#id_counter").select_option(index=1)
    agent.fill("#id_amount", "1000")
    agent.click("#till-panel button.primary")
    agent.wait_for_selector("#till-panel[aria-busy=true]")
    scan = Scanner(agent, language)
    scan.scan("till-requested")

    supervisor = Scanner(login(f"sup.{branch}", language=language), language)
    supervisor.page.goto(f"{server}/dashboard/branches/{branch}/")
    supervisor.page.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    supervisor.page.wait_for_selector("button[data-approve]")
    supervisor.scan("dashboard-queue")
    supervisor.visit("branch-cash-queue", f"{server}/float/branch/")
    # Refused with a reason, so the branch is left as the demo had it.
    supervisor.page.fill("#branch-panel input[name=reason]", "test")
    supervisor.page.click("#branch-panel button[value=reject]")
    supervisor.page.wait_for_selector("#branch-panel button[value=reject]", state="detached")
    agent.wait_for_selector("#till-panel:not([aria-busy])", timeout=10_000)
    scan.scan("till-refused")
    scan.found += supervisor.found
    scan.assert_clean()


@needs_axe
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("username", list(ROLES))
def test_the_main_screens_have_no_serious_axe_violation(login, server, username, language):
    scan = Scanner(login(username, language=language), language)
    ROLES[username](scan, server)
    print(f"\n{username} [{language}] scanned: {', '.join(scan.screens)}")
    print("\n".join(scan.minor))
    scan.assert_clean()


FOCUS_STATE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    key: el.id || el.getAttribute("href") || el.getAttribute("name") || el.textContent.trim(),
    tag: el.tagName.toLowerCase(),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    boxShadow: style.boxShadow,
    visible: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0,
  };
}"""

TAB_STOPS = """() => Array.from(document.querySelectorAll(
  "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
  "select, textarea, [tabindex]"
)).filter((el) => el.tabIndex >= 0 && el.getClientRects().length > 0)
  .map((el) => el.id || el.getAttribute("href") || el.getAttribute("name")
    || el.textContent.trim())"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_action_of_the_counter_screen_is_reached_by_tab_with_a_visible_focus(
    login, server, language
):
    page = login("agent.01001.1", language=language)
    page.goto(server + "/counter/")
    page.wait_for_selector("#citizen-q:focus")  # autofocus done: it cannot move the focus later
    expected = page.evaluate(TAB_STOPS)
    page.evaluate("document.activeElement.blur()")
    page.locator("body").focus()

    seen: list[dict] = []
    for _ in range(len(expected) + 5):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        if state["tag"] == "body":
            continue  # past the last stop, before the first one again
        if seen and state["key"] == seen[0]["key"]:
            break  # round the page once
        seen.append(state)
        if state["key"] in ("#main", "/counter/payments/", "citizen-q", "service-q2"):
            name = state["key"].strip("/#").replace("/", "-")
            screenshot(page, f"accessibility/{language}/focus-{name}")

    reached = [s["key"] for s in seen]
    missing = [key for key in expected if key not in reached]
    assert not missing, f"not reached by Tab: {missing}"
    invisible = [
        s
        for s in seen
        if not (
            (s["outlineStyle"] != "none" and s["outlineWidth"] >= 2)
            or (s["boxShadow"] not in ("", "none"))
        )
    ]
    assert not invisible, f"tab stops without a visible focus ring: {invisible}"
    offscreen = [s["key"] for s in seen if not s["visible"]]
    assert not offscreen, f"focused but not on screen: {offscreen}"
    print(f"\n[{language}] {len(seen)} tab stops on the counter screen: {reached}")
