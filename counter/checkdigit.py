"""The Luhn check digit (ISO/IEC 7812-1, Annex B), for card numbers and payment references.

It catches every single-digit error and most swaps of adjacent digits, which
is what a person copying a number from a receipt or a card gets wrong.
"""

from __future__ import annotations

import secrets


def luhn_digit(payload: str) -> str:
    """The digit to append to `payload` (digits only) so the whole passes the Luhn check."""
    total = 0
    for i, char in enumerate(reversed(payload)):
        digit = int(char)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return (
        number.isascii()
        and number.isdigit()
        and len(number) >= 2
        and (luhn_digit(number[:-1]) == number[-1])
    )


def random_with_check_digit(length: int, prefix: str = "") -> str:
    """`length` digits: `prefix`, random digits, and a Luhn check digit."""
    body = prefix + "".join(secrets.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def new_reference() -> str:
    """A receipt reference: twelve digits, the last a Luhn check digit.

    Random rather than sequential, so that references can't be enumerated
    from one receipt; the UNIQUE constraint catches the rare repeat.
    """
    return random_with_check_digit(12)
