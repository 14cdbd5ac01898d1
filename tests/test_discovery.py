"""Discovery: a HAN adapter plugged in, found by Home Assistant's own USB discovery.

The USB tests set Home Assistant's USB integration up for real and let it
scan: only the system's list of ports is replaced, by the adapter a user
plugs in, whose device is a real pty with a meter behind it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import pytest
from homeassistant.components.usb.models import USBDevice
from homeassistant.config_entries import SOURCE_USB, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port import config_flow, flow_forms
from custom_components.han_port.const import CONF_DEVICE, CONF_GENERATED_ID, DOMAIN

from .meter import METER_ID, default_state, kamstrup_frame, wait_for
from .test_config_flow import Flow, load, start

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant

    from .meter import PtyMeter

pytestmark = pytest.mark.usefixtures("fast_timing")

MANIFEST = json.loads((Path(config_flow.__file__).parent / "manifest.json").read_text())
# A USB-serial chip in every other gadget: never offered by its ids alone.
GENERIC_ADAPTERS = [
    ("10C4", "EA60", "Silicon Labs", "CP2102 USB to UART Bridge Controller"),
    ("1A86", "7523", None, "USB Serial"),
    ("0403", "6001", "FTDI", "FT232R USB UART"),
    ("067B", "2303", "Prolific Technology Inc.", "USB-Serial Controller"),
]


def _text(pattern: str | None) -> str | None:
    """A string a matcher's pattern accepts (patterns match lowercased strings)."""
    return None if pattern is None else pattern.replace("*", " ").strip().upper()


def adapter_of(matcher: dict[str, str], device: str) -> USBDevice:
    """The adapter a matcher was written for, as Home Assistant's scan reports it."""
    fields: dict[str, Any] = {
        "device": device,
        "vid": matcher["vid"],
        "pid": matcher["pid"],
        "serial_number": "A10KJ9",
        "manufacturer": _text(matcher.get("manufacturer")),
        "description": _text(matcher.get("description")),
    }
    return USBDevice(**fields)


async def plug_in(hass: HomeAssistant, adapter: USBDevice) -> list[ConfigFlowResult]:
    """Let Home Assistant's USB discovery find the adapter as it starts; return the flows it started for HAN Port."""
    with patch("homeassistant.components.usb.scan_serial_ports", return_value=[adapter]):
        assert await async_setup_component(hass, "usb", {"usb": {}})
        # USB discovery scans once Home Assistant has started, then only when the USB bus changes.
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
        discovery = hass.data["usb"]
        await wait_for(lambda: discovery.initial_scan_done)
    # Each flow it starts runs as a background task of its own (the entries' readers run as such too).
    # (2026.10 keeps plain futures among them, which have no name.)
    starting = [
        task
        for task in hass._background_tasks
        if isinstance(task, asyncio.Task) and task.get_name().startswith(f"discovery flow {DOMAIN}")
    ]
    await asyncio.gather(*starting)
    return list(hass.config_entries.flow.async_progress_by_handler(DOMAIN))


def test_every_usb_matcher_is_specific() -> None:
    # Home Assistant's rule: a generic chip's ids are narrowed by what the adapter calls itself.
    assert MANIFEST["usb"]
    for matcher in MANIFEST["usb"]:
        assert {"vid", "pid"} <= matcher.keys()
        assert matcher["vid"] == matcher["vid"].upper()
        assert "description" in matcher or "manufacturer" in matcher, matcher
        for key in ("description", "manufacturer"):
            # Patterns meet lowercased strings: an upper-case letter would never match.
            assert matcher.get(key, "") == matcher.get(key, "").lower(), matcher


@pytest.mark.parametrize("matcher", MANIFEST["usb"], ids=lambda matcher: matcher.get("description", matcher["vid"]))
async def test_a_han_adapter_plugged_in_is_offered_with_its_port_chosen(
    hass: HomeAssistant, pty_meter: PtyMeter, matcher: dict[str, str]
) -> None:
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flows = await plug_in(hass, adapter_of(matcher, pty_meter.path))
    assert [(flow["context"]["source"], flow["step_id"]) for flow in flows] == [(SOURCE_USB, "usb_confirm")]
    flow = Flow(hass, flows[0])
    result = await flow.submit({})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"][CONF_DEVICE] == pty_meter.path
    assert result["result"].unique_id == METER_ID
    assert flow.progress[0]["address"] == pty_meter.path
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_an_adapter_set_up_by_hand_withdraws_its_offer(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    """Offered when plugged in, then picked in the serial step instead: the offer goes, as it would lead nowhere."""
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flows = await plug_in(hass, adapter_of(MANIFEST["usb"][0], pty_meter.path))
    assert [flow["step_id"] for flow in flows] == ["usb_confirm"]
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize("adapter", GENERIC_ADAPTERS, ids=lambda adapter: adapter[3])
async def test_a_generic_serial_adapter_is_not_offered(hass: HomeAssistant, adapter: tuple[str, ...]) -> None:
    vid, pid, manufacturer, description = adapter
    device = USBDevice(
        device="/dev/ttyUSB7", vid=vid, pid=pid, serial_number="1", manufacturer=manufacturer, description=description
    )
    flows = await plug_in(hass, device)
    assert flows == []


async def test_an_adapter_already_read_is_not_offered_and_learns_its_stable_path(
    hass: HomeAssistant, pty_meter: PtyMeter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry reads the adapter by the name the kernel gave it; a by-id link names it for good.
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-HAN_M-Bus_slave-if00-port0"
    link.symlink_to(pty_meter.path)
    monkeypatch.setattr(flow_forms, "BY_ID", str(by_id))
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: pty_meter.path, CONF_GENERATED_ID: False}
    )
    await load(hass, entry)
    flows = await plug_in(hass, adapter_of(MANIFEST["usb"][0], pty_meter.path))
    assert flows == []
    assert entry.data[CONF_DEVICE] == str(link)
    # Reloaded to read it by that name.
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data.data.readings)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_adapter_read_by_its_stable_path_already_is_not_offered(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    # No by-id link here: the device's own path is its stable one, and the entry reads it by that.
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: pty_meter.path, CONF_GENERATED_ID: False}
    )
    entry.add_to_hass(hass)
    flows = await plug_in(hass, adapter_of(MANIFEST["usb"][0], pty_meter.path))
    assert flows == []
    assert entry.data == {CONF_DEVICE: pty_meter.path, CONF_GENERATED_ID: False}
