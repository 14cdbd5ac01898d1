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
from itertools import chain, combinations, product
from typing import TYPE_CHECKING

from .registers import ACTIVE_POWER, CURRENT
from .resolution import (
    APPARENT_RATIO_RANGE,
    CURRENT_EXPONENTS,
    ENERGY_EXPONENTS,
    ENERGY_TOLERANCE,
    POWER_FACTOR_RANGE,
    VOLTAGE_EXPONENTS,
    VOLTAGE_RANGE,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

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
# A table's reading is refuted only where no household could make it: under
# load, with every phase flowing one way, a power factor below this is no household's.
TABLE_POWER_FACTOR = POWER_FACTOR_RANGE[0]
# Nor phases further apart than this: EN 50160 keeps each within ±10 % of
# nominal, 207 to 253 V, which are 22 % apart.
TABLE_PHASE_SPREAD = 0.25
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
# More steady values in a voltage range than this: the list's numbers settle no voltage.
MAX_VOLTAGE_CANDIDATES = 9
_THREE_PHASES = 3


def at(raw: float, exponent: int) -> float:
    """Return a raw value at a resolution of 10^exponent (for weighing, not showing)."""
    return raw * 10.0**exponent


# A position's span covers this many telegrams at least, and twice as many at most: long enough that what it
# proves (a voltage steady, a total that only grows) held for a while, short enough that one value that lies
# (damaged on the line, or a stranger's) is forgotten, and delays a proof rather than refuting it for good.
SPAN_TELEGRAMS = 60


@dataclass(slots=True)
class _Stretch:
    """What a position held over a stretch of telegrams."""

    low: float
    high: float
    grows: bool
    telegrams: int = 1


@dataclass(slots=True)
class Span:
    """What one numeric position held over the recent telegrams: the stretch now, and the one before it."""

    now: _Stretch
    before: _Stretch | None = None
    last: float = 0.0
    previous: float | None = None
    """The value before the last."""

    @classmethod
    def first(cls, value: float) -> Span:
        """Start from a position's first value."""
        return cls(_Stretch(value, value, grows=True), last=value)

    @property
    def low(self) -> float:
        """The lowest value of the recent telegrams."""
        return self.now.low if self.before is None else min(self.now.low, self.before.low)

    @property
    def high(self) -> float:
        """The highest value of the recent telegrams."""
        return self.now.high if self.before is None else max(self.now.high, self.before.high)

    @property
    def grows(self) -> bool:
        """Whether no recent telegram held less than the one before it: a register's total."""
        return self.now.grows and (self.before is None or self.before.grows)

    @property
    def rose_only(self) -> bool:
        """Whether the recent telegrams' values rose and never fell: a register's, not what follows a load."""
        return self.grows and self.low < self.high

    @property
    def moves(self) -> bool:
        """Whether the recent telegrams' values rose and fell, as a home's power and currents do."""
        return self.low < self.high and not self.rose_only

    @property
    def rose(self) -> bool:
        """Whether the latest telegram's value is above the one before it."""
        return self.previous is not None and self.last > self.previous

    def add(self, value: float) -> None:
        """Take a telegram's value in."""
        grows = value >= self.last
        now = self.now
        if now.telegrams >= SPAN_TELEGRAMS:
            self.before, self.now = now, _Stretch(value, value, grows)
        else:
            now.low, now.high, now.grows = min(now.low, value), max(now.high, value), now.grows and grows
            now.telegrams += 1
        self.previous, self.last = self.last, value


def _steady_in(spans: Mapping[int, Span], exponent: int, low: float, high: float) -> tuple[int, ...]:
    """Return the positions that, at a resolution of 10^exponent, stayed inside a voltage range and steady."""
    return tuple(
        index
        for index, span in spans.items()
        if low <= at(span.low, exponent)
        and at(span.high, exponent) <= high
        and span.high <= span.low * (1 + VOLTAGE_STEADINESS)
    )


def _agree(spans: Mapping[int, Span], members: Sequence[int]) -> bool:
    nows = [spans[index].last for index in members]
    return max(nows) <= min(nows) * (1 + PHASE_AGREEMENT)


def the_voltages(spans: Mapping[int, Span]) -> tuple[tuple[int, ...], int] | None:
    """Choose the phase voltages (and their resolution) among the positions, or None while nothing settles them.

    Three steady values near nominal that agree now are a grid's phases,
    when no other three are, and no other value agrees with them, looking
    like a voltage now (a phase whose values one telegram spoiled, damaged
    or a stranger's, is a phase all the same): a fourth steady value in range
    (a threshold, a setting) leaves them the phases. One value in range is the
    voltage only when nothing else anywhere is steady in a voltage range, nor
    reads like a voltage at its resolution now: a lone value may be a steady
    load's watts or a setting, and it is proven only once it was the only one
    for longer than a lie is recalled (see learned.LONE_VOLTAGE_TELEGRAMS).
    """
    candidates = [
        (members, exponent)
        for exponent in VOLTAGE_EXPONENTS
        for low, high in VOLTAGE_RANGES
        if (members := _steady_in(spans, exponent, low, high))
    ]
    if sum(len(members) for members, _ in candidates) > MAX_VOLTAGE_CANDIDATES:
        return None
    triples = [
        (triple, exponent)
        for members, exponent in candidates
        for triple in combinations(members, _THREE_PHASES)
        if _agree(spans, triple)
    ]
    if triples:
        return triples[0] if len(triples) == 1 and not _phase_now(spans, triples[0][0]) else None
    if len(candidates) != 1:
        return None
    # Never two: no meter has two phases. Two agreeing are a phase and a load that reads like one, or two
    # phases of three whose third one telegram spoiled. One, while another value looks like a voltage at its
    # resolution, may be a load that reads like one beside a voltage its spoiled values keep from being steady.
    members, exponent = candidates[0]
    # A lone value that only rose is a register's (its Wh at 0.01 read like volts): a grid's voltage also falls.
    if (
        len(members) != 1
        or spans[members[0]].rose_only
        or any(_looks_like_a_voltage(span, (exponent,)) for index, span in spans.items() if index not in members)
    ):
        return None
    return candidates[0]


def _phase_now(spans: Mapping[int, Span], members: Sequence[int]) -> bool:
    """Whether a position other than members looks like a voltage now, agreeing with theirs, steady or not.

    Its last two values lie near nominal at one resolution, within a
    voltage's steadiness of each other, and agree with the members' now.
    """
    return any(
        _looks_like_a_voltage(span) and _agree(spans, (*members, index))
        for index, span in spans.items()
        if index not in members
    )


def like_voltages(spans: Mapping[int, Span]) -> set[int]:
    """Return the positions whose values look like a voltage now: steady near nominal at a resolution."""
    return {index for index, span in spans.items() if _looks_like_a_voltage(span)}


def _looks_like_a_voltage(span: Span, exponents: Sequence[int] = VOLTAGE_EXPONENTS) -> bool:
    """Whether a position's last two values lie near nominal at one of these resolutions, and agree."""
    last, previous = span.last, span.previous
    if (
        previous is None
        or not min(last, previous) > 0
        or max(last, previous) > min(last, previous) * (1 + VOLTAGE_STEADINESS)
    ):
        return False
    return any(
        low <= at(min(last, previous), exponent) and at(max(last, previous), exponent) <= high
        for exponent in exponents
        for low, high in VOLTAGE_RANGES
    )


@dataclass(frozen=True, slots=True)
class PowerReading:
    """A reading of a list's power: which positions hold the total, its phases' parts and the currents."""

    total: int
    phases: tuple[int, ...]
    """The phases' active powers in list order; () where the list sends none."""
    currents: tuple[int, ...]
    exponent: int
    """The currents' resolution."""

    @property
    def positions(self) -> tuple[int, ...]:
        """Every position the reading reads: the total, the phases' parts and the currents."""
        return (self.total, *self.phases, *self.currents)


def _a_current(raw: float, exponent: int) -> bool:
    """Whether a number, at a resolution, is a current a household draws (unsigned: an importing one)."""
    return 0 <= at(raw, exponent) <= CURRENT.high


def _a_load(power: float) -> bool:
    """Whether a number is a household's power under a load that proves something."""
    return MIN_EVIDENCE_POWER <= power <= ACTIVE_POWER.high


def _sum_slack(total: float) -> float:
    return max(SUM_SLACK, total * SUM_TOLERANCE)


def _phase_carries(part: float, load: float, slack: float) -> bool:
    """Whether a phase's U·I (load, with the current's rounding as slack) carries its part as a household's does."""
    if not _within(part, load, slack):
        return False
    return load < MIN_EVIDENCE_POWER or part >= (load - slack) * MIN_PHASE_POWER_FACTOR


def _within(part: float, load: float, slack: float) -> bool:
    """Whether a phase's U·I carries its part at all: a power factor is at most 1."""
    return 0 <= part <= load * (1 + POWER_TOLERANCE) + slack


def _slack(volt: float, exponent: int) -> float:
    """Return the VA a current rounded to its last digit may hide: half a digit, and a watt of rounded power."""
    return at(volt / 2, exponent) + 1


def _parts(reading: PowerReading, numbers: Numbers, phases: int) -> list[float]:
    """Return the phases' parts of the power a reading places; one phase's power is the total."""
    if reading.phases:
        return [numbers[index] for index in reading.phases]
    return [numbers[reading.total]] if phases == 1 else []


def _loads(reading: PowerReading, numbers: Numbers, volts: Sequence[float]) -> tuple[list[float], list[float]]:
    """Return each phase's U·I (VA) by a reading, a current's sign set aside, and the VA its rounding may hide."""
    currents = [abs(numbers[index]) for index in reading.currents]
    loads = [at(volt * current, reading.exponent) for volt, current in zip(volts, currents, strict=True)]
    return loads, [_slack(volt, reading.exponent) for volt in volts]


def power_holds(reading: PowerReading, numbers: Numbers, volts: Sequence[float]) -> bool:
    """Whether a telegram obeys, by a power reading, what every meter's power does, at any power factor or flow.

    Each phase's U·I carries its part, and all of them the total (a power
    factor is at most 1); the total is its phases' parts. A meter may net its
    phases: a phase that imports nothing may export (as a one-phase inverter
    makes it), and lower the total below the importing parts by what its
    U·I carries, no more. Some meters sign a current, or a power, by its flow.
    """
    total = numbers[reading.total]
    loads, slacks = _loads(reading, numbers, volts)
    parts = _parts(reading, numbers, len(volts))
    if not all(_within(abs(part), load, slack) for part, load, slack in zip(parts, loads, slacks, strict=False)):
        return False
    if parts:
        exporting = [
            load * (1 + POWER_TOLERANCE) + slack
            for part, load, slack in zip(parts, loads, slacks, strict=False)
            if part <= slack
        ]
        netted = sum(parts) - total
        if not -_sum_slack(total) <= netted <= sum(exporting) + _sum_slack(total):
            return False
    return _within(abs(total), sum(loads), sum(slacks))


def carries(reading: PowerReading, numbers: Numbers, volts: Sequence[float]) -> bool | None:
    """Weigh a power reading against a telegram: None when physics refutes it, True when it confirms it under load.

    False: it holds, but the load is too small to tell it from another.
    Besides what every meter's power obeys (power_holds), a reading to
    prove must be a household's importing: no current signed, the phases'
    parts adding up to the total, and under load each part, and the total,
    not wildly less than its U·I.
    """
    total = numbers[reading.total]
    parts = _parts(reading, numbers, len(volts))
    if not all(_a_current(numbers[index], reading.exponent) for index in reading.currents) or total > ACTIVE_POWER.high:
        # Beyond what any household's meter measures: an energy register's number, say, read as a power or current.
        return None
    if parts and abs(sum(parts) - total) > _sum_slack(total):
        return None
    if not power_holds(reading, numbers, volts):
        return None
    loads, slacks = _loads(reading, numbers, volts)
    if not all(_phase_carries(part, load, slack) for part, load, slack in zip(parts, loads, slacks, strict=False)):
        return None
    if total < MIN_EVIDENCE_POWER:
        return False
    return True if sum(loads) <= total * MAX_APPARENT_RATIO else None


def phase_sums(numbers: Numbers, free: Sequence[int]) -> list[tuple[int, tuple[int, ...]]] | None:
    """Return the totals that three other positions add up to, under load: a total and its phases' parts.

    None when more fit than MAX_PHASE_SUMS: the telegram proves nothing.
    """
    # Totals a household's power can be: an energy register's tariffs add up too, but to no power.
    totals = sorted((numbers[index], index) for index in free if _a_load(numbers[index]))
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
    """Yield the readings of a total and its phases' parts, each part with a current of its own that carries it."""
    total, parts = phase_sum
    for currents in _carrying(numbers, [index for index in free if index != total], volts, parts, exponent):
        yield PowerReading(total, parts, currents, exponent)


def _carrying(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], parts: tuple[int, ...], exponent: int
) -> Iterator[tuple[int, ...]]:
    """Yield the currents, one a phase, whose U·I carries each phase's part.

    The phases are numbered by their parts' order in the list; a current
    goes with the part it carries wherever the list puts it, as lists that
    send a quantity's phases out of order would otherwise pair a phase's
    current with another's power, or a power with a current.
    """
    fitting = [
        [index for index in free if index not in parts and _carries_a_part(numbers, index, part, volt, exponent)]
        for volt, part in zip(volts, parts, strict=True)
    ]
    for currents in product(*fitting):
        if len(set(currents)) == len(currents):  # one current per phase
            yield currents


def _carries_a_part(numbers: Numbers, current: int, part: int, volt: float, exponent: int) -> bool:
    """Whether a number, read as a current, carries another as its phase's power (see _phase_carries)."""
    return _a_current(numbers[current], exponent) and _phase_carries(
        numbers[part], at(volt * numbers[current], exponent), _slack(volt, exponent)
    )


def _parts_without_a_total(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], unloaded: Collection[int]
) -> bool:
    """Whether three numbers that move (none unloaded) are the phases' powers of a list that sends no total of them.

    Asked where no number that moves is their sum. Each is carried by a current of its own, as a phase's
    power is, and those currents carry no other number as their total (a list that sends its phases'
    apparent powers beside its total power has one; a phase's own part is none). Any total found would be
    another number: a current in 0.01 A, say, carried by the phases' watts read as milliamperes.
    """
    volt = sorted(volts)[len(volts) // 2]  # the phases agree (see the_voltages): the middle one stands for each
    for exponent in CURRENT_EXPONENTS:
        carriers = {
            part: carrying
            for part in free
            if part not in unloaded
            and numbers[part] > SUM_SLACK
            and (carrying := {index for index in free if _carries_a_part(numbers, index, part, volt, exponent)})
        }
        if len(set().union(*carriers.values())) < _THREE_PHASES:
            continue
        for parts in combinations(carriers, _THREE_PHASES):
            if not _a_load(sum(numbers[index] for index in parts)):
                continue
            for currents in product(*(carriers[part].difference(parts) for part in parts)):
                if len(set(currents)) == _THREE_PHASES and not _carry_a_total(
                    numbers, [index for index in free if index not in parts], volts, currents, exponent
                ):
                    return True
    return False


def _carry_a_total(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], currents: tuple[int, ...], exponent: int
) -> bool:
    """Whether the U·I of currents carries a number under load as a household's total power (see _by_total)."""
    apparent = sum(at(volt * numbers[index], exponent) for volt, index in zip(volts, currents, strict=True))
    upper = apparent * (1 + POWER_TOLERANCE) + sum(_slack(volt, exponent) for volt in volts)
    return any(
        apparent / MAX_APPARENT_RATIO <= numbers[index] <= upper
        for index in free
        if index not in currents and _a_load(numbers[index])
    )


def _by_total(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], exponent: int, parted: set[frozenset[int]]
) -> Iterator[PowerReading]:
    """Yield the readings of a list without phase parts: any currents, and a total their U·I may carry.

    Totals are found by value among the loaded positions, not tried one by
    one. A total's own parts (parted: each with its total) are no currents
    of it: a list that sends phase powers and no currents would have them
    read as currents at 0.01 A, whose U·I carries any power at 0.43.
    """
    loaded = sorted((numbers[index], index) for index in free if _a_load(numbers[index]))
    values = [value for value, _ in loaded]
    for currents in combinations([index for index in free if _a_current(numbers[index], exponent)], len(volts)):
        apparent = sum(at(volt * numbers[index], exponent) for volt, index in zip(volts, currents, strict=True))
        upper = apparent * (1 + POWER_TOLERANCE) + sum(_slack(volt, exponent) for volt in volts)
        for _, total in loaded[bisect_left(values, apparent / MAX_APPARENT_RATIO) : bisect_right(values, upper)]:
            if total not in currents and frozenset((total, *currents)) not in parted:
                yield PowerReading(total, (), currents, exponent)


def power_readings(
    numbers: Numbers, free: Sequence[int], volts: Sequence[float], unloaded: Collection[int] = ()
) -> dict[PowerReading, int] | None:
    """Return every reading of the power this telegram, under load, confirms (None: too many to mean anything).

    With three phases, the total is one their parts add up to, if the list
    sends such parts; otherwise any position the currents carry. An energy
    register's tariffs add up to it like phases, and other numbers may by
    chance: where the parts add up only to totals that follow no load
    (unloaded: a register that only rose, a number that stood still), the
    list may send no phase parts. Parts that add up to a total that moves
    are the phases' powers: where no currents carry them, the list sends
    none, and no reading is taken without them (it would read other numbers
    as currents). Parts that add up to no number, each carried by a current
    of its own, are the phases' powers of a list that sends no total: none
    is taken either.
    """
    sums = phase_sums(numbers, free) if len(volts) == _THREE_PHASES else []
    if sums is None:
        return None
    readings = _confirmed(
        numbers,
        volts,
        lambda exponent: chain.from_iterable(_by_phase(numbers, free, volts, total, exponent) for total in sums),
    )
    if readings == {} and all(total in unloaded for total, _ in sums):
        if len(volts) == _THREE_PHASES and _parts_without_a_total(numbers, free, volts, unloaded):
            return {}
        parted = {frozenset((total, *parts)) for total, parts in sums}
        readings = _confirmed(numbers, volts, lambda exponent: _by_total(numbers, free, volts, exponent, parted))
    return readings


def _confirmed(
    numbers: Numbers, volts: Sequence[float], found: Callable[[int], Iterable[PowerReading]]
) -> dict[PowerReading, int] | None:
    """Return the readings found at each current resolution that this telegram confirms (None: too many)."""
    readings: dict[PowerReading, int] = {}
    for exponent in CURRENT_EXPONENTS:
        for reading in found(exponent):
            if carries(reading, numbers, volts):
                readings[reading] = 1
                if len(readings) > MAX_HYPOTHESES:
                    return None
    return readings


@dataclass(frozen=True, slots=True)
class TableReading:
    """What a table says one telegram's numbers are, raw, for physics to refute.

    A table known by a list's shape alone (opening, length and texts'
    places; no list version names it) may meet a list of the same shape in
    another order: a reading of that list no meter could send is no reading. Only
    what every meter obeys refutes it: a home with solar may import on one
    phase and export on another, at any power factor over the phases.
    """

    volts: tuple[float, ...]
    currents: tuple[float, ...]
    """The phases' currents, beside the voltages of the same phases."""
    powers: tuple[float, ...]
    """The active power totals the list sends: import, then export where it sends one."""
    import_parts: tuple[float, ...] = ()
    export_parts: tuple[float, ...] = ()
    """The phases' import and export powers, () where the list sends none."""

    @property
    def one_way(self) -> bool:
        """Whether every phase's power is known to flow the same way: the phases' power factor then bounds it."""
        return bool(self.import_parts) and (not any(self.import_parts) or not any(self.export_parts))


def _currents_carry(reading: TableReading, volts: Sequence[float], exponent: int) -> bool:
    """Whether the phases' U·I, currents at 10^exponent, carry each power read (a power factor is at most 1).

    Where every phase flows one way, under load not many times over either
    (a power factor of 1 down to TABLE_POWER_FACTOR).
    """
    apparent = sum(at(volt * current, exponent) for volt, current in zip(volts, reading.currents, strict=False))
    slack = sum(_slack(volt, exponent) for volt in volts)
    if any(total > apparent * (1 + POWER_TOLERANCE) + slack for total in reading.powers):
        return False
    load = max(reading.powers, default=0.0)
    return not reading.one_way or load < MIN_EVIDENCE_POWER or apparent * TABLE_POWER_FACTOR <= load


def _parts_add_up(reading: TableReading) -> bool:
    """Whether nothing read is negative and the phases' parts add up to the totals' net flow.

    A meter's import and export totals are its phases' net flow, or each
    direction's sum: either way import less export is the parts' net.
    """
    values = (*reading.currents, *reading.powers, *reading.import_parts, *reading.export_parts)
    if any(value < 0 for value in values):
        return False
    if not reading.import_parts or len(reading.powers) < 2:  # noqa: PLR2004 - import and export
        return True
    net = reading.powers[0] - reading.powers[1]
    parts = sum(reading.import_parts) - sum(reading.export_parts)
    return abs(parts - net) <= _sum_slack(max(reading.powers))


def table_holds(reading: TableReading, voltage_exponent: int, current_exponent: int) -> bool:
    """Whether physics allows a table's reading of a telegram, its voltages and currents at these resolutions.

    Nothing is negative and the phases' parts add up to the net flow; the
    voltages lie in one grid range (a phase that is out reads 0 V and 0 A)
    and no further apart than a grid's phases may be; and the phases' U·I
    carry the powers.
    """
    if not _parts_add_up(reading):
        return False
    live = [volt for volt in reading.volts if volt]
    if not live and not any(reading.currents):
        return True  # no voltage or current sent: nothing to weigh the powers against
    # A phase that is out reads 0 V and carries no current.
    if any(volt == 0 and current for volt, current in zip(reading.volts, reading.currents, strict=False)):
        return False
    if live and max(live) > min(live) * (1 + TABLE_PHASE_SPREAD):
        return False
    volts = [at(volt, voltage_exponent) for volt in reading.volts]
    in_range = any(all(volt == 0 or low <= volt <= high for volt in volts) for low, high in VOLTAGE_RANGES)
    return in_range and (not reading.currents or _currents_carry(reading, volts, current_exponent))


def totals_after(before: Sequence[float | None], now: Sequence[float | None]) -> tuple[float | None, ...] | None:
    """Return a meter's energy totals after a telegram (one it did not send stays as it was); None: one went back.

    before: the totals of the meter's last telegram, () for its first.
    """
    if not before:
        return tuple(now)
    if any(total < last for total, last in zip(now, before, strict=True) if total is not None and last is not None):
        return None
    return tuple(last if total is None else total for total, last in zip(now, before, strict=True))


@dataclass(frozen=True, slots=True)
class Register:
    """An energy register's reading: its position and resolution, and its tariffs' positions if the list sends them."""

    total: int
    exponent: int
    tariffs: tuple[int, ...]


def grown_registers(
    growths: Mapping[int, float], carried: float, tolerance: float = ENERGY_TOLERANCE
) -> list[tuple[int, int]]:
    """Return the positions (and resolutions) that grew by the energy the power carried (Wh), within a tolerance."""
    return [
        (index, exponent)
        for index, growth in growths.items()
        if growth > 0
        for exponent in ENERGY_EXPONENTS
        if abs(at(growth, exponent) / carried - 1) <= tolerance
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
