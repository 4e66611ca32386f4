"""Signed tokens: the receipt number in a receipt's QR code, and a print's link.

The QR code's token has no expiry: a receipt is checked years later. Altering
any character makes it "not genuine"; the number alone (without the key) can't
produce a token.
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


# A print's own link, which the receipt page loads into its print frame. Short-lived:
# it re-draws that print (the original, say) without counting, for its printer only.
_PRINT_SALT = "receipts.print"
PRINT_LINK_SECONDS = 300


def print_token_for(print_id: int) -> str:
    return signing.TimestampSigner(salt=_PRINT_SALT).sign(str(print_id))


def print_from(token: str) -> int | None:
    """The print named by a genuine token not older than PRINT_LINK_SECONDS, or None."""
    try:
        value = signing.TimestampSigner(salt=_PRINT_SALT).unsign(token, max_age=PRINT_LINK_SECONDS)
    except signing.BadSignature:  # altered, or expired (SignatureExpired is one)
        return None
    return int(value) if value.isdigit() else None
