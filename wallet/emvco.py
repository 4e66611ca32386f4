"""EMVCo merchant-presented QR payloads (EMV QRCPS MPM v1.1): TLV, CRC, and our counter payload.

Pure Python on purpose: nothing from Django or the project, so a wallet provider's
engineers can read it alone and the rules live in one place.

A payload is a string of data objects, each an ID (2 digits), a length (2 digits,
counted in characters) and a value. IDs 26-51 (merchant account information), 62
(additional data), 64 (merchant information in another language) and 80-99
(unreserved) are templates: their value is itself a string of data objects. The
payload ends with the CRC object "6304" + 4 upper-case hex digits, the CRC being
taken over everything before those 4 digits, "6304" included (QRCPS 4.7.3).

`decode` is strict where readers in the wild are lax, because each laxity is a
bug we have seen: a CRC with its leading zero dropped, a lower-case CRC, a
decoder that never checks the CRC, a name silently cut to fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "EmvcoError",
    "MerchantQr",
    "build",
    "crc16_ccitt_false",
    "decode",
    "encode",
    "format_amount",
    "parse",
    "parse_amount",
]


class EmvcoError(ValueError):
    """A payload or a value that does not follow the EMVCo rules; the message says which."""


MAX_PAYLOAD_CHARS = 512  # QRCPS 4.1: the whole payload, CRC included
MAX_VALUE_CHARS = 99  # two length digits
CRC_ID = "63"
PAYLOAD_FORMAT_ID = "00"

TEMPLATE_IDS = frozenset(
    [f"{n:02d}" for n in range(26, 52)] + ["62", "64"] + [f"{n:02d}" for n in range(80, 100)]
)
# In the language template the alternate name (01) and city (02) are written in the
# other language's own script (QRCPS 4.8), so they are the only values allowed
# outside the common character set.
LANGUAGE_TEMPLATE_ID = "64"
LANGUAGE_FREE_TEXT_IDS = frozenset({"01", "02"})

_ID = re.compile(r"[0-9]{2}")
_UPPER_HEX4 = re.compile(r"[0-9A-F]{4}")
_ANY_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    The check value for b"123456789" is 0x29B1.
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _crc_text(text_before_crc: str) -> str:
    # "%04X": upper case, leading zeros kept (0x0A1B is "0A1B", never "A1B").
    return f"{crc16_ccitt_false(text_before_crc.encode('utf-8')):04X}"


def _is_ans(value: str) -> bool:
    """The EMVCo common character set ("ans"): printable ASCII, 0x20 to 0x7E."""
    return all(" " <= char <= "~" for char in value)


def _check_value(path: str, value: str, *, free_text: bool) -> None:
    if not value:
        raise EmvcoError(f"data object {path} is empty; EMVCo values have 1 to 99 characters")
    if len(value) > MAX_VALUE_CHARS:
        raise EmvcoError(
            f"data object {path} has {len(value)} characters; the most a length field holds is 99"
        )
    if free_text:
        if not value.isprintable():
            raise EmvcoError(f"data object {path} has a control character")
    elif not _is_ans(value):
        bad = next(char for char in value if not (" " <= char <= "~"))
        raise EmvcoError(
            f"data object {path} has {bad!r}; only printable ASCII (the EMVCo 'ans' set) is allowed"
        )


# --- encoding ---------------------------------------------------------------------------

Value = str | Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(fields: Mapping | Iterable, where: str) -> list[tuple[str, object]]:
    items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    seen: set[str] = set()
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise EmvcoError(f"{where}: each field is an (id, value) pair, not {item!r}")
        tag = item[0]
        if not (isinstance(tag, str) and _ID.fullmatch(tag)):
            raise EmvcoError(f"{where}: the id {tag!r} is not two digits")
        if tag in seen:
            raise EmvcoError(f"{where}: the id {tag} appears twice")
        seen.add(tag)
    return items


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def encode(fields: Mapping[str, Value] | Iterable[tuple[str, Value]]) -> str:
    """The payload for `fields`, in their order, with the CRC object appended.

    `fields` is a list of (id, value) pairs (or a dict, in its order); a template's
    value (ids 26-51, 62, 64, 80-99) is itself a list of pairs or a dict. The first
    field is the payload format indicator "00"; "63", the CRC, is added here and
    refused in `fields`.
    """
    parts = []
    pairs = _pairs(fields, "payload")
    if not pairs or pairs[0][0] != PAYLOAD_FORMAT_ID:
        raise EmvcoError("the first data object must be the payload format indicator, id 00")
    for tag, value in pairs:
        if tag == CRC_ID:
            raise EmvcoError("id 63 is the CRC, which encode appends itself")
        if tag in TEMPLATE_IDS:
            if isinstance(value, str):
                raise EmvcoError(f"id {tag} is a template: give its data objects, not a string")
            sub_parts = []
            for sub_tag, sub_value in _pairs(value, f"template {tag}"):
                if not isinstance(sub_value, str):
                    raise EmvcoError(f"data object {tag}.{sub_tag} must be a string")
                free_text = tag == LANGUAGE_TEMPLATE_ID and sub_tag in LANGUAGE_FREE_TEXT_IDS
                _check_value(f"{tag}.{sub_tag}", sub_value, free_text=free_text)
                sub_parts.append(_tlv(sub_tag, sub_value))
            value = "".join(sub_parts)
            if len(value) > MAX_VALUE_CHARS:
                raise EmvcoError(
                    f"template {tag} has {len(value)} characters; "
                    "the most a length field holds is 99"
                )
        elif isinstance(value, str):
            _check_value(tag, value, free_text=False)
        else:
            raise EmvcoError(f"id {tag} is not a template: its value must be a string")
        parts.append(_tlv(tag, value))
    body = "".join(parts) + CRC_ID + "04"
    payload = body + _crc_text(body)
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise EmvcoError(f"the payload has {len(payload)} characters; EMVCo allows 512")
    return payload


# --- decoding ---------------------------------------------------------------------------


def _split(text: str, where: str) -> dict[str, str]:
    """The data objects of `text` in order; refuses bad ids, lengths and repeated ids."""
    objects: dict[str, str] = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if len(header) < 4:
            raise EmvcoError(f"{where}: {header!r} at position {position} is a cut-off data object")
        tag, length_text = header[:2], header[2:]
        if not _ID.fullmatch(tag):
            raise EmvcoError(f"{where}: {tag!r} at position {position} is not a two-digit id")
        if not _ID.fullmatch(length_text):
            raise EmvcoError(f"{where}: the length of id {tag} is {length_text!r}, not two digits")
        length = int(length_text)
        if length == 0:
            raise EmvcoError(f"{where}: id {tag} has length 00; EMVCo values are not empty")
        start = position + 4
        if start + length > len(text):
            raise EmvcoError(
                f"{where}: id {tag} says {length} characters but only {len(text) - start} remain"
            )
        if tag in objects:
            raise EmvcoError(f"{where}: id {tag} appears twice")
        objects[tag] = text[start : start + length]
        position = start + length
    return objects


def decode(payload: str) -> dict[str, str | dict[str, str]]:
    """The data objects of a payload whose CRC is right, templates as nested dicts.

    Refuses, with an `EmvcoError` that says why: a missing CRC object, a CRC not
    made of 4 upper-case hex digits (a dropped leading zero, lower case), a CRC
    that does not match, malformed ids and lengths, repeated ids, values outside
    the EMVCo character set, and a payload that does not start with "000201".
    The returned dict keeps the payload's order and includes "63".
    """
    if not isinstance(payload, str) or not payload:
        raise EmvcoError("the payload is empty")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise EmvcoError(f"the payload has {len(payload)} characters; EMVCo allows 512")
    crc_start = len(payload) - 8
    if crc_start < 0 or payload[crc_start : crc_start + 4] != CRC_ID + "04":
        # Not "6304" and 4 characters: say what is there instead, if "6304" is near the end.
        near_end = payload.rfind(CRC_ID + "04", max(0, len(payload) - 12))
        if near_end < 0:
            raise EmvcoError('the payload does not end with the CRC object "6304" and 4 hex digits')
        given = payload[near_end + 4 :]
        raise EmvcoError(
            f"the CRC is {given!r}: it has {len(given)} characters, not 4 "
            "(a CRC below 0x1000 keeps its leading zeros)"
        )
    given = payload[crc_start + 4 :]
    if not _UPPER_HEX4.fullmatch(given):
        if _ANY_HEX4.fullmatch(given):
            raise EmvcoError(f"the CRC {given!r} is in lower case; EMVCo writes it in upper case")
        raise EmvcoError(f"the CRC {given!r} is not 4 hexadecimal digits")
    expected = _crc_text(payload[: crc_start + 4])
    if given != expected:
        raise EmvcoError(
            f"the CRC is {given} but the payload's content gives {expected}: "
            "the payload was changed or cut"
        )

    objects = _split(payload, "payload")
    # The "6304" found above must be the last data object, not characters inside a value.
    if list(objects)[-1] != CRC_ID or len(objects[CRC_ID]) != 4:
        raise EmvcoError("the CRC object 63 is not the last data object of the payload")
    if list(objects)[0] != PAYLOAD_FORMAT_ID or objects[PAYLOAD_FORMAT_ID] != "01":
        raise EmvcoError('the payload does not start with the payload format indicator "000201"')

    decoded: dict[str, str | dict[str, str]] = {}
    for tag, value in objects.items():
        if tag in TEMPLATE_IDS:
            subs = _split(value, f"template {tag}")
            for sub_tag, sub_value in subs.items():
                free_text = tag == LANGUAGE_TEMPLATE_ID and sub_tag in LANGUAGE_FREE_TEXT_IDS
                _check_value(f"{tag}.{sub_tag}", sub_value, free_text=free_text)
            decoded[tag] = subs
        else:
            _check_value(tag, value, free_text=False)
            decoded[tag] = value
    return decoded


# --- our payload ------------------------------------------------------------------------

PIASTRES_PER_POUND = 100
MAX_AMOUNT_CHARS = 13  # QRCPS 4.7.2: the transaction amount has up to 13 characters
# Egypt's numeric ISO 4217 currency code and ISO 3166 country code.
CURRENCY_EGP = "818"
COUNTRY_EG = "EG"
# ISO 18245 "Government Services (Not Elsewhere Classified)": the counters sell many
# authorities' services. 9311 (Tax Payments) and 9402 (Postal Services - Government
# Only) are narrower; the acquirer assigns the code, so it is a field of MerchantQr.
MCC_GOVERNMENT_SERVICES = "9399"
POINT_OF_INITIATION_DYNAMIC = "12"  # one QR for one payment, amount included

_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?")


def format_amount(piastres: int) -> str:
    """ "123.45" for 12345 piastres: no thousands separator, always two decimals."""
    if isinstance(piastres, bool) or not isinstance(piastres, int):
        raise EmvcoError(f"the amount must be int piastres, not {piastres!r}")
    if piastres <= 0:
        raise EmvcoError(f"the amount must be positive, not {piastres} piastres")
    pounds, rest = divmod(piastres, PIASTRES_PER_POUND)
    text = f"{pounds}.{rest:02d}"
    if len(text) > MAX_AMOUNT_CHARS:
        raise EmvcoError(f"the amount {text} has more than the 13 characters EMVCo allows")
    return text


def parse_amount(text: str) -> int:
    """Piastres for an EMVCo amount ("123.45", "123.5", "123"); exact, no float."""
    match = _AMOUNT.fullmatch(text) if len(text) <= MAX_AMOUNT_CHARS else None
    if not match:
        raise EmvcoError(f"the amount {text!r} is not digits with at most two decimals")
    piastres = int(match.group(1)) * PIASTRES_PER_POUND + int((match.group(2) or "0").ljust(2, "0"))
    if piastres <= 0:
        raise EmvcoError(f"the amount {text!r} is not positive")
    return piastres


# (field, EMVCo path, most characters): the spec's limits for each value we carry.
_LIMITS = (
    ("provider_guid", "26.00", 32),
    ("merchant_id", "26.01", 99),
    ("terminal_id", "26.02", 99),
    ("mcc", "52", 4),
    ("merchant_name", "59", 25),
    ("merchant_city", "60", 15),
    ("bill_number", "62.01", 25),
    ("reference", "62.05", 25),
    ("terminal_label", "62.07", 25),
)


@dataclass(frozen=True)
class MerchantQr:
    """What our dynamic counter QR carries; refuses at creation anything EMVCo would not.

    A name or city over the EMVCo limit (25 and 15 characters) is refused, never cut:
    a cut name can read as another merchant. The caller passes the short name the
    wallet provider registered for us.
    """

    provider_guid: str  # 26.00, the wallet provider's reverse domain, e.g. "eg.post.wallet"
    merchant_id: str  # 26.01, our merchant id at the provider
    terminal_id: str  # 26.02, the branch code and the counter, e.g. "CAI0123-04"
    amount_piastres: int  # 54
    merchant_name: str  # 59
    merchant_city: str  # 60
    bill_number: str  # 62.01
    reference: str  # 62.05, the payment reference the provider echoes back
    terminal_label: str  # 62.07
    mcc: str = MCC_GOVERNMENT_SERVICES  # 52

    def __post_init__(self) -> None:
        for field, path, most in _LIMITS:
            value = getattr(self, field)
            if not isinstance(value, str):
                raise EmvcoError(f"{field} ({path}) must be a string, not {value!r}")
            _check_value(f"{path} ({field})", value, free_text=False)
            if len(value) > most:
                raise EmvcoError(
                    f"{field} ({path}) has {len(value)} characters; EMVCo allows {most}: {value!r}"
                )
        if not re.fullmatch(r"[0-9]{4}", self.mcc):
            raise EmvcoError(f"the merchant category code {self.mcc!r} is not 4 digits")
        format_amount(self.amount_piastres)  # refuses a non-int, non-positive or too large amount


def _fields(qr: MerchantQr) -> list[tuple[str, Value]]:
    return [
        ("00", "01"),
        ("01", POINT_OF_INITIATION_DYNAMIC),
        ("26", [("00", qr.provider_guid), ("01", qr.merchant_id), ("02", qr.terminal_id)]),
        ("52", qr.mcc),
        ("53", CURRENCY_EGP),
        ("54", format_amount(qr.amount_piastres)),
        ("58", COUNTRY_EG),
        ("59", qr.merchant_name),
        ("60", qr.merchant_city),
        ("62", [("01", qr.bill_number), ("05", qr.reference), ("07", qr.terminal_label)]),
    ]


# The ids `_fields` writes, in its order, and the CRC.
_OUR_IDS = ("00", "01", "26", "52", "53", "54", "58", "59", "60", "62", CRC_ID)


def build(qr: MerchantQr) -> str:
    """The EMVCo payload, CRC included, for one payment at one counter."""
    return encode(_fields(qr))


def _expect(objects: Mapping[str, object], where: str, expected: Iterable[str]) -> None:
    expected = list(expected)
    if list(objects) != expected:
        raise EmvcoError(f"{where} has the ids {list(objects)}; our payload has {expected}")


def parse(payload: str) -> MerchantQr:
    """Our payload read back, every field checked; refuses any other payload.

    Besides everything `decode` refuses: ids other than ours (a tip or convenience
    fee, id 55-57, would change what the customer pays), a static QR, another
    currency or country, an amount that is not a whole number of piastres.
    """
    objects = decode(payload)
    _expect(objects, "the payload", _OUR_IDS)
    account, extra = objects["26"], objects["62"]
    _expect(account, "template 26", ["00", "01", "02"])
    _expect(extra, "template 62", ["01", "05", "07"])
    for tag, value in (
        ("01", POINT_OF_INITIATION_DYNAMIC),
        ("53", CURRENCY_EGP),
        ("58", COUNTRY_EG),
    ):
        if objects[tag] != value:
            raise EmvcoError(f"id {tag} is {objects[tag]!r}; our payload has {value!r}")
    return MerchantQr(
        provider_guid=account["00"],
        merchant_id=account["01"],
        terminal_id=account["02"],
        amount_piastres=parse_amount(objects["54"]),
        merchant_name=objects["59"],
        merchant_city=objects["60"],
        bill_number=extra["01"],
        reference=extra["05"],
        terminal_label=extra["07"],
        mcc=objects["52"],
    )
