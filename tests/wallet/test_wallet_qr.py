"""The QR symbol: inline SVG for the counter screen, PNG read back by a real decoder."""

import re
import shutil
import subprocess

import pytest
import segno

from wallet.emvco import EmvcoError, MerchantQr, build, encode, parse
from wallet.qr import QUIET_ZONE, render_png, render_svg, symbol

ZBARIMG = shutil.which("zbarimg")
needs_zbarimg = pytest.mark.skipif(
    ZBARIMG is None, reason="zbarimg is not installed (Debian package zbar-tools)"
)


def a_qr(**changes) -> MerchantQr:
    fields = {
        "provider_guid": "eg.post.wallet",
        "merchant_id": "EGPOST000001",
        "terminal_id": "CAI0123-04",
        "amount_piastres": 1_234_567,
        "merchant_name": "EGYPT POST",
        "merchant_city": "CAIRO",
        "bill_number": "B2026120100042",
        "reference": "PAY-7F3A9C21",
        "terminal_label": "COUNTER 4",
    }
    return MerchantQr(**(fields | changes))


def read_with_zbarimg(png: bytes, tmp_path) -> str:
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    result = subprocess.run(
        [ZBARIMG, "--raw", "-q", str(image)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.removesuffix("\n")


def test_the_symbol_is_a_full_qr_code_at_error_correction_m():
    qr_symbol = symbol(build(a_qr()))

    assert qr_symbol.error == "M"
    assert not qr_symbol.is_micro


def test_the_error_correction_stays_m_where_segno_would_raise_it():
    # Our payloads are too long for segno to find room for level Q in the same
    # version, so the shortest payload there is shows that the level is pinned.
    payload = encode([("00", "01")])
    assert segno.make_qr(payload, error="m").error != "M"

    assert symbol(payload).error == "M"


def test_the_svg_is_inline_with_a_role_and_the_callers_label():
    svg = render_svg(build(a_qr()), aria_label="Pay EGP 12,345.67 with your wallet")

    assert svg.startswith('<svg role="img" aria-label="Pay EGP 12,345.67 with your wallet" ')
    assert "<?xml" not in svg
    assert svg.endswith("</svg>")


def test_the_svg_escapes_the_label():
    svg = render_svg(build(a_qr()), aria_label='Pay "now" <b>&</b>')

    assert 'aria-label="Pay &quot;now&quot; &lt;b&gt;&amp;&lt;/b&gt;"' in svg


def test_the_svg_has_a_quiet_zone_of_4_modules_and_scales_to_its_box():
    payload = build(a_qr())
    modules = symbol(payload).symbol_size(scale=1, border=0)[0]
    svg = render_svg(payload, aria_label="QR")

    side = modules + 2 * QUIET_ZONE
    assert QUIET_ZONE == 4
    assert f'viewBox="0 0 {side} {side}"' in svg
    assert not re.search(r'<svg[^>]* (width|height)="', svg)
    # The first dark module is drawn 4 modules in from the edge.
    assert re.search(r'd="M4 4\.5h', svg)


def test_the_svg_paints_the_quiet_zone_white():
    svg = render_svg(build(a_qr()), aria_label="QR")

    assert 'fill="#fff"' in svg


def test_it_refuses_to_draw_a_payload_with_a_wrong_crc():
    payload = build(a_qr())
    tampered = payload.replace("12345.67", "92345.67")

    with pytest.raises(EmvcoError, match="CRC"):
        render_svg(tampered, aria_label="QR")
    with pytest.raises(EmvcoError, match="CRC"):
        render_png(tampered)


def test_the_png_is_a_png():
    assert render_png(build(a_qr())).startswith(b"\x89PNG\r\n\x1a\n")


@needs_zbarimg
def test_a_scanner_reads_the_png_back_to_the_same_fields(tmp_path):
    qr = a_qr()
    payload = build(qr)

    read = read_with_zbarimg(render_png(payload), tmp_path)

    assert read == payload
    assert parse(read) == qr


@needs_zbarimg
def test_a_scanner_reads_the_longest_fields_back(tmp_path):
    qr = a_qr(
        amount_piastres=99_999_999_999,
        merchant_name="N" * 25,
        merchant_city="C" * 15,
        bill_number="b" * 25,
        reference="r~!@#$%^&*()_+{}|:<>?-=[]"[:25],
        terminal_label="t" * 25,
    )
    payload = build(qr)

    assert parse(read_with_zbarimg(render_png(payload, scale=4), tmp_path)) == qr
