"""Energy between the meter's registers, and the guard over its totals: live energy, the power envelope.

Pure logic, no Home Assistant: the coordinator feeds it power and registers,
sensors read it, and its state is plain data that a Store keeps over restarts.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from .hours import LATE_DELIVERY, told_again

if TYPE_CHECKING:
    from .decoder import Code

# A total that goes down, or grows faster than this meter's power could carry,
# is held; this many telegrams growing plausibly from the new value on prove a
# new sequence (a meter swapped or reset, a register whose resolution changed).
NEW_SEQUENCE_TELEGRAMS = 3
# Home Assistant's statistics take a total that falls below this share of the
# last one as a new meter cycle; a smaller fall they book as negative use, so
# the guard follows only falls this deep (a reset, a register rescaled).
NEW_CYCLE_BELOW = 0.9
# What a household may draw before its meter has shown as much: 3 x 16 A at
# 230 V, the smallest common three-phase main fuse in the Nordics (behind
# current transformers, times their ratio). More must be shown first.
UNPROVEN_POWER = 11_000.0
# Headroom over the highest power a meter has sustained: loads switch on
# between two readings, and a register sums all they drew.
POWER_MARGIN = 2.0
# Readings above the envelope, in a row and each within POWER_MARGIN of the
# one before, that prove the meter really draws more (a car charging, a new
# heat pump) rather than a damaged value.
POWER_CONFIRMATIONS = 3
# Clocks and telegrams that cross the hour: slack for a total's growth.
_GROWTH_SLACK = timedelta(minutes=1)
# How much longer than their arrivals say the meter's clock may make the time between two totals.
CLOCK_TRUST = timedelta(minutes=10)
# Accepted totals whose clocks tell how far ahead of their arrival the meter's clock runs when nothing is late.
LEADS_KEPT = 32
# Two totals delivered as they were stamped: their clocks and arrivals agree on the time between them this closely.
IN_STEP = timedelta(seconds=30)
# Totals closer than this (Wh) are one: far below any register's resolution, far above a float's rounding.
_SAME_TOTAL = 1e-3
# A total this little (Wh or varh, times the current-transformer ratio) below the last is the same count,
# rounded otherwise: the coarsest resolution meters count their registers in (Kamstrup's 0.01 kWh).
ROUNDING_FALL = 10.0


@dataclass
class LiveEnergy:
    """A total that follows power between the meter's registers and never goes back.

    Power is integrated with the trapezoid rule; each register re-anchors the
    estimate. If the estimate ran ahead of the register, the published total
    holds until the register catches up, so the Energy dashboard never sees a
    decrease.
    """

    register: float | None = None
    estimate: float | None = None
    published: float | None = None
    power: float | None = None
    power_at: datetime | None = None

    def add_power(self, watts: float, when: datetime, max_gap: timedelta) -> None:
        """Integrate power from the last reading to this one, unless they lie further apart than max_gap.

        A longer gap means the meter or the connection was away, and the next register will tell (the reader
        passes three push intervals, at least 30 s).
        """
        if self.power is not None and self.power_at is not None and self.estimate is not None:
            gap = when - self.power_at
            if timedelta(0) < gap <= max_gap:
                self.estimate += (self.power + watts) / 2 * gap.total_seconds() / 3600
                self.published = max(self.published or 0.0, self.estimate)
        if self.power_at is None or when >= self.power_at:
            self.power, self.power_at = watts, when

    def add_register(self, watt_hours: float) -> None:
        """Re-anchor on the meter's own total, where it tells something new.

        A total no higher than the last one anchored on tells nothing new: the
        same list delivered again (a retained message, a redelivery), or a
        count too coarse to have moved. Re-anchored on, it would pull the
        estimate back to when it was read, and live energy would stand still
        until power made up the difference.
        """
        if self.register is not None and watt_hours <= self.register:
            return
        self.register = watt_hours
        self.estimate = watt_hours
        self.published = max(self.published or watt_hours, watt_hours)

    def hold_at_least(self, watt_hours: float) -> None:
        """Never publish less than a total shown before; the estimate goes on, and passes it in time."""
        if math.isfinite(watt_hours) and (self.published is None or watt_hours > self.published):
            self.published = watt_hours

    def reset(self, watt_hours: float) -> None:
        """Start again from a register that went down: the meter was reset or swapped."""
        self.register = self.estimate = self.published = watt_hours

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: every figure kept was measured through it."""
        for name in ("register", "estimate", "published", "power"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value * factor)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return {
            "register": self.register,
            "estimate": self.estimate,
            "published": self.published,
            "power": self.power,
            "power_at": self.power_at.isoformat() if self.power_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveEnergy:
        """Rebuild from storage."""
        power_at = data.get("power_at")
        return cls(
            register=data.get("register"),
            estimate=data.get("estimate"),
            published=data.get("published"),
            power=data.get("power"),
            power_at=datetime.fromisoformat(power_at) if power_at else None,
        )


@dataclass
class PowerEnvelope:
    """The most power this meter can carry, learned from what it has shown.

    A reading widens the envelope only once POWER_CONFIRMATIONS readings of
    its register in a row, it among them, sustain it, so neither a lone spike
    nor two lies in a row near its top do; readings above the envelope are
    taken only when POWER_CONFIRMATIONS of them in a row agree. Totals may
    grow, and live energy may integrate, only inside it.
    """

    floor: float = UNPROVEN_POWER
    highest: float = 0.0
    """The highest power sustained over POWER_CONFIRMATIONS readings in a row (W)."""
    _recent: dict[Code, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _above: dict[Code, list[float]] = field(default_factory=dict, init=False, repr=False)

    @property
    def ceiling(self) -> float:
        """The most power the meter could carry now (W)."""
        return max(self.highest * POWER_MARGIN, self.floor)

    def admit(self, register: Code, watts: float) -> bool:
        """Whether a power reading is the meter's own: inside the envelope, or confirmed above it."""
        if not math.isfinite(watts):
            return False
        size = abs(watts)
        if size <= self.ceiling:
            self._above.pop(register, None)
            self._sustain(register, size)
            return True
        run = self._above.setdefault(register, [])
        if run and not run[-1] / POWER_MARGIN <= size <= run[-1] * POWER_MARGIN:
            run.clear()
        run.append(size)
        if len(run) < POWER_CONFIRMATIONS:
            return False
        # The meter draws at least the least of the run.
        self.highest = max(self.highest, min(run))
        del self._above[register]
        self._recent[register] = deque(run, maxlen=POWER_CONFIRMATIONS)
        return True

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio."""
        self.highest *= factor
        for register, recent in self._recent.items():
            self._recent[register] = deque((size * factor for size in recent), maxlen=POWER_CONFIRMATIONS)

    def _sustain(self, register: Code, size: float) -> None:
        recent = self._recent.setdefault(register, deque(maxlen=POWER_CONFIRMATIONS))
        recent.append(size)
        if len(recent) == POWER_CONFIRMATIONS:
            self.highest = max(self.highest, min(recent))


class Verdict(Enum):
    """What the guard makes of a total."""

    ACCEPTED = auto()
    HELD_NEW = auto()
    """Refused, and the first of a sequence that does not follow on."""
    HELD = auto()
    RESUMED = auto()
    """Refused, and follows on from the sequence the refused total before it interrupted (a damaged one)."""
    FOLLOWED = auto()
    """The new sequence proved itself: the total starts again from here."""


def _lead(when: datetime, clock: datetime | None) -> timedelta | None:
    """How far ahead of a total's arrival a clock that states its offset stamped it; None for another clock."""
    if clock is None or clock.tzinfo is None:
        return None
    return timedelta(seconds=clock.timestamp() - when.timestamp())


@dataclass(slots=True)
class ClockLead:
    """How far ahead of Home Assistant's a meter's clock runs, by the totals it stamped that were accepted.

    A total delivered late is stamped further behind its arrival; the
    furthest ahead of the latest is one delivered at once (an honest clock
    may run ahead by an hour: daylight saving got wrong, or local time beside
    an offset of 0). Only a clock that states its offset tells, and only of
    a register's first total or one whose clock and arrival agree on the
    time since the one before (one telegram's clock that lies far ahead, its
    total plausible, tells nothing). What is learned is kept over a restart.
    One behind Home Assistant's, or not yet seen delivered as stamped (a new
    entry, or a bridge's burst before any total came at once), is taken as
    in step.
    """

    leads: deque[timedelta] = field(default_factory=lambda: deque(maxlen=LEADS_KEPT))

    def add(self, previous: _Mark | None, when: datetime, clock: datetime | None) -> None:
        """Take an accepted total's arrival and clock, and the total accepted before it."""
        if (lead := _lead(when, clock)) is None:
            return
        ticked = None if previous is None else previous.ticked_until(clock)
        if previous is None or (ticked is not None and abs(ticked - (when - previous.when)) <= IN_STEP):
            self.leads.append(lead)

    @property
    def usual(self) -> timedelta:
        """The lead of a total delivered at once."""
        return max((*self.leads, timedelta(0)))

    def as_list(self) -> list[float]:
        """Return the leads learned, in seconds, for storage."""
        return [lead.total_seconds() for lead in self.leads]

    def restore(self, stored: object) -> None:
        """Take back the leads kept over a restart (a total delivered late just before it teaches none after it)."""
        if isinstance(stored, list):
            self.leads.extend(timedelta(seconds=seconds) for seconds in stored if isinstance(seconds, int | float))


@dataclass(frozen=True, slots=True)
class MeterTotal:
    """A total as the meter sent it: its value, its arrival, and the meter's clock where it had one."""

    value: float
    when: datetime
    clock: datetime | None


@dataclass(slots=True)
class _Mark:
    value: float
    when: datetime
    telegrams: int = 1
    clock: datetime | None = None
    """The meter's own clock, where its telegram carried one."""
    grew: bool = False
    """Whether the sequence this total ends has grown since its first (a register stuck at one value has not)."""

    def followed_by(self, value: float, when: datetime, clock: datetime | None) -> _Mark:
        """Return the mark of a total that follows on from this one, one telegram further into its sequence."""
        return _Mark(value, when, self.telegrams + 1, clock, self.grew or value > self.value)

    def elapsed_until(self, when: datetime, clock: datetime | None, lead: timedelta) -> timedelta:
        """Time from this total to the next: by the meter's clock where both carry one and it ticked, else by arrival.

        A meter's clock tells the time between telegrams that a bridge or a
        broker delivered late or in a burst; one that stood still or went back
        (damaged, or local time over a change of daylight saving) is not taken.
        lead: how far ahead of their arrival the meter's clock stamps totals delivered at once (see ClockLead).
        """
        arrival = max(when - self.when, timedelta(0))
        ticked = self.ticked_until(clock)
        if ticked is None or ticked <= timedelta(0):
            return arrival
        previous_lead = _lead(self.when, self.clock)
        if previous_lead is not None:
            # Its clock tells how late this total came: the next may have come less late by as much, no more. More
            # is a clock from the future (one telegram's lie, its checksum held), never a delivery.
            ticked = min(ticked, arrival + max(lead - previous_lead, timedelta(0)))
        # Trusted over arrival only as far as a late or bursting delivery explains, never for years.
        return min(ticked, arrival + CLOCK_TRUST)

    def ticked_until(self, clock: datetime | None) -> timedelta | None:
        """Time from this total to the next by the meter's clock (negative if it went back); None without two clocks."""
        if clock is None or self.clock is None or (clock.tzinfo is None) != (self.clock.tzinfo is None):
            return None
        # Aware times are compared as instants: one zone's wall clock skips an hour in spring.
        if clock.tzinfo is None:
            return clock - self.clock
        return timedelta(seconds=clock.timestamp() - self.clock.timestamp())

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return {
            "value": self.value,
            "when": self.when.isoformat(),
            "telegrams": self.telegrams,
            "clock": None if self.clock is None else self.clock.isoformat(),
            "grew": self.grew,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], scale: float) -> _Mark:
        """Take back a mark as stored, its value times scale (a changed current-transformer ratio)."""
        clock = data.get("clock")
        return cls(
            float(data["value"]) * scale,
            datetime.fromisoformat(data["when"]),
            int(data.get("telegrams", 1)),
            None if clock is None else datetime.fromisoformat(clock),
            bool(data.get("grew", False)),
        )


def is_new_cycle(previous: float, value: float) -> bool:
    """Whether a total fell far enough from the last for Home Assistant's statistics to count a new meter cycle."""
    return value < previous * NEW_CYCLE_BELOW


class TotalGuard:
    """Energy totals that never go down or jump, and never freeze either.

    A total must grow, and no faster than this meter's power envelope could
    carry over the time between the two totals. One that does not is held;
    if it fell to a new meter cycle and the totals after it grow plausibly
    from it on, for NEW_SEQUENCE_TELEGRAMS telegrams in a row, the meter
    really started again (reset) and the guard follows it. A smaller fall is
    held until the meter's count passes the total shown. A total that jumped up is never
    followed by itself, however plausibly it grows on: the Energy dashboard
    would count the jump as use, so only the user may take it (a repair). One
    total that follows on from nothing (damaged) costs itself alone: the
    totals after it may take up the sequence it interrupted.
    """

    def __init__(self, envelope: PowerEnvelope, rounding: float = ROUNDING_FALL) -> None:
        """Guard totals against growth faster than the envelope's ceiling; rounding: see same_count."""
        self._envelope = envelope
        self._rounding = rounding
        # Registers the meter sent since the guard began: a total from before, told after, is old news.
        self._sent: set[Code] = set()
        self._accepted: dict[Code, _Mark] = {}
        self._candidates: dict[Code, _Mark] = {}
        # The sequence a total that followed on from nothing interrupted: one damaged total costs itself alone.
        self._interrupted: dict[Code, _Mark] = {}
        self.lead = ClockLead()
        """How far ahead the meter's clock runs, kept over a restart."""

    def sent(self, register: Code) -> bool:
        """Whether the meter sent a register since the guard began."""
        return register in self._sent

    def last(self, register: Code) -> float | None:
        """Return the last accepted total of a register."""
        known = self._accepted.get(register)
        return None if known is None else known.value

    @property
    def held(self) -> list[Code]:
        """Registers whose latest totals are being held."""
        return list(self._candidates)

    def seed(self, register: Code, value: float, when: datetime, clock: datetime | None = None) -> None:
        """Take a total known from before a restart (and the meter's clock on it), unless one as high is known.

        A sensor's state in kWh comes back a hair off the Wh it was written
        from: the same total, which must not make the known one younger. One
        told after the meter sent the register (read back late) is old news:
        the meter's count may have started anew since.
        """
        known = self._accepted.get(register)
        if register in self._sent:
            return
        if math.isfinite(value) and (known is None or value > known.value + _SAME_TOTAL):
            self._accepted[register] = _Mark(value, when, clock=clock)

    def as_list(self) -> list[dict[str, Any]]:
        """Return the last accepted totals and when they came, as plain data for storage."""
        return [{"register": list(register), **mark.as_dict()} for register, mark in self._accepted.items()]

    def restore(self, totals: list[dict[str, Any]], scale: float = 1.0) -> None:
        """Take back the last accepted totals as stored, times scale (a changed current-transformer ratio).

        The time a total came matters as much as its value: the next one may
        grow by what the meter's power carries over the time between them. A
        restored sensor state cannot tell it, as it is written again at each
        start.
        """
        for total in totals:
            if total.get("held"):  # kept here for a while before held totals were kept apart: never accepted
                continue
            register = (int(total["register"][0]), int(total["register"][1]), int(total["register"][2]))
            mark = _Mark.from_dict(total, scale)
            self.seed(register, mark.value, mark.when, mark.clock)

    def held_total(self, register: Code) -> float | None:
        """Return a register's held total, None if none is held."""
        candidate = self._candidates.get(register)
        return None if candidate is None else candidate.value

    def held_as_dict(self, register: Code) -> dict[str, Any] | None:
        """Return a register's held total as plain data for storage, None if none is held."""
        candidate = self._candidates.get(register)
        return None if candidate is None else candidate.as_dict()

    def restore_held(self, register: Code, held: dict[str, Any], scale: float = 1.0) -> None:
        """Hold a total again as stored (see held_as_dict), times scale: the user may still be asked about it."""
        self._candidates[register] = _Mark.from_dict(held, scale)

    def same_count(self, register: Code, value: float) -> float:
        """Return the total to take for value: the last accepted, where value is no more than a rounding below it.

        A count rounded otherwise (two lists of one meter, at two resolutions)
        is no fall: held, it would cost the hour its register and, after a
        while, ask the user about a few Wh.
        """
        known = self._accepted.get(register)
        if known is not None and known.value - self._rounding <= value < known.value:
            return known.value
        return value

    def check(self, register: Code, value: float, when: datetime, clock: datetime | None = None) -> Verdict:
        """Judge a new total, and remember it if it is accepted or followed.

        when is its arrival; clock the meter's own time, where the telegram carried one.
        """
        self._sent.add(register)
        if not math.isfinite(value) or value < 0:
            return Verdict.HELD
        known = self._accepted.get(register)
        if known is None or (
            self._follows(known, value, when, clock) and not self._goes_on_a_jump(register, known, value, when, clock)
        ):
            # A total told again must not make the count look younger: the next one's growth would look instant.
            if known is None or not told_again(value, clock, known.value, known.clock):
                self._accepted[register] = _Mark(value, when, clock=clock)
                self.lead.add(known, when, clock)
            self._candidates.pop(register, None)
            self._interrupted.pop(register, None)
            return Verdict.ACCEPTED
        candidate = self._candidates.get(register)
        interrupted = self._interrupted.get(register)
        verdict = Verdict.HELD
        if candidate is not None and self._follows(candidate, value, when, clock):
            candidate = candidate.followed_by(value, when, clock)
        elif interrupted is not None and self._follows(interrupted, value, when, clock):
            candidate, verdict = interrupted.followed_by(value, when, clock), Verdict.RESUMED
            del self._interrupted[register]
        else:
            if candidate is not None:
                self._interrupted[register] = candidate
            candidate, verdict = _Mark(value, when, clock=clock), Verdict.HELD_NEW
        if candidate.telegrams >= NEW_SEQUENCE_TELEGRAMS and candidate.grew and is_new_cycle(known.value, value):
            self._accepted[register] = _Mark(value, when, clock=clock)
            self._candidates.pop(register, None)
            self._interrupted.pop(register, None)
            return Verdict.FOLLOWED
        self._candidates[register] = candidate
        return verdict

    def _goes_on_a_jump(
        self, register: Code, known: _Mark, value: float, when: datetime, clock: datetime | None
    ) -> bool:
        """Whether a total goes on from a held jump: given time, it also grows on plausibly from the last accepted.

        It is still the jumped count, only the user's to take: every total
        that goes on from it is held with it.
        """
        held = (self._candidates.get(register), self._interrupted.get(register))
        return any(
            mark is not None and mark.value > known.value and self._follows(mark, value, when, clock) for mark in held
        )

    def follow_held(self, register: Code) -> MeterTotal | None:
        """Take a register's held total as the meter's at once (the user said so); None if none is held."""
        candidate = self._candidates.pop(register, None)
        if candidate is None:
            return None
        self._interrupted.pop(register, None)
        self._accepted[register] = _Mark(candidate.value, candidate.when, clock=candidate.clock)
        return MeterTotal(candidate.value, candidate.when, candidate.clock)

    def forget(self) -> None:
        """Start afresh: another meter is sending (its clock too)."""
        self._accepted.clear()
        self._candidates.clear()
        self._interrupted.clear()
        self.lead.leads.clear()

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio."""
        for mark in (*self._accepted.values(), *self._candidates.values(), *self._interrupted.values()):
            mark.value *= factor

    def told_before(self, register: Code, value: float, clock: datetime | None) -> bool:
        """Whether a total below the last accepted is an earlier one, handed over late: the meter's clock says so.

        A bridge may send the lists it kept again on every connection, after
        the meter's later ones were read (or stored before a restart). The
        clock puts such a total before the last, at most LATE_DELIVERY back,
        and the count then was lower by no more than the meter's power could
        count meanwhile: not a fall, and nothing to hold or ask about. A count
        begun anew (a reset) is no earlier total, whatever its clock says.
        """
        last = self._accepted.get(register)
        back = None if last is None else last.ticked_until(clock)
        if last is None or back is None or not -LATE_DELIVERY <= back < timedelta(0):
            return False
        if value >= last.value - self._rounding:
            return False  # the same count (see same_count), whatever its stamp: the list may be current
        could_count = self._envelope.ceiling * (_GROWTH_SLACK - back).total_seconds() / 3600
        return last.value - value <= could_count and not is_new_cycle(last.value, value)

    def _follows(self, previous: _Mark, value: float, when: datetime, clock: datetime | None) -> bool:
        """Whether value can follow previous: not lower, and grown no faster than the meter's power could carry."""
        elapsed = previous.elapsed_until(when, clock, self.lead.usual) + _GROWTH_SLACK
        return previous.value <= value <= previous.value + self._envelope.ceiling * elapsed.total_seconds() / 3600
