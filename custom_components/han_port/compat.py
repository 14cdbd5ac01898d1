"""What differs between the oldest Home Assistant we support (2025.4) and the newest.

Each name is the newest release's API where the running release has it, and
the older one only where it must be, so that the newest release logs nothing
deprecated for us. Everything version-dependent lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant import config_entries
from homeassistant.components.recorder.models import StatisticMeanType, StatisticMetaData
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.helpers import selector
from homeassistant.util import unit_conversion

from .const import meter_identifier

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.data_entry_flow import FlowHandler
    from homeassistant.helpers.device_registry import DeviceEntry, DeviceRegistry

    # A form's schema: voluptuous's on 2025.4, probatio's on the newest releases.
    FormSchema = Any

    # For the type checker one base serves: both share OptionsFlow's interface.
    OptionsFlowBase = config_entries.OptionsFlow
else:
    # 2025.8+: reloads the entry only when the options changed; the entry then
    # must not have an update listener of its own (see OPTIONS_FLOW_RELOADS).
    OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", config_entries.OptionsFlow)

OPTIONS_FLOW_RELOADS = OptionsFlowBase is not config_entries.OptionsFlow
"""Whether the options flow reloads the entry itself (else an update listener must)."""

type FixFlowResult = Any
"""A repair fix flow step's result: FlowResult on 2025.4, RepairsFlowResult on the newest releases."""

REACTIVE_ENERGY_DEVICE_CLASS: SensorDeviceClass | None = getattr(SensorDeviceClass, "REACTIVE_ENERGY", None)
"""The reactive energy device class (kvarh), in releases that have it."""
KILO_VAR_HOUR = "kvarh"
"""Reactive energy's unit as Home Assistant writes it (2025.4 has no UnitOfReactiveEnergy to name it)."""

_SERIAL_PORT_SELECTOR: Any = getattr(selector, "SerialPortSelector", None)

REACTIVE_ENERGY_CONVERTER: type[unit_conversion.BaseUnitConverter] | None = getattr(
    unit_conversion, "ReactiveEnergyConverter", None
)
"""What converts reactive energy's units, in releases that have it (kvarh shown in varh, say)."""
REACTIVE_ENERGY_UNIT_CLASS: str | None = REACTIVE_ENERGY_CONVERTER.UNIT_CLASS if REACTIVE_ENERGY_CONVERTER else None
"""The unit class of reactive energy statistics, in releases that convert kvarh."""

# 2025.11+ names each statistic's unit class (2026.11 still works it out where it is missing); older
# releases store no such column and refuse the key.
_STATISTICS_HAVE_UNIT_CLASS = "unit_class" in StatisticMetaData.__annotations__


def sum_statistic_metadata(statistic_id: str, name: str, unit: str, unit_class: str | None) -> StatisticMetaData:
    """Describe a statistic that sums (an energy register's hours) and has no mean, as the running release wants it.

    Every supported release takes mean_type (has_mean is its deprecated
    forerunner); unit_class only where the release has it.
    """
    source = statistic_id.split(":", 1)[0]
    metadata: dict[str, Any] = {
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": name,
        "source": source,
        "statistic_id": statistic_id,
        "unit_of_measurement": unit,
    }
    if _STATISTICS_HAVE_UNIT_CLASS:
        metadata["unit_class"] = unit_class
    return metadata  # type: ignore[return-value]  # the keys of the running release


def meter_device(registry: DeviceRegistry, entry: config_entries.ConfigEntry[Any]) -> DeviceEntry | None:
    """Return the entry's meter device.

    2026.8 deprecated looking a device up by identifiers alone (they are unique
    per config entry only); its replacement names the entry too.
    """
    identifier = meter_identifier(entry)
    by_identifier = getattr(registry, "async_get_device_by_identifier", None)
    if by_identifier is not None:
        device: DeviceEntry | None = by_identifier(identifier, entry.entry_id)
        return device
    return registry.async_get_device(identifiers={identifier})


async def async_serial_port_selector(
    hass: HomeAssistant, list_ports: Callable[[], list[selector.SelectOptionDict]]
) -> selector.Selector[Any]:
    """Pick a serial port: Home Assistant's own picker where there is one (2026.5+).

    It lists local ports and ESPHome serial proxies (esphome:// URLs, which
    serialx opens); older releases get list_ports' local ports (a blocking
    call, run in the executor), with any path or URL typed in.
    """
    if _SERIAL_PORT_SELECTOR is not None:
        port_selector: selector.Selector[Any] = _SERIAL_PORT_SELECTOR()
        return port_selector
    ports = await hass.async_add_executor_job(list_ports)
    return selector.SelectSelector(
        selector.SelectSelectorConfig(options=ports, custom_value=True, mode=selector.SelectSelectorMode.DROPDOWN)
    )


def form_schema(fields: dict[Any, Any]) -> Any:  # noqa: ANN401 - a voluptuous or a probatio schema
    """Build a form's schema.

    The newest releases type forms with probatio, which Home Assistant installs
    as voluptuous when it starts, so `vol.Schema` is the right call on both
    ends; only the type checker of each end sees a different class.
    """
    return vol.Schema(fields)


def form_schema_with_values(
    flow: FlowHandler[Any, Any, Any], fields: dict[Any, Any], suggested: Mapping[str, Any]
) -> Any:  # noqa: ANN401 - a voluptuous or a probatio schema, as form_schema
    """Build a form's schema that shows values in its fields: what the user typed, or the keys in use."""
    return flow.add_suggested_values_to_schema(form_schema(fields), suggested)
