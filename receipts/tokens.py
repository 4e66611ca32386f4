"""The signed token in a receipt's QR code: the receipt number, signed with the site key.

No expiry: a receipt is checked years later. Altering any character makes it
"not genuine"; the number alone (without the key) can't produce a token.
"""

from __future__ import annotations

from django.core import signing

_SALT = "receipts.verify"


def token_for(reference: str) -> str:
    return signing.Signer(salt=_SALT).sign(reference)


def reference_from(token: str) -> str | None:
    """The receipt number in a genuine token, or None for a forged or altered one."""
    try:
        return signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        return None
