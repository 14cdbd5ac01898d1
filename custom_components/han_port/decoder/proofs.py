"""What the values of a list without OBIS codes prove about each position, by physics alone.

Pure functions over one telegram's numbers (raw, by position) and what is
known of them so far; `learned` keeps the state between telegrams. A
position's meaning is proven only where exactly one reading of the numbers
fits: where two fit, nothing is proven, and the list waits for telegrams that
tell them apart.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import chain, combinations, pairwise, product
from typing import TYPE_CHECKING

from .registers import ACTIVE_POWER
from .resolution import (
    APPARENT_RATIO_RANGE,
    CURRENT_EXPONENTS,
    ENERGY_EXPONENTS,
    ENERGY_TOLERANCE,
    VOLTAGE_EXPONENTS,
    VOLTAGE_RANGE,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

type Numbers = Mapping[int, float]
"""A telegram's numeric values, raw, by their position in the list."""

# A phase voltage near 230 V (TN, or Norway's IT grid line to line), or a
# line-to-line voltage near 400 V: both ranges together are under a factor of
# ten wide, so a value lies in them at one resolution at most.
VOLTAGE_RANGES = (VOLTAGE_RANGE, (340.0, 460.0))
# The phases of one grid agree within a few percent at any moment, and each
# moves within this much of itself from one telegram to the next.
PHASE_AGREEMENT = 0.06
VOLTAGE_STEADINESS = 0.1
# Power is sent in watts by every known list: the currents' resolution is
# what the phases' U·I tells, against it.
# How far U·I·(power factor 1) may fall short of the power measured: the
# values are taken moments apart, and the current is rounded.
POWER_TOLERANCE = 0.15
# ΣU·I over the active power at most: the apparent power's ratio (√3 on an
# IT grid), at a household's power factor. More is a coincidence, not a load;
# only weighed above this power, below which standby loads have any power
# factor at all.
MAX_APPARENT_RATIO = APPARENT_RATIO_RANGE[1]
MIN_EVIDENCE_POWER = 500.0
# A household's phase under that load draws at a power factor over this: its
# big loads are heaters, motors and corrected supplies. A current that makes
# a loaded phase's factor lower belongs to something else (a reactive power).
MIN_PHASE_POWER_FACTOR = 0.5
# A per-phase sum lands within this much of its total (each part is rounded).
SUM_SLACK = 3.0
SUM_TOLERANCE = 0.02
# A list whose numbers make more readings fit than this proves nothing by
# that telegram: coincidences, not physics (and a bound on the work).
MAX_HYPOTHESES = 2048
# A list sends one or two sets of phase parts (import, export): more sums in a
# telegram are coincidences of its numbers.
MAX_PHASE_SUMS = 16
_THREE_PHASES = 3


def at(raw: float, exponent: int) -> float:
    """Return a raw value at a resolution of 10^exponent (for weighing, not showing)."""
    return raw * 10.0**exponent


@dataclass(slots=True)
class Span:
    """What one numeric position held over the telegrams so far."""

    low: float
    high: float
    grows: bool = True
    """Never smaller than the telegram before: a register's total."""
    last: float = 0.0

    @classmethod
    def first(cls, value: float) -> Span:
        """Start from a position's first value."""
        return cls(value, value, last=value)

    def add(self, value: float) -> None:
        """Take a telegram's value in."""
        self.low, self.high = min(self.low, value), max(self.high, value)
        self.grows = self.grows and value >= self.last
        self.last = value


def voltage_groups(spans: Mapping[int, Span]) -> list[tuple[tuple[int, ...], int]]:
    """Return the position groups (and resolution) whose every value so far is a grid's voltage, phases agreeing.

    A group holds each position that, at one resolution, stayed inside a
    voltage range and steady; its members, now, agree within PHASE_AGREEMENT.
    """
    groups = []
    for exponent in VOLTAGE_EXPONENTS:
        for low, high in VOLTAGE_RANGES:
            members = tuple(
                index
                for index, span in spans.items()
                if low <= at(span.low, exponent)
                and at(span.high, exponent) <= high
                and span.high <= span.low * (1 + VOLTAGE_STEADINESS)
            )
            nows = [spans[index].last for index in members]
            if 0 < len(members) <= _THREE_PHASES and max(nows) <= min(nows) * (1 + PHASE_AGREEMENT):
                groups.append((members, exponent))
    return groups


def the_voltages(groups: list[tuple[tuple[int, ...], int]]) -> tuple[tuple[int, ...], int] | None:
    """Choose the phase voltages among the groups: the one group, or the one of three phases.

    Three values that agree near nominal are a grid's phases; one value in
    range may be a steady load's watts, and proves nothing beside another.
    """
    three = [group for group in groups if len(group[0]) == _THREE_PHASES]
    if len(three) == 1:
        return three[0]
    return groups[0] if len(groups) == 1 else None


@dataclass(frozen=True, slots=True)
class PowerReading:
    """A reading of a list's power: which positions hold the total, its phases' parts and the currents."""

    total: int
    phases: tuple[int, ...]
    """The phases' active powers in list order; () where the list sends none."""
    currents: tuple[int, ...]
    exponent: int
    """The currents' resolution."""


def _sum_slack(total: float) -> float:
    return max(SUM_SLACK, total * SUM_TOLERANCE)


def _phase_carries(part: float, load: float, slack: float) -> bool:
    """Whether a phase's U·I (load, with the current's rounding as slack) carries its active power part."""
    if part < 0 or load * (1 + POWER_TOLERANCE) + slack < part:
        return False
    return load < MIN_EVIDENCE_POWER or part >= (load - slack) * MIN_PHASE_POWER_FACTOR


def _slack(volt: float, exponent: int) -> float:
    """Return the VA a current rounded to its last digit may hide: half a digit, and a watt of rounded power."""
    return at(volt / 2, exponent) + 1


def carries(reading: PowerReading, numbers: Numbers, volts: Sequence[float]) -> bool | None:
    """Weigh a power reading against a telegram: None when physics refutes it, True when it confirms it under load.

    False: it holds, but the load is too small to tell it from another.
    Each phase's U·I must carry its part (a power factor is at most 1); all
    of them the total, and under load not wildly more.
    """
    total = numbers[reading.total]
    currents = [numbers[index] for index in reading.currents]
    if total < 0 or min(currents) < 0:
        return None
    loads = [at(volt * current, reading.exponent) for volt, current in zip(volts, currents, strict=True)]
    slacks = [_slack(volt, reading.exponent) for volt in volts]
    # One phase's power is the total: its part, weighed as each phase's is.
    parts = [numbers[index] for index in reading.phases] if reading.phases else [total] if len(volts) == 1 else []
    if abs(sum(parts) - total) > _sum_slack(total) and parts:
        return None
    if not all(_phase_carries(part, load, slack) for part, load, slack in zip(parts, loads, slacks, strict=False)):
        return None
    apparent = sum(loads)
    if apparent * (1 + POWER_TOLERANCE) + sum(slacks) < total:
        return None
    if total < MIN_EVIDENCE_POWER:
        return False
    return True if apparent <= total * MAX_APPARENT_RATIO else None


def phase_sums(numbers: Numbers, free: Sequence[int]) -> list[tuple[int, tuple[int, ...]]] | None:
    """Return the totals that three other positions add up to, under load: a total and its phases' parts.

    None when more fit than MAX_PHASE_SUMS: the telegram proves nothing.
    """
    # Totals a household's power can be: an energy register's tariffs add up too, but to no power.
    totals = sorted(
        (numbers[index], index) for index in free if MIN_EVIDENCE_POWER <= numbers[index] <= ACTIVE_POWER.high
    )
    values = [value for value, _ in totals]
    sums = []
    for parts in combinations((index for index in free if numbers[index] >= 0), _THREE_PHASES):
        # A total that is one part beside two zeros is any number equal to itself: two phases must carry load.
        if sum(numbers[index] > SUM_SLACK for index in parts) < 2:  # noqa: PLR2004 - two phases
            continue
        added = sum(numbers[index] for index in parts)
        slack = _sum_slack(added)
        for _, total in totals[bisect_left(values, added - slack) : bisect_right(values, added + slack)]:
            if total not in parts:
                sums.append((total, parts))
        if len(sums) > MAX_PHASE_SUMS:
            return None
    return sums


def _by_phase(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], phase_sum: tuple[int, tuple[int, ...]], exponent: int
) -> Iterator[PowerReading]:
    """Yield the readings of a total and its phases' parts: currents in list order, each carrying its part."""
    total, parts = phase_sum
    taken = {total, *parts}
    fitting = [
        [
            index
            for index in free
            if index not in taken
            and numbers[index] >= 0
            and _phase_carries(numbers[part], at(volt * numbers[index], exponent), _slack(volt, exponent))
        ]
        for volt, part in zip(volts, parts, strict=True)
    ]
    for currents in product(*fitting):
        if all(earlier < later for earlier, later in pairwise(currents)):
            yield PowerReading(total, parts, currents, exponent)


def _by_total(numbers: Numbers, free: Sequence[int], volts: Sequence[float], exponent: int) -> Iterator[PowerReading]:
    """Yield the readings of a list without phase parts: any currents, and a total their U·I may carry.

    Totals are found by value among the loaded positions, not tried one by one.
    """
    loaded = sorted((numbers[index], index) for index in free if numbers[index] >= MIN_EVIDENCE_POWER)
    values = [value for value, _ in loaded]
    for currents in combinations(free, len(volts)):
        apparent = sum(at(volt * numbers[index], exponent) for volt, index in zip(volts, currents, strict=True))
        upper = apparent * (1 + POWER_TOLERANCE) + sum(_slack(volt, exponent) for volt in volts)
        for _, total in loaded[bisect_left(values, apparent / MAX_APPARENT_RATIO) : bisect_right(values, upper)]:
            if total not in currents:
                yield PowerReading(total, (), currents, exponent)


def power_readings(numbers: Numbers, free: Sequence[int], volts: Sequence[float]) -> dict[PowerReading, int] | None:
    """Return every reading of the power this telegram, under load, confirms (None: too many to mean anything).

    With three phases, the total is one their parts add up to, if the list
    sends such parts; otherwise any position the currents carry.
    """
    sums = phase_sums(numbers, free) if len(volts) == _THREE_PHASES else []
    if sums is None:
        return None
    readings: dict[PowerReading, int] = {}
    for exponent in CURRENT_EXPONENTS:
        found = (
            chain.from_iterable(_by_phase(numbers, free, volts, phase_sum, exponent) for phase_sum in sums)
            if sums
            else _by_total(numbers, free, volts, exponent)
        )
        for reading in found:
            if carries(reading, numbers, volts):
                readings[reading] = 1
                if len(readings) > MAX_HYPOTHESES:
                    return None
    return readings


@dataclass(frozen=True, slots=True)
class Register:
    """An energy register's reading: its position and resolution, and its tariffs' positions if the list sends them."""

    total: int
    exponent: int
    tariffs: tuple[int, ...]


def grown_registers(growths: Mapping[int, float], carried: float) -> list[tuple[int, int]]:
    """Return the positions (and resolutions) that grew by the energy the power carried (Wh)."""
    return [
        (index, exponent)
        for index, growth in growths.items()
        if growth > 0
        for exponent in ENERGY_EXPONENTS
        if abs(at(growth, exponent) / carried - 1) <= ENERGY_TOLERANCE
    ]


def tariffs_of(total: int, numbers: Numbers, growing: Sequence[int]) -> tuple[int, ...]:
    """Return the two registers that add up to a total, to the unit, if exactly two do."""
    pairs = [
        (first, second)
        for first, second in combinations((index for index in growing if index != total), 2)
        if numbers[first] > 0 and numbers[second] > 0 and abs(numbers[first] + numbers[second] - numbers[total]) <= 1
    ]
    return pairs[0] if len(pairs) == 1 else ()


def import_register(fits: list[tuple[int, int]], numbers: Numbers, growing: Sequence[int]) -> Register | None:
    """Choose the import register among those that grew with the power: the one, or the one its tariffs add up to.

    The running tariff grows as its total does: the total is told apart as
    the sum of the tariffs.
    """
    if len(fits) == 1:
        total, exponent = fits[0]
        return Register(total, exponent, tariffs_of(total, numbers, growing))
    summed = [Register(total, exponent, tariffs_of(total, numbers, growing)) for total, exponent in fits]
    summed = [register for register in summed if register.tariffs]
    return summed[0] if len(summed) == 1 else None
