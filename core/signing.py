"""Signed callbacks from outside systems: HMAC-SHA256 over ``timestamp + "." + body``.

The sender (the wallet provider, an agency's system) sends ``X-<Who>-Timestamp``
(unix seconds) and ``X-<Who>-Signature`` (hex). A timestamp outside ``tolerance``
seconds of now is refused so that a captured callback cannot be replayed for ever;
within it, replays are the receiving view's to catch.
"""

import hashlib
import hmac


class SignatureError(Exception):
    """A callback whose signature headers do not prove it came from its sender."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: int = 300,
    sender: str = "Wallet",
) -> int:
    """Return the callback's timestamp, or raise ``SignatureError`` saying what is wrong.

    ``sender`` names the headers in the messages (``X-<sender>-Timestamp``).
    """
    if not timestamp_header:
        raise SignatureError(f"the X-{sender}-Timestamp header is missing")
    if not signature_header:
        raise SignatureError(f"the X-{sender}-Signature header is missing")
    timestamp_text = timestamp_header.strip()
    # Digits only, and few of them: int() refuses thousands of digits with a ValueError.
    if not timestamp_text.isascii() or not timestamp_text.isdigit() or len(timestamp_text) > 12:
        raise SignatureError(f"the timestamp is not a number of seconds: {timestamp_header!r}")
    timestamp = int(timestamp_text)
    if timestamp < now - tolerance:
        raise SignatureError(f"the timestamp is too old ({int(now - timestamp)} s ago)")
    if timestamp > now + tolerance:
        raise SignatureError(
            f"the timestamp is too far in the future ({int(timestamp - now)} s ahead)"
        )
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().lower().encode()):
        raise SignatureError("the signature does not match the body")
    return timestamp
