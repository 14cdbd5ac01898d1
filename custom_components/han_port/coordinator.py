"""The coordinator: the meter's latest state, pushed to entities per telegram."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .compat import meter_device
from .const import (
    CONF_CAPACITY_THRESHOLDS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_PEAK_DAYS,
    DEFAULT_CURRENT_TRANSFORMER_RATIO,
    DOMAIN,
    LOGGER,
)
from .decoder import DroppedFrame, Reading, Telegram
from .decoder.registers import (
    ACTIVE_ENERGY_EXPORT,
    ACTIVE_ENERGY_IMPORT,
    ACTIVE_POWER,
    ACTIVE_POWER_EXPORT,
    ACTIVE_POWER_IMPORT,
    Code,
    quantity_of,
)
from .energy import DEFAULT_PEAK_DAYS, DEFAULT_THRESHOLDS, CapacityTariff, LiveEnergy, parse_thresholds

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .connection import MeterReader

type HanPortConfigEntry = ConfigEntry[HanPortCoordinator]


_TOTAL = 8
# Telegrams that pass their checksums but not the keys, in a row, before the
# user is asked for new ones (grid companies do change them).
KEY_PROBLEMS_BEFORE_REAUTH = 3
STORAGE_VERSION = 1
# Energy state is written at most this often (seconds); telegrams come every few.
STORE_DELAY = 60


class MeterUnavailableError(Exception):
    """The meter stopped sending: port closed, cable pulled or bridge gone."""


@dataclass(frozen=True, slots=True)
class MeterData:
    """What the meter said last, merged over its lists."""

    manufacturer: str | None = None
    meter_id: str | None = None
    meter_type: str | None = None
    list_version: str | None = None
    clock: datetime | None = None
    readings: Mapping[Code, Reading] = field(default_factory=dict)


@dataclass(slots=True)
class _Total:
    value: float
    when: datetime


class HanPortCoordinator(DataUpdateCoordinator[MeterData]):
    """Holds the meter's state; each telegram is merged in and pushed at once (no polling)."""

    config_entry: HanPortConfigEntry
    reader: MeterReader

    def __init__(self, hass: HomeAssistant, entry: HanPortConfigEntry, initial: MeterData) -> None:
        """Start from what the config flow learned about the meter."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN)
        self.data = initial
        self._totals: dict[Code, _Total] = {}
        self.rejected_totals = 0
        self._key_problems = 0
        """Energy totals refused because they went down or jumped."""
        self._ct_ratio = float(entry.options.get(CONF_CURRENT_TRANSFORMER_RATIO, DEFAULT_CURRENT_TRANSFORMER_RATIO))
        self.live_import = LiveEnergy()
        self.live_export = LiveEnergy()
        self.tariff = CapacityTariff(
            dt_util.get_default_time_zone(),
            thresholds=(
                parse_thresholds(str(entry.options[CONF_CAPACITY_THRESHOLDS]))
                if CONF_CAPACITY_THRESHOLDS in entry.options
                else DEFAULT_THRESHOLDS
            ),
            peak_days=int(entry.options.get(CONF_PEAK_DAYS, DEFAULT_PEAK_DAYS)),
        )
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")

    async def async_load_energy(self) -> None:
        """Take back the live totals and the month's hours kept over a restart."""
        stored = await self._store.async_load()
        if not stored:
            return
        self.live_import = LiveEnergy.from_dict(stored.get("import", {}))
        self.live_export = LiveEnergy.from_dict(stored.get("export", {}))
        self.tariff.restore(stored.get("tariff", {}))

    def _energy_data(self) -> dict[str, Any]:
        return {
            "import": self.live_import.as_dict(),
            "export": self.live_export.as_dict(),
            "tariff": self.tariff.as_dict(),
        }

    async def async_save_energy(self) -> None:
        """Write the energy state now (on unload)."""
        await self._store.async_save(self._energy_data())

    async def _async_update_data(self) -> MeterData:
        # Push only: the reader delivers data; there is nothing to poll.
        return self.data

    @callback
    def seed_total(self, register: Code, value: float, when: datetime) -> None:
        """Tell the guard a total's last known value, as restored after a restart."""
        known = self._totals.get(register)
        if known is None or value > known.value:
            self._totals[register] = _Total(value, when)

    def _guarded_total(self, register: Code, value: float, now: datetime) -> bool:
        """Accept a total only if it neither went down nor grew faster than possible."""
        known = self._totals.get(register)
        if known is not None:
            hours = max((now - known.when).total_seconds(), 0.0) / 3600
            # A minute's slack covers clocks and telegrams that cross the hour.
            allowed = ACTIVE_POWER.high * (hours + 1 / 60)
            if value < known.value or value - known.value > allowed:
                self.rejected_totals += 1
                LOGGER.warning(
                    "Ignored energy register %s of meter %s: %s after %s; it may only grow, and only as fast "
                    "as power allows",
                    ".".join(map(str, register)),
                    self.data.meter_id,
                    value,
                    known.value,
                )
                return False
        self._totals[register] = _Total(value, now)
        return True

    @callback
    def telegram_received(self, telegram: Telegram) -> None:
        """Merge a telegram into the meter's state and push it to entities."""
        self._key_problems = 0
        now = dt_util.utcnow()
        readings = dict(self.data.readings)
        for obis, reading in telegram.readings.items():
            register = obis.register
            kind = quantity_of(obis)
            value = reading.value
            if self._ct_ratio != 1 and kind is not None and kind.through_current_transformers:
                value *= self._ct_ratio
            if obis.d == _TOTAL and not self._guarded_total(register, value, now):
                continue
            readings[register] = Reading(value, reading.unit)
            self._track_energy(register, value, now)
        if self.live_import.published is not None:
            self.tariff.update(self.live_import.published, now)
        self._store.async_delay_save(self._energy_data, STORE_DELAY)
        data = replace(
            self.data,
            manufacturer=telegram.manufacturer or self.data.manufacturer,
            meter_id=telegram.meter_id or self.data.meter_id,
            meter_type=telegram.meter_type or self.data.meter_type,
            list_version=telegram.list_version or self.data.list_version,
            clock=_aware(telegram.timestamp) or self.data.clock,
            readings=readings,
        )
        if not self.last_update_success:
            LOGGER.info("Meter %s is sending again", data.meter_id)
        identity = (data.manufacturer, data.meter_id, data.meter_type, data.list_version)
        if identity != (self.data.manufacturer, self.data.meter_id, self.data.meter_type, self.data.list_version):
            self._update_device(data)
        self.async_set_updated_data(data)

    def _track_energy(self, register: Code, value: float, now: datetime) -> None:
        """Feed power and accepted totals to the live energy and the tariff."""
        if register == ACTIVE_POWER_IMPORT.code:
            self.live_import.add_power(value, now)
        elif register == ACTIVE_POWER_EXPORT.code:
            self.live_export.add_power(value, now)
        elif register == ACTIVE_ENERGY_IMPORT.code:
            self.live_import.add_register(value)
            self.tariff.correct_last_hour(value, now)
        elif register == ACTIVE_ENERGY_EXPORT.code:
            self.live_export.add_register(value)

    def _update_device(self, data: MeterData) -> None:
        """Keep the device page true when the meter says more than setup knew."""
        registry = dr.async_get(self.hass)
        device = meter_device(registry, self.config_entry)
        if device is not None:
            registry.async_update_device(
                device.id,
                manufacturer=data.manufacturer,
                model=data.meter_type,
                serial_number=data.meter_id,
                sw_version=data.list_version,
            )

    @callback
    def key_problem(self, _drop: DroppedFrame) -> None:
        """Ask the user for new keys when checksum-valid telegrams keep failing to open."""
        self._key_problems += 1
        if self._key_problems == KEY_PROBLEMS_BEFORE_REAUTH:
            LOGGER.warning("Meter %s: its telegrams do not open with the configured keys", self.data.meter_id)
            self.config_entry.async_start_reauth(self.hass)

    @callback
    def availability_changed(self, available: bool) -> None:
        """Make entities unavailable while the meter is silent; they return with its next telegram."""
        if not available:
            self.async_set_update_error(MeterUnavailableError(f"no valid telegram from {self.reader.url}"))


def _aware(moment: datetime | None) -> datetime | None:
    """Meters that do not state their UTC offset keep local time: use Home Assistant's zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt_util.get_default_time_zone())
