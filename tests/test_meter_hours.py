"""The meter's hours in the recorder: each hour's energy is the difference of the registers that close it.

Telegrams go straight to the coordinator with time frozen, as in
test_energy_guard; a real recorder (in-memory SQLite) stores the statistics
HAN Port writes, and they are read back as the Energy dashboard reads them.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import async_add_external_statistics, list_statistic_ids
from homeassistant.core import State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed, mock_restore_cache_with_extra_data
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    statistics_during_period,
)
from sqlalchemy.exc import OperationalError

from custom_components.han_port import entity as entity_module
from custom_components.han_port import held_totals
from custom_components.han_port import sensor as sensor_module
from custom_components.han_port import statistics as statistics_module
from custom_components.han_port.compat import meter_device, sum_statistic_metadata
from custom_components.han_port.const import CONF_CURRENT_TRANSFORMER_RATIO
from custom_components.han_port.decoder import ObisCode, Reading, Telegram, Unit
from custom_components.han_port.diagnostics import async_get_config_entry_diagnostics
from custom_components.han_port.hours import HOUR

from .meter import entity_id, meter_hours_read_back
from .test_energy_guard import ENERGY, METER_ID, push, push_and_let_writes_happen, reader_connected, set_up, telegram

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter

IMPORT = ObisCode.parse("1-0:1.8.0")
EXPORT = ObisCode.parse("1-0:2.8.0")
REACTIVE = ObisCode.parse("1-0:3.8.0")
POWER = ObisCode.parse("1-0:1.7.0")
IMPORT_HOURS = f"han_port:{METER_ID}_energy_import"
EXPORT_HOURS = f"han_port:{METER_ID}_energy_export"
OSLO = "Europe/Oslo"
# The Kaifa meter: its hourly lists at 11:00, 12:00 and 13:00 (local time, a winter day).
ELEVEN = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
REGISTERS = {ELEVEN: 44_707_972, ELEVEN + timedelta(hours=1): 44_708_863, ELEVEN + timedelta(hours=2): 44_710_194}


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceGenerator) -> None:
    """Set the recorder up before Home Assistant, as a real installation has it."""


@pytest.fixture(autouse=True)
async def in_oslo(hass: HomeAssistant) -> None:
    """The meter and Home Assistant are in Norway: hours are local, the recorder's are UTC."""
    await hass.config.async_set_time_zone(OSLO)


def hourly_list(
    imported: float, clock: datetime | None, exported: float | None = None, *, offset: bool = False
) -> Telegram:
    """A Kaifa hourly list: the registers, stamped with the meter's clock (local time, its offset stated or not)."""
    readings = {POWER: Reading(1000, Unit.WATT), IMPORT: Reading(imported, Unit.WATT_HOUR)}
    if exported is not None:
        readings[EXPORT] = Reading(exported, Unit.WATT_HOUR)
    stamp = None if clock is None else dt_util.as_local(clock)
    if stamp is not None and not offset:
        stamp = stamp.replace(tzinfo=None)
    return Telegram("hdlc", "Kaifa", "KFM_001", METER_ID, "MA304H3E", stamp, readings, b"")


# Hourly lists of 1 kWh an hour whose register jumps 10 MWh at 13:00 and counts on from there: held.
JUMPED_AT_THIRTEEN = [44_000_000, 44_001_000, 54_002_000, 54_003_000]


async def hourly_lists(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tcp_meter: TcpMeter, registers: list[int]
) -> MockConfigEntry:
    """Set a meter up before 11:00 and send its hourly lists from then on, one register an hour, ten seconds in."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    for hour, register in enumerate(registers):
        at = ELEVEN + timedelta(hours=hour)
        await push(hass, freezer, entry, at + timedelta(seconds=10), hourly_list(register, at))
    return entry


async def hours(hass: HomeAssistant, statistic: str = IMPORT_HOURS) -> list[tuple[datetime, float, float]]:
    """Every hour of a statistic: its start, the register at its end and the running sum (kWh)."""
    await async_wait_recording_done(hass)
    found = await hass.async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2000, 1, 1, tzinfo=UTC),
        None,
        {statistic},
        "hour",
        None,
        {"state", "sum"},
    )
    return [
        (dt_util.utc_from_timestamp(row["start"]), round(row["state"], 3), round(row["sum"], 3))
        for row in found.get(statistic, [])
    ]


def used(rows: list[tuple[datetime, float, float]]) -> dict[datetime, float]:
    """Each hour's energy, as the Energy dashboard draws it: the sum's change over the hour (kWh)."""
    return {start: round(total - before, 3) for (_, _, before), (start, _, total) in pairwise(rows)}


async def start_behind_transformers(hass: HomeAssistant, entry: MockConfigEntry, ratio: float) -> None:
    """Stop, set the current-transformer ratio in the options, and start again, as the options flow does."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(entry, options={CONF_CURRENT_TRANSFORMER_RATIO: ratio})
    await start(hass, entry)


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Stop reading the meter and start again, as Home Assistant does over a restart: only the recorder remembers."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await start(hass, entry)


async def start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait for what it reads back from the recorder, and for its reader."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await meter_hours_read_back(hass, entry)
    await totals_read_back(hass, entry)
    await reader_connected(entry)


def estimated(entry: MockConfigEntry) -> list[str]:
    return [hour["start"] for hour in entry.runtime_data.energy.counts.meter_hours.diagnostics()["estimated_hours"]]


@pytest.mark.usefixtures("recorder_mock")
async def test_each_hour_is_placed_by_the_meters_clock(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # Each list arrives ten seconds after the hour, stamped on the hour; the last one two minutes late.
    for delay, (boundary, register) in zip((10, 10, 130), REGISTERS.items(), strict=True):
        await push(hass, freezer, entry, boundary + timedelta(seconds=delay), hourly_list(register, boundary))
    rows = await hours(hass)
    assert rows == [
        (ELEVEN - timedelta(hours=1), 44_707.972, 0.0),
        (ELEVEN, 44_708.863, 0.891),
        (ELEVEN + timedelta(hours=1), 44_710.194, 2.222),
    ]
    # 11-12 local used 891 Wh, and it is drawn in the 11:00 bar, not the 12:00 one.
    assert used(rows) == {ELEVEN: 0.891, ELEVEN + timedelta(hours=1): 1.331}
    # Only the hour before the first list is not measured.
    assert estimated(entry) == [(ELEVEN - timedelta(hours=1)).isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_restart_mid_hour_goes_on_with_the_sum(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    freezer.move_to(twelve + timedelta(minutes=30))
    await restart(hass, entry)
    # Restarted mid-hour: the next list closes the hour from the register the recorder kept.
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    rows = await hours(hass)
    assert [row[2] for row in rows] == [0.0, 0.891, 2.222]
    assert used(rows) == {eleven: 0.891, twelve: 1.331}
    # A second restart, then a day's worth more: the sum never starts over.
    freezer.move_to(thirteen + timedelta(minutes=1))
    await restart(hass, entry)
    fourteen = thirteen + timedelta(hours=1)
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(third + 500, fourteen))
    assert (await hours(hass))[-1] == (thirteen, 44_710.694, 2.722)
    assert estimated(entry) == []
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_sum_adjusted_in_the_recorder_carries_on_into_the_next_hour_written(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A user brings 11-12 down by 0.5 kWh, as Developer tools offer under Statistics (adjust sum).

    The next hour goes on from the sum the recorder holds, not from one kept in memory: the 0.5 kWh must not come
    back in 12-13.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    await async_wait_recording_done(hass)
    get_instance(hass).async_adjust_statistics(IMPORT_HOURS, eleven, -0.5, "kWh")
    await async_wait_recording_done(hass)
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    rows = await hours(hass)
    assert [total for _, _, total in rows] == [0.0, 0.391, 1.722]
    assert used(rows) == {eleven: 0.391, twelve: 1.331}
    diagnostics = entry.runtime_data.energy.counts.meter_hours.diagnostics()
    assert diagnostics["boundaries"]["energy_import"]["sum"] == pytest.approx(1.722)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_hours_whose_write_was_lost_before_a_restart_are_each_written_in_their_own_hour(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 13:00 list closes 12-13, but its write never reaches the database (a power cut within the recorder's
    commit interval); the energy store kept the 13:00 register all the same.

    After the restart the 14:00 list closes 12-13 and 13-14 each in its own hour, estimated: never one row at
    12:00 holding both hours' use.
    """
    written = statistics_module.async_add_external_statistics
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()

    def lose_twelve_to_thirteen(hass: HomeAssistant, metadata: Any, rows: list[StatisticData]) -> None:
        if kept := [row for row in rows if row["start"] != twelve]:
            written(hass, metadata, kept)

    freezer.move_to(eleven - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    monkeypatch.setattr(statistics_module, "async_add_external_statistics", lose_twelve_to_thirteen)
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    monkeypatch.setattr(statistics_module, "async_add_external_statistics", written)
    freezer.move_to(thirteen + timedelta(minutes=1))
    await restart(hass, entry)
    fourteen = thirteen + HOUR
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(third + 500, fourteen))
    rows = await hours(hass)
    assert rows == [
        (eleven - HOUR, 44_707.972, 0.0),
        (eleven, 44_708.863, 0.891),
        (twelve, 44_710.194, 2.222),
        (thirteen, 44_710.694, 2.722),
    ]
    # 12-13's boundary at 13:00 was shared out from the register kept; 13-14 begins at it.
    assert estimated(entry) == [twelve.isoformat(), thirteen.isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("offset", [True, False], ids=["clock-with-offset", "clock-without"])
@pytest.mark.usefixtures("recorder_mock")
async def test_hours_home_assistant_missed_come_exact_from_the_lists_kept_for_it(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    *,
    offset: bool,
) -> None:
    freezer.move_to(ELEVEN - timedelta(hours=1, minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    ten = ELEVEN - timedelta(hours=1)
    await push(hass, freezer, entry, ten + timedelta(seconds=10), hourly_list(44_707_000, ten))
    # Home Assistant is down from 10:40 to 13:05; the bridge kept the lists of 11:00, 12:00 and 13:00 for it,
    # stamped with the meter's clock, and its offset or not.
    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.move_to(ELEVEN + timedelta(hours=2, minutes=5))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await meter_hours_read_back(hass, entry)
    await reader_connected(entry)
    for boundary, register in REGISTERS.items():
        kept = hourly_list(register, boundary, offset=offset)
        await push(hass, freezer, entry, ELEVEN + timedelta(hours=2, minutes=5), kept)
    # Nothing was stepped: a bridge handed over what it kept.
    assert _clock_warnings(caplog) == []
    if offset:
        rows = await hours(hass)
        assert used(rows) == {ten: 0.972, ELEVEN: 0.891, ELEVEN + timedelta(hours=1): 1.331}
        assert estimated(entry) == []
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_hours_no_register_closed_share_the_energy_and_are_marked_estimated(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, _), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    # Down from 11:01 to 12:59, and nothing kept the 12:00 list: 11-12 and 12-13 share what the registers say.
    freezer.move_to(eleven + timedelta(minutes=1))
    await restart(hass, entry)
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    rows = await hours(hass)
    assert used(rows) == {eleven: 1.111, twelve: 1.111}
    assert rows[-1][1:] == (44_710.194, 2.222)
    assert estimated(entry) == [eleven.isoformat(), twelve.isoformat()]
    # Where a user who asks finds them (called as the diagnostics platform is: hours of frozen time outlive a login).
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["meter_hours"]["estimated_hours"] == [
        {"statistic": "energy_import", "start": eleven.isoformat()},
        {"statistic": "energy_import", "start": twelve.isoformat()},
    ]
    assert diagnostics["meter_hours"]["boundaries"]["energy_import"] == {
        "at": thirteen.isoformat(),
        "sum": 2.222,
        "estimated": False,
    }
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_list_that_comes_twice_never_doubles_an_hour(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    # The bridge repeats the list, once at once and once after a restart.
    await push(hass, freezer, entry, twelve + timedelta(seconds=40), hourly_list(second, twelve))
    await restart(hass, entry)
    await push(hass, freezer, entry, twelve + timedelta(minutes=1), hourly_list(second, twelve))
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    await push(hass, freezer, entry, thirteen + timedelta(seconds=20), hourly_list(third, thirteen))
    rows = await hours(hass)
    assert [(start, total) for start, _, total in rows] == [
        (eleven - timedelta(hours=1), 0.0),
        (eleven, 0.891),
        (twelve, 2.222),
    ]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("day", "local_hours"),
    [(datetime(2026, 3, 29), 23), (datetime(2026, 10, 25), 25)],
    ids=["summer_time_begins", "summer_time_ends"],
)
@pytest.mark.usefixtures("recorder_mock")
async def test_a_day_of_23_or_25_hours_has_as_many_exact_hours(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, day: datetime, local_hours: int
) -> None:
    midnight = day.replace(tzinfo=dt_util.get_default_time_zone()).astimezone(UTC)
    freezer.move_to(midnight - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # Every hour of the local day uses a different amount: 1000 Wh + 10 Wh for each hour before it.
    register = 50_000_000
    boundary = midnight
    while boundary <= midnight + timedelta(hours=local_hours):
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, boundary))
        register += 1000 + 10 * round((boundary - midnight) / timedelta(hours=1))
        boundary += timedelta(hours=1)
    day_hours = {
        start: energy
        for start, energy in used(await hours(hass)).items()
        if dt_util.as_local(start).date() == day.date()
    }
    assert len(day_hours) == local_hours
    assert list(day_hours.values()) == [round(1 + 0.01 * hour, 3) for hour in range(local_hours)]
    assert estimated(entry) == [(midnight - timedelta(hours=1)).isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_meter_that_sends_its_register_in_every_push_closes_hours_at_the_boundary(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # A Danish Kamstrup without a clock, drawing 3.6 kW (one Wh a second), pushing every ten seconds around 11:00.
    start = ELEVEN - timedelta(seconds=25)
    for step in range(6):
        await push(hass, freezer, entry, start + timedelta(seconds=10 * step), telegram(3600, 60_000_000 + 10 * step))
    # The first push at or after 11:00 (11:00:05) gives 11:00's register; then one push a minute to 12:00:05.
    at, total = ELEVEN + timedelta(seconds=5), 60_000_030
    for _ in range(60):
        at, total = at + timedelta(minutes=1), total + 60
        await push(hass, freezer, entry, at, telegram(3600, total))
    # No push near 13:00 (the bridge was away 12:55 to 13:05): 13:00's register is interpolated, and marked.
    await push(hass, freezer, entry, at + timedelta(minutes=55), telegram(3600, total + 3300))
    await push(hass, freezer, entry, at + timedelta(minutes=65), telegram(3600, total + 3900))
    rows = await hours(hass)
    assert rows[1] == (ELEVEN, 60_003.630, 3.600)
    # 12:55:05 to 13:00 is 295 s of the ten minutes between the pushes: 295 of their 600 Wh.
    assert rows[2] == (ELEVEN + timedelta(hours=1), 60_007.225, 7.195)
    assert estimated(entry) == [(ELEVEN - timedelta(hours=1)).isoformat(), (ELEVEN + timedelta(hours=1)).isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_held_spike_never_reaches_the_meter_hours(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    # The 12:00 list comes damaged, 15 kWh above the meter's count, then again as the meter sent it.
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second + 15_000, twelve))
    await push(hass, freezer, entry, twelve + timedelta(seconds=20), hourly_list(second, twelve))
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    assert entry.runtime_data.energy.held.count == 1
    assert used(await hours(hass)) == {eleven: 0.891, twelve: 1.331}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_register_a_rounding_below_the_last_is_the_same_count(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A list 1 Wh below the one before counts nothing: its hours stay exact, and nobody is asked about it."""
    entry = await hourly_lists(hass, freezer, tcp_meter, [44_000_000, 43_999_999, 43_999_995, 44_001_000, 44_003_000])
    assert used(await hours(hass)) == {
        ELEVEN: 0.0,
        ELEVEN + timedelta(hours=1): 0.0,
        ELEVEN + timedelta(hours=2): 1.0,
        ELEVEN + timedelta(hours=3): 2.0,
    }
    assert [start for start in estimated(entry) if start >= ELEVEN.isoformat()] == []
    assert entry.runtime_data.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_held_total_the_user_takes_books_the_hours_its_sequence_closed(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The jump hides what the hour it came in used; the hours the held totals closed are the meter's own."""
    registers = [*JUMPED_AT_THIRTEEN, 54_004_000]
    entry = await hourly_lists(hass, freezer, tcp_meter, registers)
    assert entry.runtime_data.energy.guard.held == [IMPORT.register]
    freezer.move_to(ELEVEN + timedelta(hours=4, minutes=5))
    assert entry.runtime_data.accept_held_total(IMPORT.register)
    for hour, register in ((5, 54_005_000), (6, 54_006_000)):
        at = ELEVEN + timedelta(hours=hour)
        await push(hass, freezer, entry, at + timedelta(seconds=10), hourly_list(register, at))
    assert used(await hours(hass)) == {
        ELEVEN + timedelta(hours=hour): kwh for hour, kwh in enumerate([1, 0, 1, 1, 1, 1])
    }
    hours_estimated = [start for start in estimated(entry) if start >= ELEVEN.isoformat()]
    assert hours_estimated == [(ELEVEN + timedelta(hours=1)).isoformat()]
    # The capacity tariff counts them too: the hour before the user took the total used its kWh.
    assert entry.runtime_data.energy.counts.tariff.hours[(ELEVEN + timedelta(hours=3)).isoformat()] == 1000
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_held_total_taken_after_a_restart_books_the_hours_held_before_it(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The held sequence is kept over a restart with the held total: the repair answered after it books its hours."""
    entry = await hourly_lists(hass, freezer, tcp_meter, JUMPED_AT_THIRTEEN)
    await restart(hass, entry)
    fifteen = ELEVEN + timedelta(hours=4)
    await push(hass, freezer, entry, fifteen + timedelta(seconds=10), hourly_list(54_004_500, fifteen))
    assert entry.runtime_data.energy.guard.held == [IMPORT.register]
    assert entry.runtime_data.accept_held_total(IMPORT.register)
    assert used(await hours(hass)) == {ELEVEN + timedelta(hours=hour): kwh for hour, kwh in enumerate([1, 0, 1, 1.5])}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_reset_the_guard_follows_books_the_hours_its_first_totals_closed(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """An hourly list's register that starts again is followed at its third list: the two before close their hours."""
    entry = await hourly_lists(hass, freezer, tcp_meter, [44_000_000, 44_001_000, 1_000, 2_000, 3_500, 4_000])
    assert [event["event"] for event in entry.runtime_data.energy.events] == ["register_held", "register_followed"]
    assert used(await hours(hass)) == {
        ELEVEN + timedelta(hours=hour): kwh for hour, kwh in enumerate([1, 0, 1, 1.5, 0.5])
    }
    hours_estimated = [start for start in estimated(entry) if start >= ELEVEN.isoformat()]
    assert hours_estimated == [(ELEVEN + timedelta(hours=1)).isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_long_hold_of_a_meter_that_sends_often_keeps_two_totals_an_hour_and_books_each_hour(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A P1 meter's totals held for hours: kept are those that close its hours, as they would have closed them."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, ELEVEN - timedelta(minutes=2), telegram(1000, 44_000_000))
    # From 11:02:30 a total every five minutes, 10 MWh above the last, growing by a power that changes each push
    # (1.2 to 8.4 kW).
    pushes = [
        (ELEVEN + timedelta(minutes=2, seconds=30) + timedelta(minutes=5) * step, 54_000_000 + growth)
        for step, growth in enumerate(accumulate(100 + 150 * (step % 5) for step in range(48)))
    ]
    for at, register in pushes:
        await push(hass, freezer, entry, at, telegram(5000, register))
    held = entry.runtime_data.energy.held._holds[ENERGY.register]
    assert len(held.sequence) == 8  # the first and last of each of the four hours
    assert entry.runtime_data.accept_held_total(ENERGY.register)

    def at_boundary(boundary: datetime) -> float:
        """The register at a boundary, as if power had been even between the pushes around it (Wh)."""
        (before, low), (after, high) = next((one, two) for one, two in pairwise(pushes) if one[0] < boundary < two[0])
        return low + (high - low) * ((boundary - before) / (after - before))

    expected = {
        boundary: round((at_boundary(boundary + HOUR) - at_boundary(boundary)) / 1000, 3)
        for boundary in (ELEVEN + HOUR, ELEVEN + 2 * HOUR)
    }
    written = used(await hours(hass))
    assert {start: written[start] for start in expected} == expected
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("case", "use"),
    [
        # The register starts again at 11:30 and is followed at 11:32:05: 11:01:05 to 11:32:05, less the minute
        # hidden in the fall.
        ("followed", 1860),
        # It jumps 10 MWh at 11:05, and the user takes it at 11:50:30: 11:01:05 to 11:50:05, less the minute hidden
        # in the jump.
        ("taken", 2940),
    ],
)
@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_the_hours_use_counts_a_held_stretch_once(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, case: str, use: int
) -> None:
    """Live energy counted the hour through the hold, from the power: the totals held are not counted again.

    A push a minute stands for a meter that sends every few seconds: the reader never calls it silent.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # A P1 meter drawing 3.6 kW (60 Wh a minute), one push a minute from 11:00:05; the hour counts from its
    # first live total, at 11:01:05.
    minutes = range(33) if case == "followed" else range(51)
    for minute in minutes:
        if case == "followed":
            total = 80_000_000 + 60 * minute if minute < 30 else 60 * (minute - 29)
        else:
            total = 80_000_000 + 60 * minute + (10_000_000 if minute >= 5 else 0)
        await push(hass, freezer, entry, ELEVEN + timedelta(minutes=minute, seconds=5), telegram(3600, total))
    if case == "taken":
        freezer.move_to(ELEVEN + timedelta(minutes=50, seconds=30))
        assert entry.runtime_data.accept_held_total(ENERGY.register)
    energy = entry.runtime_data.energy
    assert energy.counts.tariff.current_hour_use(energy.counts.live_import.published) == use
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_the_hours_use_is_kept_when_a_held_hourly_list_is_taken_later_in_the_hour(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The list that starts the hour is among those taken: the hour's use goes on from it, as live energy counted."""
    entry = await hourly_lists(hass, freezer, tcp_meter, JUMPED_AT_THIRTEEN)
    # 3.6 kW from the 14:00 list on, its power a minute apart; the user takes the held total at 14:20:30.
    fourteen = ELEVEN + timedelta(hours=3)
    for minute in range(1, 21):
        await push(hass, freezer, entry, fourteen + timedelta(minutes=minute, seconds=10), telegram(3600))
    energy = entry.runtime_data.energy
    before = energy.counts.tariff.current_hour_use(energy.counts.live_import.published)
    freezer.move_to(fourteen + timedelta(minutes=20, seconds=30))
    assert entry.runtime_data.accept_held_total(IMPORT.register)
    assert before == pytest.approx(1200, rel=0.05)  # about 20 minutes at 3.6 kW, as live energy counted them
    assert energy.counts.tariff.current_hour_use(energy.counts.live_import.published) == pytest.approx(before)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_damaged_list_in_a_hold_costs_the_hours_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A jump held from 13:00; one damaged list at 15:30 (a total of 0); the user takes the count at 16:05."""
    entry = await hourly_lists(hass, freezer, tcp_meter, [*JUMPED_AT_THIRTEEN, 54_004_000])
    damaged = ELEVEN + timedelta(hours=4, minutes=30)
    await push(hass, freezer, entry, damaged + timedelta(seconds=10), hourly_list(0, damaged))
    sixteen = ELEVEN + timedelta(hours=5)
    await push(hass, freezer, entry, sixteen + timedelta(seconds=10), hourly_list(54_005_000, sixteen))
    freezer.move_to(sixteen + timedelta(minutes=5))
    assert entry.runtime_data.accept_held_total(IMPORT.register)
    written = used(await hours(hass))
    assert [written[ELEVEN + timedelta(hours=hour)] for hour in range(5)] == [1, 0, 1, 1, 1]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_hold_longer_than_its_totals_kept_shares_the_hours_dropped_out(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first of the sequence is kept, where the new count starts: the hours of those dropped are interpolated."""
    monkeypatch.setattr(held_totals, "HELD_TOTALS_KEPT", 4)
    registers = [44_000_000, 44_001_000, *(54_002_000 + 1000 * n for n in range(7))]
    entry = await hourly_lists(hass, freezer, tcp_meter, registers)
    freezer.move_to(ELEVEN + timedelta(hours=8, minutes=5))
    assert entry.runtime_data.accept_held_total(IMPORT.register)
    written = used(await hours(hass))
    assert [written[ELEVEN + timedelta(hours=hour)] for hour in range(8)] == [1, 0, 1, 1, 1, 1, 1, 1]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_count_begun_anew_before_the_hours_are_read_back_counts_on_from_it(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A register that starts again in the first moments after a start, while the recorder has not answered yet."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    meter_hours = entry.runtime_data.energy.counts.meter_hours
    # A P1 meter drawing 3.6 kW, one push a minute from 11:00; at 11:30 its register starts again from zero.
    for minute in range(61):
        if minute == 29:
            meter_hours._loaded = False  # as in the first moments after setup, before the hours are read back
        total = 80_000_000 + 60 * minute if minute < 30 else 60 * (minute - 29)
        await push(hass, freezer, entry, ELEVEN + timedelta(minutes=minute, seconds=5), telegram(3600, total))
    await meter_hours.async_load()
    # As when the hours were read back all along (test_a_register_that_starts_again_is_counted_on_as_...).
    assert used(await hours(hass)) == {ELEVEN: 3.54}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("language", "names"),
    [
        ("en", ("Kamstrup meter {} Energy import, meter hours", "Kamstrup meter {} Energy export, meter hours")),
        (
            "nb",
            ("Kamstrup-måler {} Energiforbruk, målerens timer", "Kamstrup-måler {} Innmatet energi, målerens timer"),
        ),
    ],
)
@pytest.mark.usefixtures("recorder_mock")
async def test_the_energy_dashboard_offers_the_meter_hours_by_name_in_kwh(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    *,
    caplog: pytest.LogCaptureFixture,
    language: str,
    names: tuple[str, str],
) -> None:
    hass.config.language = language
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    for boundary, register in REGISTERS.items():
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, boundary, 1_000))
    await async_wait_recording_done(hass)
    # What the grid consumption and return pickers list: sum statistics of the energy unit class.
    offered = await hass.async_add_executor_job(list_statistic_ids, hass, None, "sum")
    ours = {item["statistic_id"]: item for item in offered if item["source"] == "han_port"}
    assert ours.keys() == {IMPORT_HOURS, EXPORT_HOURS}
    described = [
        (ours[statistic]["name"], ours[statistic]["statistics_unit_of_measurement"], ours[statistic]["unit_class"])
        for statistic in (IMPORT_HOURS, EXPORT_HOURS)
    ]
    # Named as its sensors are, by its meter's device first: two meters' read apart in the pickers.
    named = [name.format(METER_ID) for name in names]
    assert described == [(named[0], "kWh", "energy"), (named[1], "kWh", "energy")]
    # The metadata each release wants: the newest says what an older one would have guessed, or stops writing.
    assert "doesn't specify" not in caplog.text
    # Nothing exported: the export hours are there, and zero.
    assert used(await hours(hass, EXPORT_HOURS)) == {ELEVEN: 0.0, ELEVEN + timedelta(hours=1): 0.0}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
@pytest.mark.parametrize("restarts_before_the_next_list", [0, 1, 2])
async def test_a_new_current_transformer_ratio_counts_only_what_was_used_after_it(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, restarts_before_the_next_list: int
) -> None:
    """The recorder's last hour was measured through the old ratio until an hour is written through the new one."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), (thirteen, third) = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    # The installer sets the ratio the meter is behind: its raw registers count 50 times as much.
    await start_behind_transformers(hass, entry, 50)
    for minutes in range(1, restarts_before_the_next_list + 1):
        freezer.move_to(twelve + timedelta(minutes=10 * minutes))
        await restart(hass, entry)
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    rows = await hours(hass)
    assert used(rows) == {eleven: 0.891, twelve: 66.55}
    assert rows[-1][1] == 2_235_509.7
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_register_that_starts_again_is_counted_on_as_the_guard_follows_it(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # A P1 meter drawing 3.6 kW, one push a minute from 11:00; at 11:30 its register starts again from zero.
    for minute in range(61):
        total = 80_000_000 + 60 * minute if minute < 30 else 60 * (minute - 29)
        await push(hass, freezer, entry, ELEVEN + timedelta(minutes=minute, seconds=5), telegram(3600, total))
    # Held twice, followed at the third (11:32, 180 Wh): what the minute between 11:29 and 11:30 used is not known.
    assert [event["event"] for event in entry.runtime_data.energy.events] == ["register_held", "register_followed"]
    rows = await hours(hass)
    # 11:00-11:29 (1740 Wh) and 11:30-12:00 (1800 Wh): the minutes the guard held count, as the new count's.
    assert rows[-1] == (ELEVEN, 1.86, 3.54)
    assert used(rows) == {ELEVEN: 3.54}
    assert estimated(entry)[-1] == ELEVEN.isoformat()
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_reactive_registers_get_meter_hours_in_kvarh(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    for hour, (boundary, register) in enumerate(REGISTERS.items()):
        sent = hourly_list(register, boundary)
        reactive = {REACTIVE: Reading(2_000_000 + 250 * hour, Unit.VAR_HOUR)}
        await push(
            hass, freezer, entry, boundary + timedelta(seconds=10), replace(sent, readings=sent.readings | reactive)
        )
    statistic = f"han_port:{METER_ID}_reactive_energy_import"
    assert used(await hours(hass, statistic)) == {ELEVEN: 0.25, ELEVEN + timedelta(hours=1): 0.25}
    offered = await hass.async_add_executor_job(list_statistic_ids, hass, {statistic})
    assert [(item["name"], item["statistics_unit_of_measurement"]) for item in offered] == [
        (f"Kamstrup meter {METER_ID} Reactive energy import, meter hours", "kvarh")
    ]
    # A device the user renamed names its statistics from the next hour written.
    registry = dr.async_get(hass)
    device = meter_device(registry, entry)
    assert device is not None
    registry.async_update_device(device.id, name_by_user="Cabin meter")
    after = ELEVEN + timedelta(hours=3)
    sent = hourly_list(44_711_000, after)
    reactive = {REACTIVE: Reading(2_000_750, Unit.VAR_HOUR)}
    await push(hass, freezer, entry, after + timedelta(seconds=10), replace(sent, readings=sent.readings | reactive))
    await async_wait_recording_done(hass)
    assert used(await hours(hass, statistic))[ELEVEN + timedelta(hours=2)] == 0.25
    offered = await hass.async_add_executor_job(list_statistic_ids, hass, {statistic})
    assert [item["name"] for item in offered] == ["Cabin meter Reactive energy import, meter hours"]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_lists_a_bridge_hands_over_as_the_entry_starts_are_written_once_the_hours_are_read_back(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Lists that come before the recorder's last hours were read back wait for them; none is lost."""
    freezer.move_to(ELEVEN + timedelta(hours=2, minutes=30))
    entry = await set_up(hass, tcp_meter.port)
    meter_hours = entry.runtime_data.energy.counts.meter_hours
    meter_hours._loaded = False  # as in the first moments after setup, before the hours are read back
    for boundary, register in REGISTERS.items():
        entry.runtime_data.telegram_received(hourly_list(register, boundary, offset=True))
    assert await hours(hass) == []
    await meter_hours.async_load()
    rows = await hours(hass)
    assert used(rows) == {ELEVEN: 0.891, ELEVEN + timedelta(hours=1): 1.331}
    await hass.config_entries.async_unload(entry.entry_id)


THIRTEEN = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)  # 13:00 in Oslo


def power_list(watts: float) -> Telegram:
    """Kaifa's list 1: the power alone."""
    return Telegram("hdlc", "Kaifa", "KFM_001", METER_ID, "MA304H3E", None, {POWER: Reading(watts, Unit.WATT)}, b"")


@pytest.mark.usefixtures("recorder_mock")
async def test_an_hourly_list_replayed_twenty_minutes_later_never_freezes_live_energy(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(THIRTEEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    energy = entry.runtime_data.energy
    the_list = hourly_list(44_707_972, THIRTEEN)
    # The home draws 3.6 kW (one Wh a second): the 13:00 list at 13:00:10, then list 1 every 10 s.
    await push(hass, freezer, entry, THIRTEEN + timedelta(seconds=10), the_list)
    moment = THIRTEEN + timedelta(seconds=10)
    for _ in range(120):  # to 13:20:10
        moment += timedelta(seconds=10)
        await push(hass, freezer, entry, moment, power_list(3600))
    assert energy.counts.live_import.published == pytest.approx(44_707_972 + 1200 - 10 * 1, abs=15)
    before = energy.counts.live_import.published
    use_before = energy.counts.tariff.current_hour_use(before)
    # The same 13:00 list again (retained, redelivered): nothing new about the meter's count.
    moment += timedelta(seconds=1)
    await push(hass, freezer, entry, moment, the_list)
    for _ in range(60):  # ten more minutes at 3.6 kW: 600 Wh
        moment += timedelta(seconds=10)
        await push(hass, freezer, entry, moment, power_list(3600))
    after = energy.counts.live_import.published
    # Live energy (and the hour's use on it) must have grown by the ten minutes' 600 Wh.
    assert after - before == pytest.approx(600, abs=15), (before, after)
    assert energy.counts.tariff.current_hour_use(after) - use_before == pytest.approx(600, abs=15)
    await hass.config_entries.async_unload(entry.entry_id)


async def totals_read_back(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Let the totals read their last recorded states back: background tasks that block_till_done does not wait for."""
    component = hass.data["sensor"]
    registry = er.async_get(hass)
    entities = [component.get_entity(e.entity_id) for e in er.async_entries_for_config_entry(registry, entry.entry_id)]
    for _ in range(100_000):
        if not any(getattr(entity, "reading_back", False) for entity in entities):
            return
        await asyncio.sleep(0)
    msg = "the totals never read their recorded states back"
    raise AssertionError(msg)


async def power_cut(hass: HomeAssistant, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop with nothing kept: the power went."""
    await async_wait_recording_done(hass)

    async def nothing_kept() -> None:
        """The stop never came."""

    monkeypatch.setattr(entry.runtime_data.energy.store, "async_save", nothing_kept)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def power_cut_and_start(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    restored: list[tuple[State, dict[str, Any]]],
) -> None:
    """Stop with nothing kept (the power went), Home Assistant's restored states older still, then start again."""
    await power_cut(hass, entry, monkeypatch)
    mock_restore_cache_with_extra_data(hass, restored)
    await start(hass, entry)
    await async_wait_recording_done(hass)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_a_total_shown_through_a_new_ratio_is_not_rescaled_again_after_a_power_cut(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store takes the new ratio as the totals are rescaled to it, not at the next telegram."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(1_000_000, ELEVEN))
    await start_behind_transformers(hass, entry, 50)
    energy = entity_id(hass, "energy_import")
    assert hass.states.get(energy).state == "50000.0"  # type: ignore[union-attr]
    freezer.move_to(ELEVEN + timedelta(minutes=2))
    async_fire_time_changed(hass, ELEVEN + timedelta(minutes=2))  # the store's write, due at once
    await hass.async_block_till_done()
    await power_cut_and_start(hass, entry, monkeypatch, [])
    assert hass.states.get(energy).state == "50000.0"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_a_register_total_never_falls_below_its_last_recorded_state_after_a_power_cut(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is kept at each hour's first telegram; the hourly list comes seconds after it."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(44_000_000, ELEVEN))
    twelve = ELEVEN + timedelta(hours=1)
    await push_and_let_writes_happen(hass, freezer, entry, twelve + timedelta(seconds=2), power_list(1000))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(44_001_000, twelve))
    energy = entity_id(hass, "energy_import")
    assert hass.states.get(energy).state == "44001.0"  # type: ignore[union-attr]
    freezer.move_to(twelve + timedelta(minutes=1))
    # Home Assistant kept the states last at 11:55.
    kept = (State(energy, "44000.0"), {"native_value": 44_000_000, "native_unit_of_measurement": "Wh"})
    await power_cut_and_start(hass, entry, monkeypatch, [kept])
    assert hass.states.get(energy).state == "44001.0"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_live_energy_never_falls_below_its_last_recorded_state_after_a_power_cut(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is kept every five minutes and restored states every 15: the recorder has the last state written."""
    monkeypatch.setattr(sensor_module, "DERIVED_WRITE_INTERVAL", 0.0)
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # Live energy is unknown until the recorder has answered what it last wrote of it.
    await totals_read_back(hass, entry)
    at = ELEVEN + timedelta(seconds=10)
    await push(hass, freezer, entry, at, hourly_list(44_000_000, ELEVEN))
    for _ in range(4 * 60 // 10):  # four minutes at 3.6 kW: 240 Wh the store has not kept
        at += timedelta(seconds=10)
        await push(hass, freezer, entry, at, power_list(3600))
    live = entity_id(hass, "live_energy_import")
    last_written = float(hass.states.get(live).state)  # type: ignore[union-attr]
    assert last_written == pytest.approx(44_000.236, abs=0.001)
    freezer.move_to(at + timedelta(minutes=1))
    await power_cut_and_start(hass, entry, monkeypatch, [])
    # Held at the last state written, until the estimate from the store passes it.
    assert float(hass.states.get(live).state) == last_written  # type: ignore[union-attr]
    await push(hass, freezer, entry, at + timedelta(minutes=1, seconds=10), power_list(3600))
    assert float(hass.states.get(live).state) == last_written  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_live_energy_read_back_after_the_next_register_holds_until_the_register_catches_up(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The power read 1.5 % high: live energy showed 44 000.236 kWh; the house was dark until 12:00, and the 12:00
    register (44 000.232) comes before the recorder answers (it let live energy fall to the register)."""
    monkeypatch.setattr(sensor_module, "DERIVED_WRITE_INTERVAL", 0.0)
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await totals_read_back(hass, entry)
    at = ELEVEN + timedelta(seconds=10)
    await push_and_let_writes_happen(hass, freezer, entry, at, hourly_list(44_000_000, ELEVEN))
    for _ in range(4 * 60 // 10):
        at += timedelta(seconds=10)
        await push(hass, freezer, entry, at, power_list(3600))
    live = entity_id(hass, "live_energy_import")
    last_written = float(hass.states.get(live).state)  # type: ignore[union-attr]
    freezer.move_to(ELEVEN + timedelta(minutes=59))
    answer = asyncio.Event()
    read_back = entity_module.async_last_recorded_energy

    async def answered_late(hass: HomeAssistant, entity: str) -> tuple[float, datetime] | None:
        if "live_energy" in entity:
            await answer.wait()
        return await read_back(hass, entity)

    monkeypatch.setattr(entity_module, "async_last_recorded_energy", answered_late)
    await power_cut(hass, entry, monkeypatch)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    twelve = ELEVEN + timedelta(hours=1)
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(44_000_232, twelve))
    answer.set()
    await totals_read_back(hass, entry)
    await async_wait_recording_done(hass)
    assert entry.runtime_data.energy.counts.live_import.published == last_written * 1000
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_power_cut_after_the_first_hour_through_a_new_ratio_keeps_the_next_hour(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ratio 1 -> 50 at 12:30; 13:00's list writes 12-13 through it; the power goes at 13:02, before the next save.

    The store was last written at 13:00:02 (the hour's first telegram): the hour written after it must not be
    rescaled a second time at the next start.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve, thirteen, fourteen = (ELEVEN + timedelta(hours=h) for h in (1, 2, 3))
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(1_000_000, ELEVEN))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(1_001_000, twelve))
    freezer.move_to(twelve + timedelta(minutes=30))
    await start_behind_transformers(hass, entry, 50)
    await push_and_let_writes_happen(hass, freezer, entry, twelve + timedelta(minutes=31), power_list(1000))
    await push_and_let_writes_happen(hass, freezer, entry, thirteen + timedelta(seconds=2), power_list(1000))
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(1_002_000, thirteen))
    assert used(await hours(hass)) == {ELEVEN: 1.0, twelve: 50.0}
    freezer.move_to(thirteen + timedelta(minutes=2))
    await power_cut_and_start(hass, entry, monkeypatch, [])
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(1_003_000, fourteen))
    # 13-14 used 1 kWh on the meter's register: 50 kWh through the transformers.
    assert used(await hours(hass)) == {ELEVEN: 1.0, twelve: 50.0, thirteen: 50.0}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_capacity_tariff_counts_days_in_a_time_zone_set_while_running(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Set up while Home Assistant was in UTC; the user then sets Europe/Oslo in its settings, with no restart.

    31 January 22:00 to 1 February 01:00 Oslo time: the hour 00-01 is February's first, and today's only one.
    """
    await hass.config.async_set_time_zone("UTC")
    twenty_two = datetime(2026, 1, 31, 21, 0, tzinfo=UTC)  # 22:00 in Oslo
    freezer.move_to(twenty_two - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await hass.config.async_update(time_zone=OSLO)
    register = 10_000_000
    await push(hass, freezer, entry, twenty_two + timedelta(seconds=10), hourly_list(register, twenty_two, offset=True))
    for step, use in enumerate((5000, 4000, 2000), start=1):
        boundary = twenty_two + timedelta(hours=step)
        register += use
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, boundary, offset=True))
    tariff = entry.runtime_data.energy.counts.tariff
    now = dt_util.utcnow()
    assert (tariff.last_hour_use(now), tariff.peak_today(now), tariff.monthly_average(now)) == (2000, 2000, 2000)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_an_hour_begun_at_an_estimated_boundary_is_no_capacity_peak_after_a_restart(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The 12:00 list comes 15 minutes late: 12:00 is estimated, and so is 12-13, restarted in between or not."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve = ELEVEN + timedelta(hours=1)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(10_000_000, ELEVEN))
    await push(hass, freezer, entry, twelve + timedelta(minutes=15), hourly_list(10_005_000, twelve))
    freezer.move_to(twelve + timedelta(minutes=30))
    await restart(hass, entry)
    await push(hass, freezer, entry, THIRTEEN + timedelta(seconds=10), hourly_list(10_006_000, THIRTEEN))
    tariff = entry.runtime_data.energy.counts.tariff
    assert (tariff.hours, tariff.last_hour_use(dt_util.utcnow())) == ({}, None)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_the_last_hours_use_is_unknown_after_an_hour_no_register_closed(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    hass.config.country = "NO"  # a home billed by its capacity step: the sensor is there
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve, fourteen = ELEVEN + timedelta(hours=1), ELEVEN + timedelta(hours=3)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(10_000_000, ELEVEN))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(10_001_000, twelve))
    tariff = entry.runtime_data.energy.counts.tariff
    assert tariff.last_hour_use(dt_util.utcnow()) == 1000
    shown = entity_id(hass, "use_last_hour")
    assert hass.states.get(shown).state == "1.0"  # type: ignore[union-attr]
    # The 13:00 list is lost: 13-14 was not measured exactly, and 11-12 is no longer the last hour.
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(10_007_000, fourteen))
    assert tariff.last_hour_use(dt_util.utcnow()) is None
    assert hass.states.get(shown).state == "unknown"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_power_cut_minutes_after_an_hourly_list_keeps_the_hour_it_closed_for_the_capacity_tariff(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kaifa's list 1 at 12:00:02 is the hour's first telegram (the store is written); the list at 12:00:10 closes 11-12."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve = ELEVEN + timedelta(hours=1)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(10_000_000, ELEVEN))
    await push_and_let_writes_happen(hass, freezer, entry, twelve + timedelta(seconds=2), power_list(5000))
    await push_and_let_writes_happen(
        hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(10_005_000, twelve)
    )
    freezer.move_to(twelve + timedelta(minutes=3))
    await power_cut_and_start(hass, entry, monkeypatch, [])
    await push(hass, freezer, entry, THIRTEEN + timedelta(seconds=10), hourly_list(10_010_000, THIRTEEN))
    tariff = entry.runtime_data.energy.counts.tariff
    assert tariff.hours == {ELEVEN.isoformat(): 5000, twelve.isoformat(): 5000}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_restart_across_an_hour_shares_only_the_gap_after_the_last_register(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A register every minute: 100 Wh a minute to 11:57, then nothing used; Home Assistant is down 11:58 to 12:03."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve = ELEVEN + timedelta(hours=1)
    register = 10_000_000
    for minute in range(58):
        await push(hass, freezer, entry, ELEVEN + timedelta(minutes=minute, seconds=5), telegram(6000, register))
        register += 100
    register -= 100
    freezer.move_to(ELEVEN + timedelta(minutes=58))
    await restart(hass, entry)
    for minute in range(3, 61):
        await push(hass, freezer, entry, twelve + timedelta(minutes=minute, seconds=5), telegram(0, register))
    # Both registers around the gap read 10 005 700: nothing of 11-12's use belongs to 12-13.
    assert used(await hours(hass)) == {ELEVEN: 5.7, twelve: 0.0}
    tariff = entry.runtime_data.energy.counts.tariff
    assert tariff.hours == {}  # both boundaries were estimated (no register read within 90 s of them)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_an_hourly_list_handed_over_again_just_after_the_next_hour_closes_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A broker keeps the 13:00 list (retained) and hands it over again at 14:00:04, as the entry restarts.

    Its clock, an hour old, is too far off to place it: by its arrival alone it would be the register at 14:00,
    and book 13-14 as nothing and 14-15 as two hours.
    """
    fourteen, fifteen = THIRTEEN + timedelta(hours=1), THIRTEEN + timedelta(hours=2)
    freezer.move_to(THIRTEEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, THIRTEEN + timedelta(seconds=10), hourly_list(10_000_000, THIRTEEN))
    freezer.move_to(fourteen + timedelta(seconds=3))
    await restart(hass, entry)
    await push(hass, freezer, entry, fourteen + timedelta(seconds=4), hourly_list(10_000_000, THIRTEEN))
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(10_003_000, fourteen))
    await push(hass, freezer, entry, fifteen + timedelta(seconds=10), hourly_list(10_006_000, fifteen))
    assert used(await hours(hass)) == {THIRTEEN: 3.0, fourteen: 3.0}
    assert entry.runtime_data.energy.counts.tariff.hours == {THIRTEEN.isoformat(): 3000, fourteen.isoformat(): 3000}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_host_that_starts_at_its_last_shutdown_never_places_hours_in_its_past(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a real-time clock the host starts at the time it stopped, and a time server steps it minutes later.

    The meter's clock, which agreed with the host's before, is the right one meanwhile: its list of 15:00 came while
    the host said 12:26. Placed there, it made 12-13 the use of three hours. It waits instead, and the hours of the
    power cut are shared out by the registers around them.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    # 1 kWh an hour, all day.
    registers = {ELEVEN + timedelta(hours=hour): 44_700_000 + 1_000 * hour for hour in range(6)}
    (eleven, first), (twelve, second), _, _, (fifteen, fourth), (sixteen, fifth) = registers.items()
    # An export register beside the import: the two wait together, and the user is told once.
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven, 5_000))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve, 5_000))
    # The power goes at 12:20 and comes back at 14:55; the host starts again at 12:21 by its own clock.
    freezer.move_to(twelve + timedelta(minutes=20))
    await restart(hass, entry)
    caplog.set_level(logging.INFO)
    await push(hass, freezer, entry, twelve + timedelta(minutes=26, seconds=10), hourly_list(fourth, fifteen, 5_000))
    [waits] = _clock_warnings(caplog)
    assert (
        "clock (2026-01-12T15:00:00) agreed with Home Assistant's, and now stands ahead of it (2026-01-12T12:26:10)"
        in waits
    )
    # Stepped to the time at 15:05 (14:05 UTC is 15:05 in Oslo: these hours are UTC).
    await push(hass, freezer, entry, sixteen + timedelta(seconds=10), hourly_list(fifth, sixteen, 5_000))
    assert caplog.text.count("are written again: the clocks agree") == 1
    rows = await hours(hass)
    assert used(rows) == {eleven: 1.0, twelve: 1.0, twelve + HOUR: 1.0, twelve + 2 * HOUR: 1.0, fifteen: 1.0}
    # Those since the restart, of the import and the export alike: no register closed them.
    assert sorted(estimated(entry)) == sorted(2 * [(twelve + hour * HOUR).isoformat() for hour in range(4)])
    await hass.config_entries.async_unload(entry.entry_id)


def _clock_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings that meter hours wait for the clocks."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and "Meter hours of" in record.getMessage()
    ]


@pytest.mark.parametrize("hours_off", [2, 8])
@pytest.mark.usefixtures("recorder_mock")
async def test_the_capacity_tariff_takes_no_register_the_meter_hours_hold(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, hours_off: int
) -> None:
    """The host stops at 12:59:30 and starts there again hours later: the next list comes at host 13:00:10.

    However long it was off (longer than the six hours a clock may wait too), the list waits for the host's clock
    to be set right: placed at 13:00 by the host's clock, it would make 12-13 a capacity peak of all those hours.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    registers = {ELEVEN + timedelta(hours=hour): 44_700_000 + 1_000 * hour for hour in range(hours_off + 4)}
    eleven, twelve = ELEVEN, ELEVEN + HOUR
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(registers[eleven], eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(registers[twelve], twelve))
    freezer.move_to(twelve + timedelta(minutes=59, seconds=30))
    await restart(hass, entry)
    late = twelve + (hours_off + 1) * HOUR
    await push(hass, freezer, entry, twelve + HOUR + timedelta(seconds=10), hourly_list(registers[late], late))
    await push(
        hass, freezer, entry, late + HOUR + timedelta(seconds=10), hourly_list(registers[late + HOUR], late + HOUR)
    )
    assert used(await hours(hass))[twelve] == 1.0
    assert entry.runtime_data.energy.counts.tariff.hours.get(twelve.isoformat(), 1000) == 1000
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_clock_at_the_edge_of_agreement_is_placed_by_arrival_without_a_word(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A P1 meter's clock 1:59 and 2:01 ahead in turn: it drifted there, and nothing was stepped."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    register = 44_700_000
    for tick in range(60):
        arrival = ELEVEN + timedelta(seconds=10 * tick + 5)
        register += 5
        ahead = timedelta(seconds=119 if tick % 2 == 0 else 121)
        await push(hass, freezer, entry, arrival, hourly_list(register, arrival + ahead))
    assert _clock_warnings(caplog) == []
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_host_clock_that_drifts_past_agreement_keeps_its_hours_measured(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Hours of 1 and 3 kWh in turn, the meter's clock 2:05 ahead from the second: placed by arrival, as before."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    register = 44_700_000.0
    for step in range(12 * 9):
        arrival = ELEVEN + timedelta(minutes=5 * step, seconds=5)
        hour = step // 12
        register += (1000 if hour % 2 == 0 else 3000) / 12
        ahead = timedelta(0) if hour == 0 else timedelta(minutes=2, seconds=5)
        await push(hass, freezer, entry, arrival, hourly_list(register, arrival + ahead))
    measured = {(ELEVEN + hour * HOUR).isoformat() for hour in range(1, 7)}
    assert measured.isdisjoint(estimated(entry))
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_restart_while_registers_wait_does_not_make_them_wait_longer(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The meter's clock jumps an hour ahead at 13:00 and stays there; Home Assistant restarts at 17:30.

    Six hours after its last agreeing register, by the earlier of the two clocks, arrivals place registers again.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    for hour in range(10):
        arrival = ELEVEN + hour * HOUR + timedelta(seconds=10)
        if hour == 7:
            freezer.move_to(arrival - timedelta(minutes=30))
            await restart(hass, entry)
        clock = arrival - timedelta(seconds=10) + (HOUR if hour >= 3 else timedelta(0))
        await push(hass, freezer, entry, arrival, hourly_list(44_700_000 + 1000 * hour, clock))
    assert ELEVEN + 8 * HOUR in used(await hours(hass))
    # The user is told that hours are placed by a clock an hour off the meter's from then on.
    assert [message for message in _clock_warnings(caplog) if "by Home Assistant's clock again" in message]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_list_handed_over_again_waits_for_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    twelve = ELEVEN + HOUR
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(10_000_000, ELEVEN))
    freezer.move_to(twelve + timedelta(seconds=3))
    await restart(hass, entry)
    await push(hass, freezer, entry, twelve + timedelta(seconds=4), hourly_list(10_000_000, ELEVEN))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(10_003_000, twelve))
    assert used(await hours(hass))[ELEVEN] == 3.0
    assert _clock_warnings(caplog) == []
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_meter_swapped_for_one_whose_clock_is_an_hour_ahead_keeps_its_hours_measured(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A meter sending its register every minute is swapped at 11:30 (same id): the new one's clock an hour ahead.

    A new sequence has no agreement of clocks to lose: the arrival places its registers.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    for minute in range(7 * 60 + 1):
        arrival = ELEVEN + timedelta(minutes=minute, seconds=5)
        old = minute < 30
        total = 80_000_000 + 60 * minute if old else 60 * (minute - 29)
        clock = arrival - timedelta(seconds=5) + (timedelta(0) if old else HOUR)
        await push(hass, freezer, entry, arrival, hourly_list(total, clock))
    assert "register_followed" in [event["event"] for event in entry.runtime_data.energy.events]
    measured = {(ELEVEN + hour * HOUR).isoformat() for hour in range(1, 6)}
    assert measured.isdisjoint(estimated(entry)), estimated(entry)
    assert _clock_warnings(caplog) == []
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_a_total_whose_recorded_state_cannot_be_read_back_is_shown_all_the_same(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that refuses the read must not hide the total for good: the warning says which, and it shows on."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(44_000_000, ELEVEN))
    energy = entity_id(hass, "energy_import")
    assert hass.states.get(energy).state == "44000.0"  # type: ignore[union-attr]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await async_wait_recording_done(hass)
    recorder = get_instance(hass)

    def refuse_reads_of_states(on: bool) -> None:
        """SQLite refuses the states table to every thread but the recorder's own, which keeps writing."""

        def authorizer(action: int, table: str | None, *_: object) -> int:
            refused = action == sqlite3.SQLITE_READ and table == "states"
            return sqlite3.SQLITE_DENY if refused and threading.current_thread() is not recorder else sqlite3.SQLITE_OK

        with recorder.engine.connect() as connection:
            connection.connection.driver_connection.set_authorizer(authorizer if on else None)

    await recorder.async_add_executor_job(refuse_reads_of_states, True)
    try:
        await start(hass, entry)
    finally:
        await recorder.async_add_executor_job(refuse_reads_of_states, False)
    assert f"Cannot read back the last state of {energy}" in caplog.text
    await push(
        hass,
        freezer,
        entry,
        ELEVEN + timedelta(hours=1, seconds=10),
        hourly_list(44_001_000, ELEVEN + timedelta(hours=1)),
    )
    assert hass.states.get(energy).state == "44001.0"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


TARIFF_1 = ObisCode.parse("1-0:1.8.1")
TARIFF_2 = ObisCode.parse("1-0:1.8.2")


def tariff_list(tariff_1: float, tariff_2: float, clock: datetime) -> Telegram:
    """A Dutch meter's hourly readings: its two tariffs' registers, and no total of its own."""
    readings = {
        POWER: Reading(1000, Unit.WATT),
        TARIFF_1: Reading(tariff_1, Unit.WATT_HOUR),
        TARIFF_2: Reading(tariff_2, Unit.WATT_HOUR),
    }
    return Telegram("p1", "Kaifa", "KFM_001", METER_ID, "MA304H3E", dt_util.as_local(clock), readings, b"")


@pytest.mark.usefixtures("recorder_mock")
async def test_a_meter_that_sends_its_tariffs_alone_gets_meter_hours_of_their_sum_and_none_per_tariff(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The tariffs' sum is the import the Energy dashboard wants; each tariff, and its reset, is no statistic.

    The meter is swapped after 12:00: both tariffs start again, and the guard follows tariff 1 and their sum at the
    third list (tariff 2, standing at zero, shows it no count to follow). The hours are those of
    test_a_reset_the_guard_follows_books_the_hours_its_first_totals_closed.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    tariffs = [(44_000_000, 3_000_000), (44_001_000, 3_000_000), (1_000, 0), (2_000, 0), (3_500, 0), (4_000, 0)]
    for hour, (tariff_1, tariff_2) in enumerate(tariffs):
        at = ELEVEN + hour * HOUR
        await push(hass, freezer, entry, at + timedelta(seconds=10), tariff_list(tariff_1, tariff_2, at))
    followed = [
        event["register"] for event in entry.runtime_data.energy.events if event["event"] == "register_followed"
    ]
    assert followed == ["1.8.1", "1.8.0"]
    assert used(await hours(hass)) == {
        ELEVEN + timedelta(hours=hour): kwh for hour, kwh in enumerate([1, 0, 1, 1.5, 0.5])
    }
    offered = await hass.async_add_executor_job(list_statistic_ids, hass, None, "sum")
    assert [item["statistic_id"] for item in offered if item["source"] == "han_port"] == [IMPORT_HOURS]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_last_recorded_hour_without_its_register_is_no_boundary_but_its_sum_goes_on(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Statistics imported by hand may carry a sum and no register: the next hour cannot be measured from them.

    Without the register at its end, the recorder's last hour is no boundary (read back, the books have none, as
    at a first start), and the hours the lists close are measured from the meter's registers alone. Its sum goes
    on: the Energy dashboard draws each hour as the sum's change from the row before, and a sum begun again at
    zero would be 12 kWh gone back.
    """
    imported = ELEVEN - 3 * HOUR
    metadata = sum_statistic_metadata(IMPORT_HOURS, "Imported by hand", "kWh", "energy")
    async_add_external_statistics(hass, metadata, [StatisticData(start=imported, sum=12.0)])
    await async_wait_recording_done(hass)
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    diagnostics = entry.runtime_data.energy.counts.meter_hours.diagnostics()
    assert diagnostics["loaded"]
    assert diagnostics["boundaries"] == {}
    for boundary, register in REGISTERS.items():
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, boundary))
    await async_wait_recording_done(hass)
    found = await hass.async_add_executor_job(
        statistics_during_period, hass, imported, None, {IMPORT_HOURS}, "hour", None, {"state", "sum"}
    )
    imported_row, *written = [
        (dt_util.utc_from_timestamp(row["start"]), row["state"], row["sum"]) for row in found[IMPORT_HOURS]
    ]
    assert imported_row == (imported, None, 12.0)
    assert [(start, round(register, 3)) for start, register, _ in written] == [
        (ELEVEN - HOUR, 44_707.972),
        (ELEVEN, 44_708.863),
        (ELEVEN + HOUR, 44_710.194),
    ]
    # The hours the lists closed are the registers' differences; the hour before the first list counts nothing.
    assert used(written) == {ELEVEN: 0.891, ELEVEN + HOUR: 1.331}
    assert [round(total, 3) for _, _, total in written] == [12.0, 12.891, 14.222]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_list_without_the_meters_clock_ends_the_wait_placed_by_its_arrival(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The meter's clock jumps an hour ahead at 13:00: its register waits. At 14:00 a list comes with no clock.

    A list without a clock has no dispute to wait out: its arrival places it, the wait ends, and the user is told
    that Home Assistant's clock places the hours again, the meter's clock written as none. The hours between the
    last register placed and it are shared out.
    """
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    caplog.set_level(logging.INFO)
    registers = [44_700_000 + 1_000 * hour for hour in range(4)]
    for hour, register in enumerate(registers):
        boundary = ELEVEN + hour * HOUR
        clock = None if hour == 3 else boundary + (HOUR if hour == 2 else timedelta(0))
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, clock))
    [waits, again] = _clock_warnings(caplog)
    assert "now stands ahead of it" in waits
    assert again == (
        f"Meter hours of {METER_ID} are placed by Home Assistant's clock again: a list came without the meter's"
    )
    rows = await hours(hass)
    assert used(rows) == {ELEVEN: 1.0, ELEVEN + HOUR: 1.0, ELEVEN + 2 * HOUR: 1.0}
    assert estimated(entry)[-2:] == [(ELEVEN + HOUR).isoformat(), (ELEVEN + 2 * HOUR).isoformat()]
    await hass.config_entries.async_unload(entry.entry_id)


def hold_the_recorder(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Keep the recorder from telling when its queue is done (a backup holds it) until the event returned is set."""
    released = asyncio.Event()
    recorder = get_instance(hass)
    real = recorder.async_block_till_done

    async def busy() -> None:
        await released.wait()
        await real()

    monkeypatch.setattr(recorder, "async_block_till_done", busy)
    return released


async def tick_seconds(freezer: FrozenDateTimeFactory, seconds: int, until: asyncio.Future[Any] | None = None) -> None:
    """Move the frozen clock on a second at a time, letting the loop's timers run, until `until` is done."""
    for _ in range(seconds):
        if until is not None and until.done():
            return
        freezer.tick(timedelta(seconds=1))
        for _ in range(5):
            await asyncio.sleep(0)


async def two_hourly_lists(hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory) -> MockConfigEntry:
    """Set a meter up at 10:55 and push its lists of 11:00 and 12:00 (the first hour written)."""
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    (eleven, first), (twelve, second), _ = REGISTERS.items()
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(first, eleven))
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve))
    return entry


async def thirteen_while_the_recorder_is_busy(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> tuple[MockConfigEntry, asyncio.Event]:
    """After the lists of 11:00 and 12:00, set a current-transformer ratio of 50, and let the list of 13:00 close
    12-13 while the recorder is busy (a backup holds its lock) until the event returned is set."""
    entry = await two_hourly_lists(hass, tcp_meter, freezer)
    thirteen, third = list(REGISTERS.items())[2]
    await start_behind_transformers(hass, entry, 50)
    released = hold_the_recorder(hass, monkeypatch)
    freezer.move_to(thirteen + timedelta(seconds=10))
    entry.runtime_data.telegram_received(hourly_list(third, thirteen))
    await asyncio.sleep(0)
    return entry, released


@pytest.mark.usefixtures("recorder_mock")
async def test_an_hour_written_late_never_writes_a_removed_entrys_store_again(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new ratio is set; the next list closes an hour while the recorder is busy (a backup holds its lock); the
    user removes the entry, and its store with it. When the recorder is free again, the hour is written, and what
    it changed of the kept state (the new ratio's scale, written through) must not make the removed store anew."""
    entry, released = await thirteen_while_the_recorder_is_busy(hass, tcp_meter, freezer, monkeypatch)
    store_key = f"han_port.{entry.entry_id}"
    removal = asyncio.ensure_future(hass.config_entries.async_remove(entry.entry_id))
    # Unload waits 10 s for the entry's tasks (the loop's clock is frozen: moved on by hand).
    await tick_seconds(freezer, 40, removal)
    assert removal.done()
    await removal
    assert store_key not in hass_storage
    released.set()
    for _ in range(10):
        freezer.tick(timedelta(seconds=1))
        await async_wait_recording_done(hass)
        await hass.async_block_till_done()
    assert store_key not in hass_storage, "the removed entry's store was written again"


@pytest.mark.usefixtures("recorder_mock")
async def test_a_restart_while_the_recorder_is_busy_never_rescales_the_hour_written_through_the_new_ratio(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ratio 1 -> 50; 13:00 closes 12-13 while the recorder is busy for 8 s; Home Assistant reloads the entry then.

    The unload waits 5 s for the write, then saves the store (the scale still to write through kept). A write that
    finished after that, in Home Assistant's own wait for the entry's tasks, wrote an hour through the new ratio
    the store did not know of: at the next start the recorder's last hour was rescaled again, and the next hour
    booked as nothing. The write left waiting is cancelled instead, and its hour written after the start.
    """
    (eleven, _), (twelve, _), (thirteen, third) = REGISTERS.items()
    recorder = get_instance(hass)
    free = recorder.async_block_till_done
    entry, released = await thirteen_while_the_recorder_is_busy(hass, tcp_meter, freezer, monkeypatch)
    unload = asyncio.ensure_future(hass.config_entries.async_unload(entry.entry_id))
    await tick_seconds(freezer, 8, unload)
    # The unload gave up waiting at 5 s and saved the store: the recorder is free again at 8 s, within Home
    # Assistant's own wait for the entry's tasks (10 s more).
    released.set()
    await tick_seconds(freezer, 32, unload)
    assert unload.done()
    assert await unload
    await async_wait_recording_done(hass)
    await hass.async_block_till_done()
    monkeypatch.setattr(recorder, "async_block_till_done", free)
    await start(hass, entry)
    fourteen = thirteen + timedelta(hours=1)
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(third + 1000, fourteen))
    rows = await hours(hass)
    # 13-14: 1 kWh on the meter's register, 50 kWh through the transformers.
    assert used(rows) == {eleven: 0.891, twelve: 66.55, thirteen: 50.0}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_an_hour_the_recorder_keeps_waiting_is_written_from_the_sum_kept(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder does not answer where the sum stands (a backup holds it for minutes): after 30 s the hour is
    written all the same, going on from the sum the meter hours keep, and the next one goes on from it."""
    entry = await two_hourly_lists(hass, tcp_meter, freezer)
    (eleven, _), (twelve, _), (thirteen, third) = REGISTERS.items()
    held = hold_the_recorder(hass, monkeypatch)  # until the write gave up waiting
    freezer.move_to(thirteen + timedelta(seconds=10))
    entry.runtime_data.telegram_received(hourly_list(third, thirteen))
    await tick_seconds(freezer, 35)
    settled = asyncio.ensure_future(hass.async_block_till_done())
    for _ in range(200):
        await asyncio.sleep(0)
    written = settled.done()  # the write gave up waiting, and wrote
    held.set()
    await settled
    assert written
    assert used(await hours(hass)) == {eleven: 0.891, twelve: 1.331}
    fourteen = thirteen + HOUR
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(third + 1000, fourteen))
    assert used(await hours(hass)) == {eleven: 0.891, twelve: 1.331, thirteen: 1.0}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_an_hour_whose_sum_the_recorder_fails_to_read_is_written_from_the_sum_kept(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The recorder's database fails the read of where the sum stands (a disk error): the hour is written all the
    same, going on from the sum the meter hours keep, and the next one reads the recorder's again."""
    entry = await two_hourly_lists(hass, tcp_meter, freezer)
    (eleven, _), (twelve, _), (thirteen, third) = REGISTERS.items()
    real = statistics_module.get_last_statistics
    failures = []

    def failing_once(*args: Any) -> Any:
        if not failures:
            failures.append(args)
            statement = "SELECT"
            raise OperationalError(statement, {}, sqlite3.OperationalError("disk I/O error"))
        return real(*args)

    monkeypatch.setattr(statistics_module, "get_last_statistics", failing_once)
    caplog.set_level(logging.DEBUG, logger="custom_components.han_port")
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(third, thirteen))
    assert len(failures) == 1
    assert f"Meter hours of {METER_ID} go on from the sum kept: the recorder did not answer" in caplog.text
    assert used(await hours(hass)) == {eleven: 0.891, twelve: 1.331}
    fourteen = thirteen + HOUR
    await push(hass, freezer, entry, fourteen + timedelta(seconds=10), hourly_list(third + 1000, fourteen))
    assert used(await hours(hass)) == {eleven: 0.891, twelve: 1.331, thirteen: 1.0}
    await hass.config_entries.async_unload(entry.entry_id)
