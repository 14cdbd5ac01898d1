"""Sensors for HAN Port: one per register the meter actually sends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactivePower,
)
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .capacity import step_labels
from .compat import KILO_VAR_HOUR, REACTIVE_ENERGY_DEVICE_CLASS
from .connection import Loss
from .const import CONF_ENCRYPTION_KEY, CONF_GENERATED_ID, CONF_MANUFACTURER, sensor_unique_id
from .decoder import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    CURRENT,
    FREQUENCY,
    POWER_FACTOR,
    REACTIVE_ENERGY,
    REACTIVE_POWER,
    VOLTAGE,
    Maker,
    Quantity,
)
from .entity import HanPortEntity
from .registers import (
    ACTIVE_ENERGY_EXPORT,
    ACTIVE_ENERGY_IMPORT,
    ACTIVE_POWER_EXPORT,
    ACTIVE_POWER_IMPORT,
    LIVE_ENERGY_KEYS,
    REACTIVE_ENERGY_EXPORT,
    REACTIVE_ENERGY_IMPORT,
    REGISTERS,
    Register,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from .coordinator import HanPortConfigEntry, HanPortCoordinator, MeterData
    from .counts import EnergyCounts
    from .decoder import Code, Reading

# Entities only follow the coordinator: nothing to limit.
PARALLEL_UPDATES = 0
DERIVED_WRITE_INTERVAL = 60.0
# Voltage, frequency and power factor drift by a tenth with every telegram
# and tell nothing by it: such drift is written once a minute, a real step at once.
SLOW_WRITE_INTERVAL = 60.0


@dataclass(frozen=True, kw_only=True)
class HanPortSensorEntityDescription(SensorEntityDescription):
    """A register and how to show it."""

    register: Code
    divisor: float = 1
    """What the base-unit reading is divided by to give the native unit (1000: varh to kvarh)."""
    significant_step: float | None = None
    """For a slow measurement: the change that is written at once; smaller ones at most every SLOW_WRITE_INTERVAL."""


# How Home Assistant shows each quantity of the registers table. Each
# register's sensor takes its quantity's description with its own key and
# code, in place of the quantity's name and the empty code held here.
_KINDS: dict[Quantity, HanPortSensorEntityDescription] = {
    ACTIVE_POWER: HanPortSensorEntityDescription(
        key="active_power",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
    ),
    REACTIVE_POWER: HanPortSensorEntityDescription(
        key="reactive_power",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.REACTIVE_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
    ),
    ACTIVE_ENERGY: HanPortSensorEntityDescription(
        key="active_energy",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
    ),
    # The sensor shows kvarh itself: Home Assistant 2025.4 has no reactive energy
    # device class to convert units, and newer releases accept kvarh as it is.
    REACTIVE_ENERGY: HanPortSensorEntityDescription(
        key="reactive_energy",
        register=(0, 0, 0),
        device_class=REACTIVE_ENERGY_DEVICE_CLASS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=KILO_VAR_HOUR,
        suggested_display_precision=3,
        divisor=1000,
        entity_registry_enabled_default=False,
    ),
    CURRENT: HanPortSensorEntityDescription(
        key="current",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=2,
    ),
    VOLTAGE: HanPortSensorEntityDescription(
        key="voltage",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        # About 2 % of a European phase voltage: a sag or a lost phase, beyond the flicker of a reading to a volt.
        significant_step=5,
    ),
    POWER_FACTOR: HanPortSensorEntityDescription(
        key="power_factor",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.POWER_FACTOR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        significant_step=0.1,  # a big load switched, beyond the flicker of a reading to a hundredth
    ),
    FREQUENCY: HanPortSensorEntityDescription(
        key="frequency",
        register=(0, 0, 0),
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        suggested_display_precision=2,
        significant_step=0.1,  # a fifth of the band a grid keeps its frequency in: beyond its minute-to-minute flicker
    ),
}
_FLOAT_SLACK = 1e-9


def _sensor(register: Register) -> HanPortSensorEntityDescription:
    """Describe one register's sensor: its quantity's description, and whether it starts enabled.

    The three phases of a quantity share one name with the phase as a placeholder, its tariffs with the tariff.
    """
    kind = _KINDS[register.quantity]
    enabled = kind.entity_registry_enabled_default and register.wanted
    translation_key, placeholders = register.key, None
    if register.phase is not None:
        translation_key = f"{register.family}_phase"
        placeholders = {"phase": f"L{register.phase}"}
    elif register.tariff is not None:
        translation_key = f"{register.family}_tariff"
        placeholders = {"tariff": str(register.tariff)}
    return replace(
        kind,
        key=register.key,
        register=register.code,
        translation_key=translation_key,
        translation_placeholders=placeholders,
        entity_registry_enabled_default=enabled,
    )


SENSORS: tuple[HanPortSensorEntityDescription, ...] = tuple(_sensor(register) for register in REGISTERS)
SENSORS_BY_KEY = {description.key: description for description in SENSORS}
SENSORS_BY_REGISTER = {description.register: description for description in SENSORS}


@dataclass(frozen=True, kw_only=True)
class HanPortInfoSensorEntityDescription(SensorEntityDescription):
    """A fact about the meter rather than a measurement."""

    value_fn: Callable[[MeterData], StateType | datetime]


_METER_TYPE_SENSOR = HanPortInfoSensorEntityDescription(
    key="meter_type",
    translation_key="meter_type",
    entity_category=EntityCategory.DIAGNOSTIC,
    value_fn=lambda data: data.meter_type,
)
INFO_SENSORS: tuple[HanPortInfoSensorEntityDescription, ...] = (
    HanPortInfoSensorEntityDescription(
        key="meter_id",
        translation_key="meter_id",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.meter_id,
    ),
    _METER_TYPE_SENSOR,
    HanPortInfoSensorEntityDescription(
        key="list_version",
        translation_key="list_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.list_version,
    ),
    # A line whose telegrams carry no checksum (P1 without a CRC, plain bare
    # APDUs) is guarded by the physics check alone: the device page says so.
    HanPortInfoSensorEntityDescription(
        key="line_check",
        translation_key="line_check",
        device_class=SensorDeviceClass.ENUM,
        options=["checksum", "none"],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: None if data.checksummed is None else "checksum" if data.checksummed else "none",
    ),
    HanPortInfoSensorEntityDescription(
        key="meter_clock",
        translation_key="meter_clock",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.clock,
    ),
)


@dataclass(frozen=True, kw_only=True)
class HanPortDerivedSensorEntityDescription(SensorEntityDescription):
    """A figure worked out from the meter's readings: live energy, hourly use, capacity."""

    value_fn: Callable[[HanPortCoordinator], StateType]
    resolution: int = 1
    """What the figure is rounded to, in its native unit: finer digits change with every telegram and mean nothing."""
    needs: Code | None = None
    """The register the figure is worked out from: the sensor appears when the meter first sends it."""
    needs_flow: bool = False
    """The sensor appears only once that register shows a flow (not zero), not as soon as the meter sends it."""
    capacity_tariff: bool = False
    """Part of the Norwegian capacity tariff: enabled by default only where that tariff applies."""


def _derived_energy(
    key: str,
    counted: Callable[[EnergyCounts], StateType],
    state_class: SensorStateClass | None = None,
    *,
    needs: Code | None = None,
    resolution: int = 1,
) -> HanPortDerivedSensorEntityDescription:
    return HanPortDerivedSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=state_class,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        value_fn=lambda coordinator: counted(coordinator.energy.counts),
        resolution=resolution,
        needs=needs,
        # Live energy follows a register (needs); every other worked-out
        # energy is a figure of the capacity tariff.
        capacity_tariff=needs is None,
    )


def _now() -> datetime:
    return dt_util.utcnow()


def _grid_power(data: MeterData) -> float | None:
    """Power drawn from the grid less power fed into it (W): below zero while the home exports."""
    drawn = data.readings.get(ACTIVE_POWER_IMPORT.code)
    fed = data.readings.get(ACTIVE_POWER_EXPORT.code)
    if drawn is None or fed is None:
        return None
    return drawn.value - fed.value


DERIVED_SENSORS: tuple[HanPortDerivedSensorEntityDescription, ...] = (
    _derived_energy(
        LIVE_ENERGY_KEYS[ACTIVE_ENERGY_IMPORT.code],
        lambda counts: counts.live_import.published,
        SensorStateClass.TOTAL_INCREASING,
        needs=ACTIVE_ENERGY_IMPORT.code,
    ),
    _derived_energy(
        LIVE_ENERGY_KEYS[ACTIVE_ENERGY_EXPORT.code],
        lambda counts: counts.live_export.published,
        SensorStateClass.TOTAL_INCREASING,
        needs=ACTIVE_ENERGY_EXPORT.code,
    ),
    _derived_energy("current_hour_use", lambda counts: counts.tariff.current_hour_use(counts.live_import.published)),
    _derived_energy("last_hour_use", lambda counts: counts.tariff.last_hour_use(_now())),
    # A projection is a tenth of a kWh good at best.
    _derived_energy(
        "projected_hour_use",
        lambda counts: counts.tariff.projected_hour_use(counts.live_import.published, counts.live_import.power, _now()),
        resolution=100,
    ),
    _derived_energy(
        "capacity_headroom",
        lambda counts: counts.tariff.headroom(counts.live_import.published, _now()),
        resolution=100,
    ),
    _derived_energy("peak_today", lambda counts: counts.tariff.peak_today(_now())),
    _derived_energy("capacity_average", lambda counts: counts.tariff.monthly_average(_now())),
    # One power that goes below zero while the home exports: what the Energy
    # dashboard's grid power setting (2025.12 and newer) asks for.
    HanPortDerivedSensorEntityDescription(
        key="grid_power",
        translation_key="grid_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda c: _grid_power(c.data),
        # A home that never exports has grid power equal to its import power: no second sensor, no rows.
        needs=ACTIVE_POWER_EXPORT.code,
        needs_flow=True,
    ),
    HanPortDerivedSensorEntityDescription(
        key="capacity_step",
        translation_key="capacity_step",
        device_class=SensorDeviceClass.ENUM,
        value_fn=lambda c: c.energy.counts.tariff.step(_now()),
        capacity_tariff=True,
    ),
)
DERIVED_BY_KEY = {description.key: description for description in DERIVED_SENSORS}
# The figures each register, once the meter sends it, makes possible
# (export energy: live export; export power: grid power).
DERIVED_BY_REGISTER = {
    code: [description for description in DERIVED_SENSORS if description.needs == code]
    for code in {description.needs for description in DERIVED_SENSORS if description.needs is not None}
}
# Norway bills households by their capacity step; Sweden and Denmark do not.
_CAPACITY_TARIFF_COUNTRIES = frozenset({"NO"})
# Where Home Assistant has no country set, the meter tells: Norwegian lists
# come in plain HDLC; Danish ones are ciphered, Swedish ones mostly P1.
_NORWEGIAN_MAKERS = frozenset({Maker.AIDON, Maker.KAIFA, Maker.KAMSTRUP})
# The energy registers a Norwegian meter's hourly list carries: their sensors
# exist from setup, so the Energy dashboard can be set up before the first hour.
_HOURLY_REGISTERS = frozenset(
    register.key
    for register in (ACTIVE_ENERGY_IMPORT, ACTIVE_ENERGY_EXPORT, REACTIVE_ENERGY_IMPORT, REACTIVE_ENERGY_EXPORT)
)
# So do the figures those registers make possible (live energy, which carries them on between the lists).
_HOURLY_FIGURES = frozenset(
    description.key
    for key in _HOURLY_REGISTERS
    for description in DERIVED_BY_REGISTER.get(SENSORS_BY_KEY[key].register, ())
)


def capacity_tariff_applies(hass: HomeAssistant, entry: HanPortConfigEntry) -> bool:
    """Whether the meter's household pays a capacity tariff (its sensors start enabled)."""
    if hass.config.country is not None:
        return hass.config.country in _CAPACITY_TARIFF_COUNTRIES
    return _sends_hourly_lists(entry)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HanPortConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add sensors for the registers the meter sends, now and as they first arrive."""
    coordinator = entry.runtime_data
    async_add_entities([HanPortConnectionSensor(coordinator, CONNECTION_SENSOR)])
    _add_info_sensors(entry, async_add_entities)
    capacity = capacity_tariff_applies(hass, entry)
    derived = {
        key: replace(description, entity_registry_enabled_default=capacity)
        if description.capacity_tariff
        else description
        for key, description in DERIVED_BY_KEY.items()
    }
    async_add_entities(
        HanPortDerivedSensor(coordinator, description) for description in derived.values() if description.needs is None
    )

    known = _known_keys(hass, entry, derived)
    hourly = _sends_hourly_lists(entry)
    if hourly:
        known |= _HOURLY_REGISTERS | _HOURLY_FIGURES

    def entity(key: str) -> SensorEntity:
        if key in SENSORS_BY_KEY:
            return HanPortSensor(coordinator, SENSORS_BY_KEY[key], hourly=hourly and key in _HOURLY_REGISTERS)
        return HanPortDerivedSensor(coordinator, derived[key])

    @callback
    def add_new_registers() -> None:
        new = []
        for register, reading in coordinator.data.readings.items():
            for description in _made_possible(register, reading):
                if description.key not in known:
                    known.add(description.key)
                    new.append(description.key)
        if new:
            async_add_entities(entity(key) for key in new)

    restored = [entity(key) for key in sorted(known)]
    if restored:
        async_add_entities(restored)
    add_new_registers()
    entry.async_on_unload(coordinator.async_add_listener(add_new_registers))


def _made_possible(register: Code, reading: Reading) -> list[SensorEntityDescription]:
    """Describe the sensors a register the meter sends makes possible: its own, and the figures worked out from it."""
    own = SENSORS_BY_REGISTER.get(register)
    derived = [
        description
        for description in DERIVED_BY_REGISTER.get(register, ())
        if reading.value or not description.needs_flow
    ]
    return [*([own] if own is not None else []), *derived]


def _add_info_sensors(entry: HanPortConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    """Add sensors for the facts the meter tells about itself: one that never sends its id or type has none to show."""
    coordinator = entry.runtime_data
    unsaid = {"meter_id"} if entry.data.get(CONF_GENERATED_ID) else set()
    if coordinator.data.meter_type is None:
        unsaid.add("meter_type")

        @callback
        def add_type_once_told() -> None:
            # A type first told after setup (in the hourly list alone, say): the meter has one to show after all.
            if "meter_type" in unsaid and coordinator.data.meter_type is not None:
                unsaid.discard("meter_type")
                async_add_entities([HanPortInfoSensor(coordinator, _METER_TYPE_SENSOR)])

        entry.async_on_unload(coordinator.async_add_listener(add_type_once_told))
    async_add_entities(
        HanPortInfoSensor(coordinator, description) for description in INFO_SENSORS if description.key not in unsaid
    )


def _sends_hourly_lists(entry: HanPortConfigEntry) -> bool:
    """Whether the meter sends its energy registers in an hourly list (a Norwegian plain HDLC meter)."""
    return CONF_ENCRYPTION_KEY not in entry.data and entry.data.get(CONF_MANUFACTURER) in _NORWEGIAN_MAKERS


def _known_keys(
    hass: HomeAssistant, entry: HanPortConfigEntry, derived: Mapping[str, HanPortDerivedSensorEntityDescription]
) -> set[str]:
    """Sensors of registers seen before a restart: they get their entity at once.

    Hourly totals then restore their last value instead of staying unknown for an hour.
    """
    known: set[str] = set()
    prefix = sensor_unique_id(entry, "")
    for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        key = registry_entry.unique_id.removeprefix(prefix)
        if registry_entry.domain == "sensor" and (
            key in SENSORS_BY_KEY or (key in derived and derived[key].needs is not None)
        ):
            known.add(key)
    return known


class HanPortSensor(HanPortEntity, RestoreSensor):
    """A register of the meter."""

    entity_description: HanPortSensorEntityDescription
    _restored: float | None = None

    def __init__(
        self, coordinator: HanPortCoordinator, description: HanPortSensorEntityDescription, *, hourly: bool = False
    ) -> None:
        """Describe the register; one the meter sends in its hourly list says so until the list comes."""
        super().__init__(coordinator, description)
        self._hourly = hourly

    @property
    def extra_state_attributes(self) -> dict[str, str] | None:
        """While a register of the hourly list has no value yet: what it waits for."""
        if self._hourly and self.native_value is None:
            return {"waiting_for": "hourly_list"}
        return None

    @property
    def write_interval(self) -> float:
        """Measurements follow the update-rate option, slow ones a minute at least; totals are written at once."""
        if self.entity_description.state_class is not SensorStateClass.MEASUREMENT:
            return 0.0
        if self.entity_description.significant_step is not None:
            return max(self.coordinator.measurement_interval, SLOW_WRITE_INTERVAL)
        return self.coordinator.measurement_interval

    def _significant(self, before: object, now: object) -> bool:
        """Whether a slow measurement moved by a step that means something: it is written at once."""
        step = self.entity_description.significant_step
        return (
            step is not None
            and isinstance(before, int | float)
            and isinstance(now, int | float)
            # A step's worth of a reading's digits, 49.8 to 49.7 Hz, is 0.09999... in floating point.
            and abs(now - before) >= step * (1 - _FLOAT_SLACK)
        )

    @property
    def _is_total(self) -> bool:
        return self.entity_description.state_class is SensorStateClass.TOTAL_INCREASING

    async def _async_restore(self) -> None:
        """Restore totals, which some meters send only once an hour; energy's from the recorder's last state too."""
        if not self._is_total:
            return
        last = await self.async_get_last_sensor_data()
        state = await self.async_get_last_state()
        if last is not None and isinstance(last.native_value, int | float) and state is not None:
            self._seed(float(last.native_value) * self.entity_description.divisor, state.last_reported)
        elif (kept := self.coordinator.energy.guard.last(self.entity_description.register)) is not None:
            # No state restored (Home Assistant stopped while this one read back): the guard's is the total.
            self._restored = kept / self.entity_description.divisor
        if self.entity_description.device_class is SensorDeviceClass.ENERGY:
            self.read_back_total(self._seed)

    def _seed(self, total: float, when: datetime) -> None:
        """Show a total known from before (in base units) until the meter sends one, and tell the guard of it.

        The guard compares new totals with it, rescaled if the
        current-transformer ratio changed since; the higher of what is known is shown.
        """
        divisor = self.entity_description.divisor
        raw = self.coordinator.energy.seed_total(self.entity_description.register, total, when) / divisor
        self._restored = raw if self._restored is None else max(self._restored, raw)

    @property
    def native_value(self) -> StateType:
        """The register's last value, or the restored total until the meter sends it."""
        if self.reading_back:
            return None
        reading = self.coordinator.data.readings.get(self.entity_description.register)
        if reading is None:
            return self._restored
        divisor = self.entity_description.divisor
        # Whole watts stay whole: dividing by 1 would turn 1703 into 1703.0.
        return reading.value if divisor == 1 else reading.value / divisor


class HanPortInfoSensor(HanPortEntity, SensorEntity):
    """Identification of the meter, and its clock."""

    entity_description: HanPortInfoSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The fact as last received."""
        return self.entity_description.value_fn(self.coordinator.data)


CONNECTION_SENSOR = SensorEntityDescription(
    key="connection",
    translation_key="connection",
    device_class=SensorDeviceClass.ENUM,
    options=["waiting", "receiving", "learning", *Loss],
    entity_category=EntityCategory.DIAGNOSTIC,
)


class HanPortConnectionSensor(HanPortEntity, SensorEntity):
    """Whether the meter is being read, and if not, why: shown while every other sensor is unavailable."""

    @property
    def available(self) -> bool:
        """Always: it says why the others are not."""
        return True

    @property
    def native_value(self) -> str | None:
        """Waiting for the first telegram, receiving, learning the meter's list, or why the meter is unavailable."""
        coordinator = self.coordinator
        if not coordinator.last_update_success:
            return coordinator.unavailable_because
        if coordinator.learning.progress is not None:
            return "learning"
        # Until a telegram has come since the start, nothing has been received: the restored totals are last run's.
        return "waiting" if coordinator.data.checksummed is None else "receiving"


class HanPortDerivedSensor(HanPortEntity, SensorEntity):
    """Live energy, hourly use and the capacity tariff: unknown until the meter has told enough."""

    entity_description: HanPortDerivedSensorEntityDescription

    def __init__(self, coordinator: HanPortCoordinator, description: HanPortDerivedSensorEntityDescription) -> None:
        """Describe the figure; the capacity step's states are the steps the user set."""
        super().__init__(coordinator, description)
        if description.device_class is SensorDeviceClass.ENUM:
            self._attr_options = step_labels(coordinator.energy.counts.tariff.thresholds)

    async def _async_restore(self) -> None:
        """Read live energy's last recorded state back first: it never falls below what the recorder has of it."""
        register = self.entity_description.needs
        if self.entity_description.state_class is SensorStateClass.TOTAL_INCREASING and register is not None:
            self.read_back_total(
                lambda watt_hours, _when: self.coordinator.energy.keep_live_energy_at_least(register, watt_hours)
            )

    @property
    def write_interval(self) -> float:
        """Worked-out figures are written at most once a minute: the Energy dashboard reads 5-minute statistics.

        A worked-out measurement (grid power) follows the update-rate option, as the meter's powers do.
        """
        if self.entity_description.state_class is SensorStateClass.MEASUREMENT:
            return self.coordinator.measurement_interval
        return DERIVED_WRITE_INTERVAL

    @property
    def native_value(self) -> StateType:
        """The figure, worked out now, to the resolution that means something."""
        if self.reading_back:
            return None
        value = self.entity_description.value_fn(self.coordinator)
        if isinstance(value, int | float):
            resolution = self.entity_description.resolution
            return round(value / resolution) * resolution
        return value
