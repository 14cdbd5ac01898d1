"""The meter's hours: each hour's energy from the registers that close it.

Pure logic, no Home Assistant. A register read at an hour boundary (by the
meter's clock where its telegram carries one) closes the hour before it
exactly: the hour starting hh-1:00 gets R(hh:00) - R(hh-1:00). A boundary no
register was read at is interpolated between the pushes around it, and every
hour it touches is marked estimated. Hours are in UTC, so a day of 23 or 25
local hours needs nothing special.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

HOUR = timedelta(hours=1)
BOUNDARY_TOLERANCE = timedelta(seconds=90)
"""A register read this soon after an hour boundary is the register at it (Kaifa and Aidon send at hh:00:10)."""
# A meter's clock is taken where it lies this close around the arrival: a
# clock a little ahead has drifted; one far behind came late through a bridge
# or broker that kept it (and still places its register in the right hour).
# Further off, the clock is damaged, and the arrival tells the time instead.
CLOCK_AHEAD = timedelta(minutes=2)
LATE_DELIVERY = timedelta(hours=6)
# A clock without an offset may be in another zone than Home Assistant's (UTC,
# say): an hour behind, it would look like a late delivery and move every hour
# by one. It is taken only this close to the arrival.
LOCAL_CLOCK_LATE = timedelta(minutes=10)
# A meter's clock that placed the last register, and now lies this much further from the arrival than it is
# taken at, was not drifting: one of the two clocks was stepped (see HourBook.place). Its registers wait until
# whichever clock stands nearer the last register says DISPUTE_LIMIT has passed.
CLOCK_STEP = timedelta(minutes=5)
DISPUTE_LIMIT = timedelta(hours=6)


def hour_of(moment: datetime) -> datetime:
    """Return the start of the hour a moment falls in, in UTC (Nordic offsets are whole hours)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def agreeing_clock(arrival: datetime, clock: datetime | None, zone: tzinfo) -> datetime | None:
    """Return the moment the meter's clock tells, in UTC, where it lies close enough around the arrival; else None.

    A clock without an offset is local time in zone; of the two readings a
    local time has when daylight saving ends, the one nearer the arrival is
    the meter's. Only a clock that states its offset is taken from a late
    delivery.
    """
    moment = meter_clock(arrival, clock, zone)
    if clock is None or moment is None:
        return None
    late = LOCAL_CLOCK_LATE if clock.tzinfo is None else LATE_DELIVERY
    return moment if arrival - late <= moment <= arrival + CLOCK_AHEAD else None


def told_again(register: float, clock: datetime | None, last: float, last_clock: datetime | None) -> bool:
    """Whether a register is the last one told again: the same count, by a meter clock that did not tick.

    A list a broker kept, handed over again an hour later, placed by its
    arrival would be the register at the next hour, and would make the
    count look younger than it is. A clock that stands still or went back
    while the count moved is only a damaged clock.
    """
    if register != last or clock is None or last_clock is None:
        return False
    if (clock.tzinfo is None) != (last_clock.tzinfo is None):
        return False
    return clock <= last_clock


def wall_clock(clock: datetime | None, zone: tzinfo, *, standard_time: bool) -> datetime | None:
    """Return a clock without an offset as the zone's wall time: one that keeps standard time all year, moved to it.

    Such a clock (Kamstrup's) reads an hour behind the wall in summer: read
    as wall time, it would lie an hour behind every list it stamps.
    """
    if clock is None or clock.tzinfo is not None or not standard_time:
        return clock
    return standard_time_in_utc(clock, zone).astimezone(zone).replace(tzinfo=None)


def standard_time_in_utc(clock: datetime, zone: tzinfo) -> datetime:
    """Return the moment a clock that keeps the zone's standard time all year tells, in UTC: one, never two."""
    # The year's lesser offset, winter's: not utcoffset() - dst(), as tzdata gives Ireland's summer time as
    # its standard time, and winter a negative saving.
    offsets = (datetime(clock.year, month, 1, tzinfo=zone).utcoffset() or timedelta(0) for month in (1, 7))
    return clock.replace(tzinfo=timezone(min(offsets))).astimezone(UTC)


def meter_clock(arrival: datetime, clock: datetime | None, zone: tzinfo) -> datetime | None:
    """Return the moment a meter's clock tells, in UTC, however far off; None where the telegram carries none.

    A clock without an offset is local time in zone; of the two readings a
    local time has when daylight saving ends, the one nearer the arrival is
    the meter's.
    """
    if clock is None:
        return None
    if clock.tzinfo is None:
        local = (clock.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
        clock = min(local, key=lambda candidate: abs(candidate - arrival))
    return clock.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Boundary:
    """The register at an hour boundary, and the energy summed up to it (Wh)."""

    at: datetime
    register: float
    sum: float
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class MeterHour:
    """One hour's energy, as the statistic gets it."""

    start: datetime
    used: float
    register: float
    """The register at the hour's end (Wh)."""
    sum: float
    """Energy summed over every hour so far, this one included (Wh)."""
    estimated: bool


@dataclass(frozen=True, slots=True)
class _Push:
    at: datetime
    register: float
    clock: datetime | None = None
    """The meter's own clock on the register, where its telegram carried one."""


class HourBook:
    """One register's hours: closes each hour once, in order, and never goes back.

    The anchor is the last closed boundary; after a restart it comes from the
    recorder's last statistic, so the sum goes on where it stood.
    """

    def __init__(self, anchor: Boundary | None = None, *, sum_before: float = 0.0) -> None:
        """Start from the last boundary known, or from nothing.

        Without a boundary, the first one closed starts the sum at sum_before:
        where a statistic stands that has a sum and no register (history
        imported by hand), so that the sum never starts over.
        """
        self.anchor = anchor
        self._sum_before = sum_before
        self._last: _Push | None = None

    def add(self, register: float, at: datetime, clock: datetime | None = None) -> list[MeterHour]:
        """Take a register read at a moment (UTC), by the meter's clock; return the hours it closes, oldest first.

        A register read no later than the last one (a list sent twice, one
        delivered out of order), or the last one told again (see told_again),
        closes nothing: an hour is never written twice with different figures.
        """
        previous = self._last or (_Push(self.anchor.at, self.anchor.register) if self.anchor else None)
        if previous is not None and (at <= previous.at or self._told_again(previous, register, clock)):
            return []
        push = _Push(at, register, clock)
        boundary = hour_of(at)
        exact = at - boundary <= BOUNDARY_TOLERANCE
        hours: list[MeterHour] = []
        if previous is not None and self.anchor is not None and previous.at - self.anchor.at >= HOUR:
            # Only a last read taken back over a restart lies an hour past the anchor: the hours it closed were
            # never written (lost in a power cut). Each gets its own row, up to it, never one row for all.
            anchor = _Push(self.anchor.at, self.anchor.register)
            crossed = self.anchor.at + HOUR
            while crossed <= previous.at:
                hours += self._close(crossed, _interpolated(anchor, previous, crossed), estimated=True)
                crossed += HOUR
        if previous is not None:
            # A register read just after a boundary is the one at it: boundaries before are interpolated up to there.
            after = _Push(boundary, register) if exact else push
            crossed = hour_of(previous.at) + HOUR
            while crossed < after.at:
                hours += self._close(crossed, _interpolated(previous, after, crossed), estimated=True)
                crossed += HOUR
        if exact:
            hours += self._close(boundary, register, estimated=False)
        self._last = push
        return hours

    def place(self, arrival: datetime, clock: datetime | None, zone: tzinfo) -> datetime | None:
        """Return when a register was read; None while it waits for the clocks to agree again.

        By the meter's clock where it agrees with the arrival (see
        agreeing_clock), else by the arrival; but where the meter's clock
        placed the last register and now lies hours from the arrival, one of
        the two clocks was stepped, and either may be the wrong one: a host
        without a real-time clock starts at the time it stopped and is set
        right minutes later, and a time server may step a running one. Placed
        by the host's clock, an hour would get the use of three, for good. The
        register waits instead (the hours in between are shared out once the
        clocks agree), until whichever clock stands nearer the last register
        says DISPUTE_LIMIT has passed: a host that starts at its shutdown waits
        however long it was off, and a meter's clock off for longer than that
        is the wrong one. A clock that drifts out of agreement is no step, nor
        is a list handed over again.
        """
        agreeing = agreeing_clock(arrival, clock, zone)
        if agreeing is not None:
            return agreeing
        last, moment = self._last, meter_clock(arrival, clock, zone)
        if last is None or last.clock != last.at or moment is None or clock is None:
            return arrival
        late = LOCAL_CLOCK_LATE if clock.tzinfo is None else LATE_DELIVERY
        stepped = moment > arrival + CLOCK_AHEAD + CLOCK_STEP or moment < arrival - late - CLOCK_STEP
        return None if stepped and last.at < moment and min(moment, arrival) <= last.at + DISPUTE_LIMIT else arrival

    @staticmethod
    def _told_again(previous: _Push, register: float, clock: datetime | None) -> bool:
        """Whether a register is the last one told again; only a clock that placed the last one can tell.

        A stuck clock placed nothing (the arrival did): with a count that
        does not move (no export at night), every list would look told again.
        """
        return previous.clock == previous.at and told_again(register, clock, previous.register, previous.clock)

    @property
    def last_read(self) -> tuple[datetime, float, datetime | None] | None:
        """When the last register taken was read, its value and the meter's clock on it: kept over a restart."""
        last = self._last
        return None if last is None else (last.at, last.register, last.clock)

    def resume(self, at: datetime, register: float, clock: datetime | None = None) -> None:
        """Take back the last register read before a restart (see last_read).

        Without it, the energy used before the restart would be spread from
        the anchor over the whole gap, and the list a broker kept would be
        taken again. One read before the anchor tells nothing new; one an hour
        or more after it says the hours between were closed and never written:
        the next register taken closes them again, interpolated (see add).
        """
        if self.anchor is not None and at >= self.anchor.at and (self._last is None or at > self._last.at):
            self._last = _Push(at, register, clock)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage: the last boundary (without its sum, which the recorder keeps) and the last read."""
        anchor, last = self.anchor, self.last_read
        return {
            "boundary": None
            if anchor is None
            else {"at": anchor.at.isoformat(), "register": anchor.register, "estimated": anchor.estimated},
            "last_read": None if last is None else read_as_dict(*last),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HourBook:
        """Take back a book that as_dict stored."""
        book = cls()
        if boundary := data.get("boundary"):
            at, register = datetime.fromisoformat(boundary["at"]), float(boundary["register"])
            book = cls(Boundary(at, register, 0.0, bool(boundary.get("estimated", False))))
        if last := data.get("last_read"):
            book.resume(*read_from_dict(last))
        return book

    def rebase(self, register: float) -> None:
        """Count on from a register that started a new sequence (a meter reset or swapped, as the guard followed).

        What was used between the last register and the new sequence is not
        known: the hour it falls in is marked estimated.
        """
        last = self._last.register if self._last else self.anchor.register if self.anchor else None
        if last is None:
            return
        change = register - last
        if self._last is not None:
            # A new sequence (another meter's, perhaps) has no agreement of clocks to lose.
            self._last = replace(self._last, register=register, clock=None)
        if self.anchor is not None:
            self.anchor = replace(self.anchor, register=self.anchor.register + change, estimated=True)

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: the registers kept were measured through the old one."""
        if self._last is not None:
            self._last = replace(self._last, register=self._last.register * factor)
        if self.anchor is not None:
            self.anchor = replace(self.anchor, register=self.anchor.register * factor)

    def _close(self, at: datetime, register: float, *, estimated: bool) -> list[MeterHour]:
        anchor = self.anchor
        if anchor is None:
            # The first boundary: the hour before it was not measured, and adds nothing to the sum.
            self.anchor = Boundary(at, register, self._sum_before, estimated)
            return [MeterHour(at - HOUR, 0.0, register, self._sum_before, estimated=True)]
        if at <= anchor.at:
            return []
        # The guard lets no total go down; one that did would be no use.
        used = max(register - anchor.register, 0.0)
        self.anchor = Boundary(at, register, anchor.sum + used, estimated)
        return [MeterHour(anchor.at, used, register, anchor.sum + used, estimated or anchor.estimated)]


def read_as_dict(at: datetime, register: float, clock: datetime | None) -> dict[str, Any]:
    """Return a book's last read (see HourBook.last_read) as plain data for storage."""
    return {"at": at.isoformat(), "register": register, "clock": clock.isoformat() if clock else None}


def read_from_dict(read: Mapping[str, Any]) -> tuple[datetime, float, datetime | None]:
    """Take back a last read that read_as_dict stored."""
    clock = read.get("clock")
    return datetime.fromisoformat(read["at"]), float(read["register"]), datetime.fromisoformat(clock) if clock else None


def _interpolated(before: _Push, after: _Push, at: datetime) -> float:
    """Estimate the register at a moment between two pushes, as if the power between them had been even."""
    share = (at - before.at) / (after.at - before.at)
    return before.register + (after.register - before.register) * share
