"""What a meter's accepted totals and powers count into: live energy, the capacity tariff and the meter's hours.

The bookkeeping (bookkeeping.py) decides what a reading may change; what
it lets through is counted here, each where it counts (power in live
energy; the import total in all three), so that a total the guard accepts
late (a hold followed or taken) counts as if it had been accepted when it
came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.util import dt as dt_util

from .energy import LiveEnergy
from .hours import meter_clock
from .registers import ACTIVE_ENERGY_EXPORT, ACTIVE_ENERGY_IMPORT, REGISTER_OF_POWER

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime, timedelta

    from .capacity import CapacityTariff
    from .decoder import Code
    from .energy import MeterTotal
    from .statistics import MeterHourStatistics


class EnergyCounts:
    """A meter's live energy (import and export), capacity tariff and meter hours, fed the same totals."""

    def __init__(
        self,
        tariff: CapacityTariff,
        meter_hours: MeterHourStatistics,
        *,
        save_soon: Callable[[], None],
        power_gap: Callable[[], timedelta],
    ) -> None:
        """Count into a tariff and meter hours; save_soon keeps a closed tariff hour, power_gap bounds integration."""
        self.live_import = LiveEnergy()
        self.live_export = LiveEnergy()
        self.tariff = tariff
        self.meter_hours = meter_hours
        self._save_soon = save_soon
        self._power_gap = power_gap

    def restore(self, stored: Mapping[str, Any]) -> None:
        """Take back what was kept over a restart: the live totals, the tariff's hours, the meter hours' last reads."""
        self.live_import = LiveEnergy.from_dict(stored.get("import", {}))
        self.live_export = LiveEnergy.from_dict(stored.get("export", {}))
        self.tariff.restore(stored.get("tariff", {}))
        self.meter_hours.restore_unwritten_scales(stored.get("meter_hours_scales", {}))
        self.meter_hours.restore_last_reads(stored.get("meter_hours_last_reads", {}))

    def as_dict(self) -> dict[str, Any]:
        """Return what restore takes back, as plain data for the store."""
        return {
            "import": self.live_import.as_dict(),
            "export": self.live_export.as_dict(),
            "tariff": self.tariff.as_dict(),
            "meter_hours_scales": self.meter_hours.unwritten_scales,
            "meter_hours_last_reads": self.meter_hours.last_reads,
        }

    def scale(self, factor: float) -> None:
        """Follow a changed current-transformer ratio: the totals kept were measured through the old one."""
        self.live_import.scale(factor)
        self.live_export.scale(factor)
        self.tariff.scale_total(factor)
        self.meter_hours.rescale(factor)

    def start_over(self) -> None:
        """Count a new meter from its own totals: the hour in progress is not counted."""
        self.live_import, self.live_export = LiveEnergy(), LiveEnergy()
        self.tariff.drop_hour()

    def live(self, register: Code) -> LiveEnergy:
        """Return the live energy that an energy register (import or export) re-anchors."""
        return self.live_import if register == ACTIVE_ENERGY_IMPORT.code else self.live_export

    def count(self, register: Code, total: MeterTotal) -> None:
        """Count a total the guard accepted: in the meter's hours, the live energy and the capacity tariff."""
        self.meter_hours.add(register, total.value, total.when, total.clock)
        self.track(register, total.value, total.when, total.clock)

    def count_anew(self, register: Code, sequence: Sequence[MeterTotal]) -> None:
        """Count a register on from a new sequence of its totals (a reset the guard followed, or the user took).

        What was used between the last total accepted and the sequence's
        first is hidden in the fall or jump: the hours between them are
        estimated, as nothing. The hours the sequence's own totals close are
        counted as if each had been accepted when it came.
        """
        first, latest = sequence[0].value, sequence[-1].value
        self.meter_hours.rebase(register, first)
        hour, hour_use = self.tariff.hour_start, None
        if register in REGISTER_OF_POWER.values():
            live = self.live(register)
            before = live.published
            live.reset(latest)
            if live is self.live_import:
                # Live energy counted the hour's use through the hold, from the power: it stays the hour's use.
                hour_use = self.tariff.current_hour_use(before)
                self.tariff.rebase(0.0 if before is None else latest - before, first)
        for total in sequence:
            self.count(register, total)
        if hour_use is not None and self.tariff.hour_start == hour and self.tariff.hour_start_total is not None:
            # A total of the sequence read at the start of the hour in progress (an hourly list) starts it anew:
            # live energy goes on from it by what it counted since.
            self.live_import.hold_at_least(self.tariff.hour_start_total + hour_use)

    def track(self, register: Code, value: float, now: datetime, clock: datetime | None) -> None:
        """Feed a power, or a total the guard accepted, to the live energy and the tariff."""
        if register in REGISTER_OF_POWER:
            # Power further apart than the silence the reader tolerates was not
            # measured in between: the next register re-anchors instead.
            self.live(REGISTER_OF_POWER[register]).add_power(value, now, self._power_gap())
        elif register == ACTIVE_ENERGY_IMPORT.code:
            self.live_import.add_register(value)
            zone = dt_util.get_default_time_zone()
            at = self.tariff.book.place(now, clock, zone)
            # A register that waits for the clocks to agree is none of the hour the host's clock would put it in.
            if at is not None and self.tariff.add_register(value, at, meter_clock(now, clock, zone)):
                # The hour it closed is kept in the store alone (the meter hours are read back from the recorder).
                self._save_soon()
        elif register == ACTIVE_ENERGY_EXPORT.code:
            self.live_export.add_register(value)

    def update_hour_use(self, now: datetime) -> None:
        """Tell the tariff the hour's use so far, as live energy counts it."""
        if self.live_import.published is not None:
            self.tariff.update(self.live_import.published, now)
