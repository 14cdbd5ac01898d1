"""Base entity for HAN Port: one device per meter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_MANUFACTURER, DOMAIN
from .coordinator import HanPortCoordinator

if TYPE_CHECKING:
    from homeassistant.helpers.entity import EntityDescription


class HanPortEntity(CoordinatorEntity[HanPortCoordinator]):
    """An entity of one meter."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: HanPortCoordinator, description: EntityDescription) -> None:
        """Describe the entity and attach it to the meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.config_entry.unique_id}_{description.key}"
        self._attr_device_info = device_info(coordinator)


def device_info(coordinator: HanPortCoordinator) -> DeviceInfo:
    """Describe the meter, named apart from any other meter, in the user's language.

    The name comes from setup, so entity ids never shift. A meter that sends
    no id is told apart by the start of the id made up for it.
    """
    data = coordinator.data
    entry = coordinator.config_entry
    manufacturer = entry.data.get(CONF_MANUFACTURER)
    return DeviceInfo(
        identifiers={(DOMAIN, entry.unique_id or entry.entry_id)},
        translation_key="meter" if manufacturer else "unknown_meter",
        translation_placeholders={
            "manufacturer": manufacturer or "",
            "number": data.meter_id or (entry.unique_id or "")[:6],
        },
        manufacturer=data.manufacturer,
        model=data.meter_type,
        serial_number=data.meter_id,
    )
