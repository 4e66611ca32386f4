"""Digits as people type them at an Egyptian counter.

Keyboards there produce Arabic-Indic (٠١٢٣٤٥٦٧٨٩) or Eastern Arabic (۰-۹)
digits as often as ASCII ones; everything numeric is normalised to ASCII
at the edge, before validation.
"""

from __future__ import annotations

_DIGITS = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹",
    "01234567890123456789",
)
# Arabic decimal separator, Arabic comma/thousands separator.
_SEPARATORS = str.maketrans({"٫": ".", "٬": ",", "،": ","})


def normalize_digits(text: str) -> str:
    """ASCII digits for Arabic-Indic and Eastern Arabic ones; other characters unchanged."""
    return text.translate(_DIGITS)


def normalize_number(text: str) -> str:
    """normalize_digits, plus the Arabic decimal and thousands separators, trimmed."""
    return text.translate(_DIGITS).translate(_SEPARATORS).strip()
