"""Strangers in a meter's stream: checksum-valid frames of another meter, or that lie, one at a time.

One such frame is dropped or read as what it is; it never changes what is
known of the meter the line carries: its resolutions, its replay counters, the table its list is read by.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, ObisCode, Telegram
from simulator import frames as encoder
from simulator.frames import MeterState

from .meter import METER_ID, NORWEGIAN_KAMSTRUP

ENERGY = ObisCode.parse("1-1:1.8.0")
START = datetime(2024, 1, 15, 13, 0, 5)
WATTS = 1703


def reasons(events: list[DroppedFrame | Telegram]) -> list[str]:
    return ["telegram" if isinstance(event, Telegram) else str(event.reason) for event in events]


def hourly_in_wh(minute: int, meter_id: str = METER_ID) -> bytes:
    """A Norwegian Kamstrup's hourly list, sent every minute, from a meter that counts Wh where its type says 10 Wh."""
    state = MeterState(
        meter_id=meter_id,
        meter_type=NORWEGIAN_KAMSTRUP,
        moment=START + timedelta(minutes=minute),
        power_import=WATTS,
        energy_import=155_232_510 + round(WATTS * minute / 60),
    )
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=True, energy_exponent=0), state.moment)
    return encoder.hdlc_frames(apdu)


def test_strangers_one_at_a_time_never_make_the_meter_forget_its_energy_resolution() -> None:
    """Physics proved the meter counts Wh; four other meters' frames, each between two of its own, change nothing.

    Before, the resolutions of the first meter heard were forgotten at the fourth other meter id ever
    heard, however long ago: its register was shown ten times too high until physics proved it again.
    """
    decoder = Decoder()
    for minute in range(100):
        decoder.feed(hourly_in_wh(minute))
    assert ("active_energy", 0) in {(decision.quantity, decision.exponent) for decision in decoder.resolutions}
    minute = 100
    for stranger in range(6):
        (other,) = decoder.feed(hourly_in_wh(minute, meter_id=f"57065672743897{10 + stranger}"))
        assert other.meter_id != METER_ID
        (own,) = decoder.feed(hourly_in_wh(minute + 1))
        assert own.meter_id == METER_ID
        assert own.readings[ENERGY].value == 155_232_510 + round(WATTS * (minute + 1) / 60)
        minute += 2


def envelope(counter: int, system_title: bytes = b"KAMEtest") -> bytes:
    """A plain list in a ciphering envelope that neither encrypts nor tags (security 0x00): its counter proves nothing."""
    state = MeterState(meter_id=METER_ID, meter_type=NORWEGIAN_KAMSTRUP, moment=START)
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)
    return encoder.hdlc_frames(
        encoder.glo_cipher(apdu, b"", b"", security=0x00, system_title=system_title, counter=counter)
    )


def test_a_counter_no_key_proves_never_refuses_the_meters_frames() -> None:
    decoder = Decoder()
    assert reasons(decoder.feed_events(envelope(1) + envelope(2))) == ["telegram"] * 2
    # Anyone can write the highest counter into an envelope without a tag.
    assert reasons(decoder.feed_events(envelope(0xFFFFFFFF))) == ["telegram"]
    assert reasons(decoder.feed_events(b"".join(envelope(counter) for counter in range(3, 10)))) == ["telegram"] * 7
    assert decoder.replay_counters == {}


def test_a_new_system_title_in_every_envelope_keeps_nothing() -> None:
    decoder = Decoder()
    for title in range(1000):
        decoder.feed(envelope(1, title.to_bytes(8, "big")))
    assert decoder.telegrams == 1000
    assert decoder.replay_counters == {}


def am550_push(step: int, meter_id: str = "12345678", phase_powers: tuple[int, int, int] = (500, 700, 503)) -> bytes:
    """An Iskraemeco AM550 push, read by its table, of the power the phases carry."""
    state = MeterState(
        meter_id=meter_id,
        moment=START + timedelta(seconds=10 * step),
        power_import=sum(phase_powers),
        phase_powers=phase_powers,
    )
    return encoder.hdlc_frames(encoder.data_notification(encoder.iskraemeco_list(state), state.moment))


def test_another_meters_frame_that_breaks_physics_never_turns_the_meters_table_off() -> None:
    """One checksum-valid AM550 push of another meter, its phases' parts not adding up: dropped alone.

    Before, it turned the table off for good: the line's meter was dropped as a list still being learned, and
    what no physics proves (its export, its reactive powers) was never shown again.
    """
    decoder = Decoder()
    assert reasons(decoder.feed_events(b"".join(am550_push(step) for step in range(3)))) == ["telegram"] * 3
    (stranger,) = decoder.feed_events(am550_push(3, meter_id="87654321", phase_powers=(60_500, 700, 503)))
    assert isinstance(stranger, DroppedFrame)
    assert stranger.reason is DropReason.IMPLAUSIBLE
    after = [event for step in range(4, 8) for event in decoder.feed_events(am550_push(step))]
    assert [event.meter_id for event in after if isinstance(event, Telegram)] == ["12345678"] * 4
    assert decoder.refuted_tables == []
    # Such strangers one at a time, the meter's own pushes between them, never add up to a verdict either;
    # three among five pushes do, as for pushes without a checksum.
    for step in range(8, 26, 3):
        decoder.feed_events(am550_push(step, meter_id="87654321", phase_powers=(60_500, 700, 503)))
        assert reasons(decoder.feed_events(am550_push(step + 1) + am550_push(step + 2))) == ["telegram"] * 2
    assert decoder.refuted_tables == []
    # The meter's own push that breaks physics still shows the table does not know its list.
    decoder.feed_events(am550_push(26, phase_powers=(60_500, 700, 503)))
    assert decoder.refuted_tables == ["Iskraemeco"]


def test_a_stranger_heard_twice_never_turns_the_meters_table_off() -> None:
    """Another meter's physical push, then its push that lies: neither is a verdict on the line meter's list."""
    decoder = Decoder()
    assert reasons(decoder.feed_events(b"".join(am550_push(step) for step in range(3)))) == ["telegram"] * 3
    assert reasons(decoder.feed_events(am550_push(3, meter_id="87654321"))) == ["telegram"]
    lie = decoder.feed_events(am550_push(4, meter_id="87654321", phase_powers=(60_500, 700, 503)))
    assert reasons(lie) == ["implausible"]
    assert decoder.refuted_tables == []
    assert reasons(decoder.feed_events(b"".join(am550_push(step) for step in range(5, 9)))) == ["telegram"] * 4


def test_a_table_that_reads_a_new_meter_number_in_every_push_is_let_go() -> None:
    """A meter number that changes with every checked push is no meter's: the table does not know that list.

    Before, such pushes were strangers all, none decisive: a table physics refuted in two pushes of five
    read the rest for good.
    """
    decoder = Decoder()
    kinds = []
    for step in range(40):
        lies = step % 5 in (1, 3)
        push = am550_push(
            step, meter_id=f"{10_000_000 + step}", phase_powers=(60_500, 700, 503) if lies else (500, 700, 503)
        )
        kinds += reasons(decoder.feed_events(push))
    assert decoder.refuted_tables == ["Iskraemeco"]
    assert kinds.count("telegram") <= 3


def test_a_meter_replaced_keeps_its_table() -> None:
    """The new meter's pushes read physically under its own number: after a few, they are the line's."""
    decoder = Decoder()
    decoder.feed_events(b"".join(am550_push(step) for step in range(3)))
    assert (
        reasons(decoder.feed_events(b"".join(am550_push(step, meter_id="87654321") for step in range(3, 9))))
        == ["telegram"] * 6
    )
    # Its push that breaks physics now says the table does not know its list.
    decoder.feed_events(am550_push(9, meter_id="87654321", phase_powers=(60_500, 700, 503)))
    assert decoder.refuted_tables == ["Iskraemeco"]


def test_strangers_heard_again_and_again_never_turn_the_meters_table_off() -> None:
    """Two other meters' physical pushes between the line meter's, without end: no verdict on its list."""
    decoder = Decoder()
    decoder.feed_events(b"".join(am550_push(step) for step in range(3)))
    kinds = []
    for step in range(3, 63, 3):
        kinds += reasons(decoder.feed_events(am550_push(step, meter_id="87654321")))
        kinds += reasons(decoder.feed_events(am550_push(step + 1, meter_id="87654322")))
        kinds += reasons(decoder.feed_events(am550_push(step + 2)))
    assert decoder.refuted_tables == []
    assert kinds == ["telegram"] * 60
