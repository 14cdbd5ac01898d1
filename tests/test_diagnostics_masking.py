"""What diagnostics show of a meter's frames: no serial, wherever a boundary or a list puts it; and a step told at once."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from custom_components.han_port.decoder import FREQUENCY, POWER_FACTOR, Decoder, DroppedFrame, DropReason, Telegram
from custom_components.han_port.decoder.hdlc import HdlcFramer
from custom_components.han_port.decoder.readings import scale
from custom_components.han_port.diagnostics import masked, masked_capture
from custom_components.han_port.sensor import _KINDS, HanPortSensor
from simulator import frames as encoder
from simulator.frames import AM550_FIELDS, MeterState

from .test_decoder_roundtrip import AUTH_KEY, KEY, LANDIS_GYR_TITLE
from .test_learned_lists import NAME, mixed, states

LLC = b"\xe6\xe7\x00"


def _information(hexed: str) -> bytes:
    """The APDU bytes the shown HDLC frames carry, their segments joined: what anyone reads from them, keyless."""
    return b"".join(message.information for message in HdlcFramer().feed(bytes.fromhex(hexed)))


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
