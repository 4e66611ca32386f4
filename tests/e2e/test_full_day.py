"""A whole day at one counter, from the opening float to the signed-off close, in a browser.

An agent and the branch supervisor work side by side in two browser contexts,
only through the screens (clicks and the keyboard): the opening float approved
on the live dashboard, a citizen registered with the SMS code read from the
outbox, a cash payment and its receipt, a prepaid card issued, topped up and
used, a void, a cash drop and a blind close by denomination signed off by the
supervisor. The branch's daily report then shows the day, and ledger_verify
passes on the server's database.

Run once in Arabic (the default) and once in English, each at a branch the
demo leaves without an open till, so the day starts from the opening and the
report holds this day only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest

from tests.e2e.conftest import AXE, AXE_BLOCKING, axe_violations, describe_violation, screenshot

PIN = "1357"


@dataclass(frozen=True)
class Day:
    language: str
    branch: str
    agent: str
    supervisor: str
    national_id: str  # invented, with a valid structure
    name_ar: str
    name_en: str
    mobile: str


DAYS = [
    Day(
        "ar",
        "01002",
        "agent.01002.1",
        "sup.01002",
        "29001010112345",
        "هدى محمود سالم",
        "Hoda Mahmoud Salem",
        "01098765432",
    ),
    Day(
        "en",
        "02001",
        "agent.02001.1",
        "sup.02001",
        "29505052101238",
        "كريم أحمد فؤاد",
        "Karim Ahmed Fouad",
        "01298765431",
    ),
]

# The day in piastres: opening float, a cash payment of LA-106 (20 + 2 + 2), a card top-up
# in cash, a card payment of LA-101 (200 + 10 + 5 since the fee change), a cash payment of
# LA-103 (100 + 5 + 3) that is voided, and a drop to the vault.
OPENING = 200_000
CASH_PAYMENT = 2_400
TOP_UP = 50_000
CARD_PAYMENT = 21_500
VOIDED = 10_800
DROP = 100_000
EXPECTED_TILL = OPENING + CASH_PAYMENT + TOP_UP + VOIDED - VOIDED - DROP  # 1,524.00
# The blind count, by denomination (piastres -> how many): 7 × 200 + 100 + 20 + 4 × 1.
COUNT = {20000: 7, 10000: 1, 2000: 1, 100: 4}
assert sum(v * n for v, n in COUNT.items()) == EXPECTED_TILL


def egp(piastres: int) -> str:
    return f"{piastres // 100:,}.{piastres % 100:02d}"


def _shot(page, day: Day, name: str, found: list[str]) -> None:
    """A screenshot of a main screen, and axe-core's serious findings on it (when installed)."""
    screenshot(page, f"full_day/{day.language}/{name}")
    if AXE.exists():
        found += [
            describe_violation(name, page.url, v)
            for v in axe_violations(page)
            if v["impact"] in AXE_BLOCKING
        ]


def _follow(page, selector: str) -> None:
    """Click a link and wait until the page it opens has loaded (htmx binds its triggers then).

    Waiting for the load state after the click would return at once, on the page still
    shown, and the next step would race the navigation.
    """
    with page.expect_navigation(wait_until="load"):
        page.locator(selector).click()


def _approve_on_board(supervisor, what: str) -> None:
    """The request arrives on the live board; the supervisor approves it there."""
    approve = supervisor.locator("button[data-approve]").first
    approve.wait_for(timeout=8_000)
    assert supervisor.locator("button[data-approve]").count() == 1, f"one request: {what}"
    approve.click()
    supervisor.wait_for_selector("button[data-approve]", state="detached", timeout=8_000)


def _open_citizen(agent, national_id: str) -> None:
    _follow(agent, "nav.topnav a[href='/counter/']")
    agent.fill("#citizen-q", national_id)
    agent.keyboard.press("Enter")
    agent.wait_for_selector("#citizen-results a:focus")
    with agent.expect_navigation(wait_until="load"):
        agent.keyboard.press("Enter")


def _find_service(agent, code: str) -> None:
    """From the citizen's page: pay for a service, found by its code."""
    with agent.expect_navigation(wait_until="load"):
        agent.locator("#pay-service").click()
    agent.fill("#service-q", code)
    link = agent.locator(f"#service-results tr:has-text('{code}') a").first
    link.wait_for()
    with agent.expect_navigation(wait_until="load"):
        link.click()


def _pay_cash(agent, code: str, licence: str, tendered: str) -> str:
    _find_service(agent, code)
    agent.fill("input[name=ref_licence_no]", licence)
    agent.fill("input[name=tendered]", tendered)
    agent.wait_for_selector("#pay-change:not(:empty)")  # the change, worked out as typed
    with agent.expect_navigation(wait_until="load"):
        agent.keyboard.press("Enter")  # from the cash: the form's button posts and prints
    agent.wait_for_url(re.compile(r"/receipts/\d{12}/$"))  # the page names its address
    match = re.search(r"/receipts/(\d{12})/$", agent.url)
    assert match, agent.url
    return match.group(1)


@pytest.mark.parametrize("day", DAYS, ids=[d.language for d in DAYS])
def test_a_full_day_at_the_counter(login, app_server, day):
    server = app_server.base
    axe: list[str] = []  # serious accessibility findings along the day
    supervisor = login(day.supervisor, language=day.language)
    supervisor.goto(f"{server}/dashboard/branches/{day.branch}/")
    supervisor.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    assert supervisor.locator("html").get_attribute("lang") == day.language

    agent = login(day.agent, language=day.language)
    html = agent.locator("html")
    assert html.get_attribute("dir") == ("rtl" if day.language == "ar" else "ltr")

    # Morning: ask for the opening float; the supervisor approves it on the live board.
    _follow(agent, "nav.topnav a[href='/float/session/']")
    agent.locator("#id_counter").select_option(index=1)
    agent.fill("#id_amount", egp(OPENING))
    agent.click("#till-panel button.primary")
    agent.wait_for_selector("#till-panel[aria-busy=true]")
    _shot(agent, day, "till-requested", axe)
    supervisor.locator("button[data-approve]").first.wait_for(timeout=8_000)
    _shot(supervisor, day, "dashboard", axe)
    _approve_on_board(supervisor, "opening float")
    agent.wait_for_selector("form[action$='/float/session/drop/']", timeout=8_000)
    _shot(agent, day, "till", axe)

    # A new citizen: registered, and the mobile linked by the code from the SMS outbox.
    _follow(agent, "nav.topnav a[href='/counter/']")
    agent.fill("#citizen-q", day.national_id)
    agent.keyboard.press("Enter")
    register = agent.locator("#citizen-results a.button.primary")
    register.wait_for()
    with agent.expect_navigation(wait_until="load"):
        register.click()
    assert agent.input_value("#id_national_id") == day.national_id
    agent.fill("#id_name_ar", day.name_ar)
    agent.fill("#id_name_en", day.name_en)
    agent.fill("#id_mobile", day.mobile)
    agent.check("#id_consent")
    _shot(agent, day, "citizen-new", axe)
    with agent.expect_navigation(wait_until="load"):
        agent.click("main form button.primary")
    e164 = "+2" + day.mobile
    rows = app_server.query(
        "SELECT body FROM counter_smsmessage WHERE `to` = ? ORDER BY id DESC LIMIT 1", (e164,)
    )
    assert rows, f"no SMS to {e164} in the outbox"
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", rows[0][0]).group(1)
    agent.fill("#id_code", code)
    agent.locator("#code-panel form").first.locator("button.primary").click()
    agent.wait_for_selector("#code-panel .badge.ok")
    assert day.mobile[1:] in agent.locator("#code-panel").inner_text().replace(" ", "")
    agent.reload()
    agent.wait_for_selector("#pay-service:focus")  # verified: paying is the next step
    _shot(agent, day, "citizen", axe)

    # A cash payment, its receipt previewed and its PDF fetched.
    _find_service(agent, "LA-106")
    agent.fill("input[name=ref_licence_no]", "4321/2026")
    agent.fill("input[name=tendered]", "50")
    change = f"#pay-change:has-text('{egp(5_000 - CASH_PAYMENT)}')"
    agent.wait_for_selector(change)  # worked out as typed, before anything is posted
    _shot(agent, day, "payment", axe)
    with agent.expect_navigation(wait_until="load"):
        agent.keyboard.press("Enter")  # from the cash: the form's button posts and prints
    agent.wait_for_url(re.compile(r"/receipts/\d{12}/$"))  # the page names its address
    assert egp(CASH_PAYMENT) in agent.inner_text("main")
    _shot(agent, day, "receipt", axe)
    # The original prints by itself after a payment: the confirmation recorded the print and
    # the page loads that print's PDF into its print frame.
    frame = agent.wait_for_selector("iframe[aria-hidden=true]", state="attached")
    pdf = agent.request.get(urljoin(server + "/", frame.get_attribute("src")))
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")

    # A prepaid card: issued from the citizen's page, topped up with cash.
    _open_citizen(agent, day.national_id)
    with agent.expect_navigation(wait_until="load"):
        agent.locator("a[href*='/counter/cards/issue/']").click()
    agent.fill("#id_pin", PIN)
    with agent.expect_navigation(wait_until="load"):
        agent.click("main form button.primary")
    issued = agent.inner_text("main .message.success strong")
    number = re.sub(r"\D", "", issued)
    assert len(number) == 16
    # Said once, isolated left to right so Arabic does not reverse its groups.
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert f"\u2066{grouped}\u2069" in issued
    assert agent.inner_text("main").count(grouped) == 1
    _shot(agent, day, "card", axe)
    with agent.expect_navigation(wait_until="load"):
        agent.click("main a.button.primary")  # top up the card
    agent.fill("#id_top_up-card_number", number)
    agent.fill("#id_top_up-amount", egp(TOP_UP))
    with agent.expect_navigation(wait_until="load"):
        agent.click("form[action$='/cards/top-up/'] button.primary")
    agent.wait_for_selector("main .message.success")
    assert egp(TOP_UP) in agent.inner_text("main .message.success")
    _shot(agent, day, "card-top-up", axe)

    # A payment with the card, and its PIN.
    _open_citizen(agent, day.national_id)
    _find_service(agent, "LA-101")
    agent.fill("input[name=ref_licence_no]", "1234/2026")
    agent.check("input[name=method][value=card]")
    agent.fill("input[name=card_number]", number)
    with agent.expect_navigation(wait_until="load"):
        agent.click("main form button.primary")
    agent.wait_for_selector("#id_pin:focus")
    agent.keyboard.type("0000")  # a wrong PIN first: refused, nothing paid, asked again
    with agent.expect_navigation(wait_until="load"):
        agent.keyboard.press("Enter")
    agent.wait_for_selector("main .error[role=alert]")
    _shot(agent, day, "payment-card-wrong-pin", axe)
    agent.wait_for_selector("#id_pin:focus")
    agent.keyboard.type(PIN)
    _shot(agent, day, "payment-card", axe)
    with agent.expect_navigation(wait_until="load"):
        agent.keyboard.press("Enter")
    agent.wait_for_url(re.compile(r"/receipts/\d{12}/$"))  # the page names its address
    assert egp(TOP_UP - CARD_PAYMENT) in agent.inner_text("main")  # the card's balance after

    # A mistaken payment, voided with the supervisor's approval on the board.
    _open_citizen(agent, day.national_id)
    mistaken = _pay_cash(agent, "LA-103", "5555/2026", "110")
    with agent.expect_navigation(wait_until="load"):
        agent.locator(f"a[href='/counter/payments/{mistaken}/']").click()
    agent.fill("#id_reason", "wrong service" if day.language == "en" else "خدمة خاطئة")
    with agent.expect_navigation(wait_until="load"):
        agent.click("form[action$='/void/'] button")
    agent.wait_for_selector(".messages .message.success")  # void requested
    assert agent.locator("main h1 .badge.bad").count() == 0  # not void until approved
    supervisor.locator("button[data-approve]").first.wait_for(timeout=8_000)
    _shot(supervisor, day, "dashboard-void", axe)
    _approve_on_board(supervisor, "void")
    agent.reload()
    agent.wait_for_selector("main h1 .badge.bad")  # VOID

    # A cash drop to the vault.
    _follow(agent, "nav.topnav a[href='/float/session/']")
    agent.fill("#id_drop-amount", egp(DROP))
    agent.click("form[action$='/float/session/drop/'] button.primary")
    agent.wait_for_selector("#till-panel .message")

    # The live board has followed the day: two payments (the void is not counted).
    supervisor.wait_for_function(
        "document.querySelector('[data-figure=payments]').textContent.trim() == '2'",
        timeout=5_000,
    )
    assert supervisor.inner_text("[data-figure=total]").strip() == egp(CASH_PAYMENT + CARD_PAYMENT)

    # Evening: the blind close, counted by denomination.
    with agent.expect_navigation(wait_until="load"):
        agent.click("a[href$='/float/session/close/']")
    assert egp(EXPECTED_TILL) not in agent.inner_text("main")  # blind: no expected figure
    for value, quantity in COUNT.items():
        agent.locator(f"input.count[data-value='{value}']").first.fill(str(quantity))
    assert agent.inner_text("#count-total").strip() == egp(EXPECTED_TILL)
    _shot(agent, day, "close", axe)
    with agent.expect_navigation(wait_until="load"):
        agent.click("#count-form button.primary")
    agent.wait_for_selector("#till-panel[aria-busy=true]")

    # The supervisor signs the close off; the agent's till shows it closed.
    _approve_on_board(supervisor, "close")
    agent.wait_for_selector("#till-panel:not([aria-busy])", timeout=10_000)
    assert agent.locator("form[action$='/float/session/open/']").count() == 1
    _shot(supervisor, day, "dashboard-end", axe)

    _follow(supervisor, "nav.topnav a[href='/float/branch/']")
    sessions = supervisor.locator("#branch-panel table").last.locator("tbody tr")
    assert sessions.count() == 1
    assert sessions.first.locator("td").nth(4).inner_text().strip() == egp(0)  # no variance
    _shot(supervisor, day, "branch-cash", axe)

    # The branch's daily report shows the day.
    _follow(supervisor, f"nav.topnav a[href*='/reports/branch/{day.branch}/']")
    summary = supervisor.locator("section[aria-labelledby=summary-title] tbody tr")

    def figures(row: int) -> tuple[str, str]:
        cells = summary.nth(row).locator("td")
        return cells.nth(0).inner_text().strip(), cells.nth(1).inner_text().strip()

    assert figures(0) == ("2", egp(CASH_PAYMENT + CARD_PAYMENT))  # payments
    assert figures(1) == ("1", egp(CASH_PAYMENT))  # cash
    assert figures(2) == ("1", egp(CARD_PAYMENT))  # card
    assert figures(3) == figures(4) == ("0", egp(0))  # bank card, wallet: none this day
    assert figures(7) == ("1", egp(VOIDED))  # voided
    _shot(supervisor, day, "report", axe)

    # The books balance.
    result = app_server.manage("ledger_verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not axe, "axe violations along the day:\n" + "\n".join(axe)
