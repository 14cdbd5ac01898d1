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


def test_null_data_where_the_table_places_registers_with_tariffs_is_no_list_of_its_shape() -> None:
    """Null data adds up to nothing: the list is left to the learner without a verdict on the table.

    Counted as 0, it refuted the table's reading in a checked push, and the table was let go for good.
    """
    state = MeterState(energy_import=52_837, energy_export=177_927)
    body = bytearray(encoder.iskraemeco_quarter_hour_list(state, NAME))
    tariffs = encoder.double_long_unsigned(13_210) + encoder.double_long_unsigned(39_627)
    at = body.index(tariffs)
    body[at : at + len(tariffs)] = encoder.null() + encoder.null()
    body[1] = 12  # still 12 values: the count byte after the structure's tag
    decoder = Decoder()
    (event,) = decoder.feed_events(frame(bytes(body), state))
    assert isinstance(event, DroppedFrame)
    assert event.reason is DropReason.LEARNING
    assert decoder.refuted_tables == []


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
