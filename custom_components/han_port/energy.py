"""Energy between the hourly registers, hourly use and the capacity tariff.

Pure logic, no Home Assistant: the coordinator feeds it power and registers,
sensors read it, and its state is plain data that a Store keeps over restarts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .decoder import Code

HOUR = timedelta(hours=1)
# Most Norwegian grid companies' capacity steps, in kWh/h.
DEFAULT_THRESHOLDS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
DEFAULT_PEAK_DAYS = 3
# A gap longer than this between power readings is not integrated: the meter
# or the connection was away, and the next register will tell. The reader
# passes its own, shorter limit: three push intervals (at least 30 s).
MAX_GAP = timedelta(minutes=5)
# A total that goes down, or grows faster than this meter's power could carry,
# is held; this many telegrams growing plausibly from the new value on prove a
# new sequence (a meter swapped or reset, a register whose resolution changed).
NEW_SEQUENCE_TELEGRAMS = 3
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
# How long after the hour a register still tells the total at the hour's start.
CORRECTION_WINDOW = timedelta(seconds=90)


def _hour_of(moment: datetime) -> datetime:
    """Return the start of the hour a moment falls in (UTC; Nordic offsets are whole hours)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


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

    def add_power(self, watts: float, when: datetime, max_gap: timedelta = MAX_GAP) -> None:
        """Integrate power from the last reading to this one, unless they lie further apart than max_gap."""
        if self.power is not None and self.power_at is not None and self.estimate is not None:
            gap = when - self.power_at
            if timedelta(0) < gap <= max_gap:
                self.estimate += (self.power + watts) / 2 * gap.total_seconds() / 3600
                self.published = max(self.published or 0.0, self.estimate)
        if self.power_at is None or when >= self.power_at:
            self.power, self.power_at = watts, when

    def add_register(self, watt_hours: float) -> None:
        """Re-anchor on the meter's own total."""
        self.register = watt_hours
        self.estimate = watt_hours
        self.published = max(self.published or watt_hours, watt_hours)

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
class CapacityTariff:
    """Hourly use and the monthly capacity figure (kapasitetsledd) from a live total."""

    time_zone: tzinfo
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    peak_days: int = DEFAULT_PEAK_DAYS
    hour_start: datetime | None = None
    hour_start_total: float | None = None
    last_hour_use: float | None = None
    hours: dict[str, float] = field(default_factory=dict)
    """Completed hours of the current month: UTC hour start -> Wh used."""
    corrected_hour: datetime | None = None

    def update(self, total: float, when: datetime) -> None:
        """Follow the live total; close the hour when a new one has begun."""
        hour = _hour_of(when)
        if self.hour_start is None or self.hour_start_total is None:
            self.hour_start, self.hour_start_total = hour, total
            return
        if hour <= self.hour_start:
            return
        # Use measured in the hours since the last reading goes to the hour it
        # started in; a gap of several hours (Home Assistant was off) is one
        # hour's worth only if it was one hour.
        if hour - self.hour_start == HOUR:
            self._close(self.hour_start, total - self.hour_start_total)
        self.hour_start, self.hour_start_total = hour, total

    def correct_last_hour(self, register: float, when: datetime) -> None:
        """Take a register pushed just after the hour as the exact total at the hour's start.

        Norwegian meters push the hourly register a few seconds after the hour;
        meters that send registers all the time correct the hour once, with the
        first register of the hour.
        """
        hour = _hour_of(when)
        if self.hour_start_total is None or when - hour > CORRECTION_WINDOW or self.corrected_hour == hour:
            return
        if self.hour_start == hour - HOUR:
            # The register is the hour's first telegram: it closes the last hour exactly.
            self.corrected_hour = hour
            self._close(hour - HOUR, register - self.hour_start_total)
            self.hour_start, self.hour_start_total = hour, register
            return
        if self.hour_start != hour:
            return
        self.corrected_hour = hour
        previous = hour - HOUR
        key = previous.isoformat()
        if key in self.hours:
            used = self.hours[key] + (register - self.hour_start_total)
            self.hours[key] = max(used, 0.0)
            self.last_hour_use = self.hours[key]
        self.hour_start_total = register

    def scale_total(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: the hour's starting total was measured through it."""
        if self.hour_start_total is not None:
            self.hour_start_total *= factor

    def drop_hour(self) -> None:
        """Leave the hour in progress uncounted: it was measured by a meter that is gone, and one that just came."""
        self.hour_start = self.hour_start_total = None

    def rebase(self, change: float) -> None:
        """Move the hour's starting total with the live total: a reset is not use."""
        if self.hour_start_total is not None:
            self.hour_start_total += change

    def _close(self, start: datetime, used: float) -> None:
        month = self._local_date(start).strftime("%Y-%m")
        # A new month starts at local midnight: the old month's hours are billed and gone.
        self.hours = {key: value for key, value in self.hours.items() if self._month_of(key) == month}
        self.hours[start.isoformat()] = max(used, 0.0)
        self.last_hour_use = self.hours[start.isoformat()]

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.time_zone).date()

    def _month_of(self, key: str) -> str:
        return self._local_date(datetime.fromisoformat(key)).strftime("%Y-%m")

    def current_hour_use(self, total: float | None) -> float | None:
        """Wh used so far in the current hour."""
        if total is None or self.hour_start_total is None:
            return None
        return max(total - self.hour_start_total, 0.0)

    def projected_hour_use(self, total: float | None, power: float | None, now: datetime) -> float | None:
        """Project the current hour's use if the present power holds to its end (Wh)."""
        used = self.current_hour_use(total)
        if used is None or power is None:
            return None
        remaining = (_hour_of(now) + HOUR - now).total_seconds() / 3600
        return used + max(power, 0.0) * remaining

    def daily_peaks(self, now: datetime) -> dict[date, float]:
        """Return the highest hourly use of each day of the current month (Wh)."""
        month = self._local_date(now).strftime("%Y-%m")
        peaks: dict[date, float] = {}
        for key, used in self.hours.items():
            day = self._local_date(datetime.fromisoformat(key))
            if day.strftime("%Y-%m") == month:
                peaks[day] = max(peaks.get(day, 0.0), used)
        return peaks

    def peak_today(self, now: datetime) -> float | None:
        """Today's highest completed hour (Wh)."""
        return self.daily_peaks(now).get(self._local_date(now))

    def monthly_average(self, now: datetime) -> float | None:
        """Average the month's highest days: the figure the capacity charge is billed on (Wh)."""
        peaks = sorted(self.daily_peaks(now).values(), reverse=True)[: self.peak_days]
        return sum(peaks) / len(peaks) if peaks else None

    def step(self, now: datetime) -> str | None:
        """Name the capacity step the month's average falls in, as "5-10 kWh"."""
        average = self.monthly_average(now)
        if average is None:
            return None
        return step_label(average / 1000, self.thresholds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return {
            "hour_start": self.hour_start.isoformat() if self.hour_start else None,
            "hour_start_total": self.hour_start_total,
            "last_hour_use": self.last_hour_use,
            "hours": dict(self.hours),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back what storage kept."""
        hour_start = data.get("hour_start")
        self.hour_start = datetime.fromisoformat(hour_start) if hour_start else None
        self.hour_start_total = data.get("hour_start_total")
        self.last_hour_use = data.get("last_hour_use")
        self.hours = dict(data.get("hours", {}))


@dataclass
class PowerEnvelope:
    """The most power this meter can carry, learned from what it has shown.

    A reading widens the envelope only once the next reading of its register
    sustains it, so a lone spike never does; readings above the envelope are
    taken only when POWER_CONFIRMATIONS of them in a row agree. Totals may
    grow, and live energy may integrate, only inside it.
    """

    floor: float = UNPROVEN_POWER
    highest: float = 0.0
    """The highest power sustained over two readings in a row (W)."""
    _last: dict[Code, float] = field(default_factory=dict, init=False, repr=False)
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
        self._last[register] = size
        return True

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio."""
        self.highest *= factor

    def _sustain(self, register: Code, size: float) -> None:
        last = self._last.get(register)
        if last is not None:
            self.highest = max(self.highest, min(last, size))
        self._last[register] = size


class Verdict(Enum):
    """What the guard makes of a total."""

    ACCEPTED = auto()
    HELD_NEW = auto()
    """Refused, and the first of a sequence that does not follow on."""
    HELD = auto()
    FOLLOWED = auto()
    """The new sequence proved itself: the total starts again from here."""


@dataclass(slots=True)
class _Mark:
    value: float
    when: datetime
    telegrams: int = 1
    clock: datetime | None = None
    """The meter's own clock, where its telegram carried one."""

    def elapsed_until(self, when: datetime, clock: datetime | None) -> timedelta:
        """Time from this total to the next: by the meter's clock where both carry one and it ticked, else by arrival.

        A meter's clock tells the time between telegrams that a bridge or a
        broker delivered late or in a burst; one that stood still or went back
        (damaged, or local time over a change of daylight saving) is not taken.
        """
        arrival = max(when - self.when, timedelta(0))
        if clock is None or self.clock is None or (clock.tzinfo is None) != (self.clock.tzinfo is None):
            return arrival
        # Aware times are compared as instants: one zone's wall clock skips an hour in spring.
        ticked = (
            clock - self.clock
            if clock.tzinfo is None
            else timedelta(seconds=clock.timestamp() - self.clock.timestamp())
        )
        if ticked <= timedelta(0):
            return arrival
        # Trusted over arrival only as far as a late or bursting delivery explains, never for years.
        return min(ticked, arrival + CLOCK_TRUST)


class TotalGuard:
    """Energy totals that never go down or jump, and never freeze either.

    A total must grow, and no faster than this meter's power envelope could
    carry over the time between the two totals. One that does not is held;
    if it went down and the totals after it grow plausibly from it on, for
    NEW_SEQUENCE_TELEGRAMS telegrams in a row, the meter really started
    again (reset) and the guard follows it. A total that jumped up is never
    followed by itself, however plausibly it grows on: the Energy dashboard
    would count the jump as use, so only the user may take it (a repair).
    """

    def __init__(self, envelope: PowerEnvelope) -> None:
        """Guard totals against growth faster than the envelope's ceiling."""
        self._envelope = envelope
        self._accepted: dict[Code, _Mark] = {}
        self._candidates: dict[Code, _Mark] = {}

    def last(self, register: Code) -> float | None:
        """Return the last accepted total of a register."""
        known = self._accepted.get(register)
        return None if known is None else known.value

    @property
    def held(self) -> list[Code]:
        """Registers whose latest totals are being held."""
        return list(self._candidates)

    def seed(self, register: Code, value: float, when: datetime) -> None:
        """Take a total known from before a restart, unless a higher one is known already."""
        known = self._accepted.get(register)
        if math.isfinite(value) and (known is None or value > known.value):
            self._accepted[register] = _Mark(value, when)

    def check(self, register: Code, value: float, when: datetime, clock: datetime | None = None) -> Verdict:
        """Judge a new total, and remember it if it is accepted or followed.

        when is its arrival; clock the meter's own time, where the telegram carried one.
        """
        if not math.isfinite(value) or value < 0:
            return Verdict.HELD
        known = self._accepted.get(register)
        if known is None or self._follows(known, value, when, clock):
            self._accepted[register] = _Mark(value, when, clock=clock)
            self._candidates.pop(register, None)
            return Verdict.ACCEPTED
        candidate = self._candidates.get(register)
        if candidate is not None and self._follows(candidate, value, when, clock):
            candidate = _Mark(value, when, candidate.telegrams + 1, clock)
        else:
            candidate = _Mark(value, when, clock=clock)
        if candidate.telegrams >= NEW_SEQUENCE_TELEGRAMS and value < known.value:
            self._accepted[register] = _Mark(value, when, clock=clock)
            del self._candidates[register]
            return Verdict.FOLLOWED
        self._candidates[register] = candidate
        return Verdict.HELD_NEW if candidate.telegrams == 1 else Verdict.HELD

    def follow_held(self, register: Code) -> float | None:
        """Take a register's held total as the meter's at once (the user said so); None if none is held."""
        candidate = self._candidates.pop(register, None)
        if candidate is None:
            return None
        self._accepted[register] = _Mark(candidate.value, candidate.when, clock=candidate.clock)
        return candidate.value

    def forget(self) -> None:
        """Start afresh: another meter is sending."""
        self._accepted.clear()
        self._candidates.clear()

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio."""
        for mark in (*self._accepted.values(), *self._candidates.values()):
            mark.value *= factor

    def _follows(self, previous: _Mark, value: float, when: datetime, clock: datetime | None) -> bool:
        """Whether value can follow previous: not lower, and grown no faster than the meter's power could carry."""
        elapsed = previous.elapsed_until(when, clock) + _GROWTH_SLACK
        return previous.value <= value <= previous.value + self._envelope.ceiling * elapsed.total_seconds() / 3600


def step_labels(thresholds: tuple[float, ...]) -> list[str]:
    """Label every step, lowest first: "0-2 kWh", ..., "100+ kWh"."""
    bounds = (0.0, *thresholds)
    labels = [f"{_number(low)}-{_number(high)} kWh" for low, high in zip(bounds, thresholds, strict=False)]
    return [*labels, f"{_number(thresholds[-1])}+ kWh"]


def step_label(kilowatt_hours: float, thresholds: tuple[float, ...]) -> str:
    """Label the step an hourly average (kWh/h) falls in."""
    labels = step_labels(thresholds)
    for index, threshold in enumerate(thresholds):
        if kilowatt_hours < threshold:
            return labels[index]
    return labels[-1]


def parse_thresholds(text: str) -> tuple[float, ...]:
    """Read "2, 5, 10" as rising thresholds; ValueError when they are not."""
    values = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    if not values or any(value <= 0 for value in values) or list(values) != sorted(set(values)):
        msg = "thresholds must be positive and rising"
        raise ValueError(msg)
    return values


def format_thresholds(thresholds: tuple[float, ...]) -> str:
    """Write thresholds as users type them: "2, 5, 10"."""
    return ", ".join(_number(value) for value in thresholds)


def _number(value: float) -> str:
    return f"{value:g}"
