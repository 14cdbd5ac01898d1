"""The capacity tariff (kapasitetsledd): the month's peak hours from the meter's exact hours.

Pure logic, no Home Assistant. An hour counts only when the import register
closed it exactly, at both of its boundaries (hours.HourBook): an hour Home
Assistant missed, or was set up in the middle of, is never a peak, and no
hour is counted twice. The hour in progress is followed with the live total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from .hours import BOUNDARY_TOLERANCE, HOUR, HourBook, hour_of

if TYPE_CHECKING:
    from collections.abc import Collection

# Most Norwegian grid companies' capacity steps, in kWh/h.
DEFAULT_THRESHOLDS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
DEFAULT_PEAK_DAYS = 3
# Halvings of the search for the headroom: a fraction of a watt-hour.
_SEARCH_STEPS = 48
# Night, as Swedish grid companies that weigh night hours less count it (local hours).
_NIGHT_FROM, _NIGHT_UNTIL = 22, 6
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class PeakRule:
    """Which hours a grid company bills its capacity (effekt) charge on, and how it weighs them."""

    one_per_day: bool = True
    """Each peak from a different day (Norway, Ellevio); else the month's highest hours, whatever their days."""
    first_hour: int = 0
    last_hour: int = 24
    """The local hours counted: from first_hour up to last_hour (7-19 for many Swedish companies)."""
    weekdays_only: bool = False
    """Only Monday to Friday count (public holidays are not known here, and count)."""
    night_weight: float = 1.0
    """How much an hour between 22 and 06 counts (Ellevio: half)."""

    def weight(self, start: datetime) -> float:
        """How much the hour starting at start (local time) counts: 0 for one the charge leaves out."""
        if (self.weekdays_only and start.weekday() >= _SATURDAY) or not self.first_hour <= start.hour < self.last_hour:
            return 0.0
        return self.night_weight if start.hour >= _NIGHT_FROM or start.hour < _NIGHT_UNTIL else 1.0


CAPACITY_MODELS = {
    # The three highest days' peak hours (most Norwegian grid companies).
    "norway": PeakRule(),
    # The highest hours on different days, night hours at half (Ellevio, Sweden).
    "half_nights": PeakRule(night_weight=0.5),
    # The highest hours on weekdays 07-19, whatever their days (many Swedish companies).
    "weekday_daytime": PeakRule(one_per_day=False, first_hour=7, last_hour=19, weekdays_only=True),
    # The month's highest hours, whatever their days and times.
    "highest_hours": PeakRule(one_per_day=False),
}
"""The capacity charge's rules the options offer by name; the number of peaks averaged is an option of its own."""
DEFAULT_CAPACITY_MODEL = "norway"
CUSTOM_MODEL = "custom"
"""A rule of the user's own: the hours counted, weekdays only, the night's weight, one peak a day or not."""


def parse_hours(text: str) -> tuple[int, int]:
    """Read "7-19" as the local hours counted, from 7 up to 19; ValueError when it is not such a span."""
    first, _, last = text.replace(" ", "").partition("-")
    hours = (int(first), int(last))
    if not 0 <= hours[0] < hours[1] <= 24:  # noqa: PLR2004 - a day's hours
        msg = "hours must be a span within the day, as 7-19"
        raise ValueError(msg)
    return hours


def format_hours(first: int, last: int) -> str:
    """Write the hours counted as users type them: "7-19"."""
    return f"{first}-{last}"


@dataclass(frozen=True, slots=True)
class _Weighed:
    """An hour kept, as the capacity charge sees it: its local month and day, and its weight."""

    month: tuple[int, int]
    day: date
    weight: float


class _HourWeights:
    """The hours kept, each placed and weighed once, for as long as Home Assistant's zone stays the same."""

    def __init__(self) -> None:
        """Start with no hour weighed."""
        self._weighed: dict[str, _Weighed] = {}
        self._zone: tzinfo | None = None

    def of(self, key: str, zone: tzinfo, rule: PeakRule) -> _Weighed:
        """Return an hour (its UTC start) placed in zone and weighed by rule: worked out at its first asking."""
        if zone is not self._zone:
            self._weighed, self._zone = {}, zone  # Home Assistant's zone changed
        weighed = self._weighed.get(key)
        if weighed is None:
            start = datetime.fromisoformat(key).astimezone(zone)
            weighed = self._weighed[key] = _Weighed((start.year, start.month), start.date(), rule.weight(start))
        return weighed

    def keep_only(self, keys: Collection[str]) -> None:
        """Forget the hours no longer kept (a month billed and gone)."""
        self._weighed = {key: weighed for key, weighed in self._weighed.items() if key in keys}


@dataclass
class CapacityTariff:
    """Hourly use and the monthly capacity figure, from the import register's exact hours."""

    time_zone: tzinfo
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    peak_days: int = DEFAULT_PEAK_DAYS
    """How many peaks the figure averages."""
    rule: PeakRule = field(default_factory=PeakRule)
    hour_start: datetime | None = None
    hour_start_total: float | None = None
    """The live total at the start of the hour in progress, or the register read at it."""
    hours: dict[str, float] = field(default_factory=dict)
    """Exact hours of the current month: UTC hour start -> Wh used."""
    book: HourBook = field(default_factory=HourBook, compare=False, repr=False)
    _weighed: _HourWeights = field(default_factory=_HourWeights, init=False, compare=False, repr=False)
    """Each hour kept, placed in its local month and day and weighed once: every telegram asks for the figures."""

    def update(self, total: float, when: datetime) -> None:
        """Follow the live total: the hour in progress counts from its first reading, until a register says better."""
        hour = hour_of(when)
        if self.hour_start is None or self.hour_start_total is None or hour > self.hour_start:
            self.hour_start, self.hour_start_total = hour, total

    def add_register(self, register: float, at: datetime, clock: datetime | None = None) -> bool:
        """Take the import register read at a moment (see HourBook.add); True if it closed an hour.

        The hours it closes exactly are counted; one not measured exactly is
        not. One read just after a boundary is the total the hour in progress
        counts from.
        """
        closed_hours = self.book.add(register, at, clock)
        for closed in closed_hours:
            if not closed.estimated:
                self._close(closed.start, closed.used)
        hour = hour_of(at)
        if at - hour <= BOUNDARY_TOLERANCE:
            self.hour_start, self.hour_start_total = hour, register
        return bool(closed_hours)

    def scale_total(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: the totals kept were measured through the old one."""
        if self.hour_start_total is not None:
            self.hour_start_total *= factor
        self.book.scale(factor)

    def drop_hour(self) -> None:
        """Leave the hour in progress uncounted: it was measured by a meter that is gone, and one that just came."""
        self.hour_start = self.hour_start_total = None
        self.book = HourBook()

    def rebase(self, change: float, register: float | None = None) -> None:
        """Move the hour's starting total with the live total, and count on from the register: a reset is not use."""
        if self.hour_start_total is not None:
            self.hour_start_total += change
        if register is not None:
            self.book.rebase(register)

    def _close(self, start: datetime, used: float) -> None:
        month = self._weighed.of(start.isoformat(), self.time_zone, self.rule).month
        # A new month starts at local midnight: the old month's hours are billed and gone.
        self.hours = {
            key: value
            for key, value in self.hours.items()
            if self._weighed.of(key, self.time_zone, self.rule).month == month
        }
        self.hours[start.isoformat()] = max(used, 0.0)
        self._weighed.keep_only(self.hours)

    def last_hour_use(self, now: datetime) -> float | None:
        """Wh used in the hour before now's, where a register closed it exactly.

        Its register comes just after the hour (an hourly list at hh:00:10):
        until it is due, the hour before stays the last one told. Once it is
        overdue, an hour no register closed (one held, a boundary estimated)
        is unknown: never an earlier hour's figure in its place.
        """
        this_hour = hour_of(now)
        if (used := self.hours.get((this_hour - HOUR).isoformat())) is not None:
            return used
        return self.hours.get((this_hour - 2 * HOUR).isoformat()) if now - this_hour <= BOUNDARY_TOLERANCE else None

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.time_zone).date()

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
        remaining = (hour_of(now) + HOUR - now).total_seconds() / 3600
        return used + max(power, 0.0) * remaining

    def _counted(self, now: datetime) -> list[tuple[date, float]]:
        """List the current month's hours the rule counts: each one's local day, and its use as weighed (Wh)."""
        today = self._local_date(now)
        month = (today.year, today.month)
        counted = []
        for key, used in self.hours.items():
            weighed = self._weighed.of(key, self.time_zone, self.rule)
            if weighed.weight and weighed.month == month:
                counted.append((weighed.day, used * weighed.weight))
        return counted

    def daily_peaks(self, now: datetime) -> dict[date, float]:
        """Return the highest counted hour of each day of the current month (Wh, as the rule weighs it)."""
        peaks: dict[date, float] = {}
        for day, used in self._counted(now):
            peaks[day] = max(peaks.get(day, 0.0), used)
        return peaks

    def peak_today(self, now: datetime) -> float | None:
        """Today's highest completed hour that counts (Wh)."""
        return self.daily_peaks(now).get(self._local_date(now))

    def _figure(self, candidates: list[float]) -> float | None:
        """Average the highest candidates, as many as are billed: the month's capacity figure (Wh)."""
        peaks = sorted(candidates, reverse=True)[: self.peak_days]
        return sum(peaks) / len(peaks) if peaks else None

    def _candidates(self, now: datetime) -> tuple[list[float], float | None]:
        """Return the peaks the figure is taken from, but today's own, highest first, and today's.

        A peak is each day's highest hour, or every hour, as the rule says;
        today's (None: none yet, or the rule keeps no day's peak apart) is
        the one the hour in progress may raise.
        """
        if not self.rule.one_per_day:
            return sorted((used for _, used in self._counted(now)), reverse=True), None
        peaks = self.daily_peaks(now)
        todays = peaks.pop(self._local_date(now), None)
        return sorted(peaks.values(), reverse=True), todays

    def monthly_average(self, now: datetime) -> float | None:
        """Average the month's highest peaks: the figure the capacity charge is billed on (Wh)."""
        others, todays = self._candidates(now)
        return self._figure([*others, *([] if todays is None else [todays])])

    def headroom(self, total: float | None, now: datetime) -> float | None:
        """Wh this hour may still use before the month's capacity figure reaches the next step.

        None at the top step, in an hour the rule does not count, or before
        the hour's use is known.
        """
        used = self.current_hour_use(total)
        weight = self.rule.weight(hour_of(now).astimezone(self.time_zone))
        if used is None or not weight:
            return None

        others, todays = self._candidates(now)
        others = others[: self.peak_days]  # the hour in progress joins one peak: no other can enter the figure

        def figure_if(hour_use: float) -> float:
            this_hour = hour_use * weight
            return self._figure([*others, this_hour if todays is None else max(todays, this_hour)]) or 0.0

        # The next step above the month's figure as it stands (a day without a completed hour is no day of it yet).
        figure = self._figure([*others, *([] if todays is None else [todays])]) or 0.0
        ceiling = next((threshold * 1000 for threshold in self.thresholds if threshold * 1000 > figure), None)
        if ceiling is None:
            return None
        # The figure grows with the hour's use, never faster than it: search the use that reaches the ceiling.
        low, high = used, ceiling * self.peak_days / weight
        if figure_if(low) >= ceiling:
            return 0.0
        for _ in range(_SEARCH_STEPS):
            middle = (low + high) / 2
            low, high = (middle, high) if figure_if(middle) < ceiling else (low, middle)
        return low - used

    def step(self, now: datetime) -> str | None:
        """Name the capacity step the month's average falls in, as "5-10 kWh"."""
        average = self.monthly_average(now)
        if average is None:
            return None
        return step_label(average / 1000, self.thresholds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage: the hour in progress, the month's hours, and the import register's book."""
        return {
            "hour_start": self.hour_start.isoformat() if self.hour_start else None,
            "hour_start_total": self.hour_start_total,
            "hours": dict(self.hours),
            **self.book.as_dict(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back what storage kept: an hour begun before a restart is still closed exactly."""
        hour_start = data.get("hour_start")
        self.hour_start = datetime.fromisoformat(hour_start) if hour_start else None
        self.hour_start_total = data.get("hour_start_total")
        self.hours = dict(data.get("hours", {}))
        self.book = HourBook.from_dict(data)


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
    """Read "2, 5, 10" as rising thresholds; ValueError when they are not (float also reads "nan" and "inf")."""
    values = _thresholds(text)
    if not values or list(values) != sorted(set(values)):
        msg = "thresholds must be positive, finite and rising"
        raise ValueError(msg)
    return values


def _thresholds(text: str) -> tuple[float, ...]:
    """Read each threshold of "2, 5; 10"; ValueError for one that is no positive number of kWh a tariff can count to."""
    values = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    # In Wh, as the tariff weighs them, each must still be a finite number.
    if not all(0 < value * 1000 < math.inf for value in values):
        msg = "thresholds must be positive and finite"
        raise ValueError(msg)
    return values


def stored_thresholds(text: str) -> tuple[float, ...]:
    """Read the thresholds an entry's options hold: what the form would refuse is read as it can be meant.

    An earlier version wrote "1, 1.0000000000000002" back as "1, 1": the
    thresholds named are read each once, rising. An edited file may hold
    anything: where a part is no threshold, the entry loads with the
    defaults, never with part of what was meant.
    """
    try:
        values = _thresholds(text)
    except ValueError:
        return DEFAULT_THRESHOLDS
    return tuple(sorted(set(values))) or DEFAULT_THRESHOLDS


def format_thresholds(thresholds: tuple[float, ...]) -> str:
    """Write thresholds as users type them: "2, 5, 10"."""
    return ", ".join(_number(value) for value in thresholds)


def _number(value: float) -> str:
    """Write a number as typed: no trailing zeros, and every digit that tells it apart from its neighbours kept.

    The shortest text that reads back as the same number: two thresholds
    that differ are never written the same (fifteen digits wrote
    1.0000000000000002 as 1, and the options then failed to load).
    """
    return repr(value).removesuffix(".0")
