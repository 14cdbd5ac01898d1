"""What diagnostics show of a meter's frames: no serial, wherever a boundary or a list puts it; and a step told at once."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from custom_components.han_port.decoder import (
    FREQUENCY,
    POWER_FACTOR,
    Decoder,
    DroppedFrame,
    DropReason,
    Telegram,
    carried,
    serial_masks,
    system_title_masks,
)
from custom_components.han_port.decoder.hdlc import HdlcFramer
from custom_components.han_port.decoder.readings import scale
from custom_components.han_port.diagnostics import masked, masked_capture
from custom_components.han_port.sensor import _KINDS, HanPortSensor
from simulator import frames as encoder
from simulator.frames import AM550_FIELDS, MeterState

from .test_decoder_roundtrip import AUTH_KEY, KEY, LANDIS_GYR_TITLE
from .test_learned_lists import NAME, mixed, states

LLC = b"\xe6\xe7\x00"
TITLE = b"KAM\x01\x23\x45\x67\x89"  # maker's "KAM", then the meter's serial


def _information(hexed: str) -> bytes:
    """What the shown HDLC frames carry, joined: what anyone reads of them, keyless."""
    return b"".join(
        event.information for event in HdlcFramer().feed(bytes.fromhex(hexed)) if not isinstance(event, DroppedFrame)
    )


def _cut_through(apdu: bytes, serial: bytes) -> int:
    """A segment size whose boundary falls inside the serial."""
    at = (LLC + apdu).index(serial)
    return next(size for size in range(at + 1, at + len(serial)) if serial not in encoder.hdlc_frames(apdu, size))


# --- frames whose segment boundary splits a serial ---------------------------------------------------------------


def test_authenticated_only_frames_whose_boundary_splits_the_serial_are_shown_with_it() -> None:
    """Security 0x10 (a GCM tag, no encryption): the APDU travels in clear, and plaintext is set.

    What the frames carry is read in clear: the meter id across the boundary must not be.
    """
    state = MeterState(meter_id="5706567000000001", power_import=1234)
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    glo = encoder.glo_cipher(apdu, KEY, AUTH_KEY, security=0x10)
    serial = state.meter_id.encode()
    (telegram,) = Decoder(KEY, AUTH_KEY).feed(encoder.hdlc_frames(glo, _cut_through(glo, serial)))
    assert telegram.meter_id == state.meter_id
    shown = masked(telegram, state.meter_id)
    assert shown["raw"].startswith("withheld") or serial not in _information(shown["raw"])


def test_a_learned_lists_frames_whose_boundary_splits_the_serial_are_shown_with_it() -> None:
    """A list no table knows, learned: what its frames carry is searched for the serial, no decoder needed."""
    fields = mixed(AM550_FIELDS, seed=7)
    sent = list(states(12))

    def apdu(state: MeterState) -> bytes:
        return encoder.data_notification(encoder.positional_list(state, fields, NAME), state.moment)

    serial = sent[0].meter_id.encode()
    size = _cut_through(apdu(sent[0]), serial)
    decoder = Decoder()
    telegrams = [
        event
        for state in sent
        for event in decoder.feed_events(encoder.hdlc_frames(apdu(state), size))
        if isinstance(event, Telegram)
    ]
    telegram = telegrams[-1]
    assert telegram.meter_id == sent[0].meter_id  # proven by the learner, and so masked where it is whole
    shown = masked(telegram, telegram.meter_id)
    assert shown["raw"].startswith("withheld") or serial not in _information(shown["raw"])


# --- serials the masks never name ----------------------------------------------------------------------------


def test_a_learned_lists_serial_that_physics_proves_nothing_of_is_shown_in_last_telegrams() -> None:
    """Kaifa MA309's meter number reads "1KFM0200169986": not digits alone, so the learner proves no meter id.

    last_unlearned_pushes masks every run of letters and digits (mask_texts); once the list is learned, the same
    push in last_telegrams is masked by serial_masks alone, which know only the proven logical device name.
    """
    number = "1KFM0200169986"
    fields = mixed(AM550_FIELDS, seed=7)
    sent = [replace(state, meter_id=number) for state in states(12)]
    decoder = Decoder()
    events = [
        event
        for state in sent
        for event in decoder.feed_events(
            encoder.hdlc_frames(
                encoder.data_notification(encoder.positional_list(state, fields, "KFM1200200169986"), state.moment)
            )
        )
    ]
    drops = [event for event in events if isinstance(event, DroppedFrame)]
    assert drops[0].reason is DropReason.LEARNING
    assert number.encode() not in bytes.fromhex(masked_capture(drops[0].raw)["raw"])  # before: masked
    telegram = [event for event in events if isinstance(event, Telegram)][-1]
    assert number.encode() not in bytes.fromhex(masked(telegram, telegram.meter_id)["raw"])  # after: shown


def test_a_ciphered_push_of_a_list_being_learned_shows_its_system_title() -> None:
    """masked() masks a system title after its maker's three letters; masked_capture() leaves it whole.

    mask_texts masks runs of six or more letters and digits only: "LGZgr" and the binary bytes after it are not.
    """
    fields = mixed(AM550_FIELDS, seed=7)
    frames = [
        encoder.hdlc_frames(
            encoder.glo_cipher(
                encoder.data_notification(encoder.positional_list(state, fields), state.moment),
                KEY,
                AUTH_KEY,
                system_title=LANDIS_GYR_TITLE,
                counter=number + 1,
            )
        )
        for number, state in enumerate(states(2))
    ]
    decoder = Decoder(KEY, AUTH_KEY)
    (drop, *_) = [event for frame in frames for event in decoder.feed_events(frame)]
    assert isinstance(drop, DroppedFrame)
    assert drop.reason is DropReason.LEARNING
    assert LANDIS_GYR_TITLE[3:] not in bytes.fromhex(masked_capture(drop.raw)["raw"])


# --- a step of exactly the significant step --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "before", "after"),
    [
        (FREQUENCY, scale(498, -1), scale(497, -1)),  # 49.8 -> 49.7 Hz, read to 0.1 Hz: reserves spent
        (FREQUENCY, scale(5005, -2), scale(4995, -2)),  # 50.05 -> 49.95 Hz, read to 0.01 Hz
        (POWER_FACTOR, scale(95, -2), scale(85, -2)),  # 0.95 -> 0.85, as Kamstrup sends it
    ],
)
def test_a_slow_measurement_moving_by_its_significant_step_is_written_at_once(
    quantity: object, before: float, after: float
) -> None:
    """The README: written at once when they move by 0.1 for a power factor or a frequency.

    Decoded values are floats: 49.8 - 49.7 is 0.0999999999999943, and abs(now - before) >= 0.1 says no.
    """
    description = _KINDS[quantity]
    assert description.significant_step == pytest.approx(abs(after - before))
    entity = SimpleNamespace(entity_description=description)
    assert HanPortSensor._significant(entity, before, after)  # type: ignore[arg-type]


def test_an_encrypted_telegrams_system_title_split_by_a_segment_boundary_is_shown() -> None:
    """Security 0x30, segments of 8: the system title split by a boundary is looked for in the frames joined."""
    state = MeterState()
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    frames = encoder.hdlc_frames(encoder.glo_cipher(apdu, KEY, AUTH_KEY, system_title=TITLE), 8)
    (telegram,) = [event for event in Decoder(KEY, AUTH_KEY).feed_events(frames) if isinstance(event, Telegram)]
    shown = masked(telegram, telegram.meter_id)
    assert shown["raw"].startswith("withheld") or TITLE not in _information(shown["raw"])


def _learning_push(security: int, size: int) -> bytes:
    fields = mixed(AM550_FIELDS, seed=7)
    pushes = [
        encoder.hdlc_frames(
            encoder.glo_cipher(
                encoder.data_notification(encoder.positional_list(state, fields, NAME), state.moment),
                KEY,
                AUTH_KEY,
                security=security,
                system_title=LANDIS_GYR_TITLE,
                counter=number + 1,
            ),
            size,
        )
        for number, state in enumerate(states(2))
    ]
    decoder = Decoder(KEY, AUTH_KEY)
    (drop, *_) = [event for push in pushes for event in decoder.feed_events(push)]
    assert isinstance(drop, DroppedFrame)
    assert drop.reason is DropReason.LEARNING
    return drop.raw


def test_an_authenticated_learning_push_split_in_segments_shows_the_meter_number() -> None:
    """Security 0x10 (APDU in clear), 32-byte segments: the meter number split by a boundary is not shown."""
    serial = next(iter(states(1))).meter_id.encode()
    shown = masked_capture(_learning_push(0x10, 32))
    assert shown["raw"].startswith("withheld") or serial not in _information(shown["raw"])


def test_an_encrypted_learning_push_split_in_segments_shows_its_system_title() -> None:
    """Security 0x30, segments of 8: the system title is looked for in the frames joined, not frame by frame."""
    shown = masked_capture(_learning_push(0x30, 8))
    assert shown["raw"].startswith("withheld") or LANDIS_GYR_TITLE not in _information(shown["raw"])


def test_a_meter_id_split_by_a_general_block_transfer_boundary_is_shown() -> None:
    """Kamstrup list 1 in blocks of 15: a block's header sits inside the serial; the blocks' data, joined, hold it."""
    state = MeterState()
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    frames = b"".join(encoder.hdlc_frames(block) for block in encoder.general_block_transfer(apdu, 15))
    (telegram,) = [event for event in Decoder().feed_events(frames) if isinstance(event, Telegram)]
    assert telegram.meter_id == state.meter_id
    shown = masked(telegram, telegram.meter_id)
    content = _information(shown["raw"]) if not shown["raw"].startswith("withheld") else b""
    serial = state.meter_id.encode()
    assert not any(serial[i : i + 8] in content for i in range(len(serial) - 7))  # 8 of its 16 digits, in a row


def test_a_ciphered_p1_telegrams_deciphered_text_still_decodes() -> None:
    """A ciphered P1 telegram names no list version: it is no list without OBIS codes, its texts are its values.

    Its deciphered text ends in CR LF after the CRC, which resealing keeps, with the CRC computed anew.
    """
    text = encoder.p1_telegram(
        "SAG5\\253833635_A",
        ["0-0:1.0.0(240115130010W)", "0-0:96.1.1(4530303330303030303030303030303030)", "1-0:1.8.1(012345.678*kWh)"],
    )
    frames = encoder.hdlc_frames(encoder.glo_cipher(text, KEY, AUTH_KEY))
    (telegram,) = [event for event in Decoder(KEY, AUTH_KEY).feed_events(frames) if isinstance(event, Telegram)]
    (shown,) = Decoder().feed_events(bytes.fromhex(masked(telegram, telegram.meter_id)["deciphered"]))
    assert isinstance(shown, Telegram)
    assert (shown.timestamp, shown.readings) == (telegram.timestamp, telegram.readings)


# --- what the masks are made of -----------------------------------------------------------------------------------


def test_a_meter_id_of_no_ascii_character_adds_no_mask() -> None:
    """No frame writes such an id as ASCII; an empty pattern would match between every byte of the frames."""
    state = MeterState()
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    (telegram,) = Decoder().feed(encoder.hdlc_frames(apdu))
    assert serial_masks(telegram, "ÆØÅ") == serial_masks(telegram)
    assert all(serial for serial, _ in serial_masks(telegram, "ÆØÅ"))


def test_a_system_title_of_another_length_than_eight_bytes_is_no_serial_to_mask() -> None:
    """Only an eight-byte system title is the maker's three letters and a serial: any other is left as it is."""
    assert system_title_masks(TITLE) == [(TITLE, b"KAMXXXXX")]
    assert system_title_masks(TITLE[:3]) == []
    assert system_title_masks(TITLE + b"\x00") == []


def test_what_a_damaged_block_carries_is_searched_for_serials_whole() -> None:
    """A general-block-transfer whose header does not read keeps its bytes: a serial in them is still found."""
    state = MeterState()
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    block = encoder.general_block_transfer(apdu, 70)[0]
    damaged = block[:-1]  # its length tells one byte more than it carries
    assert carried(encoder.hdlc_frames(damaged), "hdlc") == damaged
    assert carried(encoder.hdlc_frames(block), "hdlc") == apdu[:70]
