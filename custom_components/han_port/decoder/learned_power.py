"""The power of a learned list that sends no voltages: the one number whose integral a register grows by.

Without voltages, no U·I carries a power (see proofs.power_readings); what is left of its physics is its energy:
a household's power, integrated by the meter's clock, is what its import register (or the tariff running) grows by.
A number that moves, and whose integral matched one register's growth closely, in several windows in a row, while
no other number's did, is that power.

Other numbers' integrals match registers too: a reactive power its reactive register's, a phase's power the
total's while the other phases idle, the export its register's. So nothing is proven until every other number
that moved (or woke from 0) meanwhile had its integral weighed, and none fitted a register; nor while an export
flowed or a signed power read below 0, as what moves then is not the import (see PowerByItsIntegral._proven);
nor while a position looked like a voltage in half the telegrams or more: a list that sends voltages is proven
by their U·I, its currents with it (one sag, or one damaged push, does not make a voltage look like none; a
power now and then near 2.3 kW, at 0.1, does not make it one). Where physics cannot tell, the list waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from .learned_registers import EnergyWindow
from .proofs import Numbers, Span, at, grown_registers, import_register
from .registers import ACTIVE_POWER

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

INTEGRAL_WINDOWS = 3
"""Windows in a row in which a number's integral must match the same register's growth."""
INTEGRAL_TOLERANCE = 0.1
"""How closely. A power sampled every few seconds integrates to within a few per cent of what its register counted
(the register's last digit, the trapezoids); a current's integral, or a phase's, is some fraction of it."""
INTEGRAL_MAX_GAP = timedelta(minutes=1)
"""Samples further apart integrate too roughly to tell a power from another number: the window starts again."""
MAX_FITS = 3
"""Registers one integral may match at once: a total and the tariff running (a third, a tariff that stood still at
its start). More are no meter's registers, and would cost a search of their tariffs each."""


@dataclass(slots=True)
class _Candidate:
    """A number that may be the power: its integral window, and whether the number before it stood at 0 meanwhile."""

    window: EnergyWindow = field(default_factory=lambda: EnergyWindow(max_gap=INTEGRAL_MAX_GAP))
    beside_a_zero: bool = True
    """Whether the number right before it read 0 whenever it flowed: lists send the import, then the export."""
    opened: int = 0
    """The telegram its window opened at."""
    streak_from: int = 0
    """The telegram the first window of its matches in a row opened at."""
    evidence: str = ""


@dataclass(slots=True)
class _Seen:
    """The telegram at which a number last did each thing that weighs on another's proof (-1: never)."""

    moved: int = -1
    flowed: int = -1
    """Read more than 0."""
    woke: int = -1
    """Rose from 0: a flow waking, a candidate or not yet."""
    negative: int = -1
    """Read below 0: a signed power exporting."""
    closed: int = -1
    """Closed an integral window, whatever it matched."""
    fitted: int = -1
    """Closed one whose integral fitted a register's growth (any register, however many)."""


@dataclass(slots=True)
class PowerByItsIntegral:
    """The numbers that move, each integrated by the meter's clock against the registers that only grow."""

    candidates: dict[int, _Candidate] = field(default_factory=dict)
    telegrams: int = 0
    like_voltages: dict[int, int] = field(default_factory=dict)
    """In how many telegrams each position looked like a voltage."""
    seen: dict[int, _Seen] = field(default_factory=dict)
    """What each number did, kept whether or not it is a candidate."""

    @property
    def voiceless(self) -> bool:
        """Whether no position looked like a voltage in half the telegrams or more: the list sends none."""
        return all(2 * count < self.telegrams for count in self.like_voltages.values())

    def observe(
        self, numbers: Numbers, spans: Mapping[int, Span], free: Sequence[int], when: datetime, voltages: set[int]
    ) -> int | None:
        """Weigh a telegram; return the position proven to hold the power, once only one number's integral matched.

        voltages: the positions that look like a voltage in it. A number right after one that read 0 whenever it
        flowed is taken for an export: never proven, though a rival. Two numbers that read alike (a phase's power
        and the total, while the other phases idle; a 1-phase list's) are rivals too: nothing tells which is
        the total. A number that went negative is no import's.
        """
        self.telegrams += 1
        for index in voltages:
            self.like_voltages[index] = self.like_voltages.get(index, 0) + 1
        growing = [index for index in free if spans[index].grows]
        for index in free:
            value, previous = numbers[index], spans[index].previous
            seen = self.seen.setdefault(index, _Seen())
            if previous is not None and value != previous:
                seen.moved = self.telegrams
            if value > 0:
                seen.flowed = self.telegrams
                if previous == 0:
                    seen.woke = self.telegrams
            elif value < 0:
                seen.negative = self.telegrams
            if not (spans[index].moves and 0 <= value <= ACTIVE_POWER.high):
                if value < 0 or spans[index].rose_only:
                    self.candidates.pop(index, None)
                continue
            candidate = self.candidates.setdefault(index, _Candidate(opened=self.telegrams))
            if value > 0 and numbers.get(index - 1) != 0:
                candidate.beside_a_zero = False
            self._integrate(candidate, index, numbers, growing, when)
        return self._proven()

    def _integrate(
        self, candidate: _Candidate, index: int, numbers: Numbers, growing: list[int], when: datetime
    ) -> None:
        closed = candidate.window.observe(numbers[index], numbers, [other for other in growing if other != index], when)
        if closed is None:
            return
        growths, carried = closed
        fits = grown_registers(growths, carried, INTEGRAL_TOLERANCE)
        register = import_register(fits, numbers, growing) if len(fits) <= MAX_FITS else None
        if candidate.window.agree(register) == 1:
            candidate.streak_from = candidate.opened
        candidate.opened = self.seen[index].closed = self.telegrams
        if fits:
            self.seen[index].fitted = self.telegrams
        if register is not None:
            grew = at(growths[register.total], register.exponent)
            candidate.evidence = (
                f"moves, and its integral by the meter's clock, {carried:.0f} Wh, is what the register at"
                f" position {register.total} grew by ({grew:g} Wh at 10^{register.exponent} Wh)"
            )

    def _proven(self) -> int | None:
        """Return the number whose integral matched in enough windows in a row, once every other was weighed.

        Not where a flow set aside as the export, sent before it, flowed since the windows began (the import
        read 0: lists send the active import first, and what moves after the export is something else, a
        reactive power), nor where another number's integral fitted a register's growth since (a reactive
        power's, an export's, a phase's equal to the total), or another read below 0 since (a signed power,
        exporting), nor while another that moved since has closed no window since (a small import, a battery's,
        is no rival until its integral is weighed; nor one that woke from 0, a candidate or not yet).
        """
        ready = [
            (index, candidate)
            for index, candidate in sorted(self.candidates.items())
            if not candidate.beside_a_zero and candidate.window.agreed >= INTEGRAL_WINDOWS
        ]
        if not self.voiceless or len(ready) != 1:
            return None
        index, candidate = ready[0]
        since = candidate.streak_from
        if any(
            other < index and aside.beside_a_zero and self.seen[other].flowed >= since
            for other, aside in self.candidates.items()
        ):
            return None
        others = [seen for other, seen in self.seen.items() if other != index]
        if any(seen.fitted >= since or seen.negative >= since for seen in others):
            return None
        unweighed = [
            other
            for other, seen in self.seen.items()
            if other != index
            and (other in self.candidates or seen.woke >= since)
            and seen.moved >= since
            and seen.closed < since
        ]
        return None if unweighed else index

    def evidence(self, index: int) -> str:
        """Say what proved a number the power."""
        windows = self.candidates[index].window.agreed
        return (
            f"{self.candidates[index].evidence}, within {INTEGRAL_TOLERANCE:.0%}, in {windows} windows in a row,"
            " and no other number's did: the power of a list that sends no voltages, the flow seen taken as import"
        )
