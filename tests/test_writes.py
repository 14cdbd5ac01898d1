"""What a telegram costs Home Assistant: no write without information, and the update-rate option."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.const import (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_UNAVAILABLE,
)
from homeassistant.core import callback

from custom_components.han_port import sensor as sensor_module
from custom_components.han_port.const import CONF_UPDATE_INTERVAL

from .meter import TcpMeter, bridge_entry, default_state, entity_id, kamstrup_frame, sensor, set_up, wait_for

if TYPE_CHECKING:
    from homeassistant.core import Event, HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

pytestmark = pytest.mark.usefixtures("fast_timing")


async def set_up_in_norway(hass: HomeAssistant, port: int, **options: Any) -> MockConfigEntry:
    """A Kamstrup meter where the capacity figures are enabled: every worked-out sensor is there."""
    hass.config.country = "NO"
    entry = bridge_entry(port, options=options)
    await set_up(hass, entry)
    return entry


def shown(hass: HomeAssistant, name: str) -> str | None:
    """A sensor's state, or None while the sensor does not exist yet."""
    state = sensor(hass, name)
    return None if state is None else state.state


def count_writes(hass: HomeAssistant) -> Counter[str]:
    """Every state written for the meter's sensors, changed or not, by entity id."""
    writes: Counter[str] = Counter()

    @callback
    def ours(event_data: Any) -> bool:
        return str(event_data["entity_id"]).startswith("sensor.kamstrup_meter_")

    @callback
    def written(event: Event[Any]) -> None:
        writes[event.data["entity_id"]] += 1

    hass.bus.async_listen(EVENT_STATE_CHANGED, written, ours)
    hass.bus.async_listen(EVENT_STATE_REPORTED, written, ours)
    return writes


async def test_telegrams_that_change_nothing_write_nothing(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = await set_up_in_norway(hass, tcp_meter.port)
    frame = kamstrup_frame(default_state(), hourly=True)
    # The meter pushes on, as a real one does: a lone telegram, then silence, would blank every sensor and back.
    tcp_meter.start_pushing([frame])
    await wait_for(lambda: (state := sensor(hass, "energy_import")) is not None and state.state != "unknown")
    await asyncio.sleep(0.3)
    writes = count_writes(hass)
    telegrams = entry.runtime_data.reader.decoder.telegrams
    await wait_for(lambda: entry.runtime_data.reader.decoder.telegrams >= telegrams + 5)
    await asyncio.sleep(0.2)
    # Five telegrams with the same values: not one state written, not even "reported".
    assert writes == Counter()

    # One register changes: its sensor, and grid power worked out from it, alone are written.
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=1900), hourly=True)])
    await wait_for(lambda: shown(hass, "power_import") == "1900")
    await asyncio.sleep(0.2)
    tcp_meter.stop_pushing()
    assert set(writes) == {entity_id(hass, "power_import")}
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_worked_out_figures_carry_the_resolution_that_means_something(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensor_module, "DERIVED_WRITE_INTERVAL", 0.0)
    entry = await set_up_in_norway(hass, tcp_meter.port)
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    for power in (1703, 1711, 1699, 2480):
        tcp_meter.send(kamstrup_frame(default_state(power_import=power)))
        await asyncio.sleep(0.15)
    await wait_for(lambda: shown(hass, "projected_use_this_hour") not in (None, "unknown", STATE_UNAVAILABLE))
    coordinator = entry.runtime_data
    live = coordinator.energy.counts.live_import.published
    assert live is not None
    # Whole watt-hours for energies, a tenth of a kWh for a projection (states in kWh).
    assert float(shown(hass, "live_energy_import") or "nan") == pytest.approx(round(live) / 1000)
    projected = float(shown(hass, "projected_use_this_hour") or "nan")
    assert round(projected * 10) == pytest.approx(projected * 10)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_worked_out_figures_are_written_at_most_once_a_minute(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensor_module, "DERIVED_WRITE_INTERVAL", 0.6)
    entry = await set_up_in_norway(hass, tcp_meter.port)
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    tcp_meter.send(kamstrup_frame(default_state(power_import=3000)))
    await wait_for(lambda: shown(hass, "live_energy_import") not in (None, "unknown", STATE_UNAVAILABLE))
    writes = count_writes(hass)
    # Four telegrams in 0.4 s at 9 kW: live energy grows by watt-hours each time.
    for _ in range(4):
        tcp_meter.send(kamstrup_frame(default_state(power_import=9000)))
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.05)
    live = entity_id(hass, "live_energy_import")
    assert writes[live] <= 1
    # The latest value is written when the interval is over, without another telegram.
    expected = round(entry.runtime_data.energy.counts.live_import.published or 0) / 1000
    await wait_for(lambda: float(shown(hass, "live_energy_import") or "nan") == pytest.approx(expected))
    assert writes[live] <= 2
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_update_rate_option_spaces_measurements_but_not_totals(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    entry = await set_up_in_norway(hass, tcp_meter.port, **{CONF_UPDATE_INTERVAL: 0.8})
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    await wait_for(lambda: sensor(hass, "power_import") is not None and sensor(hass, "energy_import") is not None)
    # The meter pushes on while the interval passes (the same list writes nothing): silent as long, the reader
    # would open the port anew, and a total sent just as it does would be lost.
    tcp_meter.start_pushing([kamstrup_frame(default_state(), hourly=True)])
    await asyncio.sleep(0.9)
    tcp_meter.stop_pushing()
    writes = count_writes(hass)
    energy = 155_232_510
    for step in range(1, 7):
        energy += 10
        tcp_meter.send(kamstrup_frame(default_state(power_import=1700 + step, energy_import=energy), hourly=True))
        await asyncio.sleep(0.1)
    await wait_for(lambda: entry.runtime_data.data.readings[(1, 8, 0)].value == energy)
    # The power changed six times in 0.6 s: written once at most in the interval...
    assert writes[entity_id(hass, "power_import")] <= 1
    # ...while every total is written as it comes (the Energy dashboard, the guard).
    assert writes[entity_id(hass, "energy_import")] == 6
    # The last power is written when the interval is over.
    await wait_for(lambda: shown(hass, "power_import") == "1706")

    # Going away is told at once, interval or not.
    tcp_meter.send(kamstrup_frame(default_state(power_import=1500)))
    await asyncio.sleep(0.05)
    tcp_meter.stop_pushing()
    await tcp_meter.drop_clients()
    await wait_for(lambda: shown(hass, "power_import") == STATE_UNAVAILABLE)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_slow_measurements_drift_once_a_minute_and_step_at_once(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voltage drifting by a tenth per telegram tells nothing; a real step (a sag, a lost phase) is told at once.

    Power and currents are written with every change: load balancers need them.
    """
    monkeypatch.setattr(sensor_module, "SLOW_WRITE_INTERVAL", 0.8)
    entry = await set_up_in_norway(hass, tcp_meter.port)
    base = default_state()
    tcp_meter.send(kamstrup_frame(base))
    await wait_for(lambda: shown(hass, "voltage_l1") is not None and shown(hass, "current_l1") is not None)
    for _ in range(9):  # the same values, so the meter stays heard while the interval passes
        tcp_meter.send(kamstrup_frame(base))
        await asyncio.sleep(0.1)
    writes = count_writes(hass)
    voltage, current = base.voltages[0], base.currents[0]
    # The voltage flickers by a volt (what a Kamstrup list resolves); the current climbs.
    drift = (1, 0, 1, 0, 0)
    for step, flicker in enumerate(drift, start=1):
        state = default_state(
            voltages=(voltage + flicker, *base.voltages[1:]), currents=(current + step, *base.currents[1:])
        )
        tcp_meter.send(kamstrup_frame(state))
        await asyncio.sleep(0.1)
    await wait_for(lambda: shown(hass, "current_l1") == f"{current + 5:g}")
    # The first drift is written (a minute had passed), the rest wait; every current is written.
    assert writes[entity_id(hass, "voltage_l1")] == 1
    assert writes[entity_id(hass, "current_l1")] == len(drift)
    # The latest voltage is written when the interval is over.
    tcp_meter.start_pushing([kamstrup_frame(state)])  # the same values: the meter stays heard while it passes
    await wait_for(lambda: writes[entity_id(hass, "voltage_l1")] == 2)
    assert shown(hass, "voltage_l1") == f"{voltage:g}"

    # A sag of 20 V is written at once, interval or not.
    tcp_meter.start_pushing([kamstrup_frame(default_state(voltages=(voltage - 20, *base.voltages[1:])))])
    await wait_for(lambda: shown(hass, "voltage_l1") == f"{voltage - 20:g}")
    tcp_meter.stop_pushing()
    assert writes[entity_id(hass, "voltage_l1")] == 3
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_grid_power_is_signed_and_appears_with_export(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    """Import less export, in watts, for the Energy dashboard's grid power: below zero while the home exports."""
    entry = await set_up_in_norway(hass, tcp_meter.port)
    tcp_meter.send(kamstrup_frame(default_state(power_import=1700, power_export=0)))
    await wait_for(lambda: shown(hass, "power_import") == "1700")
    # Kamstrup's list carries export power in every push; while the home exports nothing, grid power would
    # only repeat the import power: no sensor, no rows.
    await asyncio.sleep(0.1)
    assert sensor(hass, "grid_power") is None
    tcp_meter.send(kamstrup_frame(default_state(power_import=0, power_export=2300)))
    await wait_for(lambda: shown(hass, "grid_power") == "-2300")
    tcp_meter.send(kamstrup_frame(default_state(power_import=1700, power_export=0)))
    await wait_for(lambda: shown(hass, "grid_power") == "1700")
    # Export power makes live export energy possible too: both figures appear.
    assert sensor(hass, "live_energy_export") is not None
    grid = sensor(hass, "grid_power")
    assert grid is not None
    assert grid.attributes["unit_of_measurement"] == "W"
    assert grid.attributes["device_class"] == "power"
    assert grid.attributes["state_class"] == "measurement"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_voltage_that_flickers_about_its_level_waits_for_the_minute(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steady grid read to a volt: the readings flicker a volt or two either side of its level.

    Two of them 2 or 3 V apart are the reading's noise, no step of the grid: written once a minute at most.
    """
    monkeypatch.setattr(sensor_module, "SLOW_WRITE_INTERVAL", 60)
    entry = await set_up_in_norway(hass, tcp_meter.port)
    base = default_state()
    voltage = base.voltages[0]
    tcp_meter.send(kamstrup_frame(base))
    await wait_for(lambda: shown(hass, "voltage_l1") == f"{voltage:g}")
    writes = count_writes(hass)
    for step, flicker in enumerate((2, -1, 1, -2, 1, -1), start=1):
        # The current moves with each telegram: each is handled before the next comes.
        state = default_state(
            voltages=(voltage + flicker, *base.voltages[1:]), currents=(base.currents[0] + step, *base.currents[1:])
        )
        tcp_meter.send(kamstrup_frame(state))
        await wait_for(lambda step=step: shown(hass, "current_l1") == f"{base.currents[0] + step:g}")
    assert writes[entity_id(hass, "voltage_l1")] == 0
    assert shown(hass, "voltage_l1") == f"{voltage:g}"
    assert await hass.config_entries.async_unload(entry.entry_id)
