"""Printing a receipt in Chromium: the print frame loads the PDF and the print dialog opens on it.

Headless Chromium has no print dialog, so every frame's window.print is replaced
(before any script of the page runs) by one that records the call and the
document it was called in. The database, read as an operator would, says how
many prints were made.
"""

import re
from collections.abc import Callable

from playwright.sync_api import Response

from tests.e2e.conftest import RECORD_PRINTS, screenshot

CITIZEN_ID = "28503150123451"  # a demo citizen (invented), verified by seed_demo
PRINT_PDF = re.compile(r"/receipts/prints/[^/]+\.pdf$")


def _pay(page, server, licence: str) -> str:
    """A cash payment for the demo citizen; returns its receipt number."""
    page.goto(server + "/counter/")
    page.wait_for_selector("#citizen-q:focus")
    page.keyboard.type(CITIZEN_ID)
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
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    page.wait_for_selector("#change-due")
    page.wait_for_selector("main form button.primary:focus")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/receipts/\d{12}/(\?print=1)?$"))
    return re.search(r"/receipts/(\d{12})/", page.url).group(1)


def _prints(app_server, reference: str) -> list[tuple]:
    return app_server.query(
        "SELECT p.number, p.layout FROM receipts_receiptprint p"
        " JOIN receipts_receipt r ON r.id = p.receipt_id"
        " WHERE r.reference = ? ORDER BY p.number",
        (reference,),
    )


def _counted(app_server, reference: str) -> list[tuple]:
    return app_server.query(
        "SELECT original_printed_at IS NOT NULL, reprints FROM receipts_receipt"
        " WHERE reference = ?",
        (reference,),
    )


def _wait_for_prints(page, count: int) -> list[dict]:
    page.wait_for_function(f"(window.__prints || []).length >= {count}")
    return page.evaluate("window.__prints")


def _new_print(*earlier: Response) -> Callable[[Response], bool]:
    """The frame's load of a print not seen before. Chromium answers each PDF frame twice:
    the server's response, then its PDF viewer's own load of the same URL with no headers,
    which may come after the next press; so the next print is the next new print URL."""
    seen = {response.url for response in earlier}
    return lambda response: bool(PRINT_PDF.search(response.url)) and response.url not in seen


def _expect_frame_pdf(response, copy: int | None) -> None:
    headers = response.all_headers()  # .headers may be the provisional ones, still partial
    assert response.status == 200
    assert headers["content-type"] == "application/pdf"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert response.frame.parent_frame is not None  # loaded in the page's frame, not the page
    disposition = headers["content-disposition"]
    assert ("-copy" in disposition) == (copy is not None), disposition
    if copy is not None:
        assert f"-copy{copy}.pdf" in disposition


def test_pressing_print_prints_the_original_once_then_copy_2(login, app_server):
    page = login("agent.01001.1", language="en")
    page.add_init_script(RECORD_PRINTS)
    # The payment's own receipt page would print the original by itself (?print=1): its
    # script is held back there, and the receipt opened again as from the payments list.
    page.route(re.compile(r"/js/receipt[^/]*\.js$"), lambda route: route.abort())
    reference = _pay(page, app_server.base, "7001/2026")
    page.unroute(re.compile(r"/js/receipt[^/]*\.js$"))
    page.goto(f"{app_server.base}/receipts/{reference}/", wait_until="load")
    page.wait_for_selector("#print-receipt:focus")
    assert page.get_attribute("#print-receipt", "data-auto") is None
    assert _prints(app_server, reference) == []  # opening the page printed nothing

    with page.expect_response(_new_print()) as first:
        page.click("#print-receipt")
    _expect_frame_pdf(first.value, copy=None)
    prints = _wait_for_prints(page, 1)
    assert prints == [{"type": "application/pdf", "url": first.value.url}]
    assert _prints(app_server, reference) == [(1, "roll")]
    assert _counted(app_server, reference) == [(1, 0)]
    page.wait_for_selector("#print-status:has-text('Original printed; 0 copies since.')")
    page.wait_for_selector("#print-receipt:enabled")
    screenshot(page, "print/original")

    with page.expect_response(_new_print(first.value)) as second:
        page.click("#print-receipt")
    _expect_frame_pdf(second.value, copy=2)
    prints = _wait_for_prints(page, 2)
    assert prints[1] == {"type": "application/pdf", "url": second.value.url}
    assert _prints(app_server, reference) == [(1, "roll"), (2, "roll")]
    assert _counted(app_server, reference) == [(1, 1)]
    page.wait_for_selector("#print-status:has-text('Original printed; 1 copy since.')")


def test_after_a_payment_the_original_prints_by_itself_and_a_reload_does_not_print_again(
    login, app_server
):
    page = login("agent.01001.1", language="en")
    page.add_init_script(RECORD_PRINTS)
    with page.expect_response(_new_print()) as printed:
        reference = _pay(page, app_server.base, "7002/2026")
    assert page.url.endswith("?print=1")
    _expect_frame_pdf(printed.value, copy=None)
    assert _wait_for_prints(page, 1) == [{"type": "application/pdf", "url": printed.value.url}]
    assert _prints(app_server, reference) == [(1, "roll")]

    page.reload(wait_until="load")
    page.wait_for_selector("#print-status:has-text('Original printed; 0 copies since.')")
    # The server no longer asks the page to print: a reload is not a second original.
    assert page.get_attribute("#print-receipt", "data-auto") is None
    assert page.evaluate("window.__prints") is None
    assert _prints(app_server, reference) == [(1, "roll")]
