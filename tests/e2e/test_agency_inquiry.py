"""An electricity bill in Chromium: the agent asks the company's system (its simulator, a
process of its own) what is due, and takes exactly that, by keyboard.

Account 612345678902 (invented): three bills of 79.02, 84.02 and 89.02 EGP, 252.06 in
all, as the simulator's rule gives them.
"""

import re

from tests.e2e.conftest import AXE_BLOCKING, axe_violations, describe_violation, screenshot

ACCOUNT = "612345678902"


def test_the_agent_asks_the_agency_then_takes_exactly_what_it_says(login, server, app_server):
    page = login("agent.01001.1", language="en")
    page.goto(server + "/counter/services/search/")
    page.wait_for_selector("#service-q:focus")
    page.wait_for_load_state("load")  # htmx binds the type-ahead once the page has loaded
    page.keyboard.type("EL-201")
    page.wait_for_selector("#service-results a")
    page.keyboard.press("Tab")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")

    # The pay form of an inquire-first service is the agency's question first.
    assert "/agencies/inquiry/EL-201/" in page.url
    page.wait_for_selector("#id_reference:focus")
    page.keyboard.type(ACCOUNT)
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    page.wait_for_selector("#inquiry-answer")
    assert page.inner_text("#inquiry-total").strip() == "252.06"
    assert page.locator("#inquiry-bills tbody tr").count() == 3
    blocking = [
        describe_violation("agency inquiry", page.url, v)
        for v in axe_violations(page)
        if v["impact"] in AXE_BLOCKING
    ]
    assert not blocking, "\n".join(blocking)
    screenshot(page, "agency/inquiry")

    with page.expect_navigation(wait_until="load"):
        page.click("#inquiry-pay")
    # Filled with the agency's answer: the cash handed over is what is left to type.
    page.wait_for_selector("input[name=tendered]:focus")
    assert page.input_value("input[name=ref_bill_no]") == ACCOUNT
    assert page.input_value("input[name=amount]") == "252.06"
    page.keyboard.type("260")
    with page.expect_navigation(wait_until="load"):
        page.click("main form button.primary")
    page.wait_for_selector("button.primary:focus")  # the confirmation, its button focused
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/receipts/\d+/$"))
    reference = page.url.rstrip("/").rsplit("/", 1)[1]
    rows = app_server.query(
        "SELECT n.kind, n.status FROM agencies_notification n "
        "JOIN counter_payment p ON p.id = n.payment_id WHERE p.reference = ?",
        (reference,),
    )
    assert rows == [("payment", "pending")]  # written with the payment, for the worker
