"""Money at the edges: one parser and one formatter. Inside, amounts are int piastres."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agents.digits import normalize_number

PIASTRES_PER_POUND = 100
# Far above any counter transaction, far below a 64-bit column.
MAX_AMOUNT = 10**12

_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def parse_amount(text: str) -> int:
    """Piastres for a typed amount in pounds: "150", "150.5", "150.50", "١٥٠٫٥٠", "1,200.00".

    Raises ValidationError (with a message for the person) for anything else,
    including more than two decimals, signs, zero handled by the caller.
    """
    cleaned = normalize_number(str(text)).replace(" ", "")
    match = _AMOUNT.match(cleaned)
    if not match:
        if re.match(r"^-?\d[\d,]*\.\d{3,}$", cleaned):
            raise ValidationError(_("Piastres have two decimals at most."), code="precision")
        raise ValidationError(_("Enter an amount in pounds, like 150 or 150.50."), code="invalid")
    pounds = int(match.group(1).replace(",", ""))
    piastres = int((match.group(2) or "0").ljust(2, "0"))
    amount = pounds * PIASTRES_PER_POUND + piastres
    if amount > MAX_AMOUNT:
        raise ValidationError(_("That amount is too large."), code="too_large")
    return amount


def format_amount(piastres: int) -> str:
    """ "1,234.50" for 123450 piastres (sign kept)."""
    sign = "-" if piastres < 0 else ""
    pounds, rest = divmod(abs(piastres), PIASTRES_PER_POUND)
    return f"{sign}{pounds:,}.{rest:02d}"
