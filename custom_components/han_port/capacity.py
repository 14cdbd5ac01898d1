"""The capacity tariff (kapasitetsledd): the month's peak hours from the meter's exact hours.

Pure logic, no Home Assistant. An hour counts only when the import register
closed it exactly, at both of its boundaries (hours.HourBook): an hour Home
Assistant missed, or was set up in the middle of, is never a peak, and no
hour is counted twice. The hour in progress is followed with the live total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from .hours import BOUNDARY_TOLERANCE, HOUR, Boundary, HourBook, hour_of

# Most Norwegian grid companies' capacity steps, in kWh/h.
DEFAULT_THRESHOLDS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
DEFAULT_PEAK_DAYS = 3
# Halvings of the search for the headroom: a fraction of a watt-hour.
_SEARCH_STEPS = 48


@dataclass
class CapacityTariff:
    """Hourly use and the monthly capacity figure, from the import register's exact hours."""

    time_zone: tzinfo
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    peak_days: int = DEFAULT_PEAK_DAYS
    hour_start: datetime | None = None
    hour_start_total: float | None = None
    """The live total at the start of the hour in progress, or the register read at it."""
    last_hour_use: float | None = None
    hours: dict[str, float] = field(default_factory=dict)
    """Exact hours of the current month: UTC hour start -> Wh used."""
    book: HourBook = field(default_factory=HourBook, compare=False, repr=False)

    def update(self, total: float, when: datetime) -> None:
        """Follow the live total: the hour in progress counts from its first reading, until a register says better."""
        hour = hour_of(when)
        if self.hour_start is None or self.hour_start_total is None or hour > self.hour_start:
            self.hour_start, self.hour_start_total = hour, total

    def add_register(self, register: float, at: datetime) -> None:
        """Take the import register read at a moment (by the meter's clock where it has one).

        The hours it closes exactly are counted; one read just after a
        boundary is the total the hour in progress counts from.
        """
        for closed in self.book.add(register, at):
            if not closed.estimated:
                self._close(closed.start, closed.used)
        hour = hour_of(at)
        if at - hour <= BOUNDARY_TOLERANCE:
            self.hour_start, self.hour_start_total = hour, register

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
        remaining = (hour_of(now) + HOUR - now).total_seconds() / 3600
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

    def headroom(self, total: float | None, now: datetime) -> float | None:
        """Wh this hour may still use before the month's capacity figure reaches the next step.

        None at the top step, or before the hour's use is known. The hour's
        use counts as today's peak once it is the day's highest.
        """
        used = self.current_hour_use(total)
        if used is None:
            return None
        today = self._local_date(now)
        peaks = self.daily_peaks(now)
        others = [peak for day, peak in peaks.items() if day != today]
        today_peak = peaks.get(today, 0.0)

        def average_if(hour_use: float) -> float:
            days = sorted([*others, max(today_peak, hour_use)], reverse=True)[: self.peak_days]
            return sum(days) / len(days)

        # The next step above the month's figure as it stands (a day without a completed hour is no day of it yet).
        average = self.monthly_average(now) or 0.0
        ceiling = next((threshold * 1000 for threshold in self.thresholds if threshold * 1000 > average), None)
        if ceiling is None:
            return None
        # The average grows with the hour's use, never faster than it: search the use that reaches the ceiling.
        low, high = used, ceiling * self.peak_days
        if average_if(low) >= ceiling:
            return 0.0
        for _ in range(_SEARCH_STEPS):
            middle = (low + high) / 2
            low, high = (middle, high) if average_if(middle) < ceiling else (low, middle)
        return low - used

    def step(self, now: datetime) -> str | None:
        """Name the capacity step the month's average falls in, as "5-10 kWh"."""
        average = self.monthly_average(now)
        if average is None:
            return None
        return step_label(average / 1000, self.thresholds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage: the hour in progress, the month's hours, and the last exact boundary."""
        anchor = self.book.anchor
        return {
            "hour_start": self.hour_start.isoformat() if self.hour_start else None,
            "hour_start_total": self.hour_start_total,
            "last_hour_use": self.last_hour_use,
            "hours": dict(self.hours),
            "boundary": None if anchor is None else {"at": anchor.at.isoformat(), "register": anchor.register},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back what storage kept: an hour begun before a restart is still closed exactly."""
        hour_start = data.get("hour_start")
        self.hour_start = datetime.fromisoformat(hour_start) if hour_start else None
        self.hour_start_total = data.get("hour_start_total")
        self.last_hour_use = data.get("last_hour_use")
        self.hours = dict(data.get("hours", {}))
        boundary = data.get("boundary")
        if boundary:
            self.book = HourBook(Boundary(datetime.fromisoformat(boundary["at"]), float(boundary["register"]), 0.0))


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
