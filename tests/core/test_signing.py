"""Signed callbacks (the wallet, the agencies): HMAC-SHA256 over timestamp, dot, body."""

import hashlib
import hmac

import pytest

from core.signing import SignatureError, sign, verify

SECRET = b"s3cret"
BODY = b'{"event": "payment.paid", "txn_id": "WT12345678901234"}'
NOW = 1_790_000_000


def test_sign_is_hex_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET, b"1790000000." + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, NOW, BODY) == expected


def test_a_good_signature_returns_the_timestamp():
    assert verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW + 10) == NOW


def test_an_upper_case_signature_is_accepted():
    assert verify(SECRET, str(NOW), sign(SECRET, NOW, BODY).upper(), BODY, now=NOW) == NOW


@pytest.mark.parametrize(
    ("timestamp", "signature", "message"),
    [
        (None, "abc", "X-Wallet-Timestamp header is missing"),
        ("", "abc", "X-Wallet-Timestamp header is missing"),
        (str(NOW), None, "X-Wallet-Signature header is missing"),
        (str(NOW), "", "X-Wallet-Signature header is missing"),
        ("soon", "abc", "not a number"),
        ("-5", "abc", "not a number"),
        ("1.5e9", "abc", "not a number"),
    ],
)
def test_missing_or_malformed_headers_are_refused(timestamp, signature, message):
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, timestamp, signature, BODY, now=NOW)


def test_a_timestamp_older_than_the_tolerance_is_refused():
    signature = sign(SECRET, NOW, BODY)

    assert verify(SECRET, str(NOW), signature, BODY, now=NOW + 300) == NOW
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, str(NOW), signature, BODY, now=NOW + 301)


def test_a_timestamp_too_far_in_the_future_is_refused():
    signature = sign(SECRET, NOW, BODY)

    with pytest.raises(SignatureError, match="future"):
        verify(SECRET, str(NOW), signature, BODY, now=NOW - 61, tolerance=60)


def test_a_signature_made_with_another_secret_is_refused():
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(NOW), sign(b"other", NOW, BODY), BODY, now=NOW)


def test_a_changed_body_is_refused():
    signature = sign(SECRET, NOW, BODY)

    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(NOW), signature, BODY.replace(b"1234", b"9999"), now=NOW)


def test_a_signature_for_another_timestamp_is_refused():
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(NOW), sign(SECRET, NOW - 1, BODY), BODY, now=NOW)


def test_a_timestamp_of_thousands_of_digits_is_refused_not_an_error():
    """int() raises ValueError past 4,300 digits: a hostile header must be a refusal."""
    with pytest.raises(SignatureError, match="not a number of seconds"):
        verify(SECRET, "9" * 5000, sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_the_sender_names_its_own_headers():
    with pytest.raises(SignatureError, match="X-Agency-Timestamp"):
        verify(SECRET, "", "ab", BODY, now=NOW, sender="Agency")
