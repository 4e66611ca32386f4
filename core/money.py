"""Money at the edges: one parser and one formatter. Inside, amounts are int piastres."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.digits import normalize_number

PIASTRES_PER_POUND = 100
# Far above any counter transaction, far below a 64-bit column.
MAX_AMOUNT = 10**12

# ASCII digits only ([0-9], not \d): \d also takes Devanagari or fullwidth digits,
# which no counter keyboard types. Arabic-Indic ones are made ASCII before this.
_AMOUNT = re.compile(r"^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?$")
_TOO_PRECISE = re.compile(r"^-?[0-9][0-9,]*\.[0-9]{3,}$")
# More pound digits than MAX_AMOUNT has is too large, whatever they are; checked
# before int(), which refuses strings of thousands of digits with a ValueError.
_MAX_POUND_DIGITS = len(str(MAX_AMOUNT // PIASTRES_PER_POUND))


def parse_amount(text: str) -> int:
    """Piastres for a typed amount in pounds: "150", "150.5", "150.50", "١٥٠٫٥٠", "1,200.00".

    Raises ValidationError (with a message for the person) for anything else,
    including more than two decimals, signs, zero handled by the caller.
    """
    cleaned = normalize_number(str(text)).replace(" ", "")
    match = _AMOUNT.match(cleaned)
    if not match:
        if _TOO_PRECISE.match(cleaned):
            raise ValidationError(_("Piastres have two decimals at most."), code="precision")
        raise ValidationError(_("Enter an amount in pounds, like 150 or 150.50."), code="invalid")
    digits = match.group(1).replace(",", "").lstrip("0")
    if len(digits) > _MAX_POUND_DIGITS:
        raise ValidationError(_("That amount is too large."), code="too_large")
    pounds = int(digits or "0")
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
