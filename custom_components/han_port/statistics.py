"""Long-term statistics of the meter's own registers, each hour's energy in the hour it was used.

Home Assistant's own statistics of a register sensor book its increase in the
hour the new value arrived; a Norwegian meter's hourly list arrives just
after the hour, so every hour would show the one before. Here each register
the energy guard accepted is placed at the hour boundary it was read at (see
hours.py), and the hour it closes is written as an external statistic
(han_port:<meter>_<register>), which the Energy dashboard offers beside the
sensors. The recorder itself keeps where the sum stands: after a restart the
last statistic is read back and the sum goes on from it, and so it does at
every hour written, where a user may have adjusted it since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.history import get_last_state_changes
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import async_add_external_statistics, get_last_statistics
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from homeassistant.util import slugify
from homeassistant.util.unit_conversion import EnergyConverter
from sqlalchemy.exc import SQLAlchemyError

from .compat import KILO_VAR_HOUR, REACTIVE_ENERGY_UNIT_CLASS, meter_device, sum_statistic_metadata
from .const import DOMAIN, LOGGER, meter_key
from .hours import (
    DISPUTE_LIMIT,
    HOUR,
    Boundary,
    HourBook,
    MeterHour,
    agreeing_clock,
    meter_clock,
    read_as_dict,
    read_from_dict,
)
from .registers import ACTIVE_ENERGY_EXPORT, ACTIVE_ENERGY_IMPORT, REACTIVE_ENERGY_EXPORT, REACTIVE_ENERGY_IMPORT

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.components.recorder.models import StatisticMetaData
    from homeassistant.components.recorder.statistics import StatisticsRow
    from homeassistant.config_entries import ConfigEntry

    from .decoder import Code

# Estimated hours kept for diagnostics: the latest few say what a user asks about.
ESTIMATED_HOURS_KEPT = 48
# How long an hour's write waits for the recorder to read where its sum stands; then it goes on from its own.
RECORDER_WAIT = timedelta(seconds=30)
# How long an unload waits for the hours being written.
UNLOAD_WAIT = timedelta(seconds=5)
# Totals that may wait for the recorder's last hours: far more than a bridge hands over on connecting, or a
# held sequence counts anew (HELD_TOTALS_KEPT).
MAX_WAITING = 1024
# The last states of an entity looked through for its last number.
_LAST_STATES = 3


@dataclass(frozen=True, slots=True)
class RegisterStatistic:
    """A register whose hours become a statistic: its code, the key in the statistic id, and its unit.

    Its name is the sensor translation <key>_meter_hours, in Home Assistant's language.
    """

    code: Code
    key: str
    unit: str
    unit_class: str | None


REGISTER_STATISTICS: tuple[RegisterStatistic, ...] = (
    RegisterStatistic(
        ACTIVE_ENERGY_IMPORT.code, "energy_import", UnitOfEnergy.KILO_WATT_HOUR, EnergyConverter.UNIT_CLASS
    ),
    RegisterStatistic(
        ACTIVE_ENERGY_EXPORT.code, "energy_export", UnitOfEnergy.KILO_WATT_HOUR, EnergyConverter.UNIT_CLASS
    ),
    RegisterStatistic(REACTIVE_ENERGY_IMPORT.code, "reactive_energy_import", KILO_VAR_HOUR, REACTIVE_ENERGY_UNIT_CLASS),
    RegisterStatistic(REACTIVE_ENERGY_EXPORT.code, "reactive_energy_export", KILO_VAR_HOUR, REACTIVE_ENERGY_UNIT_CLASS),
)
"""The registers written as statistics: their base units (Wh, varh) are written in thousands (kWh, kvarh)."""
_STATISTIC_OF = {statistic.code: statistic for statistic in REGISTER_STATISTICS}


def statistic_id(meter: str, statistic: RegisterStatistic) -> str:
    """Name a meter's statistic: han_port:<meter id>_<register key>, as the recorder wants it (a slug)."""
    return f"{DOMAIN}:{slugify(meter)}_{statistic.key}"


class MeterHourStatistics:
    """Writes each hour a meter's registers close, for every register the meter sends."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], scales_written: Callable[[], None]) -> None:
        """Write statistics of the entry's meter, their ids after its unique id, their names after its device.

        scales_written is called when an hour was first written through a new current-transformer ratio: what
        is kept of unwritten_scales changed, and must be kept at once.
        """
        self._hass = hass
        self._entry = entry
        self._meter = meter_key(entry)
        self._scales_written = scales_written
        self._books: dict[Code, HourBook] = {}
        self._names: dict[Code, str] = {}
        self._loaded = False
        # What each register the recorder keeps is multiplied by to compare with the meter's: a changed
        # current-transformer ratio's new value over its old one, until an hour is written through the new one.
        self._unwritten_scales: dict[Code, float] = {}
        # The last register each book took before a restart, until the books are read back to take it.
        self._last_reads: dict[Code, tuple[datetime, float, datetime | None]] = {}
        self._clocks_disagree = _WaitingForClocks(self._meter)
        # Totals accepted (and counts begun anew) before the last hours were read back, taken in turn once they are.
        self._waiting: deque[Callable[[], None]] = deque(maxlen=MAX_WAITING)
        self._writer = _HourWriter(hass, entry, self._meter, self._hours_written)
        self.estimated_hours: deque[dict[str, str]] = deque(maxlen=ESTIMATED_HOURS_KEPT)
        """Hours written from interpolated registers, latest last, for diagnostics."""

    async def async_load(self) -> None:
        """Read back where each statistic stands, so the sum goes on and no hour is written twice.

        Without a recorder there is nothing to write to: registers are then
        left alone.
        """
        if "recorder" not in self._hass.config.components:
            return
        recorder = get_instance(self._hass)
        if not await recorder.async_db_ready:
            return
        # Hours queued before a reload are in the database before they are read back.
        await recorder.async_block_till_done()
        translations = await async_get_translations(self._hass, self._hass.config.language, "entity", {DOMAIN})
        for statistic in REGISTER_STATISTICS:
            name = f"component.{DOMAIN}.entity.sensor.{statistic.key}_meter_hours.name"
            self._names[statistic.code] = translations.get(name, f"{statistic.key}_meter_hours")
        for statistic in REGISTER_STATISTICS:
            book = await self._async_book(statistic)
            if (last := self._last_reads.pop(statistic.code, None)) is not None:
                book.resume(*last)
            self._books[statistic.code] = book
        self._loaded = True
        waiting, self._waiting = list(self._waiting), deque(maxlen=MAX_WAITING)
        for taken in waiting:
            taken()

    async def _async_book(self, statistic: RegisterStatistic) -> HourBook:
        """Start a statistic's book where the recorder's last hour left it."""
        row = await self._writer.async_last_row(statistic)
        total = None if row is None else row.get("sum")
        if row is None or total is None:
            return HourBook()
        if (state := row.get("state")) is None:
            # History imported with a sum and no register: no boundary to measure the next hour from, but the sum
            # goes on (the Energy dashboard would draw its fall to zero as use gone back).
            return HourBook(sum_before=total * 1000)
        # The last hour's end is the boundary its register was read at.
        end = datetime.fromtimestamp(row["start"], UTC) + HOUR
        scale = self._unwritten_scales.get(statistic.code, 1.0)
        return HourBook(Boundary(end, state * 1000 * scale, total * 1000))

    @callback
    def add(self, register: Code, value: float, arrival: datetime, clock: datetime | None) -> None:
        """Take a total the energy guard accepted (in Wh or varh), and write the hours it closes.

        One that comes before the recorder's last hours were read back waits
        for them: a bridge that kept a meter's hourly lists hands them over
        the moment the entry connects.
        """
        if self._writer.closed:
            return  # the entry unloads: its last reads are kept as they stand
        if not self._loaded:
            self._waiting.append(partial(self.add, register, value, arrival, clock))
            return
        book = self._books.get(register)
        if book is None:
            return
        zone = dt_util.get_default_time_zone()
        at = book.place(arrival, clock, zone)
        self._clocks_disagree.note(register, waits=at is None, clock=clock, arrival=arrival)
        if at is None:
            return
        hours = book.add(value, at, meter_clock(arrival, clock, zone))
        if hours:
            self._write(_STATISTIC_OF[register], hours)

    @callback
    def rebase(self, register: Code, value: float) -> None:
        """Count on from a total that began a new sequence, as the guard (or the user) followed it."""
        if not self._loaded:
            self._waiting.append(partial(self.rebase, register, value))
            return
        if (book := self._books.get(register)) is not None:
            book.rebase(value)

    @callback
    def rescale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: the registers kept so far were measured through the old one.

        The sum is energy already counted, and stays.
        """
        for statistic in REGISTER_STATISTICS:
            self._unwritten_scales[statistic.code] = self._unwritten_scales.get(statistic.code, 1.0) * factor
        for book in self._books.values():
            book.scale(factor)
        self._last_reads = {
            code: (at, register * factor, clock) for code, (at, register, clock) in self._last_reads.items()
        }

    @property
    def unwritten_scales(self) -> dict[str, float]:
        """By statistic: the scale of a ratio changed since its last hour was written, to keep over a restart.

        Until an hour is written through the new ratio, the recorder's last
        hour, read back at every start, was measured through the old one.
        """
        return {
            statistic.key: scale
            for statistic in REGISTER_STATISTICS
            if (scale := self._unwritten_scales.get(statistic.code, 1.0)) != 1.0
        }

    def restore_unwritten_scales(self, scales: Mapping[str, float]) -> None:
        """Take back the scales kept over a restart (see unwritten_scales); before any rescale."""
        self._unwritten_scales = {
            statistic.code: float(scales[statistic.key]) for statistic in REGISTER_STATISTICS if statistic.key in scales
        }

    @property
    def last_reads(self) -> dict[str, dict[str, Any]]:
        """By statistic: the last register taken and when it was read, to keep over a restart.

        After it, the boundaries in the gap are shared from that register, not
        from the last boundary the recorder holds.
        """
        reads = {**self._last_reads, **{code: last for code, book in self._books.items() if (last := book.last_read)}}
        return {
            statistic.key: read_as_dict(*reads[statistic.code])
            for statistic in REGISTER_STATISTICS
            if statistic.code in reads
        }

    def restore_last_reads(self, reads: Mapping[str, Mapping[str, Any]]) -> None:
        """Take back the last reads kept over a restart (see last_reads); before any rescale."""
        self._last_reads = {
            statistic.code: read_from_dict(read)
            for statistic in REGISTER_STATISTICS
            if (read := reads.get(statistic.key)) is not None
        }

    def diagnostics(self) -> dict[str, Any]:
        """Where each statistic stands, and the hours that were estimated."""
        return {
            "loaded": self._loaded,
            "boundaries": {
                statistic.key: _boundary(book.anchor)
                for statistic in REGISTER_STATISTICS
                if (book := self._books.get(statistic.code)) is not None and book.anchor is not None
            },
            "estimated_hours": list(self.estimated_hours),
        }

    def _name(self, statistic: RegisterStatistic) -> str:
        """Name a statistic as Home Assistant names a sensor: its meter's device, then what it counts.

        The Energy dashboard's pickers list statistics by name alone: two
        meters' would read the same.
        """
        device = meter_device(dr.async_get(self._hass), self._entry)
        meter = None if device is None else device.name_by_user or device.name
        return f"{meter} {self._names[statistic.code]}" if meter else self._names[statistic.code]

    def _write(self, statistic: RegisterStatistic, hours: list[MeterHour]) -> None:
        for hour in hours:
            if hour.estimated:
                self.estimated_hours.append({"statistic": statistic.key, "start": hour.start.isoformat()})
        LOGGER.debug("Meter hours of %s: %s", statistic.key, hours)
        self._writer.write(statistic, self._name(statistic), hours, self._books[statistic.code])

    def _hours_written(self, statistic: RegisterStatistic) -> None:
        if self._unwritten_scales.pop(statistic.code, None) is not None:
            # A power cut before the next save would rescale the hour just written through the new ratio again.
            self._scales_written()

    async def async_close(self) -> None:
        """Let the hours being written finish (a little while): the entry unloads (see _HourWriter.async_close)."""
        await self._writer.async_close()


class _HourWriter:
    """Writes the hours a meter's books close, a batch at a time, each going on from the recorder's sum.

    A user may have adjusted the sum in the recorder since the hour before
    was written (as Developer tools offer under Statistics): counted on from
    the sum kept in the book, the next hour would undo the adjustment.
    """

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], meter: str, written: Callable[[RegisterStatistic], None]
    ) -> None:
        """Write the statistics of a meter; written is told of each batch written while the entry is loaded."""
        self._hass = hass
        self._entry = entry
        self._meter = meter
        self._written = written
        # Hours are written one batch at a time: each goes on from the sum the batch before wrote.
        self._writing = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()
        self.closed = False
        """Whether the entry unloads: no hour is taken or written any more."""

    async def async_last_row(self, statistic: RegisterStatistic) -> StatisticsRow | None:
        """Return the recorder's last hour of a statistic (its register and sum in kWh or kvarh); None where none."""
        found = await get_instance(self._hass).async_add_executor_job(
            get_last_statistics,
            self._hass,
            1,
            statistic_id(self._meter, statistic),
            False,  # noqa: FBT003 - the recorder's signature: units as stored
            {"state", "sum"},
        )
        rows = found.get(statistic_id(self._meter, statistic))
        return rows[0] if rows else None

    def write(self, statistic: RegisterStatistic, name: str, hours: list[MeterHour], book: HourBook) -> None:
        """Write hours a book closed, in turn after those before them."""
        # Kept pending until written: an unload lets it finish, or cancels it while it has queued nothing (its hours
        # are closed again from the last reads kept, at the next start).
        task = self._entry.async_create_task(
            self._hass, self._async_write(statistic, name, hours, book), f"{self._entry.title} meter hours written"
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _async_write(
        self, statistic: RegisterStatistic, name: str, hours: list[MeterHour], book: HourBook
    ) -> None:
        async with self._writing:
            total = await self._async_sum_before(statistic, hours[0])
            rows: list[StatisticData] = []
            for hour in hours:
                total += hour.used
                rows.append(StatisticData(start=hour.start, state=hour.register / 1000, sum=total / 1000))
            metadata: StatisticMetaData = sum_statistic_metadata(
                statistic_id(self._meter, statistic), name, statistic.unit, statistic.unit_class
            )
            async_add_external_statistics(self._hass, metadata, rows)
            if book.anchor is not None and book.anchor.at == hours[-1].start + HOUR:
                # The book has closed nothing since: it counts on from the sum as written.
                book.anchor = replace(book.anchor, sum=total)
            self._written(statistic)

    async def _async_sum_before(self, statistic: RegisterStatistic, first: MeterHour) -> float:
        """Return the sum a batch of hours goes on from: the recorder's, where its last hour is the one before.

        The hours written before this batch, and any adjustment, are in the
        database before it is read. A recorder busy for long (a backup holds
        it) or failing to read leaves the sum kept here.
        """
        kept = first.sum - first.used
        try:
            async with asyncio.timeout(RECORDER_WAIT.total_seconds()):
                await get_instance(self._hass).async_block_till_done()
                last = await self.async_last_row(statistic)
        except (TimeoutError, SQLAlchemyError) as err:
            LOGGER.debug(
                "Meter hours of %s go on from the sum kept: the recorder did not answer (%r)", self._meter, err
            )
            return kept
        if last is None or (recorded := last.get("sum")) is None:
            return kept
        return recorded * 1000 if datetime.fromtimestamp(last["start"], UTC) == first.start - HOUR else kept

    async def async_close(self) -> None:
        """Let the hours being written finish (a little while), then write none: the entry unloads.

        What they change is saved once they finished. One still waiting for
        the recorder then has queued nothing, and is cancelled: the store
        saved next tells what the recorder holds (its hours are closed again
        from the last reads kept, at the next start), and a removed entry's
        store is not made anew.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(UNLOAD_WAIT.total_seconds()), self._writing:
                pass
        self.closed = True
        for task in self._pending:
            task.cancel()


class _WaitingForClocks:
    """Which registers of a meter wait for its clock and Home Assistant's to agree (see HourBook.place), told once."""

    def __init__(self, meter: str) -> None:
        """Tell of the meter's registers (by its unique id)."""
        self._meter = meter
        self._registers: set[Code] = set()

    def note(self, register: Code, *, waits: bool, clock: datetime | None, arrival: datetime) -> None:
        """Say once when the meter's registers begin to wait, and once when none does any longer.

        A meter's clock ahead of Home Assistant's is a warning: the host's was
        likely started at its last shutdown. One behind it may be lists a
        bridge kept.
        """
        waiting = bool(self._registers)
        if waits:
            self._registers.add(register)
        else:
            self._registers.discard(register)
        if waits and not waiting:
            moment = meter_clock(arrival, clock, dt_util.get_default_time_zone())
            ahead = moment is not None and moment > arrival
            LOGGER.log(
                logging.WARNING if ahead else logging.INFO,
                "Meter hours of %s wait: the meter's clock (%s) agreed with Home Assistant's, and now stands %s it"
                " (%s); they are written again once the two agree, or %s after the last register they agreed on",
                self._meter,
                _wall(clock),
                "ahead of" if ahead else "behind",
                _wall(arrival),
                DISPUTE_LIMIT,
            )
        elif waiting and not self._registers:
            if agreeing_clock(arrival, clock, dt_util.get_default_time_zone()) is not None:
                LOGGER.info("Meter hours of %s are written again: the clocks agree", self._meter)
            elif clock is None:
                LOGGER.warning(
                    "Meter hours of %s are placed by Home Assistant's clock again: a list came without the meter's",
                    self._meter,
                )
            else:
                LOGGER.warning(
                    "Meter hours of %s are placed by Home Assistant's clock again: the meter's (%s) stayed %s off",
                    self._meter,
                    _wall(clock),
                    DISPUTE_LIMIT,
                )


def _wall(moment: datetime | None) -> str:
    """Write a moment as Home Assistant's zone reads it on the wall, as a clock without an offset is sent."""
    if moment is None:
        return "none"
    return (dt_util.as_local(moment) if moment.tzinfo else moment).replace(tzinfo=None).isoformat()


def _boundary(anchor: Boundary) -> dict[str, Any]:
    return {"at": anchor.at.isoformat(), "sum": anchor.sum / 1000, "estimated": anchor.estimated}


async def async_last_recorded_energy(hass: HomeAssistant, entity_id: str) -> tuple[float, datetime] | None:
    """Return the last energy (Wh) the recorder wrote for an entity, and when; None where it wrote none.

    After a power cut it is newer than what the store and the restored
    states kept, which are written every few minutes.
    """
    recorder = get_instance(hass)
    if not await recorder.async_db_ready:
        return None
    # The last few states, latest first: an entry unloaded records its entities unavailable, and the entity
    # itself unknown while it reads back.
    found = await recorder.async_add_executor_job(get_last_state_changes, hass, _LAST_STATES, entity_id)
    for state in reversed(found.get(entity_id, [])):
        try:
            unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
            return EnergyConverter.convert(float(state.state), unit, UnitOfEnergy.WATT_HOUR), state.last_updated
        except (ValueError, HomeAssistantError):
            continue
    return None
