"""Base entity for HAN Port: one device per meter."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HanPortCoordinator


class HanPortEntity(CoordinatorEntity[HanPortCoordinator]):
    """An entity of one meter."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: HanPortCoordinator) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        data = coordinator.data
        meter_id = coordinator.config_entry.unique_id or coordinator.config_entry.entry_id
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, meter_id)},
            manufacturer=data.manufacturer,
            model=data.meter_type,
            serial_number=data.meter_id,
            sw_version=data.list_version,
            name=" ".join(part for part in (data.manufacturer, "meter") if part) or "Electricity meter",
        )
