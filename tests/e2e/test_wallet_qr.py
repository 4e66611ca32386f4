"""A wallet payment in Chromium: the QR on the agent's screen is scanned and paid by the
wallet provider's simulator (its own process), and the screen flips to paid and prints.

The QR is read off the screen itself (a screenshot of the symbol, decoded by
zbarimg), so what is tested is what a citizen's phone would see.
"""

import re
import shutil
import subprocess
import time

import pytest

from tests.e2e.conftest import (
    AXE_BLOCKING,
    axe_violations,
    describe_violation,
    open_pay_form,
    screenshot,
)

needs_zbar = pytest.mark.skipif(
    shutil.which("zbarimg") is None, reason="zbarimg missing (apt-get install zbar-tools)"
)


def _show_qr(page, server, licence: str) -> str:
    """The agent takes a fixed fee by wallet; returns the QR page's reference."""
    open_pay_form(page, server, licence)
    page.check("input[name=method][value=wallet]")
    page.wait_for_selector("#pay-button:has-text('Show the QR')")  # says what it will do
    with page.expect_navigation(wait_until="load"):
        page.click("button[name=confirm]")
    page.wait_for_selector("#wallet-waiting")
    return page.inner_text("#wallet-reference").strip()


def _scan(page, tmp_path) -> str:
    """What a phone reads off the screen: the QR symbol's pixels, decoded."""
    shot = tmp_path / "qr.png"
    page.locator("#wallet-qr svg").screenshot(path=str(shot))
    return subprocess.run(
        ["zbarimg", "--raw", "-q", str(shot)], capture_output=True, text=True, check=True
    ).stdout.strip()


@needs_zbar
def test_the_wallet_pays_the_qr_on_screen_and_the_screen_flips_to_paid_and_prints(
    login, server, app_server, wallet_simulator, tmp_path
):
    page = login("agent.01001.1", language="en")
    reference = _show_qr(page, server, "4321/2026")
    blocking = [
        describe_violation("wallet QR", page.url, v)
        for v in axe_violations(page)
        if v["impact"] in AXE_BLOCKING
    ]
    assert not blocking, "\n".join(blocking)
    payload = _scan(page, tmp_path)
    assert reference in payload and "5303818" in payload and "5802EG" in payload

    answer = wallet_simulator.post("/v1/payments", {"qr": payload, "wallet": "201000000009"})
    paid_by_provider = time.monotonic()
    assert answer.status == 201, answer.text
    txn_id = answer.json()["txn_id"]

    # Paid: the status flips and the page prints at once, as for cash; the state to wait
    # for is the receipt's page (the flip itself lasts only until the print is posted).
    page.wait_for_url(re.compile(rf"/receipts/{reference}/$"))
    flipped = time.monotonic()
    page.wait_for_function("(window.__prints || []).length >= 1")
    screenshot(page, "wallet/receipt")
    assert txn_id in page.content()
    rows = app_server.query(
        "SELECT method, external_reference FROM counter_payment WHERE reference = ?", (reference,)
    )
    assert rows == [("wallet", txn_id)]
    printed = app_server.query(
        "SELECT original_printed_at IS NOT NULL FROM receipts_receipt WHERE reference = ?",
        (reference,),
    )
    assert printed == [(1,)]
    seconds = flipped - paid_by_provider
    print(f"wallet: provider paid -> receipt on the agent's screen in {seconds:.2f} s")
