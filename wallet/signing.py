"""The wallet provider's callback signature: HMAC-SHA256 over ``timestamp + "." + body``.

The provider sends ``X-Wallet-Timestamp`` (unix seconds) and ``X-Wallet-Signature``
(lower-case hex). A timestamp outside ``tolerance`` seconds of now is refused so that
a captured callback cannot be replayed for ever; within it, replays are the callback
handler's to catch (by txn_id).
"""

import hashlib
import hmac


class SignatureError(Exception):
    """A callback whose signature headers do not prove it came from the provider."""


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
) -> int:
    """Return the callback's timestamp, or raise ``SignatureError`` saying what is wrong."""
    if not timestamp_header:
        raise SignatureError("the X-Wallet-Timestamp header is missing")
    if not signature_header:
        raise SignatureError("the X-Wallet-Signature header is missing")
    timestamp_text = timestamp_header.strip()
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
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
