"""Framings of the meters beyond the Nordics, built by the tests' encoder: M-Bus, block transfer, encrypted P1."""

from __future__ import annotations

import random

from custom_components.han_port.decoder import Decoder, DropReason, ObisCode, Telegram
from custom_components.han_port.simulator import frames as encoder
from custom_components.han_port.simulator.frames import MeterState

from .test_decoder_roundtrip import AUTH_KEY, KEY, chunked

POWER = ObisCode.parse("1-1:1.7.0")
P1_POWER = ObisCode.parse("1-0:1.7.0")


def apdu(power: int) -> bytes:
    state = MeterState(meter_id="5706567274389702", power_import=power)
    return encoder.data_notification(encoder.kamstrup_list(state, hourly=True), state.moment)


def powers(events: list[object], register: ObisCode = POWER) -> list[float]:
    return [event.readings[register].value for event in events if isinstance(event, Telegram)]


def test_mbus_segments_round_trip_in_any_chunking_plain_and_ciphered() -> None:
    for seed, security in enumerate((None, 0x20, 0x30)):
        pushes = [apdu(100 + n) for n in range(3)]
        if security is not None:
            pushes = [
                encoder.glo_cipher(p, KEY, AUTH_KEY, security=security, counter=n + 1) for n, p in enumerate(pushes)
            ]
        stream = b"".join(encoder.mbus_frames(p, segment_size=60) for p in pushes)
        decoder = Decoder(KEY if security else None, AUTH_KEY if security == 0x30 else None)
        events = [event for chunk in chunked(stream, random.Random(seed)) for event in decoder.feed_events(chunk)]
        assert powers(events) == [100, 101, 102]
        assert {event.format for event in events if isinstance(event, Telegram)} == {"mbus"}
        assert not decoder.dropped


def test_a_damaged_or_missing_mbus_segment_drops_one_message_only() -> None:
    frames = encoder.mbus_frames(apdu(1), segment_size=60)
    damaged = bytearray(frames)
    damaged[30] ^= 0xFF
    decoder = Decoder()
    assert decoder.feed(bytes(damaged)) == []
    assert decoder.dropped[DropReason.BAD_CHECKSUM] == 1
    # The first segment lost: the others cannot make a message.
    second = frames[frames.index(b"\x68", 6) :]
    assert decoder.feed(second) == []
    assert decoder.dropped[DropReason.UNDECODABLE] >= 1
    assert powers(decoder.feed_events(encoder.mbus_frames(apdu(7), segment_size=60))) == [7]


def test_block_transfer_joins_blocks_and_drops_gaps_and_repeats() -> None:
    ciphered = encoder.glo_cipher(apdu(250), KEY, AUTH_KEY, counter=9)
    blocks = encoder.general_block_transfer(ciphered, 90)
    assert len(blocks) > 2
    decoder = Decoder(KEY, AUTH_KEY)
    events = [event for block in blocks for event in decoder.feed_events(encoder.hdlc_frames(block))]
    assert powers(events) == [250]
    # Block 2 lost: block 3 is dropped with the reason, nothing wrong comes out.
    events = decoder.feed_events(encoder.hdlc_frames(blocks[0]) + encoder.hdlc_frames(blocks[2]))
    (drop,) = [event for event in events if not isinstance(event, Telegram)]
    assert drop.reason is DropReason.UNDECODABLE
    assert drop.detail == "general-block-transfer block 3 after 1 block(s): block 2 was lost"
    assert powers(events) == []
    # As MQTT messages, one block each, plain.
    plain = Decoder()
    messages = [plain.feed_message(block) for block in encoder.general_block_transfer(apdu(300), 70)]
    assert [powers(batch) for batch in messages][-1] == [300]


def test_encrypted_p1_stream_decodes_and_needs_its_key() -> None:
    telegram = encoder.p1_telegram("SMA5", ["0-0:1.0.0(240115130010W)", "1-0:1.7.0(0001.453*kW)"])
    stream = b"".join(encoder.glo_cipher(telegram, KEY, AUTH_KEY, system_title=b"SMAtest1", counter=n) for n in (1, 2))
    decoder = Decoder(KEY, AUTH_KEY)
    events = [event for chunk in chunked(stream, random.Random(3)) for event in decoder.feed_events(chunk)]
    assert powers(events, P1_POWER) == [1453, 1453]
    assert all(event.encrypted for event in events if isinstance(event, Telegram))
    unkeyed = Decoder()
    assert unkeyed.feed(stream) == []
    assert unkeyed.dropped == {DropReason.KEY_MISSING: 2}


def test_ciphered_danish_hdlc_is_never_read_twice_as_bare_apdus() -> None:
    frames = b"".join(
        encoder.hdlc_frames(encoder.glo_cipher(apdu(500 + n), KEY, AUTH_KEY, counter=n + 1)) for n in range(4)
    )
    decoder = Decoder(KEY, AUTH_KEY)
    assert powers(decoder.feed_events(frames)) == [500, 501, 502, 503]
    assert not decoder.dropped
