"""The import register of a learned list, and its tariffs: found by the energy the proven power carried.

A register that only grows, and grew by the power's integral by the meter's clock, is the import register:
unless a register of its size stood still beside it, which may be its other tariff (see ImportRegisters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .learned_positions import ENERGY_IMPORT, TARIFFS, LearnedPosition
from .proofs import Numbers, Register, Span, at, grown_registers, import_register
from .resolution import MIN_EVIDENCE_ENERGY, clock_elapsed

if TYPE_CHECKING:
    from collections.abc import Mapping

ENERGY_CONFIRMATIONS = 2
"""Windows in a row that must find the same import register."""
SIBLING_SHARE = 0.01
"""A register that stands still beside one growing by the power's energy, and at least this share of its size, may
be its other tariff: the one growing may be the running tariff, no total. A home without solar exports near 0."""
NO_IMPORT_GAP = timedelta(minutes=1)
"""Telegrams that saw no import at most this far apart: a register that rose between them is no import's."""
TARIFF_RUNS_AT_MOST = timedelta(days=7)
"""A tariff runs a night, a day, or a weekend with its holidays (Easter's, Thursday night to Tuesday): a register
that stood still for longer is no other tariff of a register growing by the power's energy (a reactive register,
a setting). A seasonal tariff runs longer, and is taken for one."""
# A 15-minute list's power, sampled every quarter hour, still integrates.
MAX_SAMPLE_GAP = timedelta(minutes=16)
_NO_TIME = timedelta(0)


@dataclass(slots=True)
class EnergyWindow:
    """The import power integrated by the meter's clock, and the registers where the window started."""

    started: dict[int, float] = field(default_factory=dict)
    rising: dict[int, float] = field(default_factory=dict)
    """The latest value of each register that did not fall since the window started: a total only grows."""
    integral: float = 0.0
    power: float = 0.0
    power_at: datetime | None = None
    found: Register | None = None
    """What the windows before found, and in how many in a row."""
    agreed: int = 0
    max_gap: timedelta = MAX_SAMPLE_GAP
    """The longest gap between two samples of the power the integral bridges."""

    def observe(
        self, power: float, numbers: Numbers, growing: list[int], when: datetime
    ) -> tuple[Numbers, float] | None:
        """Integrate a telegram's power; once it carried enough energy, return each register's growth and it (Wh)."""
        gap = clock_elapsed(self.power_at, when)
        if gap is None or gap < _NO_TIME or gap > self.max_gap:
            # A hole in the power, or a clock set back: the window starts again.
            self._start(numbers, growing)
        else:
            self.integral += (self.power + power) / 2 * gap.total_seconds() / 3600
            # A window may outlast what a position's span recalls: a value that fell inside it is no total's.
            self.rising = {
                index: numbers[index]
                for index, latest in self.rising.items()
                if index in numbers and numbers[index] >= latest
            }
        self.power, self.power_at = power, when
        if self.integral < MIN_EVIDENCE_ENERGY:
            return None
        growths = {
            index: numbers[index] - self.started[index]
            for index in growing
            if index in self.started and index in self.rising
        }
        carried = self.integral
        self._start(numbers, growing)
        return growths, carried

    def _start(self, numbers: Numbers, growing: list[int]) -> None:
        """Start a window at a telegram: its growing registers as they stand, and nothing integrated."""
        self.started = {index: numbers[index] for index in growing}
        self.rising = dict(self.started)
        self.integral = 0.0

    def agree(self, register: Register | None) -> int:
        """Count the windows in a row that found this register."""
        self.agreed = self.agreed + 1 if register is not None and register == self.found else int(register is not None)
        self.found = register
        return self.agreed


@dataclass(slots=True)
class _Held:
    """Registers of a register's size that stood still while it grew by the power's energy: its other tariff, maybe."""

    exponent: int
    still: set[int]
    grew: str
    """What it grew by, for the evidence."""
    grew_in: dict[int, int] = field(default_factory=dict)
    """The window in which each of them last grew while it grew by the power's energy (a window's number)."""
    no_tariffs: set[int] = field(default_factory=set)
    """Those that grew beside it in a window after which it went on growing: no tariff of it."""


@dataclass(slots=True)
class ImportRegisters:
    """What the registers did as the proven power carried energy, until the import register (or tariffs) is found.

    The running tariff grows as its total would: in a list without the total, it is told apart by the other
    tariff, a register of its size that stands still until the tariff changes, then grows by the power's energy
    while the first stands still. A still register of that size beside the total is an export at rest, or a
    tariff: the total waits until it rises while no import flows (an export's), grows beside the total in a
    window after which the total goes on growing (no tariff: a reactive register), or has stood still for
    longer than any tariff runs (a setting). Tariffs that run in turn each stood still only while another ran.
    """

    window: EnergyWindow = field(default_factory=EnergyWindow)
    held: dict[int, _Held] = field(default_factory=dict)
    """Each register found growing by the power's energy beside still ones of its size."""
    holding: int | None = None
    """The register found last, while it is held."""
    exports: set[int] = field(default_factory=set)
    """Registers that rose between two telegrams close in time that both saw no import, and have not since risen
    between two that saw it flow: no tariff of the import."""
    still_for: dict[int, timedelta] = field(default_factory=dict)
    """How long each register has stood still, by the meter's clock between telegrams close enough to tell."""
    windows: int = 0
    """Windows closed so far: each one's number."""
    rose_alone: set[int] = field(default_factory=set)
    """Registers that rose, in the window open, between telegrams between which the register found did not."""
    resumed: dict[int, tuple[float, timedelta]] = field(default_factory=dict)
    """Registers that stood still before a restart, at what value and for how long: the first telegram since
    finds a register that only grows at that value, which it held all along, and its standing still counts on."""

    @property
    def waiting(self) -> str:
        """What the import register waits for."""
        if self.holding is None:
            return "an import register that grows by the energy the power carries"
        return (
            "the running tariff to change, or a register of its size beside the import's to rise while no import"
            f" flows, or to stand still for {TARIFF_RUNS_AT_MOST.days} days: one that grows by the power's energy"
            " beside a still one may be a tariff"
        )

    def observe(
        self, power: int, numbers: Numbers, growing: list[int], spans: Mapping[int, Span], when: datetime
    ) -> list[LearnedPosition]:
        """Weigh a telegram; return the positions it proved (the import register and its tariffs), if any."""
        self._since_the_last(numbers[power], growing, spans, when)
        found = self.window.found.total if self.window.found is not None else None
        if found is None or not spans[found].rose:
            self.rose_alone.update(index for index in growing if spans[index].rose)
        closed = self.window.observe(numbers[power], numbers, growing, when)
        if closed is None:
            return []
        growths, carried = closed
        self.windows += 1
        rose_alone, self.rose_alone = self.rose_alone, set()
        register = import_register(grown_registers(growths, carried), numbers, growing)
        agreed = self.window.agree(register)
        if register is None:
            return []
        grew = f"grew {at(growths[register.total], register.exponent):g} Wh as the power carried {carried:.0f} Wh"
        still = self._still(register, growths, numbers, rose_alone)
        if agreed < ENERGY_CONFIRMATIONS:
            # One window proves nothing, but what stood still beside the register in it is kept: the tariff may
            # change in the next, the other tariff growing in it beside the one that ran.
            if still and not register.tariffs:
                self._hold(register, still, grew)
            return []
        if register.tariffs or not still:
            self.holding = None
            aged = "" if register.tariffs else self._aged(self.held.get(register.total))
            evidence = f"only grows, and {grew}, at 10^{register.exponent} Wh, in {agreed} windows in a row{aged}"
            return _total_and_tariffs(register, numbers, evidence)
        partner = next(iter(still)) if len(still) == 1 else None
        if partner is None or not self._grew_beside(partner, register):
            self._hold(register, still, grew)
            self.holding = register.total
            return []
        # The two grew by the power's energy in turn, each while the other stood still, and nothing else did.
        self.holding = None
        evidence = (
            "each only grows, and grew by the power's energy while the other stood still"
            f" (one {self.held[partner].grew}, the other {grew}): the tariffs of an import whose total the list does"
            " not send, numbered in the list's order"
        )
        return [
            LearnedPosition(index, code, register.exponent, evidence)
            for index, code in zip(sorted((partner, register.total)), TARIFFS, strict=True)
        ]

    def _hold(self, register: Register, still: frozenset[int], grew: str) -> None:
        """Keep the registers that stood still beside one that grew by the power's energy: its other tariff, maybe."""
        held = self.held.get(register.total)
        if held is None:
            self.held[register.total] = _Held(register.exponent, set(still), grew)
        else:
            held.still, held.grew = set(still), grew

    def _still(
        self, register: Register, growths: Mapping[int, float], numbers: Numbers, rose_alone: set[int]
    ) -> frozenset[int]:
        """Return the registers that may be another tariff of one that grew by the power's energy in a window.

        Those of its size that stood still in it, and those that did before unless one grew beside it in a window
        after which it went on growing by the power's energy (a tariff changes inside a window, the other growing
        a little with it, and the one that ran stands still after), or rose while no import flowed.
        """
        least = numbers[register.total] * SIBLING_SHARE
        now = {index for index, growth in growths.items() if growth == 0 and numbers[index] >= least}
        held = self.held.get(register.total)
        before: set[int] = set()
        if held is not None:
            # One that grew beside it in the window before this one, it growing by the power's energy in both,
            # did not take the import over as a tariff does once it changes.
            held.no_tariffs.update(index for index, window in held.grew_in.items() if window == self.windows - 1)
            # Only one that rose only as it rose: a tariff that ran, however briefly, rose while it stood still.
            held.grew_in.update(
                (index, self.windows) for index in held.still if growths.get(index, 0) > 0 and index not in rose_alone
            )
            before = held.still - held.no_tariffs
            now -= held.no_tariffs
        aged = {index for index in now | before if self._stood_long(index)}
        return frozenset((now | before) - self.exports - aged - {register.total})

    def standing_still(self, spans: Mapping[int, Span]) -> dict[int, tuple[float, timedelta]]:
        """Each register that stands still, at its value and for how long: for a store, to count on after a restart.

        Before the first telegram since the last restart, those it counted on.
        """
        if self.window.power_at is None:
            return dict(self.resumed)
        return {index: (spans[index].last, still) for index, still in self.still_for.items() if still > _NO_TIME}

    def _since_the_last(self, power: float, growing: list[int], spans: Mapping[int, Span], when: datetime) -> None:
        """Weigh what the registers did since the telegram before: how long they stood still, and which exported.

        At the first telegram since a restart, a register at the value it stood still at before has not moved:
        how long it stood still counts on.
        """
        if self.window.power_at is None:
            self.still_for = {
                index: still
                for index, (value, still) in self.resumed.items()
                if index in spans and spans[index].last == value
            }
            self.resumed = {}
        gap = clock_elapsed(self.window.power_at, when)
        if gap is not None and _NO_TIME < gap <= MAX_SAMPLE_GAP:
            self._stand(gap, growing, spans)
            if gap <= NO_IMPORT_GAP and self.window.power == 0 == power:
                self._exported(growing, spans)
            elif self.window.power > 0 and power > 0:
                # An export register of a meter that nets its phases never rises while the import flows.
                self.exports.difference_update(index for index in growing if spans[index].rose)

    def _stand(self, gap: timedelta, growing: list[int], spans: Mapping[int, Span]) -> None:
        """Count a gap between telegrams towards how long each register that did not move in it has stood still."""
        self.still_for = {
            index: self.still_for.get(index, _NO_TIME) + gap if spans[index].last == spans[index].previous else _NO_TIME
            for index in growing
        }

    def _stood_long(self, index: int) -> bool:
        """Whether a register has stood still for longer than any tariff runs."""
        return self.still_for.get(index, _NO_TIME) >= TARIFF_RUNS_AT_MOST

    def _aged(self, held: _Held | None) -> str:
        """Say, for the evidence, how long registers held beside one stood still, if longer than a tariff runs."""
        aged = [self.still_for[index] for index in (held.still if held else ()) if self._stood_long(index)]
        if not aged:
            return ""
        hours = min(aged) / timedelta(hours=1)
        return f"; what stood still beside it for {hours:.0f} h of telegrams or more is no tariff: none runs that long"

    def _exported(self, growing: list[int], spans: Mapping[int, Span]) -> None:
        """Take registers that rose between two telegrams that saw no import for exports, unless the import's did."""
        rose = {index for index in growing if spans[index].rose}
        found = self.window.found.total if self.window.found is not None else None
        if rose.isdisjoint({*self.held, found}):
            self.exports |= rose

    def _grew_beside(self, index: int, register: Register) -> bool:
        """Whether a register grew by the power's energy before, at this resolution, while this one stood still."""
        held = self.held.get(index)
        return held is not None and held.exponent == register.exponent and register.total in held.still


def _total_and_tariffs(register: Register, numbers: Numbers, evidence: str) -> list[LearnedPosition]:
    """Return an import register proven, and the tariffs that add up to it, if the list sends them."""
    tariffs = " + ".join(f"{numbers[index]:g}" for index in register.tariffs)
    summed = f"only grow, and add up to the import register: {tariffs} = {numbers[register.total]:g}"
    return [
        LearnedPosition(register.total, ENERGY_IMPORT, register.exponent, evidence),
        *(
            LearnedPosition(index, code, register.exponent, summed)
            for index, code in zip(register.tariffs, TARIFFS, strict=False)
        ),
    ]
