"""The meter's hours in the recorder: each hour's energy is the difference of the registers that close it.

Telegrams go straight to the coordinator with time frozen, as in
test_energy_guard; a real recorder (in-memory SQLite) stores the statistics
HAN Port writes, and they are read back as the Energy dashboard reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    statistics_during_period,
)

from custom_components.han_port.decoder import ObisCode, Reading, Telegram, Unit

from .test_energy_guard import METER_ID, push, reader_connected, set_up

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter

IMPORT = ObisCode.parse("1-0:1.8.0")
EXPORT = ObisCode.parse("1-0:2.8.0")
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


def hourly_list(imported: float, clock: datetime | None, exported: float | None = None) -> Telegram:
    """A Kaifa hourly list: the registers, stamped with the meter's clock (naive local time, as Kaifa sends it)."""
    readings = {POWER: Reading(1000, Unit.WATT), IMPORT: Reading(imported, Unit.WATT_HOUR)}
    if exported is not None:
        readings[EXPORT] = Reading(exported, Unit.WATT_HOUR)
    stamp = None if clock is None else dt_util.as_local(clock).replace(tzinfo=None)
    return Telegram("hdlc", "Kaifa", "KFM_001", METER_ID, "MA304H3E", stamp, readings, b"")


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


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Stop reading the meter and start again, as Home Assistant does over a restart: only the recorder remembers."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)


def estimated(entry: MockConfigEntry) -> list[str]:
    return [hour["start"] for hour in entry.runtime_data.meter_hours.diagnostics()["estimated_hours"]]


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
