"""Base entity for HAN Port: one device per meter."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from sqlalchemy.exc import SQLAlchemyError

from .const import CONF_GENERATED_ID, CONF_MANUFACTURER, LOGGER, meter_identifier, sensor_unique_id
from .coordinator import HanPortCoordinator
from .identity import meter_number
from .statistics import async_last_recorded_energy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.helpers.entity import EntityDescription


class HanPortEntity(CoordinatorEntity[HanPortCoordinator]):
    """An entity of one meter, written only when what it shows changed.

    Every telegram updates the coordinator; an entity whose value and
    availability are what it last wrote writes nothing (no state row, no
    state_reported, no CPU), and one that changed waits out its write
    interval, if it has one, before writing its latest value. A change of
    availability, a first value, or a change that is significant, is
    written at once.
    """

    _attr_has_entity_name = True
    _shown: tuple[bool, object] | None = None
    _written_at = 0.0
    _pending_write: CALLBACK_TYPE | None = None
    reading_back = False
    """Whether a total waits for the last state the recorder wrote of it (see read_back_total): it shows nothing."""

    def __init__(self, coordinator: HanPortCoordinator, description: EntityDescription) -> None:
        """Describe the entity and attach it to the meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = sensor_unique_id(coordinator.config_entry, description.key)
        self._attr_device_info = device_info(coordinator)

    @property
    def write_interval(self) -> float:
        """The least time, in seconds, between two writes of a changed value (0: every change)."""
        return 0.0

    def _significant(self, before: object, now: object) -> bool:  # noqa: ARG002
        """Whether a change from before to now is written at once, whatever the write interval."""
        return False

    def _what_is_shown(self) -> tuple[bool, object]:
        return self.available, getattr(self, "native_value", None)

    async def async_added_to_hass(self) -> None:
        """Remember what the first write shows; stop a pending write with the entity; restore what it showed."""
        await super().async_added_to_hass()
        self._shown = self._what_is_shown()
        self._written_at = time.monotonic()
        self.async_on_remove(self._cancel_pending_write)
        await self._async_restore()

    async def _async_restore(self) -> None:
        """Take back what the entity showed before Home Assistant started (nothing, unless it keeps a total)."""

    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Keep the entity when the user changes its id: nothing it keeps is keyed on the id.

        From Home Assistant 2026.11, an entity that adds itself in its own way
        is removed and added again on a new id unless it says this (the
        fallback ends in 2027.11): a total would show nothing while it reads
        its last state back. Before 2026.11 the method is not called.
        """
        # Entity has the hook only from 2026.11; Home Assistant asks subclasses to call it.
        base_hook: Callable[[str], None] | None = getattr(super(), "async_entity_id_changed", None)
        if base_hook is not None:
            base_hook(old_entity_id)

    def read_back_total(self, take: Callable[[float, datetime], None]) -> None:
        """Show nothing until the last energy (Wh) the recorder wrote of this total, and when, is read back and taken.

        After a power cut that state is newer than what the store and the
        restored states kept, which are written every few minutes: a total
        shown below it would be a fall. take decides whether it still
        matters when it comes (the meter may have sent the total since).
        """
        if "recorder" not in self.hass.config.components:
            return
        self.reading_back = True
        self._shown = self._what_is_shown()
        self.coordinator.config_entry.async_create_background_task(
            self.hass, self._async_read_back(take), f"{self.entity_id} read back"
        )

    async def _async_read_back(self, take: Callable[[float, datetime], None]) -> None:
        try:
            recorded = await async_last_recorded_energy(self.hass, self.entity_id)
        except SQLAlchemyError:  # a database that fails must not hide the total for good
            LOGGER.warning("Cannot read back the last state of %s", self.entity_id, exc_info=True)
            recorded = None
        if recorded is not None:
            take(*recorded)
        self.reading_back = False
        self._write(self._what_is_shown())

    @callback
    def _handle_coordinator_update(self) -> None:
        shown = self._what_is_shown()
        if shown == self._shown:
            return
        wait = self._written_at + self.write_interval - time.monotonic()
        before = self._shown
        if (
            wait <= 0
            or before is None
            or None in (before[1], shown[1])  # a value shown first, or one the meter no longer stands by
            or before[0] != shown[0]
            or self._significant(before[1], shown[1])
        ):
            self._write(shown)
        elif self._pending_write is None:
            self._pending_write = async_call_later(self.hass, wait, self._write_pending)

    @callback
    def _write_pending(self, _now: datetime) -> None:
        self._pending_write = None
        shown = self._what_is_shown()
        if shown != self._shown:
            self._write(shown)

    def _write(self, shown: tuple[bool, object]) -> None:
        self._cancel_pending_write()
        self._shown = shown
        self._written_at = time.monotonic()
        self.async_write_ha_state()

    @callback
    def _cancel_pending_write(self) -> None:
        if self._pending_write is not None:
            self._pending_write()
            self._pending_write = None


def device_info(coordinator: HanPortCoordinator) -> DeviceInfo:
    """Describe the meter, named apart from any other meter, in the user's language.

    The name comes from setup, so entity ids never shift. A meter that sends
    no id is told apart by the start of the id made up for it.
    """
    data = coordinator.data
    entry = coordinator.config_entry
    manufacturer = entry.data.get(CONF_MANUFACTURER)
    # What the meter has not told since the start stays as the device page showed it: a type sent in the
    # hourly list alone is not blanked for an hour at every restart. Built whole, not filled in afterwards:
    # DeviceInfo is a dataclass on the newest releases, whose dict-like keys are to go.
    told = {"manufacturer": data.manufacturer, "model": data.meter_type, "serial_number": data.meter_id}
    said: dict[str, str] = {key: value for key, value in told.items() if value}
    info: DeviceInfo = DeviceInfo(
        identifiers={meter_identifier(entry)},
        translation_key="meter" if manufacturer else "unknown_meter",
        translation_placeholders={
            "manufacturer": manufacturer or "",
            # A meter set up without an id (one whose list was still to be learned, say) keeps the one made up
            # for it, even once it names itself: entity ids never shift.
            "number": meter_number(None if entry.data.get(CONF_GENERATED_ID) else data.meter_id, entry.unique_id),
        },
        # Keys of DeviceInfo's, each told: a TypedDict's up to 2026.10, a dataclass's fields since.
        **said,  # type: ignore[typeddict-item,arg-type,unused-ignore]
    )
    return info
