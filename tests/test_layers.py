"""Each layer on its own: checksums, A-XDR, date-time, OBIS, ciphering, lists, P1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.han_port.decoder import (
    DecodeError,
    Decoder,
    DropReason,
    Keys,
    ObisCode,
    Unit,
    hex_digit_count,
    parse_key,
    registers,
)
from custom_components.han_port.decoder.axdr import BitString, Structure, decode_data, decode_length
from custom_components.han_port.decoder.ciphering import decipher, read_header
from custom_components.han_port.decoder.cosem import parse_date_time
from custom_components.han_port.decoder.crc import crc16_arc, crc16_x25
from custom_components.han_port.decoder.dlms import is_content, parse_apdu
from custom_components.han_port.decoder.hdlc import MAX_MESSAGE_BYTES, HdlcFramer, HdlcMessage
from custom_components.han_port.decoder.lists import take_apart
from custom_components.han_port.decoder.obis import identification
from custom_components.han_port.decoder.p1 import P1Framer, P1Message, parse_telegram
from custom_components.han_port.decoder.readings import STANDARD, Entry, interpret, text
from simulator import frames as encoder
from simulator.frames import MeterState


def test_crc_check_values() -> None:
    # The standard check values over "123456789".
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_arc(b"123456789") == 0xBB3D


def test_crc_of_the_seed_frame_header() -> None:
    # HCS of the Kamstrup frame quoted in the seed write-up: 7E A0 E2 2B 21 13 | 23 9A
    assert crc16_x25(bytes.fromhex("a0e22b2113")).to_bytes(2, "little") == bytes.fromhex("239a")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00", None),
        (b"\x03\x01", True),
        (b"\x03\x00", False),
        (b"\x04\x0c\xab\xc0", BitString(12, b"\xab\xc0")),
        (b"\x05\xff\xff\xff\xfe", -2),
        (b"\x0c\x03\xc3\xa6x", "æx"),
        (b"\x0d\x42", 0x42),
        (b"\x10\xff\x38", -200),
        (b"\x11\xff", 255),
        (b"\x14" + (-5).to_bytes(8, "big", signed=True), -5),
        (b"\x15" + (2**40).to_bytes(8, "big"), 2**40),
        (b"\x16\x1b", 27),
        (b"\x17\x3f\xc0\x00\x00", 1.5),
        (b"\x18\x3f\xf8\x00\x00\x00\x00\x00\x00", 1.5),
        (b"\x1a\x07\xe8\x01\x0f\x01", b"\x07\xe8\x01\x0f\x01"),
        (b"\x1b\x0c\x00\x00\xff", b"\x0c\x00\x00\xff"),
        (b"\x01\x02\x11\x01\x11\x02", [1, 2]),
        (b"\x02\x01\x0a\x02ok", Structure(("ok",))),
        (b"\x09\x81\x03abc", b"abc"),
        (
            b"\x19" + encoder.date_time_bytes(datetime(2024, 5, 6, 7, 8, 9), 0),
            datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        ),
    ],
)
def test_axdr_types(data: bytes, expected: object) -> None:
    assert decode_data(data) == (expected, len(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x06\x00\x00",  # number cut short
        b"\x09\x05ab",  # string cut short
        b"\x09\x85\x00\x00\x00\x00\x01",  # length prefix too long
        b"\x09\x82\x01",  # length cut short
        b"\x09",  # length missing
        b"\x0a\x01\xff",  # not ASCII
        b"\x02\x05\x11",  # more items announced than bytes
        b"\x02" * 17 + b"\x01" * 0,  # nesting without end
        b"\x03",  # boolean cut short
        b"\x04\x10\x01",  # bit-string cut short
        b"\x19\x07\xe8",  # date-time cut short
        b"\x1a\x07",  # date cut short
        b"\x13\x00",  # compact-array: not sent by meters
    ],
)
def test_axdr_damage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_data(data)


def test_axdr_nesting_limit() -> None:
    with pytest.raises(DecodeError, match="nested too deep"):
        decode_data(b"\x02\x01" * 20 + b"\x00")


def test_axdr_long_length() -> None:
    assert decode_length(b"\x82\x01\x00", 0) == (256, 3)


def test_cosem_date_time_variants() -> None:
    base = bytearray(encoder.date_time_bytes(datetime(2022, 10, 15, 15, 8, 15), -60))
    assert parse_date_time(bytes(base)) == datetime(2022, 10, 15, 15, 8, 15, tzinfo=timezone(timedelta(hours=1)))
    base[7] = 0xFF  # unspecified second
    base[8] = 50  # 50 hundredths
    assert parse_date_time(bytes(base)) == datetime(
        2022, 10, 15, 15, 8, 0, 500_000, tzinfo=timezone(timedelta(hours=1))
    )
    unspecified = bytearray(base)
    unspecified[2] = 0xFF
    assert parse_date_time(bytes(unspecified)) is None
    # A clock that cannot be is unknown, never an exception: month 13, or a
    # deviation from UTC of 0x7FFF minutes (22 days).
    impossible = bytearray(base)
    impossible[2] = 13
    assert parse_date_time(bytes(impossible)) is None
    far_off = bytearray(base)
    far_off[9:11] = b"\x7f\xff"
    assert parse_date_time(bytes(far_off)) is None
    # A year no meter's clock tells was damaged or never set; at year 1 or 9999 an offset would overflow the date.
    for year, offset in ((1, 0), (1999, -60), (2100, -60), (9999, 60)):
        far_year = encoder.date_time_bytes(datetime(year, 1, 1, 0, 30), offset)
        assert parse_date_time(far_year) is None, year
    assert parse_date_time(encoder.date_time_bytes(datetime(2099, 12, 31, 23, 30), 0)) == datetime(
        2099, 12, 31, 23, 30, tzinfo=UTC
    )
    with pytest.raises(DecodeError):
        parse_date_time(b"\x07\xe6")


@pytest.mark.parametrize("year", [1, 9999])
def test_a_list_whose_clock_tells_a_year_no_meter_does_keeps_its_readings_without_a_clock(year: int) -> None:
    state = MeterState(moment=datetime(year, 1, 1, 0, 30), power_import=1703)
    [telegram] = Decoder().feed(
        encoder.hdlc_frames(encoder.data_notification(encoder.kamstrup_list(state, hourly=True), state.moment))
    )
    assert telegram.timestamp is None
    assert telegram.readings[ObisCode.parse("1-1:1.7.0")].value == 1703


def test_obis_code_parse_and_format() -> None:
    code = ObisCode.parse("1-0:1.8.0")
    assert str(code) == "1-0:1.8.0.255"
    assert ObisCode.parse("1-1:31.7.0.255") == ObisCode.from_bytes(bytes([1, 1, 31, 7, 0, 255]))
    with pytest.raises(ValueError, match="not an OBIS"):
        ObisCode.parse("1.8.0")
    with pytest.raises(ValueError, match="6 bytes"):
        ObisCode.from_bytes(b"\x01\x00")


@pytest.mark.parametrize(
    ("code", "quantity"),
    [
        ("1-0:1.7.0", registers.ACTIVE_POWER),
        ("1-0:4.8.0", registers.REACTIVE_ENERGY),
        ("1-0:9.7.0", registers.APPARENT_POWER),
        ("1-0:10.8.0", registers.APPARENT_ENERGY),
        ("1-0:41.7.0", registers.ACTIVE_POWER),
        ("1-0:64.8.0", registers.REACTIVE_ENERGY),
        ("1-0:71.7.0", registers.CURRENT),
        ("1-0:32.7.0", registers.VOLTAGE),
        ("1-0:14.7.0", registers.FREQUENCY),
        ("1-0:91.7.0", registers.CURRENT),
        ("1-0:13.7.0", registers.POWER_FACTOR),
        ("1-0:1.6.0", registers.ACTIVE_POWER),  # maximum demand: a power
        ("1-0:4.6.0", registers.REACTIVE_POWER),
        ("1-0:16.7.0", registers.NET_ACTIVE_POWER),
        ("1-0:3.29.0", registers.REACTIVE_ENERGY),
        ("1-0:81.7.0", None),  # an angle
        ("1-0:128.7.0", None),  # the manufacturer's
        ("1-0:31.8.0", None),
        ("0-0:1.0.0", None),
    ],
)
def test_quantities_of_the_standard_value_groups(code: str, quantity: registers.Quantity | None) -> None:
    assert registers.quantity_of(ObisCode.parse(code)) is quantity


@pytest.mark.parametrize(
    ("code", "field"),
    [
        ("1-1:0.2.129", "list_version"),
        ("1-1:0.0.5", "meter_id"),
        ("0-0:96.1.0", "meter_id"),
        ("1-1:0.0.1", "meter_id"),
        ("0-0:0.0.1", None),
        ("0-0:96.1.7", "meter_type"),
        ("1-1:96.1.1", "meter_type"),
        ("0-0:96.1.1", "meter_id"),
        ("1-0:1.7.0", None),
    ],
)
def test_identification_registers(code: str, field: str | None) -> None:
    assert identification(ObisCode.parse(code)) == field


def test_keys_are_checked_and_parsed() -> None:
    key = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert parse_key("0x00 11:22-33 44556677 8899AABBCCDDEEFF") == key
    # As pasted from a PDF or a web mail (no-break spaces, a line end), or written as a C array, as payloads are.
    assert parse_key("0011 2233\u00a04455\u00a06677\n8899\taabbccddeeff") == key
    assert parse_key(", ".join(f"0x{byte:02X}" for byte in key)) == key
    # Grouped by the dashes, dots, underscores and invisible spaces word processors and mails put in.
    for separator in ("\u2013", "\u2014", "\u200b", "\u2009", ".", "_"):
        assert parse_key(separator.join(key.hex()[at : at + 4] for at in range(0, 32, 4))) == key, separator
    # Full-width, as an input method for Chinese or Japanese types them.
    assert parse_key("".join(chr(ord(digit) + 0xFEE0) for digit in key.hex().upper())) == key
    # A form counts the digits typed: an O for a 0 is no hex digit.
    assert hex_digit_count("O0112233445566778899aabbccddeeff") == 31
    for bad in ("00", "zz" * 16, "00" * 17):
        with pytest.raises(ValueError, match="32 hexadecimal"):
            parse_key(bad)
    with pytest.raises(ValueError, match="authentication key must be 16 bytes"):
        Keys(bytes(16), bytes(15))


def test_ciphering_header_damage() -> None:
    apdu = encoder.glo_cipher(b"\x0f\x00\x00\x00\x00\x00\x11\x01", bytes(16), bytes(16))
    with pytest.raises(DecodeError, match="not a general-glo-ciphering"):
        read_header(b"\x0f")
    with pytest.raises(DecodeError, match="system title"):
        read_header(b"\xdb\x04abcd")
    with pytest.raises(DecodeError, match="announces"):
        read_header(apdu[:-1])
    short_tag = b"\xdb\x08KAMEtest\x08\x30\x00\x00\x00\x01abc"
    with pytest.raises(DecodeError, match="shorter than its tag"):
        decipher(short_tag, Keys(bytes(16), bytes(16)), is_content)


def test_unciphered_glo_apdu_passes_through() -> None:
    inner = b"\x0f\x00\x00\x00\x00\x00\x11\x07"
    apdu = b"\xdb\x08KAMEtest" + bytes([5 + len(inner), 0x00]) + b"\x00\x00\x00\x09" + inner
    notification = parse_apdu(apdu, Keys())
    assert notification.decode_body() == 7
    assert notification.ciphering is not None
    assert not notification.ciphering.encrypted


def test_authenticated_but_undecodable_content_is_not_a_key_problem() -> None:
    key, auth_key = bytes(range(16)), bytes(16)
    apdu = encoder.glo_cipher(b"\x0f\x00\x00\x00\x00\x00\x13", key, auth_key)
    with pytest.raises(DecodeError, match="unknown A-XDR") as info:
        parse_apdu(apdu, Keys(key, auth_key)).decode_body()
    assert type(info.value) is DecodeError


@pytest.mark.parametrize(
    ("apdu", "message"),
    [
        (b"", "empty APDU"),
        (b"\x0e\x00\x00\x00\x00\x00\x11\x01", "not a data-notification"),
        (b"\x0f\x00\x00\x00", "ends before its date-time"),
        (b"\x0f\x00\x00\x00\x00\x07\x11\x01", "date-time starts with 0x07"),
        (b"\x0f\x00\x00\x00\x00\x00\x11\x01\x00", "1 bytes left"),
    ],
)
def test_data_notification_damage(apdu: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_apdu(apdu, Keys()).decode_body()


def test_hdlc_frame_without_information_and_long_addresses() -> None:
    # A frame with no information field carries no HCS: the FCS alone decides.
    body = bytes([0xA0, 0x07, 0x03, 0x03, 0x93])
    frame = b"\x7e" + body + encoder.crc16_x25(body).to_bytes(2, "little") + b"\x7e"
    assert HdlcFramer().feed(frame) == [HdlcMessage(b"", frame)]
    # Four-byte addresses are allowed; five are not a frame.
    info = encoder.LLC + encoder.data_notification(encoder.structure(encoder.double_long_unsigned(5)), None)
    four = encoder.hdlc_frame(info, destination=b"\x00\x02\x00\x03", source=b"\x00\x00\x00\x21")
    assert len(Decoder().feed(four)) == 1
    five = encoder.hdlc_frame(info, destination=b"\x00\x00\x02\x00\x03")
    decoder = Decoder()
    assert decoder.feed(five) == []
    assert decoder.noise_bytes > 0


def test_hdlc_length_too_short_for_the_header() -> None:
    body = bytes([0xA0, 0x08, 0x03, 0x03, 0x93, 0x00])
    frame = b"\x7e" + body + encoder.crc16_x25(body).to_bytes(2, "little") + b"\x7e"
    assert HdlcFramer().feed(frame) == []


def test_endless_segments_are_dropped() -> None:
    framer = HdlcFramer()
    segment = encoder.hdlc_frame(b"\x00" * 1000, segmented=True)
    events = []
    for _ in range(MAX_MESSAGE_BYTES // 1000 + 1):
        events += framer.feed(segment)
    assert [getattr(event, "reason", None) for event in events] == [DropReason.UNDECODABLE]


def test_lists_that_do_not_decode() -> None:
    with pytest.raises(DecodeError, match="empty list"):
        take_apart(Structure(()))
    with pytest.raises(DecodeError, match="should be an OBIS code"):
        take_apart(Structure((b"\x01\x00\x01\x07\x00\xff", 5, 6)))
    with pytest.raises(DecodeError, match="without a value"):
        take_apart(Structure(("Kamstrup_V0001", b"\x01\x00\x01\x07\x00\xff")))
    with pytest.raises(DecodeError, match="unknown list of 2 values"):
        take_apart(Structure((1, 2)))


def test_bare_and_array_bodies() -> None:
    assert take_apart(Structure((7,))).manufacturer == "Kaifa"  # Kaifa's list 1 wraps its one value
    with pytest.raises(DecodeError, match="one value, not a list"):
        take_apart(7)
    pairs = take_apart([b"\x01\x00\x01\x07\x00\xff", 5, Structure((-1, 27))])
    assert pairs.entries == [Entry(ObisCode.parse("1-0:1.7.0").to_bytes(), 5, -1, 27)]
    assert pairs.manufacturer is None


def test_interpret_converts_what_meters_send() -> None:
    content = interpret(
        [
            Entry(ObisCode.parse("1-0:1.7.0").to_bytes(), 1.5, 3, 27),  # float with scaler: kW as W
            Entry(ObisCode.parse("1-0:13.7.0").to_bytes(), 995, -3, 255),  # unitless power factor
            Entry(ObisCode.parse("0-0:1.0.0").to_bytes(), datetime(2024, 1, 1, 12)),
            Entry(ObisCode.parse("0-0:96.1.0").to_bytes(), b"\xff\xfe"),
            Entry(ObisCode.parse("0-0:96.1.7").to_bytes(), None),
            Entry(ObisCode.parse("1-0:2.7.0").to_bytes(), True),
            Entry(ObisCode.parse("1-0:32.7.0").to_bytes(), 2301, -1),  # scaler without unit
        ],
        STANDARD,
    )
    readings = {str(code): (reading.value, reading.unit) for code, reading in content.readings.items()}
    assert readings == {
        "1-0:1.7.0.255": (1500.0, Unit.WATT),
        "1-0:13.7.0.255": (0.995, None),
        "1-0:32.7.0.255": (230.1, Unit.VOLT),
    }
    assert content.clock == datetime(2024, 1, 1, 12)
    assert content.identification == {"meter_id": "fffe"}


def test_text_of_identification_values() -> None:
    assert text(" KFM_001\x00") == "KFM_001"
    # A control character inside (an escape sequence, a line end) would reach names and log lines: read as hex.
    assert text(b"12\x1b[2J\x07\n") == "31321b5b324a070a"
    assert text("12\n3") == "31320a33"
    assert text(b"\xe6\x01") == "e601"
    assert text("Måler 1") == "Måler 1"
    assert text(12343400) == "12343400"
    assert text(1.5) is None


def test_p1_lines_that_are_not_readings_are_skipped() -> None:
    telegram = encoder.p1_telegram(
        r"ELL5\253833635_A",
        [
            "0-0:1.0.0(2402301213X)",  # not a timestamp
            "0-0:96.1.0(4530303034)",
            "0-0:96.13.0()",
            "0-1:24.2.1(101209112500W)(12785.123*m3)",  # gas volume: no base unit here
            "1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)",
            "1-0:1.7.0(0000.100)",  # no unit: W or kW, nobody can say
            "1-0:2.7.0(abc*kW)",
        ],
    )
    (parsed,) = Decoder().feed(telegram)
    # "\\2" is IEC 62056-21's enhanced-identification escape, not part of the type.
    assert parsed.meter_type == "53833635_A"
    assert parsed.meter_id == "4530303034"
    assert parsed.timestamp is None
    # The event log's first value (its length) is a plain count, of no quantity; the gas volume and the power
    # without its unit are in units nobody can say, and "abc" is no number: each left out, and said so.
    assert parsed.readings == {}
    left_out = ("0-1:24.2.1", "1-0:99.97.0", "1-0:1.7.0", "1-0:2.7.0")
    assert parsed.left_out == tuple(ObisCode.parse(code) for code in left_out)


def test_p1_impossible_date_and_missing_ident() -> None:
    with pytest.raises(DecodeError, match="identification"):
        parse_telegram(P1Message("/\r\n!0000", b""))
    (parsed,) = Decoder().feed(encoder.p1_telegram("KAM5", ["0-0:1.0.0(241332000000W)"]))
    assert parsed.timestamp is None


def test_p1_start_without_end_is_given_up() -> None:
    framer = P1Framer()
    assert framer.feed(b"/" + b"x" * 5000) == []
    good = encoder.p1_telegram("KAM5", ["1-0:1.7.0(0001.000*kW)"])
    assert len(framer.feed(good)) == 1


def test_p1_telegram_cut_short_by_the_next() -> None:
    good = encoder.p1_telegram("KAM5", ["1-0:1.7.0(0001.000*kW)"])
    decoder = Decoder()
    telegrams = decoder.feed(good[:15] + good)
    assert len(telegrams) == 1
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


def test_p1_exclamation_without_crc_digits() -> None:
    good = encoder.p1_telegram("KAM5", ["1-0:1.7.0(0001.000*kW)"])
    assert len(Decoder().feed(b"/junk!zz\r\n" + good)) == 1
