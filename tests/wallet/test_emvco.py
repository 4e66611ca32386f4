"""EMVCo payloads: the CRC, published payloads, the bugs readers and writers are known for."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.emvco import (
    EmvcoError,
    MerchantQr,
    build,
    crc16_ccitt_false,
    decode,
    encode,
    format_amount,
    parse,
    parse_amount,
)

# Published payloads, each checked against its published CRC before use (decode
# recomputes it). Sources:
PUBLISHED = {
    # Banco Central do Brasil, "Manual de Padrões para Iniciação do Pix", the example
    # static BR Code (key 123e4567-..., "Fulano de Tal", BRASILIA).
    "pix_bcb_manual": (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    ),
    # EMV QRCPS Merchant-Presented Mode v1.1, the worked example of the annex, as
    # quoted by dongri/emv-qrcode (README) and the Exemvi library's tests. Its
    # language template 64 is in Chinese: lengths count characters, the CRC is taken
    # over the UTF-8 bytes.
    "emvco_spec_annex": (
        "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
        "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
        "540523.7253031565502016233030412340603***0708A60086670902ME"
        "91320016A0112233449988770708123456786304A13A"
    ),
    # Thai PromptPay, static and with an amount: keenthekeen/php-promptpay-qr README.
    "promptpay_static": (
        "00020101021129370016A000000677010111011300668999999995802TH53037646304FE29"
    ),
    "promptpay_amount": (
        "00020101021229370016A000000677010111011300668999999995802TH53037645406420.006304CF9E"
    ),
    # dongri/emv-qrcode README, a generated MPM payload with the same template 62
    # sub-ids as ours (01 bill number, 05 reference label, 07 terminal label).
    "dongri_readme": (
        "0002010102121516ABCDEF123456789052045311530339254039995802JP5906DONGRI"
        "6005TOKYO62240104hoge0504fuga0704piyo63043FE6"
    ),
}

PIX = PUBLISHED["pix_bcb_manual"]


def a_qr(**changes) -> MerchantQr:
    fields = {
        "provider_guid": "eg.post.wallet",
        "merchant_id": "EGPOST000001",
        "terminal_id": "CAI0123-04",
        "amount_piastres": 12345,
        "merchant_name": "EGYPT POST",
        "merchant_city": "CAIRO",
        "bill_number": "B2026120100042",
        "reference": "PAY-7F3A9C21",
        "terminal_label": "COUNTER 4",
    }
    return MerchantQr(**(fields | changes))


def with_crc(body_before_crc: str) -> str:
    """`body_before_crc` + "6304" + its correct CRC: a payload whose only fault is elsewhere."""
    text = body_before_crc + "6304"
    return text + f"{crc16_ccitt_false(text.encode()):04X}"


# --- the CRC ---------------------------------------------------------------------------


def test_the_crc_gives_the_check_value_of_crc16_ccitt_false():
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_the_crc_of_nothing_is_the_initial_value():
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_the_pix_crc_is_taken_over_the_payload_including_6304():
    assert crc16_ccitt_false(PIX[:-4].encode()) == 0x1D3D
    # Without "6304" it is another number: the mistake that gives codes no wallet reads.
    assert crc16_ccitt_false(PIX[:-8].encode()) != 0x1D3D


# --- published payloads ------------------------------------------------------------------


@pytest.mark.parametrize("payload", PUBLISHED.values(), ids=PUBLISHED.keys())
def test_a_published_payload_decodes_and_encodes_back_byte_for_byte(payload):
    decoded = decode(payload)

    assert decoded["63"] == payload[-4:]
    assert encode([(tag, value) for tag, value in decoded.items() if tag != "63"]) == payload


def test_the_pix_example_decodes_into_its_fields():
    assert decode(PIX) == {
        "00": "01",
        "26": {"00": "br.gov.bcb.pix", "01": "123e4567-e12b-12d1-a456-426655440000"},
        "52": "0000",
        "53": "986",
        "58": "BR",
        "59": "Fulano de Tal",
        "60": "BRASILIA",
        "62": {"05": "***"},
        "63": "1D3D",
    }


def test_the_spec_example_keeps_its_templates_and_alternate_language():
    decoded = decode(PUBLISHED["emvco_spec_annex"])

    assert decoded["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert decoded["64"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert decoded["62"] == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert decoded["54"] == "23.72"


def test_a_crc_copied_from_the_pix_example_onto_another_payload_is_refused():
    # Seen in the wild: the manual's 1D3D pasted after a different key and name.
    other = PIX.replace("Fulano de Tal", "Beltrano Tal")
    other = other.replace("5913Beltrano Tal", "5912Beltrano Tal")

    with pytest.raises(EmvcoError, match="content gives"):
        decode(other)


# --- the CRC bugs -----------------------------------------------------------------------


def a_payload_whose_crc(predicate) -> str:
    """Our payload with a CRC for which `predicate` holds, found by changing the bill number."""
    return next(
        payload
        for n in range(100_000)
        if predicate((payload := build(a_qr(bill_number=f"B{n}")))[-4:])
    )


def test_a_crc_below_0x1000_is_written_with_its_leading_zero():
    payload = a_payload_whose_crc(lambda crc: crc.startswith("0"))

    assert payload[-8:-4] == "6304"
    assert int(payload[-4:], 16) < 0x1000
    assert int(payload[-4:], 16) == crc16_ccitt_false(payload[:-4].encode())
    decode(payload)


def test_it_refuses_a_crc_whose_leading_zero_was_dropped():
    payload = a_payload_whose_crc(lambda crc: crc.startswith("0"))

    with pytest.raises(EmvcoError, match="3 characters, not 4"):
        decode(payload[:-4] + payload[-3:])


def test_it_refuses_a_crc_in_lower_case():
    payload = a_payload_whose_crc(lambda crc: any(c in "ABCDEF" for c in crc))
    decode(payload)

    with pytest.raises(EmvcoError, match="lower case"):
        decode(payload[:-4] + payload[-4:].lower())


def test_it_refuses_a_payload_whose_amount_was_changed_by_one_digit():
    payload = build(a_qr(amount_piastres=12345))
    assert "5406123.45" in payload
    tampered = payload.replace("5406123.45", "5406923.45")

    with pytest.raises(EmvcoError, match="CRC is .* but the payload's content gives"):
        decode(tampered)


def test_it_refuses_a_payload_without_a_crc():
    with pytest.raises(EmvcoError, match='does not end with the CRC object "6304"'):
        decode(PIX[:-8])


@pytest.mark.parametrize("crc", ["1D3", "1D3D0", "1D3G", ""], ids=["3", "5", "not hex", "none"])
def test_it_refuses_a_crc_that_is_not_4_upper_case_hex_digits(crc):
    with pytest.raises(EmvcoError, match="CRC"):
        decode(PIX[:-4] + crc)


def test_it_refuses_a_crc_object_that_is_not_the_last_data_object():
    # The name's declared length swallows "6304" and the 4 CRC digits: the CRC is
    # right over the text, but the last data object is the name, not id 63.
    text = "0002015910AB6304"
    payload = text + f"{crc16_ccitt_false(text.encode()):04X}"

    with pytest.raises(EmvcoError, match="not the last data object"):
        decode(payload)


# --- structure ---------------------------------------------------------------------------


def test_it_refuses_a_length_longer_than_what_remains():
    with pytest.raises(EmvcoError, match="says 50 characters"):
        decode(with_crc("0002015950EGYPT POST"))


def test_it_refuses_a_length_that_is_not_two_digits():
    with pytest.raises(EmvcoError, match="length of id 59 is .A0., not two digits"):
        decode(with_crc("00020159A0EGYPT POST"))


def test_it_refuses_a_zero_length():
    with pytest.raises(EmvcoError, match="length 00"):
        decode(with_crc("0002015900"))


def test_it_refuses_a_repeated_id():
    with pytest.raises(EmvcoError, match="id 59 appears twice"):
        decode(with_crc("0002015903ONE5903TWO"))


def test_it_refuses_a_repeated_id_inside_a_template():
    with pytest.raises(EmvcoError, match="template 62: id 05 appears twice"):
        decode(with_crc("00020162140503abc0503def"))


def test_it_refuses_a_malformed_template():
    with pytest.raises(EmvcoError, match="template 26"):
        decode(with_crc("0002012605hello"))


def test_it_refuses_a_payload_that_does_not_start_with_the_format_indicator():
    with pytest.raises(EmvcoError, match="000201"):
        decode(with_crc("5903ONE000201"))


def test_it_refuses_a_value_outside_the_common_character_set():
    with pytest.raises(EmvcoError, match="only printable ASCII"):
        decode(with_crc("0002015904CAFÉ"))


def test_templates_decode_as_nested_dicts_and_the_others_as_strings():
    decoded = decode(build(a_qr()))

    assert decoded["26"] == {"00": "eg.post.wallet", "01": "EGPOST000001", "02": "CAI0123-04"}
    assert decoded["62"] == {"01": "B2026120100042", "05": "PAY-7F3A9C21", "07": "COUNTER 4"}
    assert decoded["59"] == "EGYPT POST"


# --- encode ------------------------------------------------------------------------------


def test_encode_writes_id_length_value_and_the_crc():
    payload = encode([("00", "01"), ("59", "EGYPT POST"), ("62", [("05", "R1")])])

    assert payload[:-4] == "0002015910EGYPT POST62060502R16304"
    assert payload[-4:] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"


def test_encode_takes_dicts_as_well_as_lists_of_pairs():
    as_pairs = encode([("00", "01"), ("62", [("05", "R1")])])
    assert encode({"00": "01", "62": {"05": "R1"}}) == as_pairs


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("00", "01"), ("59", "x" * 100)], "100 characters"),
        ([("00", "01"), ("62", [("05", "x" * 50), ("07", "y" * 50)])], "template 62 has 108"),
        ([("00", "01"), ("59", "")], "empty"),
        ([("00", "01"), ("59", "tab\there")], "printable ASCII"),
        ([("00", "01"), ("59", "مصر")], "printable ASCII"),
        ([("00", "01"), ("63", "ABCD")], "CRC"),
        ([("00", "01"), ("59", "A"), ("59", "B")], "twice"),
        ([("00", "01"), ("5", "A")], "two digits"),
        ([("59", "A")], "first data object"),
        ([("00", "01"), ("62", "0502R1")], "template"),
        ([("00", "01"), ("59", [("00", "A")])], "not a template"),
    ],
)
def test_encode_refuses_what_decode_would_refuse(fields, message):
    with pytest.raises(EmvcoError, match=message):
        encode(fields)


# --- our payload -------------------------------------------------------------------------


def test_build_writes_our_payload():
    payload = build(a_qr())

    assert payload.startswith("000201010212")
    assert decode(payload) == {
        "00": "01",
        "01": "12",
        "26": {"00": "eg.post.wallet", "01": "EGPOST000001", "02": "CAI0123-04"},
        "52": "9399",
        "53": "818",
        "54": "123.45",
        "58": "EG",
        "59": "EGYPT POST",
        "60": "CAIRO",
        "62": {"01": "B2026120100042", "05": "PAY-7F3A9C21", "07": "COUNTER 4"},
        "63": payload[-4:],
    }


def test_parse_reads_back_what_build_wrote():
    qr = a_qr()
    assert parse(build(qr)) == qr


def test_it_refuses_a_merchant_name_of_26_characters():
    a_qr(merchant_name="N" * 25)  # 25 fits

    with pytest.raises(EmvcoError, match="merchant_name .* 26 characters; EMVCo allows 25"):
        build(a_qr(merchant_name="N" * 26))


def test_it_refuses_a_merchant_city_of_16_characters():
    a_qr(merchant_city="C" * 15)  # 15 fits

    with pytest.raises(EmvcoError, match="merchant_city .* 16 characters; EMVCo allows 15"):
        build(a_qr(merchant_city="C" * 16))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_piastres": 0}, "positive"),
        ({"amount_piastres": -100}, "positive"),
        ({"amount_piastres": 10**12}, "13 characters"),
        ({"amount_piastres": 1.5}, "int piastres"),
        ({"amount_piastres": True}, "int piastres"),
        ({"reference": "R" * 26}, "reference .* 26 characters"),
        ({"provider_guid": "g" * 33}, "provider_guid .* 33 characters"),
        ({"merchant_name": "بريد مصر"}, "printable ASCII"),
        ({"bill_number": ""}, "empty"),
        ({"mcc": "93"}, "4 digits"),
        ({"merchant_id": "M" * 60, "terminal_id": "T" * 40}, "template 26"),
    ],
)
def test_it_refuses_a_field_that_breaks_an_emvco_rule(changes, message):
    with pytest.raises(EmvcoError, match=message):
        build(a_qr(**changes))


def test_the_largest_amount_is_13_characters():
    assert format_amount(999_999_999_999) == "9999999999.99"
    with pytest.raises(EmvcoError):
        format_amount(1_000_000_000_000)


@pytest.mark.parametrize(
    ("piastres", "text"), [(1, "0.01"), (10, "0.10"), (100, "1.00"), (12345, "123.45")]
)
def test_amounts_are_written_with_two_decimals_and_no_separator(piastres, text):
    assert format_amount(piastres) == text
    assert parse_amount(text) == piastres


@pytest.mark.parametrize(("text", "piastres"), [("123", 12300), ("123.5", 12350)])
def test_amounts_with_fewer_decimals_are_read_exactly(text, piastres):
    assert parse_amount(text) == piastres


@pytest.mark.parametrize("text", ["1,000.00", "1.234", "-1.00", "0.00", ".50", "1e3", " 1.00"])
def test_it_refuses_an_amount_that_is_not_plain_pounds_and_piastres(text):
    with pytest.raises(EmvcoError):
        parse_amount(text)


def test_parse_refuses_a_payload_with_a_tip_or_convenience_fee():
    fields = [(t, v) for t, v in decode(build(a_qr())).items() if t != "63"]
    fields.insert(6, ("55", "02"))

    with pytest.raises(EmvcoError, match="our payload has"):
        parse(encode(fields))


@pytest.mark.parametrize(("tag", "value"), [("01", "11"), ("53", "840"), ("58", "SA")])
def test_parse_refuses_a_static_qr_or_another_currency_or_country(tag, value):
    fields = dict(decode(build(a_qr())))
    del fields["63"]
    fields[tag] = value

    with pytest.raises(EmvcoError, match=f"id {tag}"):
        parse(encode(fields))


def test_parse_refuses_a_published_payload_that_is_not_ours():
    with pytest.raises(EmvcoError):
        parse(PIX)


# --- round trips -------------------------------------------------------------------------

ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@given(
    amount=st.integers(min_value=1, max_value=10**11),
    reference=st.text(ANS, min_size=1, max_size=25),
    bill_number=st.text(ANS, min_size=1, max_size=25),
    name=st.text(ANS, min_size=1, max_size=25),
)
def test_build_then_parse_gives_back_the_same_fields(amount, reference, bill_number, name):
    qr = a_qr(
        amount_piastres=amount, reference=reference, bill_number=bill_number, merchant_name=name
    )
    payload = build(qr)

    assert parse(payload) == qr
    assert parse_amount(decode(payload)["54"]) == amount


@given(amount=st.integers(min_value=1, max_value=10**11))
def test_amount_text_round_trips_exactly(amount):
    assert parse_amount(format_amount(amount)) == amount


def test_a_changed_copy_is_checked_too():
    with pytest.raises(EmvcoError, match="merchant_city"):
        replace(a_qr(), merchant_city="ALEXANDRIA GOVERNORATE")
