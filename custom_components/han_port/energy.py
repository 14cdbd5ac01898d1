"""Energy between the hourly registers, hourly use and the capacity tariff.

Pure logic, no Home Assistant: the coordinator feeds it power and registers,
sensors read it, and its state is plain data that a Store keeps over restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

HOUR = timedelta(hours=1)
# Most Norwegian grid companies' capacity steps, in kWh/h.
DEFAULT_THRESHOLDS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
DEFAULT_PEAK_DAYS = 3
# A gap longer than this between power readings is not integrated: the meter
# or the connection was away, and the next register will tell.
MAX_GAP = timedelta(minutes=5)
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

    def add_power(self, watts: float, when: datetime) -> None:
        """Integrate power from the last reading to this one."""
        if self.power is not None and self.power_at is not None and self.estimate is not None:
            gap = when - self.power_at
            if timedelta(0) < gap <= MAX_GAP:
                self.estimate += (self.power + watts) / 2 * gap.total_seconds() / 3600
                self.published = max(self.published or 0.0, self.estimate)
        if self.power_at is None or when >= self.power_at:
            self.power, self.power_at = watts, when

    def add_register(self, watt_hours: float) -> None:
        """Re-anchor on the meter's own total."""
        self.register = watt_hours
        self.estimate = watt_hours
        self.published = max(self.published or watt_hours, watt_hours)

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
        if (
            self.hour_start != hour
            or self.hour_start_total is None
            or when - hour > CORRECTION_WINDOW
            or self.corrected_hour == hour
        ):
            return
        self.corrected_hour = hour
        previous = hour - HOUR
        key = previous.isoformat()
        if key in self.hours:
            used = self.hours[key] + (register - self.hour_start_total)
            self.hours[key] = max(used, 0.0)
            self.last_hour_use = self.hours[key]
        self.hour_start_total = register

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
        return used + power * remaining

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
