"""The integration in a real Home Assistant test harness, fed by real transports."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity as entity_helper
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache_with_extra_data
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry

from custom_components.han_port import connection
from custom_components.han_port import sensor as sensor_module
from custom_components.han_port.compat import OPTIONS_FLOW_RELOADS, REACTIVE_ENERGY_DEVICE_CLASS, meter_device
from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.han_port.decoder import Decoder, DropReason, ObisCode
from custom_components.han_port.entity import HanPortEntity
from custom_components.han_port.registers import code_name, code_of_name
from simulator import frames as encoder
from simulator.meter import SimulatedMeter

from .meter import (
    AUTH_KEY,
    KEY,
    METER_ID,
    PtyMeter,
    TcpMeter,
    bridge_entry,
    ciphered_kamstrup,
    default_state,
    entity_id,
    kamstrup_frame,
    sensor,
    set_up,
    wait_for,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

pytestmark = pytest.mark.usefixtures("fast_timing")

POWER = "power_import"
ENERGY = "energy_import"
CURRENT_L2 = "current_l2"


def meter_id_of(frames: list[bytes], key: bytes | None = None) -> str | None:
    """The id the meter names itself by, as setup takes it for the entry's unique id."""
    decoder = Decoder(key)
    return next((t.meter_id for frame in frames for t in decoder.feed(frame) if t.meter_id), None)


def value(hass: HomeAssistant, name: str) -> str | None:
    state = sensor(hass, name)
    return None if state is None else state.state


async def test_sensors_from_a_network_bridge(
    hass: HomeAssistant, tcp_meter: TcpMeter, hass_client: ClientSessionGenerator
) -> None:
    state = default_state()
    tcp_meter.start_pushing([kamstrup_frame(state), kamstrup_frame(state, hourly=True)])
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    await wait_for(lambda: value(hass, ENERGY) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))

    assert value(hass, POWER) == "1703"
    power = sensor(hass, POWER)
    assert power is not None
    assert power.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.POWER
    assert power.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert power.attributes[ATTR_UNIT_OF_MEASUREMENT] == "W"
    energy = sensor(hass, ENERGY)
    assert energy is not None
    # 155232510 Wh from the meter, shown in kWh for the Energy dashboard.
    assert float(energy.state) == pytest.approx(155232.51)
    assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    assert energy.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    assert energy.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
    assert value(hass, CURRENT_L2) == "5.66"
    assert value(hass, "voltage_l1") == "235"
    assert value(hass, "meter_id") == METER_ID
    # Reactive totals are disabled by default; a careful user turns them on.
    registry = er.async_get(hass)
    reactive = registry.async_get(entity_id(hass, "reactive_energy_import"))
    assert reactive is not None
    assert reactive.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    # Its device class where the release has one (2025.4 has none), in kvarh either way.
    assert reactive.original_device_class == REACTIVE_ENERGY_DEVICE_CLASS
    assert reactive.unit_of_measurement == "kvarh"

    device = meter_device(dr.async_get(hass), entry)
    assert device is not None
    assert (device.manufacturer, device.model, device.serial_number) == ("Kamstrup", "6841131BN243101040", METER_ID)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["unique_id"] == "**REDACTED**"
    assert diagnostics["meter"]["meter_id"] == "**REDACTED**"
    assert diagnostics["decoder"]["telegrams"] >= 1
    assert diagnostics["last_telegrams"]
    assert all(METER_ID.encode().hex(" ") not in shown["raw"] for shown in diagnostics["last_telegrams"])
    # The masked telegram keeps valid checksums: our own decoder command reads it, id blanked.
    decoded = Decoder().feed(bytes.fromhex(diagnostics["last_telegrams"][-1]["raw"]))
    assert [(t.meter_id, t.readings[POWER_IMPORT_OBIS].value) for t in decoded] == [("X" * 16, 1703)]
    assert "127.0.0.1" not in str(diagnostics)

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    # Unload closes the connection: the bridge sees its client go.
    await wait_for(lambda: all(writer.transport.is_closing() or writer.is_closing() for writer in tcp_meter.writers))


async def test_short_lists_update_power_without_blanking_the_rest(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    state = default_state(meter_id="6970631401753985", meter_type="MA304H3E")
    hourly = encoder.hdlc_frames(encoder.data_notification(encoder.kaifa_list(state, 3), state.moment, "typed"))
    entry = MockConfigEntry(domain=DOMAIN, unique_id=state.meter_id, data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.send(hourly)
    await wait_for(lambda: value(hass, "energy_import") not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
    assert value(hass, "current_l1") == "1.36"
    assert value(hass, "voltage_l2") == "236.0"
    state.power_import = 4242
    pty_meter.send(encoder.hdlc_frames(encoder.data_notification(encoder.kaifa_list(state, 1), state.moment, "typed")))
    await wait_for(lambda: value(hass, "power_import") == "4242")
    assert value(hass, "current_l1") == "1.36"
    assert float(value(hass, "energy_import") or 0) == pytest.approx(155232.51)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            encoder.hdlc_frames(encoder.data_notification(encoder.aidon_list(default_state(), 3), None)),
            {"power_import": "1703", "current_l3": "1.1", "energy_import": "155232.51"},
        ),
        (
            encoder.hdlc_frames(encoder.data_notification(encoder.aidon_swedish_list(default_state()), None)),
            {"power_import_l2": "700", "energy_import": "155232.51", "voltage_l3": "234.0"},
        ),
        (
            encoder.p1_telegram(
                "LGF5E360",
                [
                    "0-0:1.0.0(221215155050W)",
                    "1-0:1.8.0(00002721.126*kWh)",
                    "1-0:1.7.0(0004.190*kW)",
                    "1-0:31.7.0(009.7*A)",
                    "1-0:14.7.0(50.01*Hz)",
                ],
            ),
            {"energy_import": "2721.126", "power_import": "4190", "current_l1": "9.7", "frequency": "50.01"},
        ),
    ],
    ids=["aidon-norway", "aidon-sweden", "p1-landis-gyr"],
)
async def test_every_vendor_through_a_pty(
    hass: HomeAssistant, pty_meter: PtyMeter, frame: bytes, expected: dict[str, str]
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=meter_id_of([frame]), data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.start_pushing([frame])
    for key, text in expected.items():
        await wait_for(lambda key=key: value(hass, key) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
        assert value(hass, key) == text, key
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_bare_push_whose_last_bytes_could_begin_the_next_is_shown_once_the_line_falls_quiet(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    """Aidon's list 1 with invoke-id flags 00 ends "0F 00 16 1B", as the next push would begin.

    A meter sends a push's bytes without a pause and its pushes seconds apart: the pause says the push
    ended, and its power is shown then, not a push later.
    """
    push = bytearray(encoder.data_notification(encoder.aidon_list(default_state(power_import=1234), 1), None))
    push[1] = 0x00  # the invoke id's flags
    entry = MockConfigEntry(domain=DOMAIN, unique_id=meter_id_of([bytes(push)]), data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.send(bytes(push))
    await wait_for(lambda: value(hass, POWER) == "1234")
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("vendor", "keys"),
    [
        ("evn", {CONF_ENCRYPTION_KEY: KEY.hex()}),  # wired M-Bus, encrypted without a tag: one key
        ("landis-gyr-ch", {}),  # block transfer, its own object list
        ("iskraemeco", {}),  # compact list without OBIS codes
        ("smarty", {CONF_ENCRYPTION_KEY: KEY.hex()}),  # encrypted P1 tagged with the published key
    ],
)
async def test_every_meter_beyond_the_nordics_through_a_pty(
    hass: HomeAssistant, pty_meter: PtyMeter, vendor: str, keys: dict[str, str]
) -> None:
    """What the simulated meter says it sent is what the sensors show, with their units and classes."""
    meter = SimulatedMeter(vendor, key=KEY)
    pushes = meter.advance(meter.start + timedelta(seconds=30))
    meter_id = meter_id_of([push.frame for push in pushes], KEY if keys else None) or f"meter-{vendor}"
    entry = MockConfigEntry(domain=DOMAIN, unique_id=meter_id, data={CONF_DEVICE: pty_meter.path, **keys})
    await set_up(hass, entry)
    pty_meter.start_pushing([push.frame for push in pushes])
    await wait_for(lambda: value(hass, POWER) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
    assert int(value(hass, POWER) or "") in {push.power_import for push in pushes}
    power = sensor(hass, POWER)
    assert power is not None
    assert power.attributes[ATTR_UNIT_OF_MEASUREMENT] == "W"
    assert power.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.POWER
    totals = {push.energy_import for push in pushes}
    if totals != {None}:
        await wait_for(lambda: value(hass, ENERGY) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
        energy = sensor(hass, ENERGY)
        assert energy is not None
        assert round(float(energy.state) * 1000) in totals
        assert energy.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
        assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    else:
        # The compact list has powers per phase but no energy registers: no energy sensor is made up.
        await wait_for(lambda: value(hass, "power_import_l1") not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
        assert sensor(hass, ENERGY) is None
    assert float(value(hass, "current_l1") or "") > 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_damaged_or_lower_totals_never_reach_the_energy_sensor(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    good = default_state()
    tcp_meter.send(kamstrup_frame(good, hourly=True))
    await wait_for(lambda: value(hass, ENERGY) == "155232.51")

    # A frame damaged on the wire: dropped by its checksum.
    damaged = bytearray(kamstrup_frame(default_state(energy_import=1000), hourly=True))
    damaged[-10] ^= 0x40
    # Checksum-valid telegrams that would corrupt statistics: a decrease, a zero, a jump.
    lower = kamstrup_frame(default_state(energy_import=155_000_000, power_import=1), hourly=True)
    zero = kamstrup_frame(default_state(energy_import=0, power_import=2), hourly=True)
    jump = kamstrup_frame(default_state(energy_import=1_552_325_100, power_import=3), hourly=True)
    for frame in (bytes(damaged), lower, zero, jump):
        tcp_meter.send(frame)
    await wait_for(lambda: value(hass, POWER) == "3")
    assert value(hass, ENERGY) == "155232.51"
    assert entry.runtime_data.energy.held.count == 3
    # Growth the meter can really have is accepted.
    tcp_meter.send(kamstrup_frame(default_state(energy_import=155_232_610), hourly=True))
    await wait_for(lambda: value(hass, ENERGY) == "155232.61")
    await hass.config_entries.async_unload(entry.entry_id)


async def _bridge_pushing(hass: HomeAssistant, tcp_meter: TcpMeter) -> MockConfigEntry:
    """Set up a meter behind a bridge that pushes a Kamstrup list every moment, and wait until it shows."""
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: value(hass, POWER) == "1703")
    return entry


async def test_a_bridge_that_drops_its_connection_while_the_meter_sends_is_read_on_without_a_gap(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """A Wi-Fi reader or ser2net that drops its connection now and then: opened again a moment later, nothing flaps.

    Each drop made every sensor unavailable for a second and back, with a warning: gaps in the graphs, and
    automations on "unavailable" set off, for a meter that never stopped sending.
    """
    entry = await _bridge_pushing(hass, tcp_meter)
    power = entity_id(hass, POWER)
    shown: list[str] = []
    remove = async_track_state_change_event(hass, power, lambda event: shown.append(event.data["new_state"].state))
    for drop in range(3):
        connections = tcp_meter.connections
        await tcp_meter.drop_clients()
        await wait_for(lambda connections=connections: tcp_meter.connections > connections)
        tcp_meter.frames = [kamstrup_frame(default_state(power_import=2000 + drop))]
        await wait_for(lambda drop=drop: value(hass, POWER) == str(2000 + drop))
    remove()
    assert STATE_UNAVAILABLE not in shown
    assert not [record for record in caplog.records if "is unavailable" in record.getMessage()]
    assert entry.runtime_data.last_update_success
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_bridge_that_drops_its_connection_and_is_gone_makes_the_meter_unavailable_at_once(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Opened again a moment later, the bridge refuses: the meter is gone, told once as a warning with the real cause."""
    entry = await _bridge_pushing(hass, tcp_meter)
    await tcp_meter.stop()
    await wait_for(lambda: value(hass, POWER) == STATE_UNAVAILABLE)
    # A bridge that reboots is no error.
    lost = [record for record in caplog.records if "is unavailable" in record.getMessage()]
    assert [(record.levelname, record.getMessage()) for record in lost] == [
        (
            "WARNING",
            (
                f"Kamstrup {METER_ID} is unavailable: cannot open it ([Errno 111] Connect call failed"
                f" ('127.0.0.1', {tcp_meter.port})); the connection is tried again at least every 60 s"
            ),
        )
    ]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    error = entry.runtime_data.last_exception
    assert isinstance(error, HomeAssistantError)
    assert error.translation_key == "meter_unavailable"
    await tcp_meter.start(tcp_meter.port)
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=2000))])
    await wait_for(lambda: value(hass, POWER) == "2000", seconds=8)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_frame_begun_before_the_connection_dropped_is_not_finished_by_the_next_one(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """Half a frame, a bridge reboot, then bytes on a new connection: they began nothing the old one left."""
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state()))
    await wait_for(lambda: value(hass, POWER) == "1703")
    cut = kamstrup_frame(default_state(power_import=2500))
    tcp_meter.send(cut[: len(cut) // 2])
    await asyncio.sleep(0.1)
    await tcp_meter.drop_clients()
    await wait_for(lambda: entry.runtime_data.reader.connects >= 2)
    # The rest of the cut frame (as a bridge that buffered it might send it), then the meter's next list.
    tcp_meter.send(cut[len(cut) // 2 :])
    tcp_meter.send(kamstrup_frame(default_state(power_import=1800)))
    await wait_for(lambda: value(hass, POWER) == "1800")
    assert entry.runtime_data.reader.decoder.telegrams == 2
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_back_after_a_silence_is_heard_at_once(
    hass: HomeAssistant, pty_meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port opened fine all along; the meter only paused (its HAN port reset, say) and speaks again.

    A silent port is opened again at once, never after the doubling wait of a port that would not open: a
    minute of it would lose the meter's first telegrams, an hourly list among them. Scaled: silence after
    0.6 s (30 s for real), the waits as shipped.
    """
    monkeypatch.setattr(connection, "BACKOFF_START", 1.0)
    monkeypatch.setattr(connection, "BACKOFF_MAX", 60.0)
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.start_pushing([kamstrup_frame(default_state(power_import=1200))])
    await wait_for(lambda: value(hass, POWER) == "1200")
    pty_meter.stop_pushing()
    await asyncio.sleep(6)  # ten silences: the waits of a port that would not open would be 1, 2 and 4 s by now
    resumed = asyncio.get_running_loop().time()
    pty_meter.start_pushing([kamstrup_frame(default_state(power_import=1300))])
    await wait_for(lambda: value(hass, POWER) == "1300", seconds=20)
    assert asyncio.get_running_loop().time() - resumed < 1.0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_silence_makes_entities_unavailable_until_the_meter_is_back(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await _bridge_pushing(hass, tcp_meter)
    assert value(hass, "connection") == "receiving"
    # The bridge stays connected but the meter falls silent.
    tcp_meter.stop_pushing()
    await wait_for(lambda: value(hass, POWER) == STATE_UNAVAILABLE)
    assert caplog.text.count(f"Kamstrup {METER_ID} is unavailable: no valid telegram for ") == 1
    # The connection sensor stays, and says why, long before the silence becomes a repair.
    assert value(hass, "connection") == "silent"
    # The bridge goes too: the cause follows.
    await tcp_meter.stop()
    await wait_for(lambda: value(hass, "connection") == "cannot_open", seconds=8)
    await tcp_meter.start(tcp_meter.port)
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=1800))])
    await wait_for(lambda: value(hass, POWER) == "1800", seconds=8)
    # Told by the meter's name, as its loss was: a meter that sends no id has one all the same.
    assert f"{entry.title} is sending again" in caplog.text
    assert value(hass, "connection") == "receiving"
    assert entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_adapter_pulled_out_and_plugged_back_in_is_read_again(
    hass: HomeAssistant, pty_meter: PtyMeter, tmp_path: Path
) -> None:
    """The port's device vanishes under the reader, as /dev/serial/by-id/… does; plugged back, it is read again."""
    adapter = tmp_path / "usb-HAN_adapter-if00-port0"
    adapter.symlink_to(pty_meter.path)
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: str(adapter)})
    await set_up(hass, entry)
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: value(hass, POWER) == "1703")
    pty_meter.unplug()
    adapter.unlink()
    await wait_for(lambda: value(hass, "connection") == "cannot_open", seconds=8)
    assert value(hass, POWER) == STATE_UNAVAILABLE
    assert entry.state is ConfigEntryState.LOADED
    adapter.symlink_to(pty_meter.plug_in())
    pty_meter.frames = [kamstrup_frame(default_state(power_import=2000))]
    await wait_for(lambda: value(hass, POWER) == "2000", seconds=8)
    assert value(hass, "connection") == "receiving"
    assert entry.runtime_data.reader.connects == 2
    await hass.config_entries.async_unload(entry.entry_id)


async def test_setup_retries_when_the_port_will_not_open(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="x", data={CONF_DEVICE: "/dev/serial/by-id/unplugged"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_wrong_key_never_produces_values(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = bridge_entry(
        tcp_meter.port, **{CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    await set_up(hass, entry)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    decoder = entry.runtime_data.reader.decoder
    await wait_for(lambda: sum(decoder.dropped.values()) >= 3)
    assert set(decoder.dropped) == {"key_rejected"}
    assert sensor(hass, POWER) is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_right_key_decodes_danish_meter(
    hass: HomeAssistant, tcp_meter: TcpMeter, hass_client: ClientSessionGenerator
) -> None:
    entry = danish_entry(tcp_meter)
    await set_up(hass, entry)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    await wait_for(lambda: value(hass, "power_factor") == "0.99")
    assert value(hass, "power_import_l3") == "503"
    assert value(hass, "energy_import_l1") is not None
    # Few homes export per phase: its energy starts disabled, as its power does, and writes no statistics.
    registry = er.async_get(hass)
    for key in ("energy_export_l1", "power_export_l1"):
        exported = registry.async_get(entity_id(hass, key))
        assert exported is not None
        assert exported.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["data"][CONF_ENCRYPTION_KEY] == "**REDACTED**"
    assert diagnostics["entry"]["data"][CONF_AUTHENTICATION_KEY] == "**REDACTED**"
    await hass.config_entries.async_unload(entry.entry_id)


DANISH_POWER = ObisCode.parse("1-1:1.7.0")


def danish_entry(tcp_meter: TcpMeter) -> MockConfigEntry:
    """A Danish Kamstrup's entry, its keys the ones its pushes are ciphered with, on the fake bridge."""
    return bridge_entry(
        tcp_meter.port,
        unique_id="74389702",  # the Danish list's meter number
        **{CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()},
    )


def danish_push(power: int, counter: int, keys: tuple[bytes, bytes] = (KEY, AUTH_KEY)) -> bytes:
    """One ciphered Danish push, as captured off the wire: the same bytes whenever it is sent again."""
    state = default_state(power_import=power)
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(state), state.moment)
    return encoder.hdlc_frames(encoder.glo_cipher(apdu, *keys, counter=counter))


async def test_a_frame_captured_before_a_reload_is_refused_after_it(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    """The replay counters are kept with the entry's stored state: a reload (or a restart) reopens no old frame."""
    entry = danish_entry(tcp_meter)
    await set_up(hass, entry)
    captured = danish_push(2100, 500)
    tcp_meter.send(captured)
    await wait_for(lambda: value(hass, POWER) == "2100")
    tcp_meter.send(danish_push(2200, 501))
    await wait_for(lambda: value(hass, POWER) == "2200")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: entry.runtime_data.reader.connects >= 1)
    decoder = entry.runtime_data.reader.decoder
    tcp_meter.send(captured)
    await wait_for(lambda: decoder.dropped[DropReason.REPLAYED] == 1)
    assert decoder.telegrams == 0
    # The meter's own next frame passes: the keys were never in doubt.
    tcp_meter.send(danish_push(2300, 502))
    await wait_for(lambda: decoder.telegrams == 1)
    assert [telegram.readings[DANISH_POWER].value for telegram in entry.runtime_data.reader.last_telegrams] == [2300]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_given_new_keys_is_read_from_its_first_frame_however_its_counter_starts(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """The counters kept were the old keys': under new ones (a reauth) the meter's counter starts again from 1."""
    entry = danish_entry(tcp_meter)
    await set_up(hass, entry)
    tcp_meter.send(danish_push(2100, 5000))
    await wait_for(lambda: value(hass, POWER) == "2100")
    assert await hass.config_entries.async_unload(entry.entry_id)
    new_keys = (bytes(range(100, 116)), bytes(range(200, 216)))
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_ENCRYPTION_KEY: new_keys[0].hex(), CONF_AUTHENTICATION_KEY: new_keys[1].hex()}
    )
    await set_up(hass, entry)
    tcp_meter.send(danish_push(2200, 1, new_keys))
    await wait_for(lambda: value(hass, POWER) == "2200")
    assert entry.runtime_data.reader.decoder.dropped == {}
    # A frame of the old keys opens under the new ones no more; the new keys' counter is guarded from now on.
    tcp_meter.send(danish_push(2300, 5001))
    tcp_meter.send(danish_push(2400, 1, new_keys))
    tcp_meter.send(danish_push(2500, 2, new_keys))
    await wait_for(lambda: value(hass, POWER) == "2500")
    assert entry.runtime_data.reader.decoder.dropped == {DropReason.KEY_REJECTED: 1, DropReason.REPLAYED: 1}
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_current_transformer_ratio_scales_currents_power_and_energy(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    entry = bridge_entry(tcp_meter.port)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_CURRENT_TRANSFORMER_RATIO: 60})
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state(), hourly=True)])
    await wait_for(lambda: value(hass, CURRENT_L2) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
    assert float(value(hass, CURRENT_L2) or 0) == pytest.approx(5.66 * 60)
    # A whole count stays whole through the ratio (a float ratio from the options form): no "102180.0".
    assert value(hass, POWER) == str(1703 * 60)
    assert value(hass, "voltage_l1") == "235"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_hourly_totals_are_restored_after_a_restart(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = bridge_entry(tcp_meter.port)
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    registered = registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{METER_ID}_active_energy_import",
        config_entry=entry,
        suggested_object_id="kamstrup_meter_energy_import",
    )
    # As Home Assistant stored it when the sensor first appeared: shown in kWh.
    registry.async_update_entity_options(
        registered.entity_id, "sensor.private", {"suggested_unit_of_measurement": "kWh"}
    )
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(registered.entity_id, "155232.51", last_reported=None),
                {"native_value": 155232510, "native_unit_of_measurement": "Wh"},
            )
        ],
    )
    await set_up(hass, entry)
    # The 10 s list has no energy register, yet the total is there at once.
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: value(hass, POWER) == "1703")
    assert float(value(hass, registered.entity_id) or 0) == pytest.approx(155232.51)
    # The guard remembers the restored total: a lower one is held.
    tcp_meter.send(kamstrup_frame(default_state(energy_import=100), hourly=True))
    await asyncio.sleep(0.3)
    assert float(value(hass, registered.entity_id) or 0) == pytest.approx(155232.51)
    assert entry.runtime_data.energy.held.count == 1
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "restored",
    [
        pytest.param([(155232.51, 155232510)], id="the hour before's, kept before the power went"),
        pytest.param([], id="none, as Home Assistant stopped while the sensor had nothing to show"),
    ],
)
async def test_a_total_kept_newer_than_home_assistants_restored_state_is_shown_after_a_restart(
    hass: HomeAssistant, tcp_meter: TcpMeter, restored: list[tuple[float, int]]
) -> None:
    """Restored states are kept every 15 minutes; the store has the hourly list that came since: never a fall."""
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(energy_import=155_232_520), hourly=True))
    energy = entity_id(hass, "energy_import")
    await wait_for(lambda: value(hass, energy) == "155232.52")
    assert await hass.config_entries.async_unload(entry.entry_id)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State(energy, str(kwh), last_reported=None), {"native_value": wh, "native_unit_of_measurement": "Wh"})
            for kwh, wh in restored
        ],
    )
    await set_up(hass, entry)
    assert value(hass, energy) == "155232.52"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_total_from_before_that_comes_after_the_meter_counted_anew_changes_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """The recorder answers late, after a swapped meter's new count was followed: its old total is old news."""
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    coordinator = entry.runtime_data
    energy_register, power = (1, 8, 0), (1, 7, 0)
    tcp_meter.send(kamstrup_frame(default_state(energy_import=12_000), hourly=True))
    await wait_for(lambda: energy_register in coordinator.data.readings)
    coordinator.energy.seed_total(energy_register, 155_232_510, dt_util.utcnow())
    assert coordinator.energy.guard.last(energy_register) == 12_000
    assert value(hass, "energy_import") == "12.0"
    coordinator.energy.keep_live_energy_at_least(power, 155_232_510)
    assert coordinator.energy.counts.live_import.published == 12_000
    await hass.config_entries.async_unload(entry.entry_id)


POWER_IMPORT_OBIS = ObisCode(1, 1, 1, 7, 0, 255)
LIVE = "live_energy_import"
THIS_HOUR = "use_this_hour"


async def test_live_energy_and_hourly_use_survive_a_restart(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Worked-out figures are written as they change here, not once a minute.
    monkeypatch.setattr(sensor_module, "DERIVED_WRITE_INTERVAL", 0.0)
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    await wait_for(lambda: value(hass, LIVE) not in (None, STATE_UNAVAILABLE, "unknown"))
    # Re-anchored on the register: 155 232.510 kWh.
    assert float(value(hass, LIVE) or 0) == pytest.approx(155232.51, abs=0.001)
    # 3.6 kW for the time between two telegrams is integrated on top of it.
    # Telegrams closer than the (shortened) silence limit, for over a second
    # at 3.6 kW: over a watt-hour, and shown to the watt-hour.
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=3600))], interval=0.2)
    # (a push lost to a reconnection on a slow machine blanks it a moment: "unavailable" is no number)
    await wait_for(lambda: (shown := value(hass, LIVE)) not in (None, STATE_UNAVAILABLE) and float(shown) > 155232.51)
    tcp_meter.stop_pushing()
    live = float(value(hass, LIVE) or 0)
    assert live - 155232.51 < 0.01
    this_hour = value(hass, THIS_HOUR)
    assert this_hour not in (None, STATE_UNAVAILABLE, "unknown")
    # No completed hour yet: nothing to bill on.
    # Not known yet, which is not the same as gone: the meter is there.
    assert value(hass, "capacity_step") == STATE_UNKNOWN

    # A restart in the middle of the hour keeps the estimate, the hour's start
    # and the month's table.
    month = {"2026-11-02T17:00:00+00:00": 6100.0, "2026-11-03T07:00:00+00:00": 7300.0}
    entry.runtime_data.energy.counts.tariff.hours.update(month)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert float(value(hass, LIVE) or 0) == pytest.approx(live)
    assert value(hass, THIS_HOUR) == this_hour
    assert entry.runtime_data.energy.counts.tariff.hour_start is not None
    assert month.items() <= entry.runtime_data.energy.counts.tariff.hours.items()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_total_given_a_new_entity_id_keeps_its_value_and_follows_the_meter(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    await wait_for(lambda: value(hass, ENERGY) == "155232.51")
    old = entity_id(hass, ENERGY)
    er.async_get(hass).async_update_entity(old, new_entity_id="sensor.house_energy_import")
    await hass.async_block_till_done()
    assert hass.states.get(old) is None
    renamed = hass.states.get("sensor.house_energy_import")
    assert renamed is not None
    assert renamed.state == "155232.51"
    tcp_meter.send(kamstrup_frame(default_state(energy_import=155_232_610), hourly=True))
    await wait_for(lambda: value(hass, "sensor.house_energy_import") == "155232.61")
    await hass.config_entries.async_unload(entry.entry_id)


def test_every_entity_is_kept_when_its_id_changes_where_home_assistant_asks_to_be_told() -> None:
    """From Home Assistant 2026.11, an entity that does not say it keeps nothing by its id is removed and re-added."""
    requires_readd = getattr(entity_helper, "_entity_class_requires_readd", None)
    if requires_readd is None:
        pytest.skip("this Home Assistant changes every entity's id in place")
    entity_classes = [
        cls
        for cls in vars(sensor_module).values()
        if isinstance(cls, type) and issubclass(cls, HanPortEntity) and cls is not HanPortEntity
    ]
    assert len(entity_classes) == 4
    assert [cls.__name__ for cls in entity_classes if requires_readd(cls)] == []


async def test_capacity_sensors_show_the_months_peaks(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tariff = entry.runtime_data.energy.counts.tariff
    today = dt_util.start_of_local_day()
    # Three earlier days of this month (or today's hours when it is the 1st-3rd).
    hours = [today - timedelta(days=days) for days in (0, 1, 2) if (today - timedelta(days=days)).month == today.month]
    for index, day in enumerate(hours):
        tariff.hours[(day + timedelta(hours=1)).astimezone(UTC).isoformat()] = 4000.0 + 3000 * index
    tcp_meter.send(kamstrup_frame(default_state()))
    await wait_for(lambda: value(hass, "capacity_step") not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
    peaks = [4000.0 + 3000 * index for index in range(len(hours))]
    assert float(value(hass, "capacity_average_this_month") or 0) == pytest.approx(sum(peaks) / len(peaks) / 1000)
    assert float(value(hass, "today_s_peak_hour") or 0) == pytest.approx(4.0)
    average = sum(peaks) / len(peaks) / 1000
    assert value(hass, "capacity_step") == ("2-5 kWh" if average < 5 else "5-10 kWh")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_keys_that_stop_working_start_a_reauth(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    entry = bridge_entry(
        tcp_meter.port, **{CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    await set_up(hass, entry)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())], interval=0.05)
    await wait_for(
        lambda: any(flow["context"]["source"] == "reauth" for flow in hass.config_entries.flow.async_progress())
    )
    (flow,) = [flow for flow in hass.config_entries.flow.async_progress() if flow["context"]["source"] == "reauth"]
    assert flow["step_id"] == "reauth_confirm"
    assert flow["context"]["entry_id"] == entry.entry_id
    # The frames keep coming and pass their checksums: the connection sensor blames the keys, not the line.
    await wait_for(lambda: value(hass, "connection") == "wrong_keys")
    assert (
        caplog.text.count(f"Kamstrup {METER_ID} is unavailable: its telegrams do not open with the configured keys; ")
        == 1
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_silent_meter_that_sends_with_other_keys_is_told_apart_from_a_silent_one(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    entry = bridge_entry(
        tcp_meter.port, **{CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    await set_up(hass, entry)
    await wait_for(lambda: value(hass, "connection") == "silent")
    # The meter speaks at last, with keys other than these: the cause changes from the line to the keys.
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())], interval=0.05)
    await wait_for(lambda: value(hass, "connection") == "wrong_keys")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_whose_frames_repeat_counters_already_taken_is_told_apart_from_a_silent_one(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """A meter's counter begun anew under the same keys (or a bridge sending its last frames again): it sends.

    Its frames are refused until enough count up, and the sensor says why, not that nothing comes.
    """
    entry = danish_entry(tcp_meter)
    await set_up(hass, entry)
    tcp_meter.send(danish_push(1100, 1000))
    await wait_for(lambda: value(hass, "connection") == "receiving")
    counters = itertools.count(1)
    tcp_meter.start_pushing([lambda: danish_push(1200, next(counters))], interval=0.05)
    await wait_for(lambda: value(hass, "connection") == "replayed")
    assert caplog.text.count(f"{entry.title}: its frames repeat invocation counters already taken") == 1
    # Twenty in a row that count up: the counter began anew, and is taken.
    await wait_for(lambda: value(hass, "connection") == "receiving")
    assert value(hass, POWER) == "1200"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_bridge_that_hands_over_frames_already_taken_warns_of_nothing_while_the_meter_is_read(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Its kept pushes, handed over after a restart, are refused by the counters kept over it: the meter is read."""
    entry = danish_entry(tcp_meter)
    await set_up(hass, entry)
    tcp_meter.send(danish_push(1100, 1000))
    await wait_for(lambda: value(hass, "connection") == "receiving")
    for counter in (997, 998, 999):
        tcp_meter.send(danish_push(1000, counter))
        await asyncio.sleep(0.02)
    tcp_meter.send(danish_push(1200, 1001))
    await wait_for(lambda: value(hass, POWER) == "1200")
    assert entry.runtime_data.reader.decoder.dropped[DropReason.REPLAYED] == 3
    assert value(hass, "connection") == "receiving"
    warned = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [message for message in warned if "repeat invocation counters" in message]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_whose_every_telegram_carries_an_impossible_value_is_told_apart_from_a_silent_one(
    hass: HomeAssistant, tcp_meter: TcpMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """A meter that marks a value "not available" (all ones) in every push sends, and shows nothing: the sensor says why."""
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    await wait_for(lambda: value(hass, "connection") == "silent")
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_export=0xFFFFFFFF))], interval=0.05)
    await wait_for(lambda: value(hass, "connection") == "implausible")
    assert entry.runtime_data.reader.decoder.telegrams == 0
    assert (
        caplog.text.count(
            f"{entry.title}: its telegrams carry values no household has (1-1:2.7.0.255 = 4294967295 is impossible"
        )
        == 1
    )
    tcp_meter.frames = [kamstrup_frame(default_state())]
    await wait_for(lambda: value(hass, "connection") == "receiving")
    assert value(hass, POWER) == "1703"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_hostile_frames_over_tcp_never_reach_the_sensors(
    hass: HomeAssistant, tcp_meter: TcpMeter, hass_client: ClientSessionGenerator
) -> None:
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(), hourly=True))
    await wait_for(lambda: value(hass, POWER) == "1703")
    live = value(hass, "live_energy_import")
    # Checksum-valid frames a grid-side prankster (or a broken adapter) could send:
    # 4.3 GW, 22 kV, a NaN register; then the meter's next honest list.
    nan_power = encoder.hdlc_frames(
        encoder.data_notification(
            encoder.array(
                encoder.structure(
                    encoder.obis("1-0:1.7.0.255"),
                    b"\x18" + bytes.fromhex("7ff8000000000000"),
                    encoder.structure(encoder.integer(0), encoder.enum(27)),
                )
            ),
            None,
        )
    )
    for hostile in (
        kamstrup_frame(default_state(power_import=0xFFFFFFFF)),
        kamstrup_frame(default_state(voltages=(22_000.0, 230.0, 230.0))),
        nan_power,
    ):
        tcp_meter.send(hostile)
    tcp_meter.send(kamstrup_frame(default_state(power_import=1800)))
    await wait_for(lambda: value(hass, POWER) == "1800")
    assert value(hass, "voltage_l1") == "235"
    # Only the honest powers were integrated: well under a watt-hour in this time
    # (4.3 GW for a tenth of a second would have added 120 kWh).
    assert float(value(hass, "live_energy_import") or 0) - float(live or 0) < 0.001
    assert entry.state is ConfigEntryState.LOADED
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["decoder"]["dropped"] == {"implausible": 3}
    assert {"quantity": "voltage", "exponent": 0} in [
        {key: d[key] for key in ("quantity", "exponent")} for d in diagnostics["decoder"]["resolutions"]
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_a_norwegian_meters_energy_sensors_exist_from_setup(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    """Its energy registers come in the hourly list: their sensors are there at once, unknown, saying what they wait for.

    So the Energy dashboard can be set up right after the meter, not an hour later.
    """
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    await wait_for(lambda: value(hass, POWER) == "1703")
    energy = sensor(hass, ENERGY)
    assert energy is not None
    assert energy.state == STATE_UNKNOWN
    assert energy.attributes["waiting_for"] == "hourly_list"
    assert energy.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    export = sensor(hass, "energy_export")
    assert export is not None
    assert export.state == STATE_UNKNOWN
    # The hourly list comes: the value is there, and the reason is gone.
    tcp_meter.start_pushing([kamstrup_frame(default_state(), hourly=True)])
    await wait_for(lambda: value(hass, ENERGY) not in (None, STATE_UNAVAILABLE, STATE_UNKNOWN))
    energy = sensor(hass, ENERGY)
    assert energy is not None
    assert "waiting_for" not in energy.attributes
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_p1_meter_without_a_crc_says_so_on_its_device(
    hass: HomeAssistant, pty_meter: PtyMeter, hass_client: ClientSessionGenerator
) -> None:
    """DSMR 2.2 and 3 meters send no CRC: only the physics check guards their values, and the device page says so."""
    lines = ["0-0:96.1.1(4B384547303034303436333935353037)", "1-0:1.8.1(00185.000*kWh)", "1-0:1.7.0(0001.25*kW)"]
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="4B384547303034303436333935353037", data={CONF_DEVICE: pty_meter.path}
    )
    await set_up(hass, entry)
    pty_meter.start_pushing([encoder.p1_telegram("ISk5MT382-1000", lines, crc=False)])
    await wait_for(lambda: value(hass, "line_check") == "none")
    assert value(hass, POWER) == "1250"
    line_check = er.async_get(hass).async_get(entity_id(hass, "line_check"))
    assert line_check is not None
    assert line_check.entity_category is EntityCategory.DIAGNOSTIC
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["meter"]["checksummed"] is False
    # The same meter with a CRC: its line is checked.
    pty_meter.start_pushing([encoder.p1_telegram("ISk5MT382-1000", lines)])
    await wait_for(lambda: value(hass, "line_check") == "checksum")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_serial_port_checked_at_setup_is_let_go_before_the_reader_opens_it(
    hass: HomeAssistant, pty_meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Setup opens the port once to check it; its lock is let go in the background, after the close returns.

    Opened again before that, the port is "already locked by another process": the meter was reported
    unavailable at every start, until the reader's next try.
    """
    pty_meter.start_pushing([kamstrup_frame(default_state(power_import=1500))])
    for _ in range(5):
        entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: pty_meter.path})
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_for(lambda: value(hass, POWER) == "1500")
        assert entry.runtime_data.reader.connects == 1
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_remove(entry.entry_id)
    assert "is unavailable" not in caplog.text


async def test_a_meter_that_counts_by_tariff_alone_gets_its_totals_and_its_tariffs(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    """Dutch and Belgian meters send 1.8.1 and 1.8.2 (2.8.1, 2.8.2), never 1.8.0: the totals are their sums.

    The Energy dashboard, the meter hours and live energy count the totals; each tariff has a sensor of its
    own, as the bill prices them. The Belgian capacity tariff's demand registers have theirs.
    """
    lines = [
        "0-0:1.0.0(200512135409S)",
        "1-0:1.8.1(000000.034*kWh)",
        "1-0:1.8.2(000015.758*kWh)",
        "1-0:2.8.1(000000.000*kWh)",
        "1-0:2.8.2(000000.011*kWh)",
        "1-0:1.4.0(02.351*kW)",
        "1-0:1.6.0(200509134558S)(02.589*kW)",
        "1-0:1.7.0(00.000*kW)",
        "1-0:2.7.0(00.000*kW)",
    ]
    entry = MockConfigEntry(domain=DOMAIN, unique_id="253769484", data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.start_pushing([encoder.p1_telegram("FLU5\\253769484_A", lines)])
    await wait_for(lambda: value(hass, ENERGY) not in (None, "unknown"))
    assert value(hass, ENERGY) == "15.792"
    assert value(hass, "energy_export") == "0.011"
    tariffs = {
        name: value(hass, f"energy_{name}") for name in ("import_tariff_1", "import_tariff_2", "export_tariff_2")
    }
    assert tariffs == {"import_tariff_1": "0.034", "import_tariff_2": "15.758", "export_tariff_2": "0.011"}
    demand = (value(hass, "average_demand_this_quarter_hour"), value(hass, "peak_demand_this_month"))
    assert demand == ("2351", "2589")
    # Live energy carries the summed total on.
    await wait_for(lambda: value(hass, "live_energy_import") not in (None, "unknown"))
    assert value(hass, "live_energy_import") == "15.792"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_measurement_the_meter_sends_beyond_its_bounds_shows_nothing_and_its_total_keeps_its_count(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    """A power factor of 4.6 (E.ON Hungary's Sanxing works them out so) is left out of its telegram: the sensor
    says it knows none, at once, rather than the last one the meter stood by; the totals sent beside it stay."""
    measured = ["1-0:1.8.0(000173.640*kWh)", "1-0:1.7.0(02.601*kW)"]
    entry = MockConfigEntry(domain=DOMAIN, unique_id="S211", data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.start_pushing([encoder.p1_telegram("SAG5\\2S211", [*measured, "1-0:13.7.0(0.950)"])])
    await wait_for(lambda: value(hass, "power_factor") == "0.95")
    pty_meter.start_pushing([encoder.p1_telegram("SAG5\\2S211", ["1-0:1.7.0(02.500*kW)", "1-0:13.7.0(4.556)"])])
    await wait_for(lambda: value(hass, POWER) == "2500")
    # Within the minute a slow measurement's writes wait: a value gone is no flicker.
    assert value(hass, "power_factor") == "unknown"
    assert value(hass, ENERGY) == "173.64"
    pty_meter.start_pushing([encoder.p1_telegram("SAG5\\2S211", ["1-0:1.7.0(02.400*kW)", "1-0:13.7.0(0.930)"])])
    await wait_for(lambda: value(hass, "power_factor") == "0.93")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_power_its_currents_cannot_carry_leaves_power_and_current_as_they_were_and_its_total_counts(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, pty_meter: PtyMeter
) -> None:
    """9 kW beside 8 A at 230 V: one of them lies, or the meter sampled them as a load switched on. Neither is
    shown: their sensors keep the last values; the total the telegram carried (an hourly list's) is taken. A run
    of three is no load switching on: their sensors then know no value, until currents carry the power again."""

    def telegram(total: int, kilowatts: str, amperes: str) -> bytes:
        lines = [
            f"1-0:1.8.0(000173.{total:03d}*kWh)",
            f"1-0:1.7.0({kilowatts}*kW)",
            "1-0:32.7.0(230.0*V)",
            f"1-0:31.7.0({amperes}*A)",
        ]
        return encoder.p1_telegram("ISK5\\2M550T-1012", lines)

    entry = MockConfigEntry(domain=DOMAIN, unique_id="M550T", data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    pty_meter.start_pushing([telegram(640, "01.800", "008")])
    await wait_for(lambda: value(hass, POWER) == "1800")
    assert value(hass, "current_l1") == "8"
    pty_meter.stop_pushing()
    for total in (641, 642):
        pty_meter.send(telegram(total, "09.000", "003"))
        await wait_for(lambda total=total: value(hass, ENERGY) == f"173.{total}")
        assert (value(hass, POWER), value(hass, "current_l1")) == ("1800", "8")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["decoder"]["powers_beyond_currents"] == 2
    assert diagnostics["decoder"]["dropped"] == {}
    pty_meter.send(telegram(643, "09.000", "003"))
    await wait_for(lambda: value(hass, ENERGY) == "173.643")
    assert (value(hass, POWER), value(hass, "current_l1")) == ("unknown", "unknown")
    pty_meter.send(telegram(644, "02.000", "009"))
    await wait_for(lambda: value(hass, POWER) == "2000")
    assert value(hass, "current_l1") == "9"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_that_sends_its_total_is_never_summed_from_its_tariffs(
    hass: HomeAssistant, pty_meter: PtyMeter, hass_storage: dict[str, Any]
) -> None:
    """A meter that sends 1.8.0 may count in more tariffs than it sends: a telegram with tariffs alone is no total."""
    with_total = ["1-0:1.8.0(000100.000*kWh)", "1-0:1.8.1(000060.000*kWh)", "1-0:1.7.0(01.000*kW)"]
    tariffs_alone = ["1-0:1.8.1(000060.001*kWh)", "1-0:1.7.0(01.000*kW)"]
    entry = MockConfigEntry(domain=DOMAIN, unique_id="XT211", data={CONF_DEVICE: pty_meter.path})
    await set_up(hass, entry)
    # Its first telegram, power alone, is kept at once; the total comes within the minutes before the next save.
    pty_meter.start_pushing([encoder.p1_telegram("XMX5XT211", ["1-0:1.7.0(01.000*kW)"])])
    await wait_for(lambda: value(hass, POWER) == "1000")
    pty_meter.start_pushing([encoder.p1_telegram("XMX5XT211", with_total)])
    await wait_for(lambda: value(hass, ENERGY) == "100.0")
    # Kept at once, for a power cut: the first telegram after it may be one with tariffs alone.
    await hass.async_block_till_done()
    await wait_for(lambda: hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["sent_totals"] == ["1.8.0"])
    pty_meter.stop_pushing()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    pty_meter.start_pushing([encoder.p1_telegram("XMX5XT211", tariffs_alone)])
    await wait_for(lambda: value(hass, "energy_import_tariff_1") == "60.001")
    assert value(hass, ENERGY) == "100.0"
    assert entry.runtime_data.energy.held.count == 0
    assert entry.runtime_data.energy.sent_totals == {(1, 8, 0)}
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_a_register_name_that_does_not_read_as_c_d_e_is_no_register() -> None:
    """A store or a repair's data edited by hand must not raise: its name reads as 0.0.0, which no meter sends."""
    assert code_of_name(code_name((1, 8, 0))) == (1, 8, 0)
    assert code_of_name("1.8") == (0, 0, 0)
    assert code_of_name("1.8.x") == (0, 0, 0)
    assert code_of_name("") == (0, 0, 0)


async def test_asking_for_an_update_shows_the_last_telegram_and_opens_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """homeassistant.update_entity (an automation's "update entity") has nothing to poll: the meter pushes."""
    monkeypatch.setattr(connection, "MIN_SILENCE", 1e9)  # one telegram, never silent however slow the machine
    assert await async_setup_component(hass, "homeassistant", {})
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(power_import=1200)))
    await wait_for(lambda: value(hass, POWER) == "1200")
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": entity_id(hass, POWER)}, blocking=True
    )
    await hass.async_block_till_done()
    assert value(hass, POWER) == "1200"
    assert entry.runtime_data.reader.connects == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_asking_for_an_update_never_makes_a_silent_meter_available(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """Answered with the last telegram, update_entity would show a silent meter's last values as live, for good.

    The reader reports the silence once; nothing marks the meter unavailable again until it sends.
    """
    assert await async_setup_component(hass, "homeassistant", {})
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.send(kamstrup_frame(default_state(power_import=1200)))
    await wait_for(lambda: value(hass, POWER) == "1200")
    await wait_for(lambda: value(hass, POWER) == STATE_UNAVAILABLE)
    power = entity_id(hass, POWER)
    await hass.services.async_call("homeassistant", "update_entity", {"entity_id": power}, blocking=True)
    await asyncio.sleep(2)  # over three silence limits of the tests' reader
    try:
        assert value(hass, POWER) == STATE_UNAVAILABLE
    finally:
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.skipif(OPTIONS_FLOW_RELOADS, reason="this release's options flow reloads the entry itself")
async def test_options_changed_while_the_entry_sets_up_are_applied_once_it_has(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """Options saved while setup opens the port come before the entry listens for them: its end reloads it."""
    entry = bridge_entry(tcp_meter.port)
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    # Once in progress, setup has taken the options and opens the port; a state has no event to wait on, and a
    # sleep longer than a turn of the loop may outlast the whole setup.
    while entry.state is not ConfigEntryState.SETUP_IN_PROGRESS:  # noqa: ASYNC110 - see above
        await asyncio.sleep(0)
    hass.config_entries.async_update_entry(entry, options={CONF_UPDATE_INTERVAL: 30.0})
    await setup  # its end schedules the reload, which may have begun unloading it already
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data.measurement_interval == 30.0)
    await wait_for(lambda: entry.runtime_data.reader.connects >= 1)
    tcp_meter.send(kamstrup_frame(default_state(power_import=1200)))
    await wait_for(lambda: value(hass, POWER) == "1200")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meters_usual_interval_is_kept_over_a_restart(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    """A meter that pushes seldom is not taken for gone between its first two pushes after a start.

    Before, the silence watch knew no interval until two telegrams had come: a meter pushing every 15 minutes
    was unavailable for a quarter of an hour at every start.
    """
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state())], interval=0.5)
    await wait_for(lambda: len(entry.runtime_data.reader.last_telegrams) == 5)
    usual = entry.runtime_data.reader.usual_interval
    assert usual == pytest.approx(0.5, abs=0.2)
    tcp_meter.stop_pushing()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # No telegram yet since the start: the silence is judged by the interval kept (fast_timing: 0.6 s at least).
    assert entry.runtime_data.reader.silence_timeout == pytest.approx(3 * usual)
    assert await hass.config_entries.async_unload(entry.entry_id)
