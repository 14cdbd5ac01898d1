"""The coordinator: the meter's latest state, pushed to entities per telegram.

What a telegram may change of the energy figures is the bookkeeping's
(bookkeeping.py); the repair issues are raised and withdrawn by issues.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .bookkeeping import EnergyBookkeeping, meter_time
from .compat import meter_device
from .connection import Loss
from .const import (
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .decoder import DropReason
from .identity import Identity, MeterIdentity, made_up_id, meter_number, replacing_meter_entry
from .issues import READ_ELSEWHERE_ISSUE, REPLACED_ISSUE, ListLearning, MeterIssues
from .registers import is_total
from .unread import UnreadTelegrams

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .connection import TelegramWatch
    from .decoder import Code, DroppedFrame, Reading, Telegram

type HanPortConfigEntry = ConfigEntry[HanPortCoordinator]
type ReaderFactory = Callable[[HanPortCoordinator], TelegramWatch]
"""Makes the entry's reader, reporting to the coordinator it is given."""

# What the log says brings a meter gone back, by why it is gone.
_COMES_BACK = {
    Loss.SILENT: "it is read again as soon as it sends",
    Loss.WRONG_KEYS: "Home Assistant asks for the meter's keys",
    Loss.IMPLAUSIBLE: "it is read again as soon as its values are possible",
    Loss.REPLAYED: "it is read again as soon as a frame counts past the last counter taken",
    Loss.READ_ELSEWHERE: "a repair issue asks which entry reads which meter",
    Loss.OTHER_METER: "it is read again as soon as it sends, or the other meter takes over if it keeps on",
}


class MeterUnavailableError(UpdateFailed):
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
    checksummed: bool | None = None
    """Whether a checksum (or tag) proved the last telegram's bytes; None before the first."""


class HanPortCoordinator(DataUpdateCoordinator[MeterData]):
    """Holds the meter's state; each telegram is merged in and pushed at once (no polling)."""

    config_entry: HanPortConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: HanPortConfigEntry, initial: MeterData, make_reader: ReaderFactory
    ) -> None:
        """Start from what the config flow learned about the meter, with the reader that reports to it."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN)
        self.data = initial
        self.reader = make_reader(self)
        self.issues = MeterIssues(hass, entry, self.reader)
        self.energy = EnergyBookkeeping(hass, entry, self.reader, self.issues)
        self.measurement_interval = float(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL))
        """Seconds between two writes of a measurement sensor (0: every telegram)."""
        self.identity = MeterIdentity(initial.meter_id, initial.manufacturer)
        # Set once another meter has taken over this port: nothing is shown until the entry reloads as that meter.
        self._replaced = False
        self.carries_meter_of: str | None = None
        """The entry whose meter this port carries instead of this entry's own (two bridges swapped), if one's does."""
        self.learning = ListLearning(self.issues)
        self.unavailable_because: Loss | None = None
        """Why the meter is unavailable, as the connection sensor names it (None while it is read)."""
        self.unread = UnreadTelegrams()

    async def _async_update_data(self) -> MeterData:
        # Push only: the reader delivers data; there is nothing to poll. Asked all the same (update_entity), a meter
        # that went silent stays unavailable: its last data are no news, and only its next telegram says it is back.
        if not self.last_update_success and isinstance(self.last_exception, MeterUnavailableError):
            raise self.last_exception.with_traceback(None)  # the same error each time, not a growing trace
        return self.data

    @callback
    def telegram_received(self, telegram: Telegram) -> bool:
        """Merge a telegram into the meter's state and push it to entities; say whether it may be the meter's, now."""
        identity = self._identify(telegram)
        if identity is Identity.NEW_FACT:
            return True  # the meter's own as far as it tells: heard, though not shown until the fact is believed
        if identity is not Identity.SAME:
            if self.unavailable_because is Loss.SILENT and not self.last_update_success:
                cause, kind = self._why_unavailable()  # the other meter's telegrams may tell why
                if kind is not Loss.SILENT:
                    LOGGER.warning("%s is unavailable: %s", self.config_entry.title, cause)
                self._mark_unavailable(cause, kind)
            return False
        now = dt_util.utcnow()
        if (shown := self.energy.take(telegram, self.config_entry.title, now)) is None:
            return False  # an earlier list handed over again: it ends no silence, and serves no connection
        self.unread.read()
        self.issues.meter_heard()
        self.learning.learned()
        self.carries_meter_of = None
        self.issues.delete(READ_ELSEWHERE_ISSUE)
        data = replace(
            self.data,
            # Who sends is the identity's to say: one of its lists may be read as another maker's.
            manufacturer=self.identity.manufacturer or self.data.manufacturer,
            meter_id=self.identity.meter_id or self.data.meter_id,
            meter_type=telegram.meter_type or self.data.meter_type,
            list_version=telegram.list_version or self.data.list_version,
            clock=meter_time(telegram, now) or self.data.clock,
            readings={**_still_stood_by(self.data.readings, telegram), **shown},
            checksummed=telegram.checksummed,
        )
        if not self.last_update_success:
            LOGGER.info("%s is sending again", self.config_entry.title)
        told = (data.manufacturer, data.meter_id, data.meter_type, data.list_version)
        if told != (self.data.manufacturer, self.data.meter_id, self.data.meter_type, self.data.list_version):
            _update_device(self.hass, self.config_entry, data)
        self.async_set_updated_data(data)
        return True

    @callback
    def accept_held_total(self, register: Code) -> bool:
        """Take a register's held total as the meter's count, as the user decided; False if none is held."""
        reading = self.energy.accept_held_total(register, self.config_entry.title)
        if reading is None:
            return False
        self.async_set_updated_data(replace(self.data, readings={**self.data.readings, register: reading}))
        return True

    def _identify(self, telegram: Telegram) -> Identity:
        """Judge who sent a telegram (see MeterIdentity); a new meter named by several in a row takes over the entry."""
        if self._replaced:
            return Identity.REPLACED
        identity = self.identity.check(telegram.manufacturer, telegram.meter_id)
        if identity in (Identity.UNCONFIRMED, Identity.NEW_FACT):
            LOGGER.debug(
                "A telegram named %s meter %s, not %s %s: not shown",
                telegram.manufacturer,
                telegram.meter_id,
                self.data.manufacturer,
                self.data.meter_id,
            )
        if identity is Identity.UNCONFIRMED:
            self.unread.other_meter()
        elif identity is Identity.REPLACED:
            self._meter_replaced(telegram)
        return identity

    def _meter_replaced(self, telegram: Telegram) -> None:
        """Give a new meter a device and sensors of its own, so no total jumps from the old meter's count to its.

        The entry takes the new meter's id (or, for one that sends none, an id
        made up for it, as at setup) and reloads: its sensors' unique ids
        carry the id, so the old meter's sensors keep their history and the
        new one's start their own. The hour in progress was measured by two
        meters and is not counted.
        """
        entry = self.config_entry
        if self.data.meter_id is not None and self.data.meter_id == telegram.meter_id:
            # An id learned while its maker was in doubt (MeterIdentity.doubt_telegrams) was the new meter's:
            # the old meter, and its device, never had it.
            self.data = replace(self.data, meter_id=None)
            _update_device(self.hass, entry, self.data)
        old = meter_number(self.data.meter_id, entry.unique_id)
        new = telegram.meter_id or made_up_id()
        other = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, new)
        if other is not None:
            # Two bridges that swapped addresses, say: the user must say which entry reads what. The entry
            # still reads its own meter, whose telegrams are shown again the moment they come back.
            self.identity = MeterIdentity(self.data.meter_id, self.data.manufacturer)
            self.carries_meter_of = other.entry_id
            self.issues.create(READ_ELSEWHERE_ISSUE, {"new": new, "other": other.title})
            self._mark_unavailable(_read_elsewhere(other), Loss.READ_ELSEWHERE)
            return
        self._replaced = True
        number = meter_number(telegram.meter_id, new)
        LOGGER.warning("Meter %s was replaced by %s: it gets a device and sensors of its own", old, number)
        self.issues.create(REPLACED_ISSUE, {"old": old, "new": number})
        self.energy.start_over()
        data, title = replacing_meter_entry(entry.data, telegram, new)
        self.hass.config_entries.async_update_entry(entry, unique_id=new, title=title, data=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)

    @callback
    def frame_dropped(self, drop: DroppedFrame) -> None:
        """Act on a drop the user must hear of: keys that fail, a list still being learned, impossible values."""
        if drop.reason is DropReason.LEARNING:
            self.learning.heard(drop.detail)
            self.async_update_listeners()
            return
        told = self.unread.dropped(drop)
        if told is None:
            return
        cause, kind = told
        # Frames a bridge kept, handed over while the meter's own are shown, are told once the meter is gone.
        quiet = kind is Loss.REPLAYED and self.last_update_success
        LOGGER.log(logging.DEBUG if quiet else logging.WARNING, "%s: %s", self.config_entry.title, cause)
        if kind is Loss.WRONG_KEYS:
            self.config_entry.async_start_reauth(self.hass)
        if self.unavailable_because is Loss.SILENT and not self.last_update_success:
            self._mark_unavailable(*self._why_unavailable())

    @callback
    def availability_changed(self, available: bool) -> None:
        """Make entities unavailable while the meter is silent; they return with its next telegram.

        A silence that lasts is raised as a repair issue with what to check.
        """
        if available:
            return
        self.issues.follow_the_port()
        self._mark_unavailable(*self._why_unavailable())
        # A port that carries another entry's meter has its own repair issue, which says what to do.
        self.issues.watch_silence(
            lambda: not self.last_update_success and self.unavailable_because is not Loss.READ_ELSEWHERE
        )

    def _why_unavailable(self) -> tuple[str, Loss]:
        """Why the meter is gone, as its reader tells, and what the reader cannot: another entry's meter, keys."""
        loss = self.reader.loss or Loss.SILENT
        if loss is Loss.SILENT:
            elsewhere = self.carries_meter_of and self.hass.config_entries.async_get_entry(self.carries_meter_of)
            if elsewhere:
                return _read_elsewhere(elsewhere), Loss.READ_ELSEWHERE
            if (told := self.unread.cause()) is not None:
                return told
        return self.reader.lost or "no valid telegram", loss

    def _mark_unavailable(self, cause: str, kind: Loss) -> None:
        """Make the entities unavailable, logged once as a warning with the cause (of this kind).

        The coordinator's own error would log an ERROR that names no cause,
        for what is most often a bridge rebooting.
        """
        self.unavailable_because = kind
        if not self.last_update_success:
            self.async_update_listeners()  # the cause may have changed: the connection sensor says so
            return
        comes_back = _COMES_BACK.get(kind, self.reader.reconnects)
        LOGGER.warning("%s is unavailable: %s; %s", self.config_entry.title, cause, comes_back)
        self.last_exception = MeterUnavailableError(
            translation_domain=DOMAIN,
            translation_key="meter_unavailable",
            translation_placeholders={"address": self.reader.url, "cause": cause},
        )
        self.last_update_success = False
        self.async_update_listeners()


def _still_stood_by(readings: Mapping[Code, Reading], telegram: Telegram) -> dict[Code, Reading]:
    """Return the readings a telegram leaves as they were: all but the measurements it sent and had left out.

    A measurement the meter sent beyond its bounds (a power factor of 4.6) says its last value is no longer
    the meter's: its sensor shows none rather than a stale one. A total keeps its count: the meter's count
    never goes back, and shown without it the sensor would fall back to the total restored at start. Powers,
    currents and voltages taken out as contradicting each other (Telegram.contradiction) are left out only from
    the third telegram in a row on: one is most often a meter that sampled them as a load switched on, and their
    last values are the meter's, a moment old.
    """
    stale = {obis.register for obis in telegram.left_out if not is_total(obis.register)}
    return {register: reading for register, reading in readings.items() if register not in stale}


def _read_elsewhere(other: ConfigEntry) -> str:
    """Say why the meter shows nothing while its port carries the meter another entry reads (its unique id)."""
    return f"its port now carries meter {other.unique_id}, which {other.title} reads"


def _update_device(hass: HomeAssistant, entry: HanPortConfigEntry, data: MeterData) -> None:
    """Keep the device page true when the meter says more than setup knew."""
    registry = dr.async_get(hass)
    device = meter_device(registry, entry)
    if device is not None:
        registry.async_update_device(
            device.id, manufacturer=data.manufacturer, model=data.meter_type, serial_number=data.meter_id
        )
