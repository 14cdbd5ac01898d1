"""Iskraemeco's energy lists of Slovenia and Croatia, read by their tables at the first push, and only where they fit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, ObisCode, Telegram
from custom_components.han_port.decoder.axdr import decode_data
from simulator import frames as encoder
from simulator.frames import MeterState

IMPORT = ObisCode(1, 0, 1, 8, 0)
EXPORT = ObisCode(1, 0, 2, 8, 0)
POWER = ObisCode(1, 0, 1, 7, 0)
NAME = "ISK1030789375606"


def frame(body: bytes, state: MeterState) -> bytes:
    return encoder.hdlc_frames(encoder.data_notification(body, state.moment))


def values(body: bytes) -> list[bytes]:
    """The encoded values of a list, one by one: to build lists the encoder has no builder for."""
    items: list[bytes] = []
    pos = 2  # past the structure's tag and count
    while pos < len(body):
        _, end = decode_data(body, pos)
        items.append(body[pos:end])
        pos = end
    return items


def instantaneous_celje_list(state: MeterState) -> bytes:
    """Elektro Celje's 12-value AM550 push (amsreader gh615-8): name, list name, voltages, currents, four powers.

    It opens as the 15-minute energy list does and is as long; its texts stand elsewhere.
    """
    return encoder.structure(
        encoder.octet_string(NAME.encode()),
        encoder.octet_string(b"UP_3f"),
        *(encoder.long_unsigned(encoder.raw(volt, -1)) for volt in state.voltages),
        *(encoder.long_unsigned(encoder.raw(amps, -2)) for amps in state.currents),
        *(
            encoder.double_long_unsigned(power)
            for power in (state.power_import, state.power_export, state.reactive_import, state.reactive_export)
        ),
    )


def shown(event: DroppedFrame | Telegram) -> dict[ObisCode, float]:
    assert isinstance(event, Telegram), event
    return {code: reading.value for code, reading in event.readings.items()}


def test_the_slovenian_15_minute_energy_list_is_read_at_its_first_push() -> None:
    state = MeterState(energy_import=52_837, energy_export=177_927)
    (event,) = Decoder().feed_events(frame(encoder.iskraemeco_quarter_hour_list(state, NAME), state))
    values = shown(event)
    assert (values[IMPORT], values[ObisCode(1, 0, 1, 8, 1)], values[ObisCode(1, 0, 1, 8, 2)]) == (
        52_837,
        13_210,
        39_627,
    )
    assert values[EXPORT] == 177_927
    assert values[ObisCode(1, 0, 3, 8, 0)] == state.reactive_energy_import
    assert isinstance(event, Telegram)
    assert event.manufacturer == "Iskraemeco"
    # "16820006" names the list (the same meter's instantaneous list is "16820005"): no meter number.
    assert event.meter_id is None


@pytest.mark.parametrize("swap", [(4, 5), (4, 7), (6, 9), (7, 8)])
def test_an_energy_list_in_another_order_is_not_read_by_the_table(swap: tuple[int, int]) -> None:
    """Registers moved where the table places others: the import is no longer its tariffs' sum, or the export not."""
    state = MeterState(energy_import=52_837, energy_export=177_927)
    items = values(encoder.iskraemeco_quarter_hour_list(state, NAME))
    first, second = swap
    items[first], items[second] = items[second], items[first]
    decoder = Decoder()
    (event,) = decoder.feed_events(frame(encoder.structure(*items), state))
    assert isinstance(event, DroppedFrame)
    assert event.reason is DropReason.LEARNING
    assert decoder.refuted_tables == ["Iskraemeco"]


def test_zeros_where_the_import_and_its_tariffs_stand_prove_no_order() -> None:
    """Zeros add up wherever they stand: a list of the table's shape whose import reads 0 is not read by it."""
    state = MeterState(energy_import=0, energy_export=0)
    decoder = Decoder()
    (event,) = decoder.feed_events(frame(encoder.iskraemeco_quarter_hour_list(state, NAME), state))
    assert isinstance(event, DroppedFrame)
    assert event.reason is DropReason.LEARNING
    assert decoder.refuted_tables == []


def test_a_meter_not_yet_counting_in_its_second_tariff_is_read_once_it_does() -> None:
    """A checked push whose import's tariff 2 stands at 0 (a new meter before its first night) is no verdict."""
    decoder = Decoder()
    first = MeterState(energy_import=1_000, energy_export=0)
    body = bytearray(encoder.iskraemeco_quarter_hour_list(first, NAME))
    # Tariff 1 holds the import register whole, tariff 2 nothing.
    split = encoder.double_long_unsigned(250) + encoder.double_long_unsigned(750)
    at = body.index(split)
    body[at : at + len(split)] = encoder.double_long_unsigned(1_000) + encoder.double_long_unsigned(0)
    (waiting,) = decoder.feed_events(frame(bytes(body), first))
    assert isinstance(waiting, DroppedFrame)
    assert decoder.refuted_tables == []
    later = replace(first, moment=first.moment + timedelta(hours=12), energy_import=5_000)
    (event,) = decoder.feed_events(frame(encoder.iskraemeco_quarter_hour_list(later, NAME), later))
    assert shown(event)[IMPORT] == 5_000


def one_phase_push_with_nulls(power: int, amps: int, volts: int) -> bytes:
    """A 1-phase meter's 9 values (name, P+, P-, I1 to I3, U1 to U3), null where it has no phase: no energy list."""
    return encoder.structure(
        encoder.octet_string(b"ISK1020784605887"),
        encoder.double_long_unsigned(power),
        encoder.double_long_unsigned(0),
        encoder.long_unsigned(amps),
        encoder.null(),
        encoder.null(),
        encoder.long_unsigned(volts),
        encoder.null(),
        encoder.null(),
    )


@pytest.mark.parametrize("checked", [True, False])
def test_null_data_where_a_table_places_registers_with_tariffs_is_read_as_no_register(*, checked: bool) -> None:
    """Null data adds up to nothing: a 1-phase list with its current and voltage where the 9-value table places
    the import and the export is no energy list (its current and voltage were shown as both registers)."""
    state = MeterState()
    decoder = Decoder()
    for step, (power, amps, volts) in enumerate([(523, 231, 2301), (281, 122, 2294), (700, 305, 2298)]):
        moment = state.moment + timedelta(seconds=10 * step)
        apdu = encoder.data_notification(one_phase_push_with_nulls(power, amps, volts), moment)
        events = decoder.feed_events(encoder.hdlc_frames(apdu) if checked else apdu)
        assert not [event for event in events if isinstance(event, Telegram)]


def test_damage_that_turns_a_register_into_another_type_in_a_bare_push_shows_nothing_of_it() -> None:
    """A bit flipped in a type byte (a u32 made an enum) shifts what follows: the sums no longer stand as sent."""
    first = MeterState(power_import=1703, energy_import=5_000_000, energy_export=2_000_000)
    states = [
        replace(first, moment=first.moment + step * timedelta(seconds=10), energy_import=5_000_000 + 7 * step)
        for step in range(5)
    ]
    pushes = [encoder.data_notification(encoder.iskraemeco_energy_list(state), state.moment) for state in states]
    damaged = bytearray(pushes[3])
    damaged[38] ^= 0x10  # the export's type: 06 (double-long-unsigned) becomes 16 (enum)
    decoder = Decoder()
    events = [event for push in (*pushes[:3], bytes(damaged), pushes[4]) for event in decoder.feed_events(push)]
    telegrams = [event for event in events if isinstance(event, Telegram)]
    assert [telegram.readings[IMPORT].value for telegram in telegrams] == [5_000_000, 5_000_007, 5_000_014, 5_000_028]
    assert {telegram.readings[EXPORT].value for telegram in telegrams} == {2_000_000}


def test_a_list_as_long_that_opens_alike_with_its_texts_elsewhere_leaves_the_energy_lists_table_reading() -> None:
    """Celje's instantaneous list is no energy list: learned, it never turns the energy list's table off.

    Were it judged by that table, physics would refute the table, in a checked frame, for good: the meter's
    energy list would be left to the learner, which never learns a list without a power.
    """
    decoder = Decoder()
    moment = MeterState().moment
    for step in range(5):
        state = MeterState(moment=moment + timedelta(seconds=10 * step))
        decoder.feed_events(frame(instantaneous_celje_list(state), state))
    assert decoder.refuted_tables == []
    state = MeterState(moment=moment + timedelta(minutes=1), energy_import=52_837, energy_export=177_927)
    (event,) = decoder.feed_events(frame(encoder.iskraemeco_quarter_hour_list(state, NAME), state))
    assert shown(event)[IMPORT] == 52_837


def test_elektro_ljubljanas_9_value_push_is_read_at_its_first_push() -> None:
    state = MeterState(power_import=625, power_export=0, energy_import=12_789_950, energy_export=250)
    (event,) = Decoder().feed_events(frame(encoder.iskraemeco_energy_list(state), state))
    values = shown(event)
    assert (values[POWER], values[IMPORT], values[EXPORT]) == (625, 12_789_950, 250)
    assert (values[ObisCode(1, 0, 2, 8, 1)], values[ObisCode(1, 0, 2, 8, 2)]) == (63, 187)


def test_the_croatian_ie5_push_is_read_with_its_physics() -> None:
    state = MeterState(
        power_import=382,
        phase_powers=(127, 189, 65),
        voltages=(238.8, 235.7, 237.7),
        currents=(0.55, 0.89, 0.77),
        power_factor=0.889,
        energy_import=7_088_218,
        energy_export=5_793_962,
    )
    decoder = Decoder()
    (event,) = decoder.feed_events(frame(encoder.hep_list(state), state))
    values = shown(event)
    assert (values[POWER], values[IMPORT], values[EXPORT]) == (382, 7_088_218, 5_793_962)
    assert values[ObisCode(1, 0, 13, 7, 0)] == 0.889
    assert [values[ObisCode(1, 0, c, 7, 0)] for c in (32, 52, 72, 31, 51, 71)] == [
        238.8,
        235.7,
        237.7,
        0.55,
        0.89,
        0.77,
    ]
    assert [values[ObisCode(1, 0, c, 7, 0)] for c in (21, 41, 61)] == [127, 189, 65]
    # A push whose phases' powers are far beyond their U·I is no reading of the table's.
    lying = replace(state, moment=state.moment + timedelta(seconds=10), phase_powers=(1270, 189, 65), power_import=1524)
    (refused,) = decoder.feed_events(frame(encoder.hep_list(lying), lying))
    assert isinstance(refused, DroppedFrame)
    assert decoder.refuted_tables == ["Iskraemeco"]


def test_a_registers_value_the_table_reads_only_grows() -> None:
    """A later push whose import stands below the last one's is no reading of the table's (its tariffs agree)."""
    state = MeterState(energy_import=52_837, energy_export=177_927)
    decoder = Decoder()
    decoder.feed_events(frame(encoder.iskraemeco_quarter_hour_list(state, NAME), state))
    later = replace(state, moment=state.moment + timedelta(minutes=15), energy_import=52_000)
    (event,) = decoder.feed_events(frame(encoder.iskraemeco_quarter_hour_list(later, NAME), later))
    assert isinstance(event, DroppedFrame)
    assert event.reason is DropReason.LEARNING


def test_a_1_phase_push_of_registers_as_long_is_not_read_as_the_1_phase_list() -> None:
    """amsreader reads another 10-value shape as tariff registers: such a list is no 1-phase push of powers."""
    state = MeterState()
    registers = (1_234_567, 2_345_678, 345, 678, 456_789, 567_890, 12_345, 23_456)
    body = encoder.structure(
        encoder.octet_string(b"ISK1020785766649"),
        encoder.octet_string(b"ISK85766649"),
        *(encoder.double_long_unsigned(value) for value in registers),
    )
    decoder = Decoder()
    (event,) = decoder.feed_events(frame(body, state))
    assert isinstance(event, DroppedFrame)
    assert event.reason is DropReason.LEARNING


def test_the_1_phase_push_is_read_at_its_first_push() -> None:
    state = MeterState(
        three_phase=False,
        power_import=540,
        reactive_export=282,
        voltages=(233.6, 0.0, 0.0),
        currents=(2.78, 0.0, 0.0),
        phase_powers=(540, 0, 0),
    )
    (event,) = Decoder().feed_events(frame(encoder.iskraemeco_one_phase_list(state), state))
    values = shown(event)
    assert [values[ObisCode(1, 0, c, 7, 0)] for c in (1, 4, 32, 31, 21, 22)] == [540, 282, 233.6, 2.78, 540, 0]
    assert isinstance(event, Telegram)
    assert event.meter_id is None
