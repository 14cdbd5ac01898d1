"""The config flow, driven against real transports: a pty and a loopback TCP meter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_CAPACITY_THRESHOLDS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_PEAK_DAYS,
    DOMAIN,
)
from custom_components.han_port.simulator import frames as encoder

from .meter import AUTH_KEY, KEY, PtyMeter, TcpMeter, ciphered_kamstrup, default_state, kamstrup_frame

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("fast_timing")


async def _start(hass: HomeAssistant, menu_option: str) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["serial", "network"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": menu_option})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == menu_option
    return result["flow_id"]


async def test_serial_port_detects_line_and_meter(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow_id = await _start(hass, "serial")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kamstrup 6841131BN243101040"
    assert result["result"].unique_id == "5706567274389702"
    data = result["data"]
    assert data[CONF_DEVICE] == pty_meter.path
    assert data[CONF_MANUFACTURER] == "Kamstrup"
    assert data[CONF_METER_TYPE] == "6841131BN243101040"
    # A pty accepts any line setting, so the first candidate is the one detected.
    assert (data[CONF_BAUDRATE], data[CONF_PARITY]) == (2400, "E")


async def test_short_lists_only_still_configure_by_port(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    # The Swedish Aidon list never names the meter: the entry is known by its port.
    apdu = encoder.data_notification(encoder.aidon_swedish_list(default_state()), None)
    pty_meter.start_pushing([encoder.hdlc_frames(apdu)])
    flow_id = await _start(hass, "serial")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == pty_meter.path
    assert result["title"] == "meter"


async def test_network_bridge(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    flow_id = await _start(hass, "network")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == "127.0.0.1"
    assert result["data"][CONF_PORT] == tcp_meter.port
    assert result["result"].unique_id == "5706567274389702"


async def test_port_that_does_not_open(hass: HomeAssistant) -> None:
    flow_id = await _start(hass, "serial")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DEVICE: "/dev/serial/by-id/no-such-adapter"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_silent_port_explains_why_and_allows_retry(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    flow_id = await _start(hass, "serial")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_telegram"}
    # The HAN port gets opened; the user tries again.
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_noise_alone_is_no_telegram(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    damaged = bytearray(kamstrup_frame(default_state()))
    damaged[50] ^= 0xFF
    tcp_meter.start_pushing([bytes(damaged), b"\x00\xff" * 50])
    flow_id = await _start(hass, "network")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["errors"] == {"base": "no_telegram"}


async def test_bridge_that_refuses(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    port = tcp_meter.port
    await tcp_meter.stop()
    flow_id = await _start(hass, "network")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: port})
    assert result["errors"] == {"base": "cannot_connect"}


async def test_ciphered_meter_asks_for_keys(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    flow_id = await _start(hass, "network")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "keys"

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: "12345", CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["errors"] == {"base": "invalid_key"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["errors"] == {"base": "wrong_key"}

    # Keys as grid companies send them: spaced, with 0x.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: "0x" + KEY.hex(" ").upper(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ENCRYPTION_KEY] == KEY.hex()
    assert result["data"][CONF_AUTHENTICATION_KEY] == AUTH_KEY.hex()
    assert result["result"].unique_id == "74389702"  # the Danish list carries the short meter number


async def test_keys_step_when_the_meter_goes_quiet(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    flow_id = await _start(hass, "network")
    await hass.config_entries.flow.async_configure(flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    tcp_meter.stop_pushing()
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["errors"] == {"base": "no_telegram"}
    port = tcp_meter.port
    await tcp_meter.stop()
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert port


async def test_same_meter_twice_is_refused(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id="5706567274389702", data={CONF_HOST: "10.0.0.1", CONF_PORT: 1}
    ).add_to_hass(hass)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    flow_id = await _start(hass, "network")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_moves_to_another_port(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="5706567274389702",
        data={CONF_DEVICE: "/dev/old", CONF_BAUDRATE: 2400, CONF_PARITY: "N"},
    )
    entry.add_to_hass(hass)
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_DEVICE] == pty_meter.path
    # The detected settings are tried first: they are what the meter uses.
    assert entry.data[CONF_PARITY] == "N"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_refuses_another_meter(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="1111111111111111", data={CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"
    assert entry.data[CONF_PORT] == 1


async def test_reconfigure_errors_and_keys(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="74389702", data={CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    assert result["errors"] == {"base": "cannot_connect"}
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["step_id"] == "keys"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == tcp_meter.port
    assert entry.data[CONF_ENCRYPTION_KEY] == KEY.hex()
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="1", data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    before = entry.runtime_data
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CURRENT_TRANSFORMER_RATIO: 60, CONF_CAPACITY_THRESHOLDS: "5, 2", CONF_PEAK_DAYS: 3},
    )
    assert result["errors"] == {CONF_CAPACITY_THRESHOLDS: "invalid_thresholds"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CURRENT_TRANSFORMER_RATIO: 60, CONF_CAPACITY_THRESHOLDS: "2;5; 10.5", CONF_PEAK_DAYS: 2.0},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_CURRENT_TRANSFORMER_RATIO: 60,
        CONF_CAPACITY_THRESHOLDS: "2, 5, 10.5",
        CONF_PEAK_DAYS: 2,
    }
    # The entry is set up again with the new options (by the options flow on
    # releases that have OptionsFlowWithReload, by an update listener before).
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before
    assert entry.runtime_data.tariff.thresholds == (2.0, 5.0, 10.5)
    assert entry.runtime_data.tariff.peak_days == 2
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_takes_new_keys_proven_on_a_live_telegram(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="74389702",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port, CONF_ENCRYPTION_KEY: bytes(16).hex()},
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_ENCRYPTION_KEY: "nope"})
    assert result["errors"] == {"base": "invalid_key"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: bytes(16).hex()}
    )
    assert result["errors"] == {"base": "wrong_key"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_ENCRYPTION_KEY] == KEY.hex()
    assert entry.data[CONF_AUTHENTICATION_KEY] == AUTH_KEY.hex()
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_refuses_keys_of_another_meter(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="11111111", data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["reason"] == "wrong_meter"
