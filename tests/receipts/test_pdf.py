"""The receipt PDF, checked as a person's tools see it: rasterised, scanned and read back."""

import dataclasses
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from itertools import groupby
from unittest import mock

import pytest
from barcode.charsets import code128 as code_sets
from reportlab.graphics.barcode import qrencoder
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from receipts.arabic import FONT, register_fonts, visual
from receipts.data import ReceiptData, ReceiptLine
from receipts.pdf import (
    LAYOUTS,
    LEADING,
    _qr_codewords,
    code128_modules,
    layout,
    qr_modules,
    render_receipt,
)

REFERENCE = "123456789012"
VERIFY_URL = "http://127.0.0.1:8000/r/abc.def"

RECEIPT = ReceiptData(
    kind="payment",
    reference=REFERENCE,
    branch_ar="مكتب بريد العتبة",
    branch_en="Attaba Post Office",
    branch_code="01001",
    counter_number=2,
    agent_name="منى البنا",
    issued_at=datetime(2025, 6, 1, 11, 32, tzinfo=UTC),  # 14:32 in Cairo (summer time)
    total=2400,
    verify_url=VERIFY_URL,
    citizen_name="محمد عبد الله حسن",
    national_id_masked="2••••••••••••51",
    service_ar="صورة طبق الأصل من رخصة",
    service_en="Certified true copy of a licence",
    agency_ar="الوحدات المحلية",
    agency_en="Local administration units",
    budget_item="1/2/3/16",
    references=[("رقم الرخصة", "Licence number", "9876/2025")],
    lines=[
        ReceiptLine("رسم الوحدة المحلية", "Local unit fee", 2000),
        ReceiptLine("ضريبة الدمغة", "Stamp duty", 200),
        ReceiptLine("عمولة البريد", "Post commission", 200),
    ],
    tendered=5000,
    change=2600,
)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="needs pdftoppm and pdftotext (Debian package poppler-utils)",
)
needs_zbar = pytest.mark.skipif(
    shutil.which("zbarimg") is None, reason="needs zbarimg (Debian package zbar-tools)"
)


def receipt(**changes) -> ReceiptData:
    return dataclasses.replace(RECEIPT, **changes)


def page_size(pdf: bytes) -> tuple[float, float]:
    (box,) = re.findall(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", pdf)
    return float(box[0]), float(box[1])


def text_of(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def scan(pdf: bytes, tmp_path) -> set[str]:
    """What a scanner reads off the page printed at 300 dpi: every barcode and QR code."""
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "page.png")], capture_output=True, text=True
    )
    return set(result.stdout.split())


# What is printed -----------------------------------------------------------


def test_a_roll_receipt_is_80_mm_wide():
    pdf = render_receipt(receipt())

    assert pdf.startswith(b"%PDF-")
    width, _height = page_size(pdf)
    assert width == pytest.approx(80 * mm, abs=0.01)


def test_an_a4_receipt_is_one_a4_page():
    pdf = render_receipt(receipt(copy_number=1, voided=True), layout="a4")

    assert page_size(pdf) == pytest.approx((595.2756, 841.8898), abs=0.01)
    assert pdf.count(b"/Type /Page\n") == 1


def test_receipts_rendered_in_several_threads_at_once_are_each_whole():
    """Under ASGI, sync views run in several threads; ReportLab's fonts are shared."""
    from concurrent.futures import ThreadPoolExecutor

    expected = render_receipt(receipt())
    names = ["سيد عبد الرحمن", "منى إبراهيم", "Ahmed", "مصطفى كمال", "هدى", "يوسف الشريف"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        pdfs = list(
            pool.map(lambda i: render_receipt(receipt(citizen_name=names[i % 6])), range(60))
        )
    assert all(pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") for pdf in pdfs)
    assert render_receipt(receipt()) == expected


def test_the_daily_reports_pdf_waits_for_the_receipts_font_lock(db):
    """The report embeds the same shared font as the receipts: one lock for both."""
    import threading

    from core.clock import local_today
    from receipts.pdf.fonts import render_lock
    from receipts.reports.data import daily_report
    from receipts.reports.pdf import daily_report_pdf

    report = daily_report(day=local_today(), scope=None)
    drawn = threading.Event()
    worker = threading.Thread(target=lambda: (daily_report_pdf(report), drawn.set()))
    with render_lock:
        worker.start()
        assert not drawn.wait(0.5)  # held up while a receipt would be drawing
    assert drawn.wait(30)
    worker.join()


def test_it_refuses_an_unknown_layout():
    with pytest.raises(ValueError, match="layout"):
        render_receipt(receipt(), layout="letter")


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        render_receipt(receipt(kind="refund"))


def test_the_roll_grows_with_the_lines():
    one = [ReceiptLine("رسم", "Fee", 2400)]
    many = [ReceiptLine(f"رسم {n}", f"Fee {n}", 300) for n in range(8)]

    _, short = page_size(render_receipt(receipt(lines=one)))
    _, long = page_size(render_receipt(receipt(lines=many)))

    assert long - short == pytest.approx(7 * LAYOUTS["roll"].size * LEADING)  # 7 more lines


def test_the_same_receipt_gives_the_same_bytes_dated_when_it_was_issued():
    pdf = render_receipt(receipt())

    assert pdf == render_receipt(receipt())
    assert b"/CreationDate (D:20250601113200+00'00')" in pdf


def test_every_stream_is_deflated_and_the_receipt_stays_small():
    pdf = render_receipt(receipt())

    streams = re.findall(rb"<<([^<>]*)>>\nstream\n", pdf)
    assert len(streams) == 3  # the page, the font file and its ToUnicode map
    assert all(b"/Filter [ /FlateDecode ]" in dictionary for dictionary in streams)
    assert len(pdf) < 40_000


@pytest.fixture
def drawn():
    """Every string drawn on a receipt while the test runs, as it was handed to the PDF."""
    strings: list[str] = []
    original = layout._show

    def show(canvas, x, y, text, *args, **kwargs):
        strings.append(text)
        return original(canvas, x, y, text, *args, **kwargs)

    with mock.patch.object(layout, "_show", show):
        yield strings


@needs_poppler
def test_text_looks_as_reportlabs_draw_string_would_draw_it(tmp_path):
    """layout._show writes the text operators itself: the page must come out the same."""
    register_fonts()
    strings = [
        ("Receipt no. 123456789012", 8.5, 0),
        (visual("مكتب بريد العتبة (ج.م)"), 11, 2),
        (visual("پریا چگونه") + " José Núñez", 7, 0),  # a second subset
        ("2••••••••••••51 \\ (x)", 8.5, 2),  # characters PDF strings escape
    ]
    pages = []
    for name in ("reportlab", "show"):
        buffer = io.BytesIO()
        c = Canvas(buffer, pagesize=(220, 140))
        c.setLineWidth(0.4)
        for i, (text, size, mode) in enumerate(strings):
            if name == "reportlab":
                c.setFont(FONT, size)
                c.drawString(10, 120 - 30 * i, text, mode=mode or None)
            else:
                layout._show(c, 10, 120 - 30 * i, text, size, mode)
        c.save()
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(buffer.getvalue())
        subprocess.run(
            ["pdftoppm", "-r", "300", "-gray", "-singlefile", str(path), str(tmp_path / name)],
            check=True,
        )
        pages.append((tmp_path / f"{name}.pgm").read_bytes())

    assert pages[0] == pages[1]
    assert "José Núñez" in text_of(buffer.getvalue(), tmp_path)


def test_arabic_is_drawn_shaped_and_right_to_left(drawn):
    render_receipt(receipt())

    # مكتب بريد العتبة in visual order, worked out by hand (see test_arabic).
    ataba, bareed, maktab = (
        "\ufe94\ufe92\ufe98\ufecc\ufedf\ufe8d",
        "\ufeaa\ufef3\ufeae\ufe91",
        ("\ufe90\ufe98\ufedc\ufee3"),
    )
    assert f"{ataba} {bareed} {maktab}" in drawn
    assert visual("إيصال سداد") in drawn
    assert visual("الرسوم (ج.م)") in drawn  # the brackets unmirrored
    assert visual("مائة") not in drawn  # 24.00: no hundreds
    assert visual("أربعة وعشرون جنيهًا مصريًا") in drawn


def test_the_time_is_cairo_time(drawn):
    render_receipt(receipt(issued_at=datetime(2025, 1, 15, 22, 30, tzinfo=UTC)))

    assert "2025-01-16 00:30" in drawn  # winter: UTC+2, already the next day


@needs_poppler
def test_an_original_says_what_was_paid_and_is_neither_copy_nor_void(tmp_path):
    text = text_of(render_receipt(receipt()), tmp_path)

    for part in [
        "Postal Counter Network",
        "Attaba Post Office",
        "Payment receipt",
        REFERENCE,
        "2025-06-01 14:32",
        "01001",
        "Certified true copy of a licence",
        "Local administration units",
        "1/2/3/16",
        "Licence number",
        "9876/2025",
        "Local unit fee",
        "20.00",
        "Stamp duty",
        "Post commission",
        "24.00",
        "twenty-four Egyptian pounds",
        "50.00",
        "26.00",
        VERIFY_URL,
    ]:
        assert part in text, part
    assert "COPY" not in text
    assert "VOID" not in text


@needs_poppler
def test_a_reprint_says_copy_and_its_number(tmp_path):
    text = text_of(render_receipt(receipt(copy_number=2)), tmp_path)

    assert "COPY" in text
    assert "Copy no. 2" in text
    assert "VOID" not in text


@needs_poppler
def test_a_voided_receipt_says_void(tmp_path):
    text = text_of(render_receipt(receipt(voided=True)), tmp_path)

    assert "VOID" in text
    assert "This receipt is void" in text


@needs_poppler
def test_a_card_payment_shows_the_masked_card_and_the_balance_after(tmp_path):
    data = receipt(
        method="card", tendered=None, change=None, card_masked="•••• 4821", card_balance_after=7600
    )
    text = text_of(render_receipt(data), tmp_path)

    assert "Card" in text
    assert "4821" in text
    assert "Balance after" in text
    assert "76.00" in text
    assert "Change" not in text


@needs_poppler
def test_a_void_slip_names_the_voided_payment(tmp_path):
    data = receipt(kind="void", reference="555566667777", payment_reference=REFERENCE)
    text = text_of(render_receipt(data), tmp_path)

    assert "Void slip" in text
    assert "Voided receipt" in text
    assert REFERENCE in text


@needs_poppler
def test_a_top_up_slip_shows_the_card_and_its_new_balance(tmp_path):
    data = receipt(
        kind="top_up",
        citizen_name=None,
        service_ar="",
        service_en="",
        agency_ar="",
        agency_en="",
        budget_item="",
        references=[],
        lines=[ReceiptLine("شحن البطاقة", "Card top-up", 10000)],
        total=10000,
        tendered=10000,
        change=0,
        card_masked="•••• 4821",
        card_balance_after=12500,
    )
    text = text_of(render_receipt(data), tmp_path)

    assert "Card top-up slip" in text
    assert "4821" in text
    assert "125.00" in text
    assert "one hundred Egyptian pounds" in text


# What a scanner reads -------------------------------------------------------


@needs_poppler
@needs_zbar
@pytest.mark.parametrize("layout", ["roll", "a4"])
@pytest.mark.parametrize(
    "changes",
    [{}, {"copy_number": 1}, {"voided": True, "copy_number": 3}],
    ids=["original", "copy", "void"],
)
def test_the_barcode_reads_the_receipt_number_and_the_qr_code_the_verify_url(
    tmp_path, layout, changes
):
    assert scan(render_receipt(receipt(**changes), layout=layout), tmp_path) == {
        REFERENCE,
        VERIFY_URL,
    }


@needs_poppler
@needs_zbar
def test_a_long_signed_url_still_scans(tmp_path):
    url = (
        "https://post.example.eg/r/"
        + "123456789012:1uQ3xk:"
        + "Wm9hbGVzX3NpZ25lZF90b2tlbl9mb3I" * 2
    )
    assert scan(render_receipt(receipt(verify_url=url)), tmp_path) == {REFERENCE, url}


# The codes, symbol by symbol --------------------------------------------------


@pytest.mark.parametrize("reference", ["991234567893", "999999999999", "990000000000"])
def test_a_number_that_starts_with_99_keeps_its_99(reference):
    """python-barcode 0.16.1 dropped the leading pair: 12 digits printed as 10."""
    modules = code128_modules(reference)

    assert len(modules) == 11 * (1 + 6 + 1) + 13  # start, 6 digit pairs, check, stop
    assert modules[11:22] == code_sets.CODES[99]  # right after Start C: the data pair 99


@needs_poppler
@needs_zbar
def test_a_receipt_number_that_starts_with_99_scans_whole(tmp_path):
    reference = "991234567893"
    assert scan(render_receipt(receipt(reference=reference)), tmp_path) == {reference, VERIFY_URL}


def test_the_code128_uses_code_set_c_for_digits():
    modules = code128_modules(REFERENCE)

    assert modules.startswith("11010011100")  # Start C
    assert modules.endswith("1100011101011")  # Stop
    assert len(modules) == 11 * (1 + 6 + 1) + 13  # start, 6 digit pairs, check, stop


def _iso_penalty(modules):
    """The ISO/IEC 18004 mask penalty, counted the slow, obvious way."""
    n, score = len(modules), 0
    for lines in (modules, [list(col) for col in zip(*modules, strict=True)]):
        for line in lines:
            for _dark, run in groupby(line):
                length = len(list(run))
                if length >= 5:
                    score += 3 + length - 5
            bits = "0000" + "".join("1" if dark else "0" for dark in line) + "0000"
            for finder in ("00001011101", "10111010000"):
                score += 40 * sum(bits[i : i + 11] == finder for i in range(len(bits) - 10))
    for r in range(n - 1):
        for c in range(n - 1):
            if modules[r][c] == modules[r][c + 1] == modules[r + 1][c] == modules[r + 1][c + 1]:
                score += 3
    dark = sum(map(sum, modules))
    return score + 10 * (abs(20 * dark - 10 * n * n) // (n * n))


@pytest.mark.parametrize("length", [0, 10, 40, 80, 150, 300])
def test_the_qr_code_is_reportlabs_symbol_with_the_mask_of_least_penalty(length):
    url = VERIFY_URL + "x7Q-" * (length // 4)
    penalties, symbols = [], []
    for mask in range(8):
        qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        qr.addData(url)
        qr.make()
        qr.makeImpl(True, mask)  # format information blank, as when choosing
        penalties.append(_iso_penalty(qr.modules))
        qr.makeImpl(False, mask)
        symbols.append(qr.modules)
        assert _qr_codewords(qr) == qr.dataCache

    assert qr_modules(url) == symbols[penalties.index(min(penalties))]
