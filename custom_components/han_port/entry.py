"""Setting up and unloading a meter's config entry.

Home Assistant finds these through the package's `__init__`, which imports
this module only when it calls them.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from homeassistant.const import CONF_HOST, CONF_PORT, EVENT_CORE_CONFIG_UPDATE, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from .compat import OPTIONS_FLOW_RELOADS, meter_device
from .connection import OPEN_FAILURES, LineSettings, MeterReader, TelegramWatch, check_opens, network_url
from .const import (
    BRIDGE_SCHEME,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_GENERATED_ID,
    CONF_LIST_VERSION,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TOPIC,
    DOMAIN,
    LOGGER,
    meter_identifier,
)
from .coordinator import HanPortConfigEntry, HanPortCoordinator, MeterData
from .decoder import Decoder
from .energy_store import EnergyStore
from .identity import made_up_id, meter_title
from .issues import REPLACED_ISSUE, entry_issue_ids, meter_issue_id, withdraw_once_disabled
from .mqtt_reader import MqttReader, async_mqtt_ready, topic_url
from .open_errors import OpenError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

PLATFORMS = [Platform.SENSOR]


def entry_url(data: dict[str, object]) -> str:
    """Return the serialx URL of an entry: its device path or URL, or its network bridge (mqtt:topic for a topic)."""
    if CONF_TOPIC in data:
        return topic_url(str(data[CONF_TOPIC]))
    if CONF_HOST in data:
        return network_url(str(data[CONF_HOST]), int(str(data[CONF_PORT])))
    return str(data[CONF_DEVICE])


def entry_address(data: dict[str, object]) -> str:
    """Where an entry reads, written so that two ways of naming one port compare equal.

    A by-id path and the /dev/ttyUSB0 it links to are one adapter; a host is
    one bridge whatever its case, and socket:// typed in the serial field is
    a bridge too.
    """
    url = entry_url(data)
    if CONF_TOPIC in data:
        return url
    if url.startswith(BRIDGE_SCHEME):
        try:
            parts = urlsplit(url)
            return f"tcp:{(parts.hostname or '').lower()}:{parts.port}"
        except ValueError:
            # Not a URL one can connect to (a port past 65535, a bracket left open): the port does not
            # open, and the form says so.
            return url
    if "://" in url:
        return url
    return f"serial:{os.path.realpath(url)}"


async def async_entry_reading(
    hass: HomeAssistant, connection: dict[str, Any], entries: Iterable[HanPortConfigEntry]
) -> HanPortConfigEntry | None:
    """Return the entry among entries that reads where connection points, if one does."""
    entries = list(entries)
    # Resolving device links touches the file system: not on the event loop.
    address, *addresses = await hass.async_add_executor_job(
        lambda: [entry_address(data) for data in (connection, *(dict(entry.data) for entry in entries))]
    )
    return next((entry for entry, other in zip(entries, addresses, strict=True) if other == address), None)


def entry_line_settings(data: dict[str, object]) -> LineSettings:
    """Return the entry's detected serial line settings (network bridges keep the defaults)."""
    defaults = LineSettings()
    return LineSettings(
        baudrate=int(str(data.get(CONF_BAUDRATE, defaults.baudrate))),
        parity=str(data.get(CONF_PARITY, defaults.parity)),
        bytesize=int(str(data.get(CONF_BYTESIZE, defaults.bytesize))),
        stopbits=int(str(data.get(CONF_STOPBITS, defaults.stopbits))),
    )


def line_settings_data(line: LineSettings) -> dict[str, int | str]:
    """Store line settings in an entry's data, as entry_line_settings reads them back."""
    return {
        CONF_BAUDRATE: line.baudrate,
        CONF_PARITY: line.parity,
        CONF_BYTESIZE: line.bytesize,
        CONF_STOPBITS: line.stopbits,
    }


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
    # The options as setup began: a change while it runs (before the listener below hears any) reloads at its end.
    options = dict(entry.options)
    try:
        await _async_check_source(hass, data)
    except ConfigEntryNotReady:
        withdraw_once_disabled(hass, entry, MqttReader if CONF_TOPIC in data else MeterReader)
        raise
    coordinator = HanPortCoordinator(
        hass,
        entry,
        MeterData(
            manufacturer=entry.data.get(CONF_MANUFACTURER),
            meter_id=None if entry.data.get(CONF_GENERATED_ID) else entry.unique_id,
            meter_type=entry.data.get(CONF_METER_TYPE) or _type_told_before(hass, entry),
            list_version=entry.data.get(CONF_LIST_VERSION),
        ),
        partial(_reader, hass, data),
    )
    await coordinator.energy.async_load()
    # Waits for the recorder, which drains its queue only once Home Assistant has started: a task the start
    # waits for would hold it up until the start gives up on it (five minutes at every restart).
    entry.async_create_background_task(
        hass, coordinator.energy.counts.meter_hours.async_load(), f"{entry.title} meter hours"
    )
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, coordinator.energy.store.save_at_stop))
    entry.async_on_unload(hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, coordinator.energy.follow_time_zone))
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # The task ends with the entry: unload cancels it, which closes the port.
    entry.async_create_background_task(hass, coordinator.reader.run(), f"{entry.title} reader")
    if not OPTIONS_FLOW_RELOADS:
        entry.async_on_unload(entry.add_update_listener(partial(_async_options_updated, options)))
        if dict(entry.options) != options:
            hass.config_entries.async_schedule_reload(entry.entry_id)
    return True


def _type_told_before(hass: HomeAssistant, entry: HanPortConfigEntry) -> str | None:
    """Return the meter type the device page shows: one told after setup (in the hourly list alone, say) is kept."""
    device = meter_device(dr.async_get(hass), entry)
    return device.model if device is not None else None


async def _async_check_source(hass: HomeAssistant, data: dict[str, object]) -> None:
    """Make sure the entry's source is there: a port that opens, or Home Assistant's MQTT.

    Test before setup: a source that is not there is retried by Home Assistant.
    """
    if CONF_TOPIC in data:
        if not await async_mqtt_ready(hass):
            raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
        return
    await _async_check_port(entry_url(data), entry_line_settings(data))


def _reader(hass: HomeAssistant, data: dict[str, object], coordinator: HanPortCoordinator) -> TelegramWatch:
    """Make the entry's reader, reporting telegrams, silences and key problems to the coordinator."""
    decoder = Decoder(*entry_keys(data))
    if CONF_TOPIC in data:
        return MqttReader(
            hass,
            str(data[CONF_TOPIC]),
            decoder,
            coordinator.telegram_received,
            coordinator.availability_changed,
            on_drop=coordinator.frame_dropped,
        )
    return MeterReader(
        entry_url(data),
        entry_line_settings(data),
        decoder,
        coordinator.telegram_received,
        coordinator.availability_changed,
        on_drop=coordinator.frame_dropped,
    )


async def _async_check_port(url: str, line: LineSettings) -> None:
    """Open the port once and close it: raise ConfigEntryNotReady, with the reason, when it will not open."""
    try:
        await check_opens(url, line)
    except OPEN_FAILURES as err:
        failed = OpenError.of(err, url)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=failed.told_as or "cannot_open",
            translation_placeholders={"url": url, "error": failed.words},
        ) from err


async def async_migrate_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Bring entries of earlier versions up to date.

    1.1 to 1.2: a meter that sends no id was known by its port's URL, which
    became its device's serial number and the prefix of its entities'
    unique ids. It gets a made-up id that stays when the meter moves.
    """
    if entry.version > 1:
        return False
    if entry.minor_version < 2:  # noqa: PLR2004 - the minor version this step reaches
        old = entry.unique_id or ""
        generated = old == entry_url(dict(entry.data)) or old.startswith(("/", BRIDGE_SCHEME))
        data = {**entry.data, CONF_GENERATED_ID: generated}
        if generated:
            new = made_up_id()
            await _async_move_identity(hass, entry, old, new)
            title = meter_title(entry.data.get(CONF_MANUFACTURER), None, new)
            hass.config_entries.async_update_entry(entry, unique_id=new, title=title, data=data, minor_version=2)
            LOGGER.info("Meter at %s, which sends no id, is now known as %s", old, new)
        else:
            hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
    return True


async def _async_move_identity(hass: HomeAssistant, entry: HanPortConfigEntry, old: str, new: str) -> None:
    """Carry entities and the device over from the old unique id to the new one."""

    def migrate(registry_entry: er.RegistryEntry) -> dict[str, str] | None:
        if registry_entry.unique_id.startswith(f"{old}_"):
            return {"new_unique_id": f"{new}_{registry_entry.unique_id.removeprefix(f'{old}_')}"}
        return None

    await er.async_migrate_entries(hass, entry.entry_id, migrate)
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if (DOMAIN, old) in device.identifiers:
            devices.async_update_device(device.id, new_identifiers={(DOMAIN, new)}, serial_number=None)


async def async_remove_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> None:
    """Take the entry's repair issues and its kept energy state with it."""
    for issue_id in entry_issue_ids(hass, entry.entry_id):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
    await EnergyStore.async_remove(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant,
    entry: HanPortConfigEntry,
    device: dr.DeviceEntry,
) -> bool:
    """Let the user delete a replaced meter's device; the meter the entry reads now keeps its own.

    Once the old meter is gone, the notice of its replacement has done its work.
    """
    if meter_identifier(entry) in device.identifiers:
        return False
    ir.async_delete_issue(hass, DOMAIN, meter_issue_id(REPLACED_ISSUE, entry.entry_id))
    return True


async def _async_options_updated(set_up_with: dict[str, Any], hass: HomeAssistant, entry: HanPortConfigEntry) -> None:
    """Apply new options on releases whose options flow does not reload by itself, as the newer ones do.

    The listener hears every change of the entry: a change of its data alone
    comes with a reload of its own (a reconfigure, a reauth, a replaced
    meter), which a second one would follow, opening the port twice.
    """
    if dict(entry.options) != set_up_with:
        await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Stop reading, close the port, and keep the energy state."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.energy.counts.meter_hours.async_close()
        await entry.runtime_data.energy.store.async_save()
        if entry.disabled_by is not None:
            entry.runtime_data.issues.reading_stopped()
    return unloaded
