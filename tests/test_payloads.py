"""Messages of a message transport (MQTT payloads): every shape a bridge publishes decodes, anything else is dropped."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.han_port.decoder import Decoder, DropReason, ObisCode, Telegram, frame_apdu, mbus_frames
from custom_components.han_port.decoder.payload import MAX_MESSAGE_BYTES, hex_digits, is_bare_apdu
from simulator import frames as encoder
from simulator.frames import LLC, MeterState
from simulator.mqtt import payload

from .meter import default_state
from .test_decoder_roundtrip import AUTH_KEY, CASES, KEY, ListCase, build_apdu, decoder_for, drawn, states

POWER = ObisCode.parse("1-1:1.7.0")  # Kamstrup names its registers in channel 1
SHAPES = ("frame", "split", "hex spaced", "hex compact", "hex 0x", "apdu", "llc", "apdu as hex")


def messages(shape: str, apdu: bytes, segment_size: int | None, rng: random.Random) -> list[bytes]:
    """The messages a bridge publishes for one push, in the given shape."""
    frames = encoder.hdlc_frames(apdu, segment_size)
    cuts = sorted(rng.sample(range(1, len(frames)), min(3, len(frames) - 1)))
    shapes = {
        "frame": [frames],
        "split": [frames[a:b] for a, b in zip([0, *cuts], [*cuts, len(frames)], strict=True)],
        "hex spaced": [frames.hex(" ").encode()],
        "hex compact": [frames.hex().upper().encode()],
        "hex 0x": [", ".join(f"0x{byte:02x}" for byte in frames).encode()],
        "apdu": [apdu],
        "llc": [LLC + apdu],
        "apdu as hex": [apdu.hex().encode()],
    }
    return shapes[shape]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=states,
    shape=st.sampled_from(SHAPES),
    security=st.sampled_from([None, None, 0x30, 0x20]),
    segment_size=st.sampled_from([None, None, 40]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_list_decodes_from_every_payload_shape(  # noqa: PLR0917 - hypothesis draws each
    case: ListCase, state: MeterState, shape: str, security: int | None, segment_size: int | None, seed: int
) -> None:
    state = drawn(case, state)
    security = case.sent_with(security)
    apdu = build_apdu(case, state, security=security)
    decoder = decoder_for(security)
    published = messages(shape, apdu, segment_size, random.Random(seed))
    events = [decoder.feed_message(message) for message in published]
    # The telegram comes with the message that completes it; nothing before it.
    assert all(not batch for batch in events[:-1])
    (telegram,) = events[-1]
    assert isinstance(telegram, Telegram)
    expected = case.expected(state)
    assert {str(code): reading.value for code, reading in telegram.readings.items()} == pytest.approx(expected)
    assert telegram.manufacturer == case.manufacturer
    assert telegram.format == ("apdu" if shape in ("apdu", "llc", "apdu as hex") else "hdlc")
    assert telegram.encrypted == (security is not None)
    assert not decoder.dropped


def kamstrup(power: int) -> bytes:
    state = MeterState(meter_id="5706567274389702", power_import=power)
    return encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)


def powers(events: list[object], register: ObisCode = POWER) -> list[float]:
    return [event.readings[register].value for event in events if isinstance(event, Telegram)]


def test_several_frames_in_one_message_come_out_in_order() -> None:
    decoder = Decoder()
    message = b"".join(encoder.hdlc_frames(kamstrup(power)) for power in (100, 200, 300))
    assert powers(decoder.feed_message(message)) == [100, 200, 300]


def test_segments_of_one_message_in_messages_of_their_own() -> None:
    frames = encoder.hdlc_frames(kamstrup(1234), segment_size=40)
    decoder = Decoder()
    pieces = []
    pos = 0
    while pos < len(frames):  # one HDLC segment per message, as a bridge that publishes frames does
        length = ((frames[pos + 1] & 0x07) << 8 | frames[pos + 2]) + 2
        pieces.append(frames[pos : pos + length])
        pos += length
    assert len(pieces) > 2
    events = [decoder.feed_message(piece) for piece in pieces]
    assert events[:-1] == [[]] * (len(pieces) - 1)
    assert powers(events[-1]) == [1234]


def test_p1_text_in_one_message_or_split() -> None:
    telegram = encoder.p1_telegram("LGF5E360", ["1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(0001.453*kW)"])
    decoder = Decoder()
    p1_power = ObisCode.parse("1-0:1.7.0")
    assert powers(decoder.feed_message(telegram), p1_power) == [1453]
    assert decoder.feed_message(telegram[:30]) == []
    assert powers(decoder.feed_message(telegram[30:]), p1_power) == [1453]
    assert not decoder.dropped


@pytest.mark.parametrize(
    ("message", "looks_like"),
    [
        (b'{"power": 1453, "topic": "tibber/pulse"}', "text starting '{\"power\": 1453, '"),
        (b"online", "text starting 'online'"),
        (b"", "an empty message"),
        (b"\x00\x01\x02\x03", "4 bytes starting 00 01 02 03"),
        (b"7e a0 2", "text starting '7e a0 2'"),  # odd hex: not hex text, and no frame
        (b"/ not a telegram", "text starting '/ not a telegr"),
    ],
)
def test_anything_else_is_dropped_with_what_it_looked_like(message: bytes, looks_like: str) -> None:
    decoder = Decoder()
    (drop,) = decoder.feed_message(message)
    assert not isinstance(drop, Telegram)
    assert drop.reason is DropReason.UNRECOGNISED
    assert looks_like in drop.detail
    assert decoder.dropped == {DropReason.UNRECOGNISED: 1}
    # The next good message decodes as if nothing had come before.
    assert powers(decoder.feed_message(kamstrup(700))) == [700]


@pytest.mark.parametrize("as_hex", [False, True], ids=["raw", "hex"])
def test_noise_that_forms_a_notification_of_one_bare_value_is_no_push(*, as_hex: bool) -> None:
    # Eight bytes of noise, a fuzzing round's: a data-notification tag, an invoke-id, no clock and one enum.
    noise = bytes.fromhex("0f2e102f7f001600")
    decoder = Decoder()
    (drop,) = decoder.feed_message(noise.hex().upper().encode() if as_hex else noise)
    assert not isinstance(drop, Telegram)
    assert drop.reason is DropReason.UNDECODABLE
    assert "one value, not a list" in drop.detail
    assert powers(decoder.feed_message(kamstrup(700))) == [700]


def test_a_damaged_apdu_is_undecodable_not_unrecognised() -> None:
    decoder = Decoder()
    apdu = kamstrup(500)
    (drop,) = decoder.feed_message(apdu[:-3])
    assert not isinstance(drop, Telegram)
    assert drop.reason is DropReason.UNDECODABLE


def test_a_cut_frame_does_not_swallow_the_messages_after_it() -> None:
    """A frame whose rest never comes holds the next messages only until its length is up."""
    decoder = Decoder()
    frame = encoder.hdlc_frames(kamstrup(100))
    assert decoder.feed_message(frame[:50]) == []
    # The next complete frame ends the cut one's wait: it is dropped, the complete ones decode.
    events = decoder.feed_message(frame) + decoder.feed_message(encoder.hdlc_frames(kamstrup(300)))
    assert powers(events) == [100, 300]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}
    assert powers(decoder.feed_message(kamstrup(400))) == [400]
    # A cut frame followed by a bare APDU: the APDU decodes on its own, the cut frame is forgotten.
    assert decoder.feed_message(frame[:50]) == []
    assert powers(decoder.feed_message(kamstrup(500))) == [500]
    assert powers(decoder.feed_message(encoder.hdlc_frames(kamstrup(600)))) == [600]


def test_text_with_a_slash_does_not_hold_back_the_next_apdu() -> None:
    decoder = Decoder()
    assert [event.reason for event in decoder.feed_message(b"status/ok") if not isinstance(event, Telegram)] == [
        DropReason.UNRECOGNISED
    ]
    assert powers(decoder.feed_message(kamstrup(250))) == [250]


def test_ciphered_bare_apdu_needs_its_keys() -> None:
    apdu = encoder.glo_cipher(kamstrup(900), KEY, AUTH_KEY, counter=5)
    (drop,) = Decoder().feed_message(apdu)
    assert not isinstance(drop, Telegram)
    assert drop.reason is DropReason.KEY_MISSING
    (telegram,) = Decoder(KEY, AUTH_KEY).feed_message(apdu)
    assert isinstance(telegram, Telegram)
    assert telegram.readings[POWER].value == 900
    assert telegram.format == "apdu"


def test_an_oversized_message_is_dropped_without_reading_it() -> None:
    decoder = Decoder()
    (drop,) = decoder.feed_message(b"7e" * (MAX_MESSAGE_BYTES // 2 + 1))
    assert not isinstance(drop, Telegram)
    assert drop.reason is DropReason.UNRECOGNISED
    assert "longer than any meter's message" in drop.detail
    assert len(drop.raw) <= 256


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_no_message_crashes_the_decoder_or_holds_back_the_next(message: bytes) -> None:
    for good in (kamstrup(321), encoder.hdlc_frames(kamstrup(321))):
        decoder = Decoder()
        events = decoder.feed_message(message) + decoder.feed_message(good)
        assert powers(events)[-1] == 321


def test_shapes_are_told_apart() -> None:
    apdu = kamstrup(1)
    assert hex_digits(b"7E A0 2A") == b"\x7e\xa0\x2a"
    assert hex_digits(b"0x7e,0xa0") == b"\x7e\xa0"
    assert hex_digits(b"7e:a0-2a\r\n") == b"\x7e\xa0\x2a"
    assert hex_digits(b"7e a") is None
    assert hex_digits(b"~\xa0") is None
    assert hex_digits(b"") is None
    assert is_bare_apdu(apdu)
    assert is_bare_apdu(LLC + apdu)
    assert not is_bare_apdu(encoder.hdlc_frames(apdu))
    assert not is_bare_apdu(b"\x0f\x00")


def test_the_simulator_shapes_payloads_as_bridges_do() -> None:
    apdu = kamstrup(42)
    frame = encoder.hdlc_frames(apdu)
    assert payload(frame, apdu, "raw") == frame
    assert hex_digits(payload(frame, apdu, "hex")) == frame
    assert payload(frame, apdu, "apdu") == apdu
    p1 = encoder.p1_telegram("LGF5E360", ["1-0:1.7.0(0001.453*kW)"])
    assert payload(p1, None, "apdu") == p1  # a P1 telegram is always its text
    for shape in ("raw", "hex", "apdu"):
        assert powers(Decoder().feed_message(payload(frame, apdu, shape))) == [42]


def test_a_message_holding_just_the_apdu_of_a_frame_begun_before_is_read_as_that_frame() -> None:
    # A bridge cut one frame into its header, its LLC bytes, its APDU and its end: the APDU alone
    # looks like a bare push, but the frame's header claimed it (found by the property above).
    state = default_state()
    apdu = encoder.data_notification(encoder.kaifa_list(state, 1), state.moment)
    frame = encoder.hdlc_frames(apdu)
    apdu_at = frame.index(LLC) + len(LLC)
    published = [frame[: apdu_at - len(LLC)], frame[apdu_at - len(LLC) : apdu_at], apdu, frame[apdu_at + len(apdu) :]]
    assert b"".join(published) == frame
    decoder = Decoder()
    events = [decoder.feed_message(message) for message in published]
    assert events[:-1] == [[], [], []]
    assert [(event.format, event.raw) for event in events[-1] if isinstance(event, Telegram)] == [("hdlc", frame)]


def test_a_bare_apdu_says_no_checksum_proved_it_unless_a_tag_did() -> None:
    """A plain bare push has no check at all; a ciphered one with its tag is proven; a framed one by its checksum."""
    state = MeterState(meter_id="5706567000000001", power_import=1234)
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    (bare,) = Decoder().feed_message(apdu)
    assert isinstance(bare, Telegram)
    assert bare.checksummed is False
    (framed,) = Decoder().feed(frame_apdu(apdu))
    assert framed.checksummed is True


def test_a_raw_message_ending_in_a_flag_never_holds_the_next_hex_message() -> None:
    """A message's closing flag has begun no frame: the next message, written as hex text, is read as hex text."""
    state = MeterState(meter_id="5706567000000001")

    def push(power: int) -> bytes:
        state.power_import = power
        return mbus_frames(encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment))

    stranger = frame_apdu(encoder.data_notification(encoder.kamstrup_list(MeterState(), hourly=False), None))
    decoder = Decoder()
    messages = [push(1001).hex(" ").encode(), stranger, push(1002).hex(" ").encode(), push(1003).hex().encode()]
    events = [event for message in messages for event in decoder.feed_message(message)]
    powers = [event.readings[ObisCode.parse("1-1:1.7.0")].value for event in events if isinstance(event, Telegram)]
    # Another meter's frame, checksum-valid, is read; the hex pushes after it are read as hex.
    assert powers == [1001, 1703, 1002, 1003]


@pytest.mark.parametrize("tail", [b"\x68", b"\x68\x21", b"\x7e\xa3", b"\x7e\xa3\x45"])
def test_a_raw_message_ending_like_a_frames_start_never_holds_the_next_hex_push(tail: bytes) -> None:
    """Another device's raw message whose last bytes look like a frame's start: the next hex push is a push of its own."""
    state = MeterState(meter_id="5706567000000001")

    def push(power: int) -> bytes:
        state.power_import = power
        return frame_apdu(encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment))

    decoder = Decoder()
    messages = [
        push(1001).hex(" ").encode(),
        b"status " + tail,
        push(1002).hex(" ").encode(),
        push(1003).hex().encode(),
    ]
    events = [event for message in messages for event in decoder.feed_message(message)]
    powers = [event.readings[ObisCode.parse("1-1:1.7.0")].value for event in events if isinstance(event, Telegram)]
    assert powers == [1001, 1002, 1003]


@pytest.mark.parametrize("tail", [b"\x68", b"\x7e\xa3\x45", b"\x0f\x40\x00\x00\x00"])
def test_a_hex_bare_ciphered_push_after_a_raw_tail_is_a_push_of_its_own(tail: bytes) -> None:
    """Encrypted P1 written as hex text: a raw message that ends like something begun never takes the next push."""
    key, auth_key = bytes(range(16)), bytes(range(16, 32))

    def push(power: int, counter: int) -> bytes:
        telegram = encoder.p1_telegram("SMA5", ["0-0:1.0.0(240115130010W)", f"1-0:1.7.0({power / 1000:08.3f}*kW)"])
        return encoder.glo_cipher(telegram, key, auth_key, system_title=b"SMAtest1", counter=counter).hex(" ").encode()

    decoder = Decoder(key, auth_key)
    messages = [push(1001, 1), b"noise " + tail, push(1002, 2), push(1003, 3)]
    events = [event for message in messages for event in decoder.feed_message(message)]
    powers = [event.readings[ObisCode.parse("1-0:1.7.0")].value for event in events if isinstance(event, Telegram)]
    assert powers == [1001, 1002, 1003]


def test_hex_a_bridge_wraps_in_json_is_read_and_a_status_is_not() -> None:
    """Tasmota's serial bridge publishes what it reads as hex in a JSON object of one value."""
    frame = encoder.hdlc_frames(kamstrup(1500))
    decoder = Decoder()
    assert powers(decoder.feed_message(b'{"SerialReceived":"' + frame.hex().upper().encode() + b'"}')) == [1500]
    for status in (b'{"status":"online"}', b'{"a":"00","b":"11"}', b'{"SerialReceived":17}', b"{not json"):
        (dropped,) = decoder.feed_message(status)
        assert dropped.reason is DropReason.UNRECOGNISED, status
    assert powers(decoder.feed_message(frame.hex().encode())) == [1500]
    # Matched, never parsed: JSON nested as deep as a message holds raises nothing.
    (dropped,) = decoder.feed_message(b'{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}")
    assert dropped.reason is DropReason.UNRECOGNISED
