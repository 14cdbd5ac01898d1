"""The capacity tariff in Home Assistant, driven through simulated time (freezer) with exact numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.capacity import DEFAULT_THRESHOLDS, step_labels
from custom_components.han_port.const import CONF_CAPACITY_THRESHOLDS, CONF_MANUFACTURER, DOMAIN
from custom_components.han_port.decoder import ObisCode, Reading, Telegram, Unit

from .meter import sensor
from .test_energy_guard import reader_connected

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from .meter import TcpMeter

pytestmark = pytest.mark.usefixtures("fast_timing")

POWER = ObisCode.parse("1-1:1.7.0")
ENERGY = ObisCode.parse("1-1:1.8.0")


def telegram(power: float, energy: float | None = None) -> Telegram:
    readings = {POWER: Reading(power, Unit.WATT)}
    if energy is not None:
        readings[ENERGY] = Reading(energy, Unit.WATT_HOUR)
    return Telegram("hdlc", "Kamstrup", "Kamstrup_V0001", "5706567274389702", None, None, readings, b"")


async def loaded_entry(hass: HomeAssistant, tcp_meter: TcpMeter) -> MockConfigEntry:
    """A Kamstrup meter's entry, set up and reading; telegrams may go straight to its coordinator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="5706567274389702",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port, CONF_MANUFACTURER: "Kamstrup"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)
    return entry


def state(hass: HomeAssistant, key: str) -> str:
    found = sensor(hass, key)
    assert found is not None, key
    return found.state


async def test_a_day_of_known_hours_gives_known_peaks_and_step(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    await hass.config.async_set_time_zone("Europe/Oslo")
    # Time is frozen: the telegrams go straight to the coordinator, as the reader would hand them over.
    entry = await loaded_entry(hass, tcp_meter)
    coordinator = entry.runtime_data

    # A winter day in Oslo: 1 kWh every hour, but 4.2 kWh at 07-08 and 6.1 kWh at 18-19.
    uses = [1000.0] * 24
    uses[7], uses[18] = 4200.0, 6100.0
    midnight = datetime(2026, 1, 12, tzinfo=dt_util.get_default_time_zone())
    total = 10_000_000.0
    for hour, used in enumerate(uses):
        start = midnight + timedelta(hours=hour)
        # The hourly register comes five seconds after the hour, then power.
        freezer.move_to(start + timedelta(seconds=5))
        coordinator.telegram_received(telegram(used, total))
        freezer.move_to(start + timedelta(minutes=30))
        coordinator.telegram_received(telegram(used))
        total += used
    freezer.move_to(midnight + timedelta(days=1, seconds=5))
    coordinator.telegram_received(telegram(500.0, total))
    await hass.async_block_till_done()

    assert float(state(hass, "use_last_hour")) == pytest.approx(1.0)
    # A new day has no completed hour yet.
    assert state(hass, "today_s_peak_hour") == "unknown"
    peaks = coordinator.energy.counts.tariff.daily_peaks(dt_util.utcnow())
    assert peaks == {midnight.date(): 6100.0}
    assert float(state(hass, "capacity_average_this_month")) == pytest.approx(6.1)
    assert state(hass, "capacity_step") == "5-10 kWh"
    # The new day may peak at 13.9 kWh before the average of its days (6.1 and today's) reaches 10 kWh.
    assert float(state(hass, "headroom_this_hour")) == pytest.approx(13.9)
    # The live total followed the registers exactly.
    assert float(state(hass, "live_energy_import")) == pytest.approx(total / 1000)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_net_total_that_goes_down_while_the_home_exports_is_never_held(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    # Net energy (import minus export, 16.8.0) is signed: falling is what it does while the sun shines.
    entry = await loaded_entry(hass, tcp_meter)
    coordinator = entry.runtime_data
    net = ObisCode.parse("1-0:16.8.0")
    for value in (1_000.0, 400.0, -250.0, -900.0):
        readings = {POWER: Reading(0.0, Unit.WATT), net: Reading(value, Unit.WATT_HOUR)}
        coordinator.telegram_received(
            Telegram("hdlc", "Kamstrup", "Kamstrup_V0001", "5706567274389702", None, None, readings, b"")
        )
        assert coordinator.data.readings[net.register].value == value
    assert coordinator.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_partial_first_hour_is_never_a_peak(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Set up a minute before the hour at 9 kW: that minute is no hour's use, and no peak of the month.

    The meter sends its register with every push (as Danish and P1 meters do).
    """
    await hass.config.async_set_time_zone("Europe/Oslo")
    entry = await loaded_entry(hass, tcp_meter)
    coordinator = entry.runtime_data
    eleven = datetime(2026, 1, 12, 11, tzinfo=dt_util.get_default_time_zone())
    freezer.move_to(eleven - timedelta(minutes=1))
    coordinator.telegram_received(telegram(9_000.0, 10_000_000.0))
    freezer.move_to(eleven - timedelta(seconds=2))
    coordinator.telegram_received(telegram(9_000.0, 10_000_145.0))
    freezer.move_to(eleven + timedelta(seconds=5))
    coordinator.telegram_received(telegram(1_000.0, 10_000_162.0))
    await hass.async_block_till_done()
    assert state(hass, "today_s_peak_hour") == "unknown"
    assert state(hass, "capacity_average_this_month") == "unknown"
    # The first whole hour counts.
    freezer.move_to(eleven + timedelta(hours=1, seconds=5))
    coordinator.telegram_received(telegram(1_000.0, 10_001_162.0))
    await hass.async_block_till_done()
    assert float(state(hass, "today_s_peak_hour")) == pytest.approx(1.0)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("stored", "steps"),
    [
        # Written by an earlier version from "1, 1.0000000000000002": the steps it meant are one.
        ("1, 1", ["0-1 kWh", "1+ kWh"]),
        # Edited by hand into the options: nothing it says is a threshold.
        ("two, five", step_labels(DEFAULT_THRESHOLDS)),
    ],
)
async def test_capacity_steps_stored_that_the_form_refuses_still_load(
    hass: HomeAssistant, tcp_meter: TcpMeter, stored: str, steps: list[str]
) -> None:
    """An entry whose stored steps no longer read as rising loads with what they can mean, and its meter is read."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="5706567274389702",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port, CONF_MANUFACTURER: "Kamstrup"},
        options={CONF_CAPACITY_THRESHOLDS: stored},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await reader_connected(entry)
    entry.runtime_data.telegram_received(telegram(2_500.0, 10_000_000.0))
    await hass.async_block_till_done()
    found = sensor(hass, "capacity_step")
    assert found is not None
    assert found.attributes["options"] == steps
    await hass.config_entries.async_unload(entry.entry_id)
