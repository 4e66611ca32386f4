"""A supervisor's dashboard in one browser follows an agent working in another."""

import time

from tests.e2e.conftest import screenshot


def _board_payments(page) -> int:
    return int(page.locator('[data-figure="payments"]').first.inner_text())


# The board's text equals that of the board fetched afresh (pushes still due may change both).
SAME_AS_A_RELOAD = """async () => {
  const response = await fetch(location.pathname + "?fragment=1");
  const fresh = document.createElement("template");
  fresh.innerHTML = await response.text();
  const text = (el) => el.textContent.replace(/\\s+/g, " ").trim();
  return text(document.getElementById("board")) === text(fresh.content.getElementById("board"));
}"""


def test_the_dashboard_shows_a_payment_within_two_seconds(login, server):
    supervisor = login("sup.01001")
    supervisor.goto(server + "/dashboard/branches/01001/")
    supervisor.wait_for_selector('#live[data-state="live"]', timeout=10_000)
    before = _board_payments(supervisor)

    agent = login("agent.01001.1")
    agent.goto(server + "/counter/")
    agent.fill("#citizen-q", "29207220104562")
    agent.keyboard.press("Enter")
    with agent.expect_navigation(wait_until="load"):  # htmx binds its triggers on load
        agent.locator("#citizen-results a").first.click()
    with agent.expect_navigation(wait_until="load"):
        agent.locator("#pay-service").click()
    agent.fill("#service-q", "LA-106")
    agent.wait_for_selector("#service-results a")
    agent.locator("#service-results a").first.click()
    agent.fill("input[name=ref_licence_no]", "1111/2024")
    agent.fill("input[name=tendered]", "30")
    agent.wait_for_selector("#pay-change:has-text('6.00')")  # the change, as typed
    # Timed from the confirming key press: an upper bound on commit-to-dashboard.
    confirmed = time.monotonic()
    agent.keyboard.press("Enter")

    supervisor.wait_for_function(
        f"document.querySelector('[data-figure=payments]').textContent.trim() == '{before + 1}'",
        timeout=2_000,
    )
    seen_after = time.monotonic() - confirmed
    screenshot(supervisor, "dashboard-branch")
    print(f"\nPayment visible on the supervisor's dashboard after {seen_after:.2f} s")
    assert seen_after < 2.0
    # The pushes carried only what changed; the board shows what a reload would.
    supervisor.wait_for_function(SAME_AS_A_RELOAD, timeout=5_000)


def test_an_approval_on_the_dashboard_unblocks_the_agent(login, server):
    supervisor = login("sup.01001")
    supervisor.goto(server + "/dashboard/branches/01001/")
    supervisor.wait_for_selector('#live[data-state="live"]', timeout=10_000)

    agent = login("agent.01001.3")  # closed yesterday's till in the demo: no open session
    agent.goto(server + "/float/session/")
    agent.select_option(
        "#id_counter", label=agent.locator("#id_counter option").nth(1).inner_text()
    )
    agent.fill("#id_amount", "1500")
    agent.click("#till-panel button.primary")
    agent.wait_for_selector("#till-panel[aria-busy=true]")
    assert agent.locator("form[action$='/float/session/drop/']").count() == 0

    approve = supervisor.locator("button[data-approve]").first
    approve.wait_for(timeout=5_000)  # the request arrived on the live board
    screenshot(supervisor, "dashboard-queue")
    approve.click()
    supervisor.wait_for_selector("button[data-approve]", state="detached", timeout=5_000)

    agent.wait_for_selector("form[action$='/float/session/drop/']", timeout=8_000)
    screenshot(agent, "till-open")
