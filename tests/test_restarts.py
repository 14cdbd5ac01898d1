"""Home Assistant restarted around hour boundaries and a month boundary (Europe/Oslo): every hour counted once.

Telegrams go straight to the coordinator with time frozen, a real recorder;
each restart unloads the entry and sets it up again (restore states and the
entry's store), as test_meter_hours' restart does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.util import dt as dt_util

from .meter import sensor
from .test_energy_guard import push, set_up, state
from .test_meter_hours import hourly_list, hours, restart, used

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceGenerator) -> None:
    """Set the recorder up before Home Assistant, as a real installation has it."""


@pytest.fixture(autouse=True)
async def in_oslo(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.mark.usefixtures("recorder_mock")
async def test_restarts_just_before_and_after_hours_and_over_the_month_keep_every_hour_once(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    # 31 January, 20:00 local (19:00 UTC) to 1 February 01:00 local.
    twenty = datetime(2026, 1, 31, 19, 0, tzinfo=UTC)
    uses = [3000, 5000, 4000, 6000, 2000]  # Wh of 20-21, 21-22, 22-23, 23-00, 00-01 local
    freezer.move_to(twenty - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    register = 10_000_000
    await push(hass, freezer, entry, twenty + timedelta(seconds=10), hourly_list(register, twenty, offset=True))
    for step, use in enumerate(uses, start=1):
        boundary = twenty + timedelta(hours=step)
        register += use
        # Restart 10 s before the boundary, back 5 s after it, the list at 10 s.
        freezer.move_to(boundary - timedelta(seconds=10))
        await restart(hass, entry)
        freezer.move_to(boundary + timedelta(seconds=5))
        await restart(hass, entry)
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), hourly_list(register, boundary, offset=True))
        tariff = entry.runtime_data.energy.counts.tariff
        now = dt_util.utcnow()
        assert tariff.last_hour_use(now) == use
        if step <= 3:  # still January: every hour counted, today's peak and the month's average survive
            assert (tariff.peak_today(now), tariff.monthly_average(now)) == (max(uses[:step]),) * 2, step
        elif step == 4:  # local midnight: February has no hour yet
            assert (tariff.peak_today(now), tariff.monthly_average(now)) == (None, None)
        else:  # 00-01 is February's first hour
            assert (tariff.peak_today(now), tariff.monthly_average(now)) == (2000, 2000)
    rows = await hours(hass)
    assert list(used(rows).values()) == [u / 1000 for u in uses]
    assert rows[-1][2] == sum(uses) / 1000
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
async def test_a_restart_never_makes_the_energy_total_go_down_or_jump(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The register sensor restores its total; the next list (lower than nothing, equal) changes nothing."""
    eleven = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    freezer.move_to(eleven - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, eleven + timedelta(seconds=10), hourly_list(44_707_972, eleven, offset=True))
    assert state(hass, "energy_import") == "44707.972"
    freezer.move_to(eleven + timedelta(minutes=30))
    await restart(hass, entry)
    assert state(hass, "energy_import") == "44707.972"
    live = sensor(hass, "live_energy_import")
    assert live is not None
    # Live energy comes back from the store as it stood, not unknown.
    assert live.state == "44707.972"
    twelve = eleven + timedelta(hours=1)
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(44_708_863, twelve, offset=True))
    assert state(hass, "energy_import") == "44708.863"
    assert entry.runtime_data.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock", "patient_reader")
@pytest.mark.parametrize(
    "restarts",
    [
        pytest.param((timedelta(minutes=59, seconds=50),), id="one just before the list"),
        # An update at 12:50, a second one at 12:55: each writes the restored state again.
        pytest.param((timedelta(minutes=50), timedelta(minutes=55)), id="two in the hour"),
    ],
)
async def test_restarts_before_the_hourly_list_never_hold_the_register(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    restarts: tuple[timedelta, ...],
) -> None:
    """A Norwegian home using 3 kWh an hour: the 13:00 list's total grew well within 11 kW since the 12:00 list."""
    twelve = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)
    thirteen = twelve + timedelta(hours=1)
    freezer.move_to(twelve - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(10_000_000, twelve, offset=True))
    for after in restarts:
        freezer.move_to(twelve + after)
        await restart(hass, entry)
    await push(hass, freezer, entry, thirteen + timedelta(seconds=10), hourly_list(10_003_000, thirteen, offset=True))
    assert "Held energy register" not in caplog.text
    assert entry.runtime_data.energy.held.count == 0
    assert state(hass, "energy_import") == "10003.0"
    assert used(await hours(hass)) == {twelve: 3.0}
    assert entry.runtime_data.energy.counts.tariff.last_hour_use(dt_util.utcnow()) == 3000
    await hass.config_entries.async_unload(entry.entry_id)
