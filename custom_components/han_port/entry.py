"""Setting up and unloading a meter's config entry.

Home Assistant finds these through the package's `__init__`, which imports
this module only when it calls them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.exceptions import ConfigEntryNotReady
from serialx import SerialException

from .compat import OPTIONS_FLOW_RELOADS
from .connection import LineSettings, MeterReader, network_url, open_connection
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_LIST_VERSION,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_STOPBITS,
    DOMAIN,
)
from .coordinator import HanPortConfigEntry, HanPortCoordinator, MeterData
from .decoder import Decoder

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

PLATFORMS = [Platform.SENSOR]


def entry_url(data: dict[str, object]) -> str:
    """Return the serialx URL of an entry: its device path or URL, or its network bridge."""
    if CONF_HOST in data:
        return network_url(str(data[CONF_HOST]), int(str(data[CONF_PORT])))
    return str(data[CONF_DEVICE])


def entry_line_settings(data: dict[str, object]) -> LineSettings:
    """Return the entry's detected serial line settings (network bridges keep the defaults)."""
    defaults = LineSettings()
    return LineSettings(
        baudrate=int(str(data.get(CONF_BAUDRATE, defaults.baudrate))),
        parity=str(data.get(CONF_PARITY, defaults.parity)),
        bytesize=int(str(data.get(CONF_BYTESIZE, defaults.bytesize))),
        stopbits=int(str(data.get(CONF_STOPBITS, defaults.stopbits))),
    )


def entry_keys(data: dict[str, object]) -> tuple[bytes | None, bytes | None]:
    """Return the entry's decryption keys, as bytes."""
    key, auth_key = data.get(CONF_ENCRYPTION_KEY), data.get(CONF_AUTHENTICATION_KEY)
    return (
        bytes.fromhex(key) if isinstance(key, str) else None,
        bytes.fromhex(auth_key) if isinstance(auth_key, str) else None,
    )


async def async_setup_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Open the meter's port and keep reading it in the background."""
    data = dict(entry.data)
    coordinator = HanPortCoordinator(
        hass,
        entry,
        MeterData(
            manufacturer=entry.data.get(CONF_MANUFACTURER),
            meter_id=entry.unique_id,
            meter_type=entry.data.get(CONF_METER_TYPE),
            list_version=entry.data.get(CONF_LIST_VERSION),
        ),
    )
    url, line = entry_url(data), entry_line_settings(data)
    # Test before setup: a port that will not open is retried by Home Assistant.
    try:
        transport = await open_connection(url, line, asyncio.Protocol)
    except (OSError, SerialException, ValueError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_open",
            translation_placeholders={"url": url, "error": str(err)},
        ) from err
    transport.close()
    key, auth_key = entry_keys(data)
    coordinator.reader = MeterReader(
        url,
        line,
        Decoder(key, auth_key),
        coordinator.telegram_received,
        coordinator.availability_changed,
        on_key_problem=coordinator.key_problem,
    )
    await coordinator.async_load_energy()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # The task ends with the entry: unload cancels it, which closes the port.
    entry.async_create_background_task(hass, coordinator.reader.run(), f"{entry.title} reader")
    if not OPTIONS_FLOW_RELOADS:
        entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    return True


async def _async_options_updated(hass: HomeAssistant, entry: HanPortConfigEntry) -> None:
    """Apply new options on releases whose options flow does not reload by itself."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Stop reading, close the port, and keep the energy state."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_save_energy()
    return unloaded
