"""HAN Port: read the HAN port of Nordic smart electricity meters.

This module imports nothing of Home Assistant: `python -m
custom_components.han_port.decoder` imports this package first, and a user
decoding a capture needs only the standard library and `cryptography`. The
entry points hand over to `entry`, which Home Assistant has already imported
by then (the config flow imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from .coordinator import HanPortConfigEntry


async def async_setup_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Open the meter's port and keep reading it in the background."""
    from .entry import async_setup_entry  # noqa: PLC0415 - see the module docstring

    return await async_setup_entry(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Stop reading, close the port, and keep the energy state."""
    from .entry import async_unload_entry  # noqa: PLC0415 - see the module docstring

    return await async_unload_entry(hass, entry)


async def async_migrate_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Bring an entry of an earlier version up to date."""
    from .entry import async_migrate_entry  # noqa: PLC0415 - see the module docstring

    return await async_migrate_entry(hass, entry)


async def async_remove_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> None:
    """Clean up after an entry the user deleted."""
    from .entry import async_remove_entry  # noqa: PLC0415 - see the module docstring

    await async_remove_entry(hass, entry)


async def async_remove_config_entry_device(hass: HomeAssistant, entry: HanPortConfigEntry, device: DeviceEntry) -> bool:
    """Let the user delete the device of a meter that was replaced."""
    from .entry import async_remove_config_entry_device  # noqa: PLC0415 - see the module docstring

    return await async_remove_config_entry_device(hass, entry, device)
