"""The EMVCo payload drawn as a QR symbol: inline SVG for the counter screen, PNG for print.

Both refuse a payload that `decode` refuses, so a QR with a wrong CRC never reaches
a customer's phone, where the wallet would only say "invalid code".
"""

from __future__ import annotations

import html
import io

import segno

from wallet.emvco import decode

# Error correction M (about 15 % of the symbol may be lost to glare or a scratched
# screen) keeps the symbol small; pinned, since segno would otherwise raise the level
# whenever the same version has room for it.
ERROR_CORRECTION = "M"
# The quiet zone ISO/IEC 18004 asks for: 4 light modules on each side.
QUIET_ZONE = 4


def symbol(payload: str) -> segno.QRCode:
    """The QR symbol of a valid payload: a full QR code (never Micro QR), level M."""
    decode(payload)
    return segno.make_qr(payload, error=ERROR_CORRECTION, boost_error=False)


def render_svg(payload: str, *, aria_label: str) -> str:
    """An inline `<svg role="img" aria-label=…>` that scales to its box (viewBox, no size).

    The light modules and the quiet zone are painted white: on a dark page a
    transparent quiet zone is no quiet zone.
    """
    svg = symbol(payload).svg_inline(
        border=QUIET_ZONE, dark="#000", light="#fff", omitsize=True, svgclass="wallet-qr"
    )
    attributes = f'role="img" aria-label="{html.escape(aria_label, quote=True)}"'
    return svg.replace("<svg ", f"<svg {attributes} ", 1)


def render_png(payload: str, *, scale: int = 8) -> bytes:
    """The symbol as PNG bytes, `scale` pixels a module, black on white, quiet zone included."""
    buffer = io.BytesIO()
    symbol(payload).save(
        buffer, kind="png", scale=scale, border=QUIET_ZONE, dark="#000", light="#fff"
    )
    return buffer.getvalue()
