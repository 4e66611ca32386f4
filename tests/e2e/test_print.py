"""Printing a receipt in Chromium: the print frame loads the PDF and the print dialog opens on it.

Headless Chromium has no print dialog, so every frame's window.print is replaced
(before any script of the page runs) by one that records the call and the
document it was called in. The database, read as an operator would, says how
many prints were made.
"""

import re
from collections.abc import Callable

from playwright.sync_api import Response

from tests.e2e.conftest import RECORD_PRINTS, open_pay_form, screenshot

PRINT_PDF = re.compile(r"/receipts/prints/[^/]+\.pdf$")


def _pay(page, server, licence: str, script: bool = True) -> str:
    """A cash payment for the demo citizen; returns its receipt number.

    `script=False`: the receipt page's script is held back, so the page keeps the
    address it was posted to; the number is read from the page.
    """
    open_pay_form(page, server, licence)
    page.keyboard.type("50")
    page.wait_for_selector("#pay-change:has-text('26.00')")  # the change, worked out as typed
    if not script:
        with page.expect_navigation(wait_until="load"):
            page.keyboard.press("Enter")  # the form's button: posted and printed at once
        return re.search(r"/receipts/(\d{12})/", page.get_attribute("#print-receipt", "data-page"))[
            1
        ]
    page.keyboard.press("Enter")  # the form's button: posted and printed at once
    page.wait_for_url(re.compile(r"/receipts/\d{12}/$"))
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


def test_the_original_is_recorded_by_the_confirmation_then_each_press_prints_a_copy(
    login, app_server
):
    page = login("agent.01001.1", language="en")
    page.add_init_script(RECORD_PRINTS)
    # The payment's own page would load the original's print into its frame: its script is
    # held back there. The original is recorded by the confirmation all the same (a print
    # that jammed is a copy), and the receipt is opened again as from the payments list.
    page.route(re.compile(r"/js/receipt[^/]*\.js$"), lambda route: route.abort())
    reference = _pay(page, app_server.base, "7001/2026", script=False)
    page.unroute(re.compile(r"/js/receipt[^/]*\.js$"))
    assert _prints(app_server, reference) == [(1, "roll")]
    assert _counted(app_server, reference) == [(1, 0)]
    page.goto(f"{app_server.base}/receipts/{reference}/", wait_until="load")
    page.wait_for_selector("#print-receipt:focus")
    assert page.get_attribute("#print-receipt", "data-auto") is None
    assert page.get_attribute("#print-receipt", "data-print") is None
    page.wait_for_selector("#print-status:has-text('Original printed; 0 copies since.')")
    assert _prints(app_server, reference) == [(1, "roll")]  # opening the page printed nothing

    with page.expect_response(_new_print()) as first:
        page.click("#print-receipt")
    _expect_frame_pdf(first.value, copy=2)
    prints = _wait_for_prints(page, 1)
    assert prints == [{"type": "application/pdf", "url": first.value.url}]
    assert _prints(app_server, reference) == [(1, "roll"), (2, "roll")]
    assert _counted(app_server, reference) == [(1, 1)]
    page.wait_for_selector("#print-status:has-text('Original printed; 1 copy since.')")
    page.wait_for_selector("#print-receipt:enabled")
    screenshot(page, "print/copy")

    with page.expect_response(_new_print(first.value)) as second:
        page.click("#print-receipt")
    _expect_frame_pdf(second.value, copy=3)
    prints = _wait_for_prints(page, 2)
    assert prints[1] == {"type": "application/pdf", "url": second.value.url}
    assert _prints(app_server, reference) == [(1, "roll"), (2, "roll"), (3, "roll")]
    assert _counted(app_server, reference) == [(1, 2)]
    page.wait_for_selector("#print-status:has-text('Original printed; 2 copies since.')")


def test_after_a_payment_the_original_prints_by_itself_and_a_reload_does_not_print_again(
    login, app_server
):
    page = login("agent.01001.1", language="en")
    page.add_init_script(RECORD_PRINTS)
    with page.expect_response(_new_print()) as printed:
        reference = _pay(page, app_server.base, "7002/2026")
    # The page answering the POST names its own address: a reload reads, it does not post.
    assert page.url.endswith(f"/receipts/{reference}/")
    _expect_frame_pdf(printed.value, copy=None)
    assert _wait_for_prints(page, 1) == [{"type": "application/pdf", "url": printed.value.url}]
    assert _prints(app_server, reference) == [(1, "roll")]

    page.reload(wait_until="load")
    page.wait_for_selector("#print-status:has-text('Original printed; 0 copies since.')")
    # The server no longer asks the page to print: a reload is not a second original.
    assert page.get_attribute("#print-receipt", "data-auto") is None
    assert page.evaluate("window.__prints") is None
    assert _prints(app_server, reference) == [(1, "roll")]
