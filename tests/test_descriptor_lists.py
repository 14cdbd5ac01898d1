"""Descriptor lists (ČEZ's Sagemcom XT211): each value behind a bare COSEM attribute descriptor."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, ObisCode, Telegram, Unit
from custom_components.han_port.decoder.descriptors import DescriptorListExtent, decode_descriptor_list
from simulator import frames as encoder
from simulator.frames import MeterState

from .test_decoder_roundtrip import chunked

# The published capture's header and three of its 22 values, byte for byte,
# with the array's count made 3 (0x16 in the capture): esphome-libs/dlms_parser,
# tests/dumps/raw_sagecom_xt211.log (ČEZ Distribuce, Sagemcom XT211, no frame
# around the APDU). Its decoding there gives 5100005149, 1956 and 4913794.
PUBLISHED = bytes.fromhex(
    "0f8000f1d500"  # data-notification, invoke id 8000F1D5, no date-time
    "0202 1601 0103"  # {enum 1, array of 3}
    "0202 0001 0000600101ff 02 090a35313030303035313439"  # data 0-0:96.1.1.255 attribute 2: "5100005149"
    "0202 0003 0100010700ff 02 06000007a4"  # register 1-0:1.7.0.255 attribute 2: 1956
    "0202 0003 0100010800ff 02 06004afa82"  # register 1-0:1.8.0.255 attribute 2: 4913794
)
POWER = ObisCode.parse("1-0:1.7.0")
ENERGY = ObisCode.parse("1-0:1.8.0")
STATE = MeterState(meter_id="5100005149", power_import=1955, phase_powers=(198, 1703, 54), power_export=0)


def push(state: MeterState = STATE) -> bytes:
    """A whole push of the XT211, as the encoder builds it, bare as the published capture came."""
    return encoder.data_notification(encoder.cez_list(state), None)


def powers(events: list[Telegram | DroppedFrame]) -> list[float]:
    return [event.readings[POWER].value for event in events if isinstance(event, Telegram)]


def test_the_published_push_decodes_bare_in_any_chunking_as_a_message_and_in_frames() -> None:
    for seed in range(5):
        decoder = Decoder()
        events = [event for chunk in chunked(PUBLISHED, random.Random(seed)) for event in decoder.feed_events(chunk)]
        events += decoder.finish()
        (telegram,) = events
        assert isinstance(telegram, Telegram)
        assert telegram.format == "apdu"
        assert telegram.meter_id == "5100005149"
        assert telegram.manufacturer is None  # nothing in the list names its maker
        assert dict(telegram.readings) == {POWER: (1956, Unit.WATT), ENERGY: (4913794, Unit.WATT_HOUR)}
    (message,) = Decoder().feed_message(PUBLISHED)
    assert isinstance(message, Telegram)
    assert message.readings[ENERGY].value == 4913794
    (framed,) = Decoder().feed(encoder.hdlc_frames(PUBLISHED, 40))
    assert framed.format == "hdlc"
    assert framed.readings[POWER].value == 1956


def test_only_register_values_become_readings_and_nothing_else_is_left_out() -> None:
    """The disconnector's and relays' states, the limiter's threshold and the tariff name are no register values."""
    decoder = Decoder()
    (telegram,) = [event for event in (*decoder.feed_events(push()), *decoder.quiet()) if isinstance(event, Telegram)]
    assert {str(code) for code in telegram.readings} == {
        *(f"1-0:{c}.7.0.255" for c in (1, 21, 41, 61, 2, 22, 42, 62)),
        *(f"1-0:1.8.{e}.255" for e in range(5)),
        "1-0:2.8.0.255",
    }
    assert telegram.readings[ObisCode.parse("1-0:41.7.0")].value == 1703
    assert telegram.left_out == ()


def test_bare_pushes_in_a_byte_stream_come_out_with_their_last_byte() -> None:
    """Once the stream is known to be bare; the first, at its start, with the third byte after it.

    Those bytes would be the check and end of a frame whose header was lost (a port opened mid-frame).
    """
    pushes = [push(replace(STATE, power_import=power)) for power in (100, 200, 300)]
    stream = b"\x00\x17noise" + pushes[0] + pushes[1] + bytes(8) + pushes[2]
    assert powers(Decoder().feed_events(stream)) == [100, 200, 300]
    decoder = Decoder()
    clean = b"".join(pushes)
    ends = [index for index in range(len(clean)) if decoder.feed(clean[index : index + 1])]
    assert ends == [len(pushes[0]) + 2, len(pushes[0]) * 2 - 1, len(pushes[0]) * 3 - 1]


def _described_register(class_id: int, attribute: int) -> bytes:
    return encoder.described(class_id, "1-0:1.7.0.255", attribute, encoder.double_long_unsigned(5))


_GOOD = encoder.described(3, "1-0:1.7.0.255", 2, encoder.double_long_unsigned(1234))
_LONG = encoder.described(1, "0-0:96.1.1.255", 2, encoder.octet_string(bytes(30)))
_HEAD = b"\x02\x02\x16\x01\x01"  # {enum 1, array of


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (encoder.descriptor_list(_described_register(0, 2)), "class id 0 is no COSEM interface class"),
        (encoder.descriptor_list(_described_register(3, 0)), "attribute 0 of class 3"),
        (encoder.descriptor_list(_described_register(3, 7)), "class 3 has 3 attributes, not 7"),
        (encoder.descriptor_list(_GOOD, _described_register(70, 9)), "class 70 has 4 attributes, not 9"),
        # Counts the values do not fill, or that leave values over.
        (_HEAD + b"\x03" + _GOOD * 2, "3 described values announced but 32 bytes left"),
        (_HEAD + b"\x01" + _GOOD * 2, "bytes left after the described values"),
        (_HEAD + b"\x82\xff\xff" + _GOOD, "65535 described values announced"),
        # Cut inside a value, and inside a descriptor.
        (encoder.descriptor_list(_GOOD)[:-2], "runs past the end"),
        (encoder.descriptor_list(_LONG, _GOOD)[:-10], "the list ends inside described value 2 of 2"),
        # An element that is no {descriptor, value} structure.
        (
            _HEAD + b"\x02" + _GOOD + b"\x02\x03" + _GOOD[2:],
            "described value 2 of 2 at byte 22 is no {descriptor, value}",
        ),
    ],
    ids=lambda case: case if isinstance(case, str) else "",
)
def test_a_descriptor_list_that_cannot_be_is_dropped_with_its_reason(body: bytes, reason: str) -> None:
    """Framed, so the checksums hold and the content alone decides; the next push decodes."""
    decoder = Decoder()
    good = encoder.hdlc_frames(push())
    events = decoder.feed_events(encoder.hdlc_frames(encoder.data_notification(body, None)) + good)
    drop, telegram = events
    assert isinstance(drop, DroppedFrame)
    assert drop.reason is DropReason.UNDECODABLE
    assert reason in drop.detail
    assert powers([telegram]) == [STATE.power_import]


def test_a_makers_own_class_is_passed_over_not_dropped() -> None:
    body = encoder.descriptor_list(encoder.described(200, "1-0:2.7.0.255", 2, encoder.double_long_unsigned(9)), _GOOD)
    (telegram,) = Decoder().feed(encoder.hdlc_frames(encoder.data_notification(body, None)))
    assert dict(telegram.readings) == {POWER: (1234, Unit.WATT)}


def test_a_damaged_bare_push_costs_that_push_alone() -> None:
    """A count made larger runs the push into the next: the next push's known header cuts it."""
    pushes = [bytearray(push(replace(STATE, power_import=power))) for power in (100, 200, 300, 400)]
    count_at = pushes[1].index(b"\x01\x16")  # the array of 22 described values
    pushes[1][count_at + 1] = 0x17
    decoder = Decoder()
    # A minute apart, as the XT211 pushes: the first push, decoded, makes its header known.
    events = [event for one in pushes for event in decoder.feed_events(bytes(one))]
    assert powers(events) == [100, 300, 400]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


@settings(max_examples=40, deadline=None)
@given(
    power=st.integers(0, 1_000_000),
    energy=st.integers(0, 4_000_000_000),
    meter_id=st.from_regex(r"\A[0-9]{1,40}\Z"),
    extra=st.binary(max_size=20),
)
def test_the_stream_measure_ends_where_the_decoding_does(power: int, energy: int, meter_id: str, extra: bytes) -> None:
    body = encoder.cez_list(replace(STATE, power_import=power, energy_import=energy, meter_id=meter_id))
    assert len(decode_descriptor_list(body).values) == 22
    extent = DescriptorListExtent(0, 4096)
    # Byte by byte: nothing until the last byte, then the body's end, whatever follows it.
    assert [extent.scan(body[: index + 1]) for index in range(len(body) - 1)] == [None] * (len(body) - 1)
    assert extent.scan(body + extra) == len(body)


def test_a_flood_of_false_descriptor_lists_is_read_once() -> None:
    """Notification starts whose bodies open as descriptor lists and break, each value hiding another start.

    Each false start is read once, up to where it breaks, and the starts
    inside what it read are passed over: a reader that went back to the byte
    after each start would read 120 values of every one of them, which takes
    tens of times as long as decoding pushes of as many bytes.
    """
    values = 120
    hiding = encoder.described(1, "0-0:96.1.1.255", 2, encoder.octet_string(b"\x0f\x00\x00\x00\x00\x00\x01\x7f"))
    body = bytearray(encoder.array(*[hiding] * values))
    body[1] = values + 1  # one value more than come: it breaks at the next start
    false_start = encoder.data_notification(bytes(body), None)
    flood = false_start * ((1 << 18) // len(false_start))
    pushes = push() * (len(flood) // len(push()))
    started = time.perf_counter()
    assert len(Decoder().feed(pushes)) == len(pushes) // len(push())
    decoding = time.perf_counter() - started
    decoder = Decoder()
    started = time.perf_counter()
    assert decoder.feed(flood) == []
    assert time.perf_counter() - started < 3 * decoding
    assert powers([*decoder.feed_events(push()), *decoder.quiet()]) == [STATE.power_import]


def test_values_sent_without_a_scaler_take_the_resolution_physics_shows() -> None:
    """The XT211's list has no voltage; one that sends it in 0.1 V is read in volts all the same, as Kamstrup's is."""
    voltages = [
        encoder.described(3, f"1-0:{32 + 20 * p}.7.0.255", 2, encoder.long_unsigned(2301 + p)) for p in range(3)
    ]
    body = encoder.descriptor_list(_GOOD, *voltages)
    decoder = Decoder()
    (telegram,) = decoder.feed(encoder.hdlc_frames(encoder.data_notification(body, None)))
    assert telegram.readings[ObisCode.parse("1-0:52.7.0")] == (230.2, Unit.VOLT)
    assert [(decision.quantity, decision.exponent) for decision in decoder.resolutions] == [("voltage", -1)]
