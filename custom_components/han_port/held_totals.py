"""Totals the energy guard holds: told once in the log, asked about when it lasts, settled as the user decides.

A hold the guard cannot settle by itself (the meter neither returned to its
count nor proved a new one in as many telegrams as a new sequence takes)
becomes a repair issue, where the user decides. A small fall settles itself
as the count passes the total shown, most often within minutes: it is asked
about only once it has lasted SMALL_FALL_PATIENCE.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.util import dt as dt_util

from .const import LOGGER
from .decoder import Reading, Unit
from .energy import NEW_SEQUENCE_TELEGRAMS, MeterTotal, Verdict, is_new_cycle
from .hours import agreeing_clock, hour_of
from .issues import HELD_ISSUE, in_thousands
from .registers import code_name, code_of_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .decoder import Code
    from .energy import TotalGuard
    from .issues import MeterIssues

# Energy events kept for diagnostics: the latest few say what a user asks about.
ENERGY_EVENTS_KEPT = 20
SMALL_FALL_PATIENCE = timedelta(hours=1)
# A hold the user chose to keep is asked about again after this long: a jump the meter's count never leaves is
# held for good otherwise (a jumped count is never taken but by the user).
KEPT_HOLD_ASKED_AGAIN = timedelta(days=1)
# The totals of a held sequence kept for the hours they close (the first and last of each hour): a week of a
# meter that sends often, two of an hourly list. A hold that lasts longer has its oldest hours shared out evenly.
HELD_TOTALS_KEPT = 2 * 24 * 7


def _amount(total: float | None, unit: Unit | None) -> str:
    """Write a total for the log with its unit: the register's own, whole units as whole numbers."""
    if total is None:
        return "nothing yet"
    return f"{total:.15g} {unit or ''}".rstrip()


def _what_settles(previous: float | None, value: float) -> str:
    """Say what becomes of a held total: a count that went down is followed by itself, one that jumped never is."""
    if previous is not None and value > previous:
        # The Energy dashboard would count a jump as use: only the user may take it.
        return f"if the next {NEW_SEQUENCE_TELEGRAMS - 1} grow on from there, you are asked whether to take it"
    if _small_fall(previous, value):
        return "it is shown again once the meter's count passes the total shown"
    return f"it is followed if the next {NEW_SEQUENCE_TELEGRAMS - 1} grow on from there"


def _small_fall(previous: float | None, value: float) -> bool:
    """Whether a total fell, but not to a new meter cycle: the Energy dashboard would count it as negative use."""
    return previous is not None and value < previous and not is_new_cycle(previous, value)


@dataclass(frozen=True, slots=True)
class Judged:
    """The guard's verdict on a total, and for a new sequence it followed, the sequence's totals."""

    verdict: Verdict
    sequence: tuple[MeterTotal, ...] = ()
    """Of a new sequence the guard followed, its totals oldest first (the first and last of each hour it held
    them), the one judged last: the hours they close are the new count's."""


class EnergyEvents(deque[dict[str, str]]):
    """What the energy guard and the meter's identity went through, for diagnostics: the latest few."""

    def __init__(self) -> None:
        """Keep the latest events only."""
        super().__init__(maxlen=ENERGY_EVENTS_KEPT)

    def record(self, event: str, register: Code | None = None, **figures: float | None) -> None:
        """Keep what happened to the energy totals (no meter ids: they are the household's)."""
        entry = {"at": dt_util.utcnow().isoformat(), "event": event}
        if register is not None:
            entry["register"] = code_name(register)
        self.append(entry | {name: in_thousands(value) for name, value in figures.items()})


@dataclass
class _Hold:
    """A register whose totals are held: their unit, since when, how many in a row, whether to ask, its sequence."""

    unit: Unit | None
    since: datetime
    in_a_row: int = 0
    kept_at: datetime | None = None
    """When the user chose to keep holding: not asked about again for KEPT_HOLD_ASKED_AGAIN."""
    sequence: list[MeterTotal] = field(default_factory=list)
    """The totals of the sequence the guard holds, oldest first: the first and last of each hour."""
    interrupted: list[MeterTotal] = field(default_factory=list)
    """Those of the sequence a total that followed on from nothing interrupted (not kept over a restart)."""

    def note(self, total: MeterTotal, verdict: Verdict) -> None:
        """Keep a total of the held sequence where it may close an hour: the first and the last of each.

        The hours a sequence's totals close are those its first and last
        totals of each hour close: one read between them closes none. A new
        sequence sets the one before aside, taken up again if the guard
        resumes it (the total that interrupted it was damaged).
        """
        if verdict is Verdict.HELD_NEW:
            self.interrupted, self.sequence = self.sequence, []
        elif verdict is Verdict.RESUMED:
            self.sequence, self.interrupted = self.interrupted, []
        if len(self.sequence) > 1 and _hour(self.sequence[-2]) == _hour(self.sequence[-1]) == _hour(total):
            # The hour's first is kept, and its last so far: the new last replaces it.
            self.sequence.pop()
        self.sequence.append(total)
        if len(self.sequence) > HELD_TOTALS_KEPT:
            # The first is where the new count starts, whatever its age: the hours of the one dropped after it
            # are shared out between its neighbours.
            del self.sequence[1]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return {
            "unit": self.unit,
            "since": self.since.isoformat(),
            "in_a_row": self.in_a_row,
            "kept_at": None if self.kept_at is None else self.kept_at.isoformat(),
            "sequence": [_total_as_list(total) for total in self.sequence],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], scale: float) -> _Hold:
        """Take back a hold as stored, its totals times scale (a changed current-transformer ratio)."""
        unit, since, kept_at = data.get("unit"), datetime.fromisoformat(data["since"]), data.get("kept_at")
        return cls(
            None if unit is None else Unit(unit),
            since,
            int(data.get("in_a_row", 0)),
            # Stores of earlier versions say only whether it was kept: since it was held, then.
            datetime.fromisoformat(kept_at) if kept_at else since if data.get("kept") else None,
            [_total_from_list(total, scale) for total in data.get("sequence", [])],
        )


def _hour(total: MeterTotal) -> datetime:
    """Return the hour a total was read in, as the meter hours place it: by the meter's clock where it agrees."""
    return hour_of(agreeing_clock(total.when, total.clock, dt_util.get_default_time_zone()) or total.when)


def _total_as_list(total: MeterTotal) -> list[Any]:
    return [total.value, total.when.isoformat(), None if total.clock is None else total.clock.isoformat()]


def _total_from_list(stored: list[Any], scale: float) -> MeterTotal:
    value, when, clock = stored
    return MeterTotal(
        float(value) * scale, datetime.fromisoformat(when), None if clock is None else datetime.fromisoformat(clock)
    )


class HeldTotals:
    """The guard's verdicts on one meter's totals, and what became of those it held."""

    def __init__(self, guard: TotalGuard, issues: MeterIssues, events: EnergyEvents) -> None:
        """Judge totals with the guard; raise and withdraw the held-register issue; record what happened."""
        self._guard = guard
        self._issues = issues
        self._events = events
        self.count = 0
        """Energy totals held because they went down or jumped (followed or not later)."""
        self._holds: dict[Code, _Hold] = {}

    def as_dict(self) -> dict[str, Any]:
        """Return the registers held, as plain data for storage: a repair asked before a restart is answered after."""
        return {
            code_name(register): {**hold.as_dict(), "total": total}
            for register, hold in self._holds.items()
            if (total := self._guard.held_as_dict(register)) is not None
        }

    def restore(self, holds: Mapping[str, Mapping[str, Any]], scale: float = 1.0) -> None:
        """Hold again the totals held before a restart, times scale (a changed current-transformer ratio).

        A repair already asked about one still stands; through a new ratio it
        asks about the total as it will be taken.
        """
        for name, stored in holds.items():
            if "total" not in stored:
                continue
            register = code_of_name(name)
            self._guard.restore_held(register, stored["total"], scale)
            self._holds[register] = _Hold.from_dict(stored, scale)
            if scale != 1 and self._issues.raised(HELD_ISSUE, register):
                self._ask(register, self._guard.last(register), self._guard.held_total(register))

    def check(self, register: Code, reading: Reading, meter: str, now: datetime, clock: datetime | None) -> Judged:
        """Let a total through the guard; log when it holds one and when it follows a new sequence."""
        value = reading.value
        previous = self._guard.last(register)
        verdict = self._guard.check(register, value, now, clock)
        if verdict is Verdict.FOLLOWED:
            LOGGER.warning(
                "Energy register %s of %s went from %s to %s and kept counting from there: following it",
                code_name(register),
                meter,
                _amount(previous, reading.unit),
                _amount(value, reading.unit),
            )
            self._events.record("register_followed", register, previous=previous, value=value)
        if verdict in (Verdict.ACCEPTED, Verdict.FOLLOWED):
            hold = self._holds.pop(register, None)
            self._issues.delete(HELD_ISSUE, register)
            if verdict is Verdict.ACCEPTED:
                return Judged(verdict)
            return Judged(verdict, (*(hold.sequence if hold else ()), MeterTotal(value, now, clock)))
        hold = self._hold(register, reading, meter, previous, now)
        if self._guard.held_total(register) == value:
            # A total the guard judged the first of a sequence, or one that follows on from it; not one it
            # refused outright (a count that is no number).
            hold.note(MeterTotal(value, now, clock), verdict)
        return Judged(verdict)

    def _hold(self, register: Code, reading: Reading, meter: str, previous: float | None, now: datetime) -> _Hold:
        """Count a held total; warn at the first of a row, and ask the user when it lasts."""
        value = reading.value
        self.count += 1
        hold = self._holds.setdefault(register, _Hold(reading.unit, now))
        hold.unit = reading.unit
        hold.in_a_row += 1
        if hold.in_a_row == 1:
            LOGGER.warning(
                "Held energy register %s of %s at %s: it came as %s, and a total may only grow, as fast as "
                "power allows; %s",
                code_name(register),
                meter,
                _amount(previous, reading.unit),
                _amount(value, reading.unit),
                _what_settles(previous, value),
            )
            self._events.record("register_held", register, previous=previous, value=value)
        patient = _small_fall(previous, value) and now - hold.since < SMALL_FALL_PATIENCE
        asked = self._issues.raised(HELD_ISSUE, register)
        kept = hold.kept_at is not None and now - hold.kept_at < KEPT_HOLD_ASKED_AGAIN
        if hold.in_a_row >= NEW_SEQUENCE_TELEGRAMS and not kept and not patient and not asked:
            # Asked once: told again at every telegram, an open repair's figures would change under the user's eyes.
            self._ask(register, previous, value)
        return hold

    def _ask(self, register: Code, previous: float | None, value: float | None) -> None:
        """Ask the user whether a held total is the meter's count (a repair)."""
        hold = self._holds.get(register)
        unit = None if hold is None else hold.unit
        self._issues.create(
            HELD_ISSUE,
            {
                "register": self._issues.register_label(register),
                "previous": self._issues.total(previous, unit),
                "value": self._issues.total(value, unit),
            },
            register,
            fixable=True,
        )

    def keep(self, register: Code) -> bool:
        """Keep holding a register's last total, as the user decided; False if none is held (answered before).

        The guard goes on as it would, unasked for KEPT_HOLD_ASKED_AGAIN.
        """
        self._issues.delete(HELD_ISSUE, register)
        hold = self._holds.get(register)
        if hold is None:
            return False
        hold.kept_at = dt_util.utcnow()
        self._events.record("register_kept", register, previous=self._guard.last(register))
        return True

    def accept(self, register: Code, meter: str) -> tuple[Reading, tuple[MeterTotal, ...]] | None:
        """Take a register's held total as the meter's count, as the user decided.

        Return the reading to show and the totals of the sequence the guard follows now, oldest first, the
        held total last; None if none is held.
        """
        previous = self._guard.last(register)
        hold = self._holds.pop(register, None)
        self._issues.delete(HELD_ISSUE, register)
        held = None if hold is None else self._guard.follow_held(register)
        if hold is None or held is None:
            return None
        value = held.value
        LOGGER.warning(
            "Energy register %s of %s: %s taken as its count (was %s), as the user decided",
            code_name(register),
            meter,
            _amount(value, hold.unit),
            _amount(previous, hold.unit),
        )
        self._events.record("register_accepted", register, previous=previous, value=value)
        earlier = tuple(total for total in hold.sequence if total.when < held.when)
        return Reading(value, hold.unit), (*earlier, held)
