"""Lists of bare values that no table in `lists` knows, learned position by position from their physics.

An Iskraemeco AM550 of another grid company, or another of its lists (a
15-minute list, a shorter push, a 1-phase list), sends values without OBIS
codes in an order no table here has (or one whose table's reading physics
refuted: see `lists`). Each position's meaning is learned from
the values, over a few telegrams (see `proofs`): texts and clocks by their
type; phase voltages because they stay near nominal and agree; currents and
active power because the phases' U·I carries the power measured, the
phases' parts add up to it and it moves (a steady number is a setting);
the import register because it only grows, and
by the energy that power carried, by the meter's clock (see `learned_registers`). A list that sends no
voltages has its power proven by that energy alone: the one number whose integral a register grows by
(see `learned_power`). Only proven positions
are shown, each with its evidence; a list is shown only once its power is
proven, and never with a guessed value.

Two labels are not in the magnitudes. Phases are numbered in the order the
list sends their powers, as every known list does, each current going with
the power it carries, the voltages in their own order. The one flow seen
while the power is learned is taken as import: a household's ordinary
direction (an export flow, zero meanwhile, proves nothing and is left out),
unless the number before it stays 0, as an import does before its export:
then nothing is proven until the import flows.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import TYPE_CHECKING

from .cosem import parse_date_time
from .learned_positions import (
    ACTIVE_IMPORT,
    CLOCK_CODE,
    ENERGY_IMPORT,
    KINDS,
    LEARNER_RULES,
    MAX_EVIDENCE,
    METER_ID,
    NUMBER,
    TARIFFS,
    TEXT,
    TIME,
    LearnedListData,
    LearnedPosition,
    LearnedPositionData,
    StillRegisterData,
    kind_of,
    restored_position,
    restored_still,
)
from .learned_power import PowerByItsIntegral
from .learned_registers import ImportRegisters
from .lists import (
    LOGICAL_DEVICE_NAME,
    PHASE_CURRENTS,
    PHASE_IMPORT_POWERS,
    PHASE_VOLTAGES,
    PositionalLayout,
    TableJudgement,
    TableRead,
    VendorList,
    maker_by_system_title,
)
from .model import DecodeError, DropReason, FrameRefusedError, ListNotLearnedError
from .proofs import (
    MIN_EVIDENCE_POWER,
    SPAN_TELEGRAMS,
    Numbers,
    PowerReading,
    Span,
    at,
    carries,
    like_voltages,
    power_holds,
    power_readings,
    the_voltages,
)
from .readings import STANDARD, Entry, text

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime, timedelta

    from .axdr import Data
    from .obis import ObisCode

# Lists of a home's meter hold a few dozen values; longer ones are not learned
# (the work of weighing readings grows with the cube of the numbers).
MAX_POSITIONS = 64
MAX_NUMBERS = 32
# List shapes followed at once: a meter pushes two or three; more are damage
# or a stranger's, and must not grow memory.
MAX_SHAPES = 8
VOLTAGE_TELEGRAMS = 3
"""Telegrams in a row that must tell the same phase voltages before they are proven."""
LONE_VOLTAGE_TELEGRAMS = 2 * SPAN_TELEGRAMS + 1
"""The same for one phase's voltage: a steady load that reads like one may be the only value steady near
nominal for as long as a lie about the voltage is recalled, and no longer."""
POWER_CONFIRMATIONS = 3
"""Telegrams under load a reading of the power must be the only one to survive, its phases' parts adding up."""
LONE_POWER_CONFIRMATIONS = 12
"""The same for a reading without phase parts: U·I against one total is a window a random number falls in one
telegram in twenty, so many more telegrams must agree before chance is ruled out."""
_WAITING_FOR_A_LOAD = f"a load of {MIN_EVIDENCE_POWER:g} W or more that only one reading of the power carries"
_WAITING_FOR_VOLTAGES = "phase voltages near nominal"
_WAITING_FOR_AN_INTEGRAL = (
    "phase voltages near nominal, or, as no value looks like one, a number that moves whose integral a register"
    " grows by"
)
_NOTHING_MORE = "nothing more: what else the list holds, physics here does not prove"
_WAITING_FOR_AN_IMPORT = "an import flow: the flow seen follows a number that stays 0, as export follows import"
# A shown list whose telegrams break its physics this many in a row was proven wrong, or changed: learned anew.
RELEARN_AFTER = 20

# The COSEM logical device name: the maker's three-letter FLAG id and the serial ("ISK1030792283067").
_LOGICAL_DEVICE_NAME = re.compile(r"[A-Za-z]{3}[0-9A-Za-z]{4,}")
_METER_NUMBER = re.compile(r"[0-9]{4,}")


def _identity(kinds: tuple[str, ...], items: tuple[Data, ...]) -> str:
    """Digest the list's texts: one meter's shape, told from another's without keeping its serial."""
    texts = "\x00".join(text(value) or "" for value, kind in zip(items, kinds, strict=True) if kind == TEXT)
    return blake2b(texts.encode(), digest_size=8).hexdigest()


def _by_type(kinds: tuple[str, ...], items: tuple[Data, ...]) -> dict[int, LearnedPosition]:
    """Prove what a type alone proves: the logical device name, the meter number and the clock."""
    proven: dict[int, LearnedPosition] = {}
    patterns = (
        (LOGICAL_DEVICE_NAME, "a maker's three letters and a serial: the COSEM logical device name"),
        (METER_ID, "printable digits: the meter number"),
        (CLOCK_CODE, "twelve bytes that read as a COSEM date-time: the meter's clock"),
    )
    for code, why in patterns:
        for index, (kind, value) in enumerate(zip(kinds, items, strict=True)):
            as_text = text(value) if kind == TEXT else None
            fits = {
                LOGICAL_DEVICE_NAME: as_text is not None and _LOGICAL_DEVICE_NAME.fullmatch(as_text) is not None,
                METER_ID: as_text is not None and _METER_NUMBER.fullmatch(as_text) is not None,
                CLOCK_CODE: kind == TIME,
            }[code]
            if fits and index not in proven:
                proven[index] = LearnedPosition(index, code, 0, why)
                break
    return proven


@dataclass(slots=True)
class _Tally:
    """What the telegrams since a reading of the power was found said of it."""

    beside_a_zero: bool
    """Whether the number before its total was 0 in every telegram that confirmed it: the flow is likely the export.

    Lists send a quantity's export right after its import (1.7.0, then 2.7.0): a flow seen only while the number
    before it stood at 0 is taken for an export, however that number moved in other telegrams (a home drawing
    its base load a moment, then exporting), and nothing is proven until an import flows, though the home may
    import by the time the reading's rivals fall. Showing a home's export as its import would book its solar
    power as use."""
    confirmed: int = 1
    """Telegrams under load that confirmed it (the one that found it first)."""


@dataclass(slots=True)
class _VoltageAnswers:
    """The phase voltages (and their resolution) telegrams told, until enough told the same ones in a row.

    One telegram may lie about a phase (damaged, or a stranger's), and the
    others would then be taken for the only phases: the same answer must come
    VOLTAGE_TELEGRAMS times in a row (LONE_VOLTAGE_TELEGRAMS for one phase's).
    A telegram that settles nothing (a phase that looks like a voltage again,
    whose span the lie spoiled) breaks the row.
    """

    told: tuple[tuple[int, ...], int] | None = None
    times: int = 0

    def agreed(self, answer: tuple[tuple[int, ...], int] | None) -> bool:
        """Take a telegram's answer; return whether enough telegrams in a row told it."""
        self.times = self.times + 1 if answer is not None and answer == self.told else 1
        self.told = answer
        if answer is None:
            return False
        return self.times >= (VOLTAGE_TELEGRAMS if len(answer[0]) > 1 else LONE_VOLTAGE_TELEGRAMS)


def _numbers(kinds: tuple[str, ...], items: tuple[Data, ...]) -> Numbers:
    """Return a telegram's numeric values, raw, by position."""
    return {
        index: float(value)
        for index, value in enumerate(items)
        if kinds[index] == NUMBER and isinstance(value, int | float)
    }


def _beside_a_zero(reading: PowerReading, numbers: Numbers) -> bool:
    """Whether the number right before a reading's total is 0: where lists send an import, before its export."""
    return numbers.get(reading.total - 1) == 0


def _unloaded(spans: Mapping[int, Span]) -> set[int]:
    """Return the positions whose values did not both rise and fall over their span: no load's (see follows_a_load)."""
    return {index for index, span in spans.items() if not span.moves}


def _follows_a_load(spans: Mapping[int, Span], reading: PowerReading) -> bool:
    """Whether each value of a reading moved over its span (60 to 120 telegrams), as a home's power and currents do.

    A number that stood still (an idle flow's 0, a register between its steps, a setting) or only rose
    (a register) follows no load: a reading with one may be a coincidence of the list's numbers.
    """
    return all(spans[index].moves for index in reading.positions)


@dataclass(slots=True)
class _Readings:
    """The readings of a list's power that no telegram since they were found refuted."""

    found: dict[PowerReading, _Tally] = field(default_factory=dict)
    """Each reading, and what the telegrams said of it."""
    weighed: deque[tuple[Numbers, list[float]]] = field(default_factory=lambda: deque(maxlen=LONE_POWER_CONFIRMATIONS))
    """The latest telegrams they were weighed against (and their voltages), since they were found."""
    idle: dict[int, tuple[Numbers, list[float]]] = field(default_factory=dict)
    """The latest telegram since they were found in which each position read 0."""

    def weigh(self, numbers: Numbers, volts: list[float], spans: Mapping[int, Span], free: list[int]) -> None:
        """Weigh the readings found so far against a telegram, or find them afresh among the free positions."""
        found = self.found
        if not found:
            # Found afresh, under load, once every reading found before was refuted.
            fresh = power_readings(numbers, free, volts, _unloaded(spans)) if len(free) <= MAX_NUMBERS else None
            found.update({reading: _Tally(_beside_a_zero(reading, numbers)) for reading in fresh or {}})
            self.weighed.clear()
            self.idle.clear()
            self._weighed(numbers, volts)
            return
        self._weighed(numbers, volts)
        for reading, tally in list(found.items()):
            verdict = carries(reading, numbers, volts)
            if verdict is None:
                del found[reading]
            elif verdict:
                tally.confirmed += 1
                tally.beside_a_zero = tally.beside_a_zero and _beside_a_zero(reading, numbers)
            if verdict and spans[reading.total].grows and tally.confirmed >= LONE_POWER_CONFIRMATIONS:
                # A total that only grew while this many telegrams confirmed it is an energy register's (its
                # tariffs add up to it like phases): a household's power falls as well. Let the rest be found.
                del found[reading]

    def _weighed(self, numbers: Numbers, volts: list[float]) -> None:
        self.weighed.append((numbers, volts))
        self.idle.update((index, (numbers, volts)) for index, value in numbers.items() if value == 0)

    def unrivalled(
        self, reading: PowerReading, numbers: Numbers, volts: list[float], spans: Mapping[int, Span], free: list[int]
    ) -> bool:
        """Whether this telegram confirms the reading under load, and no reading of a flow that was idle beside it.

        A reading outlives its rivals in the telegrams since it was found, but the true power cannot rival it
        while it reads 0 (the import, while the home exports): once it flows, its reading carries a telegram too.
        Such a reading, refuted by none of the telegrams kept, is weighed on beside it, until physics refutes
        one of them.
        """
        if carries(reading, numbers, volts) is not True or len(free) > MAX_NUMBERS:
            return False  # a telegram without load settles nothing, and needs no search for rivals
        confirmed = power_readings(numbers, free, volts, _unloaded(spans))
        if confirmed is None or reading not in confirmed:
            return False
        rivals = [rival for rival in confirmed if rival.total != reading.total and self._woke_beside(rival)]
        for rival in rivals:
            self.found.setdefault(rival, _Tally(_beside_a_zero(rival, numbers)))
        return not rivals

    def _woke_beside(self, rival: PowerReading) -> bool:
        """Whether a reading's total read 0 since the readings were found, and no telegram kept refutes it.

        Kept: the latest telegrams, and the latest since they were found in which each position read 0 (the
        zeros of an import that woke slowly, under a small load first, have left the latest telegrams).
        """
        idle = self.idle.get(rival.total)
        return idle is not None and all(
            all(index in before for index in rival.positions) and carries(rival, before, volts) is not None
            for before, volts in (*self.weighed, idle)
        )


@dataclass(slots=True)
class _Shape:
    """One list shape of one meter: what is proven of its positions, and the evidence gathered towards the rest."""

    kinds: tuple[str, ...]
    proven: dict[int, LearnedPosition]
    spans: dict[int, Span] = field(default_factory=dict)
    telegrams: int = 0
    readings: _Readings = field(default_factory=_Readings)
    registers: ImportRegisters = field(default_factory=ImportRegisters)
    voltages: _VoltageAnswers = field(default_factory=_VoltageAnswers)
    integrals: PowerByItsIntegral = field(default_factory=PowerByItsIntegral)
    """The power of a list that sends no voltages, sought by its integral meanwhile."""
    waiting: str = _WAITING_FOR_VOLTAGES
    export_total: int | None = None
    """A total that flowed while the number before it stayed 0: taken for the export, kept out of readings."""
    refused: int = 0
    """Telegrams in a row, once shown, whose power broke the physics that proved it."""

    def position_of(self, code: ObisCode) -> int | None:
        """Return the position proven to hold a code, if one is."""
        return next((index for index, position in self.proven.items() if position.obis == code), None)

    @property
    def shown(self) -> bool:
        """Whether the list's power is proven: from then on its proven positions are shown."""
        return self.position_of(ACTIVE_IMPORT) is not None

    def progress(self) -> str:
        """Say how far the learning is, for a telegram dropped while it goes on."""
        return (
            f"positional list not yet learned: {len(self.proven)} of {len(self.kinds)} positions proven;"
            f" waiting for {self.waiting}"
        )

    def power_holds(self, numbers: Numbers) -> bool:
        """Whether a telegram's power, by the positions proven, is still what every meter's is (see power_holds).

        A telegram that misses one of those values cannot be weighed, and passes.
        """
        total = self.position_of(ACTIVE_IMPORT)
        volts = self._positions(PHASE_VOLTAGES)
        currents = self._positions(PHASE_CURRENTS)
        phases = self._positions(PHASE_IMPORT_POWERS)
        if total is None or not currents or len(currents) != len(volts) or len(phases) not in (0, len(volts)):
            return True
        if any(index not in numbers for index in (total, *volts, *currents, *phases)):
            return True
        reading = PowerReading(total, tuple(phases), tuple(currents), self.proven[currents[0]].exponent)
        return power_holds(reading, numbers, [at(numbers[index], self.proven[index].exponent) for index in volts])

    def observe(self, numbers: Numbers, when: datetime | None) -> None:
        """Weigh a telegram's values against what is proven so far."""
        self.telegrams += 1
        for index, value in numbers.items():
            span = self.spans.get(index)
            if span is None:
                self.spans[index] = Span.first(value)
            else:
                span.add(value)
        volts = [self.proven[index] for index in self._positions(PHASE_VOLTAGES)]
        if not volts and not self.shown:
            self._learn_voltages()
            if when is not None and not self._positions(PHASE_VOLTAGES):
                self._learn_power_by_its_integral(numbers, when)
        elif not self.shown:
            self._learn_power(numbers, [at(numbers[position.index], position.exponent) for position in volts])
        elif self.learns_energy:
            self._learn_energy(numbers, when)

    @property
    def learns_energy(self) -> bool:
        """Whether the power is proven and the import register (or its tariffs) is still sought."""
        return self.shown and self.position_of(ENERGY_IMPORT) is None and self.position_of(TARIFFS[0]) is None

    def _positions(self, codes: tuple[ObisCode, ...]) -> list[int]:
        return [index for index in map(self.position_of, codes) if index is not None]

    def _prove(self, indexes: tuple[int, ...], codes: tuple[ObisCode, ...], exponent: int, evidence: str) -> None:
        for index, code in zip(indexes, codes, strict=False):
            self.proven[index] = LearnedPosition(index, code, exponent, evidence)

    def _learn_voltages(self) -> None:
        chosen = the_voltages(self.spans)
        if not self.voltages.agreed(chosen) or chosen is None:
            return
        members, exponent = chosen
        volts = ", ".join(f"{at(self.spans[index].last, exponent):g}" for index in members)
        evidence = (
            f"{volts} V at 10^{exponent} V: near nominal in each of {self.telegrams} telegrams,"
            " the phases agreeing, numbered in the list's order"
        )
        self._prove(members, PHASE_VOLTAGES, exponent, evidence)
        self.waiting = _WAITING_FOR_A_LOAD

    def _learn_power_by_its_integral(self, numbers: Numbers, when: datetime) -> None:
        free = self._free(numbers)
        if len(free) > MAX_NUMBERS:
            return
        power = self.integrals.observe(numbers, self.spans, free, when, like_voltages(self.spans))
        if power is not None:
            self._prove((power,), (ACTIVE_IMPORT,), 0, self.integrals.evidence(power))
            self.integrals = PowerByItsIntegral()
            self.waiting = self.registers.waiting
        else:
            self.waiting = _WAITING_FOR_AN_INTEGRAL if self.integrals.voiceless else _WAITING_FOR_VOLTAGES

    def _learn_power(self, numbers: Numbers, volts: list[float]) -> None:
        if self.export_total is not None and numbers.get(self.export_total):
            # The flow set aside flows: a netting meter's import then stands at 0, and nothing here is of it
            # (readings found now would be the export's, and keep the import from being found once it flows).
            # A meter that does not net its phases (one exporting, the others importing) learns while none exports.
            return
        found = self.readings.found
        self.readings.weigh(numbers, volts, self.spans, self._free(numbers))
        self.waiting = _WAITING_FOR_A_LOAD if self.export_total is None else _WAITING_FOR_AN_IMPORT
        if len(found) != 1:
            return
        reading, tally = next(iter(found.items()))
        telegrams = tally.confirmed
        if telegrams < (POWER_CONFIRMATIONS if reading.phases else LONE_POWER_CONFIRMATIONS):
            return
        total = self.spans[reading.total]
        # A current follows its load: one that only rose while the power fell is a register's number.
        registers = not total.grows and any(self.spans[index].rose_only for index in reading.currents)
        if total.grows or registers or not _follows_a_load(self.spans, reading):
            # A home's power under load falls as well as rises: one not yet seen to fall waits. One that never
            # moved is a setting or a register, whatever numbers happened to add up to it or carry it. A current
            # or part that stood still waits until it moves: an export's 0 stands as still as an idle phase's,
            # and read as one it carried a current's mA as the home's watts.
            if total.low == total.high or registers:
                del found[reading]
            elif not total.grows:
                self.waiting = (
                    "a current or phase part that stands still (an idle phase's 0 A, or an export's 0) to move"
                )
            return
        if self.export_total is not None and reading.total != self.export_total - 1:
            # Another flow than the silent number before the one set aside: the two flow in turn, as import and
            # export do, and nothing tells which is which.
            found.clear()
            return
        if tally.beside_a_zero:
            # The import is found afresh once it carries a load, its export left out.
            found.clear()
            self.export_total = reading.total
            self.waiting = _WAITING_FOR_AN_IMPORT
            return
        if self.readings.unrivalled(reading, numbers, volts, self.spans, self._free(numbers)):
            self._prove_power(reading, numbers, volts, telegrams)

    def _free(self, numbers: Numbers) -> list[int]:
        """Return the positions a reading of the power may take: none proven, nor the flow set aside as export."""
        return [index for index in numbers if index not in self.proven and index != self.export_total]

    def _prove_power(self, reading: PowerReading, numbers: Numbers, volts: list[float], telegrams: int) -> None:
        amperes = [at(numbers[index], reading.exponent) for index in reading.currents]
        apparent = sum(volt * ampere for volt, ampere in zip(volts, amperes, strict=True))
        total = numbers[reading.total]
        parts = " + ".join(f"{numbers[index]:g}" for index in reading.phases)
        carried = (
            f"the phases' U·I, {apparent:.0f} VA, carries {total:g} W,"
            f" the only reading that did in {telegrams} telegrams under load"
        )
        summed = f"; its phases' parts add up to it ({parts} W)" if parts else ""
        self._prove((reading.total,), (ACTIVE_IMPORT,), 0, f"{carried}{summed}; the flow seen, taken as import")
        self._prove(
            reading.phases, PHASE_IMPORT_POWERS, 0, f"the parts of {total:g} W, U·I of their phase carrying each"
        )
        currents = ", ".join(f"{ampere:g}" for ampere in amperes)
        self._prove(
            reading.currents, PHASE_CURRENTS, reading.exponent, f"{currents} A at 10^{reading.exponent} A: {carried}"
        )
        self.readings.found.clear()
        self.waiting = self.registers.waiting

    def _learn_energy(self, numbers: Numbers, when: datetime | None) -> None:
        if when is None:
            self.waiting = "a clock: without one the power has no integral, and no energy register is proven"
            return
        power = self.position_of(ACTIVE_IMPORT)
        assert power is not None  # noqa: S101 - energy is learned once the power is proven
        growing = [index for index in numbers if index not in self.proven and self.spans[index].grows]
        proven = self.registers.observe(power, numbers, growing, self.spans, when)
        self.proven.update((position.index, position) for position in proven)
        self.waiting = _NOTHING_MORE if proven else self.registers.waiting

    def standing_still(self) -> dict[int, tuple[float, timedelta]]:
        """Return the registers standing still while the import register is sought (see ImportRegisters)."""
        return self.registers.standing_still(self.spans) if self.learns_energy else {}

    def entries(self, items: tuple[Data, ...]) -> list[Entry]:
        """Return the proven positions of a telegram as a list's entries: each at its code and resolution."""
        return [
            Entry(position.obis.to_bytes(), items[index], position.exponent if self.kinds[index] == NUMBER else None)
            for index, position in sorted(self.proven.items())
            if items[index] is not None
        ]


type _Key = tuple[tuple[str, ...], str]
"""A list shape: the kinds of its positions, and the digest of its texts."""


# A table whose reading of a checked telegram (a checksum or tag held) physics
# refutes does not know that list, which is learned instead. Without a check,
# damage may be the cause: a table refuted this often among its latest
# readings is distrusted, each refuted telegram before dropped alone.
TABLE_REFUTED = 3
TABLE_VERDICTS = 5
# A checked reading that names another meter number than the line's meter is
# no verdict on the line meter's list: a stranger's frame, or a table that
# reads no meter number there. Physical readings of the same other number, this
# many in a row, are a meter replaced. A number read physically for the first
# time counts against the table (one that reads a new number in every push
# reads no meter number); one read before is a stranger's, heard again.
METER_CHANGE_READS = 3
# Other meter numbers each table read physically, and remembers: strangers are few.
MAX_STRANGERS = 8


class ListLearner:
    """Learns, per meter and list shape, what the positions of lists no table knows hold."""

    def __init__(self) -> None:
        """Start knowing no list, and trusting every table."""
        self._shapes: dict[_Key, _Shape] = {}
        # Physics' verdicts on each table's latest readings of unchecked telegrams (True: it held).
        self._verdicts: dict[PositionalLayout, deque[bool]] = {}
        self._refuted: set[PositionalLayout] = set()
        # Only a proven telegram's reading is kept: a damaged one's totals could stand above every genuine one after
        # it. It is the line meter's: the one its meter number names.
        self._read: dict[PositionalLayout, TableRead] = {}
        # Another meter number each table read physically, and in how many checked readings in a row.
        self._newcomer: dict[PositionalLayout, tuple[str, int]] = {}
        self._strangers: dict[PositionalLayout, deque[str]] = {}

    @property
    def distrusted(self) -> frozenset[PositionalLayout]:
        """The tables whose reading of this meter's lists physics refuted: those lists are learned instead."""
        return frozenset(self._refuted)

    @property
    def judgement(self) -> TableJudgement:
        """What physics found of the tables' readings so far, for the next reading to be judged by."""
        return TableJudgement(self.distrusted, dict(self._read))

    def judge(
        self, layout: PositionalLayout, read: TableRead | None, *, checked: bool, meter: str | None = None
    ) -> None:
        """Take physics' verdict on a table's reading of one telegram (checked: its checksum or tag held).

        read: what the reading left for the next telegram to be judged by; None: physics refuted it.
        meter: the meter number the refuted reading names. A checked telegram is decisive only for the line's
        meter (see METER_CHANGE_READS): another's refutes the table only as an unchecked one does, when it recurs.
        """
        verdicts = self._verdicts.setdefault(layout, deque(maxlen=TABLE_VERDICTS))
        line = self._read.get(layout)
        named = read.meter if read is not None else meter
        if checked and (named is None or line is None or line.meter is None or named == line.meter):
            if read is None:
                self._refuted.add(layout)
                return
            self._read[layout] = read
            self._newcomer.pop(layout, None)
            verdicts.append(True)
            return
        holds = read is not None
        if checked and read is not None and named is not None:
            newcomer, times = self._newcomer.get(layout, (named, 0))
            times = times + 1 if newcomer == named else 1
            if times >= METER_CHANGE_READS:
                self._read[layout] = read  # a meter replaced: its readings are the line's now
                self._newcomer.pop(layout, None)
                verdicts.append(True)
                return
            self._newcomer[layout] = (named, times)
            strangers = self._strangers.setdefault(layout, deque(maxlen=MAX_STRANGERS))
            if named in strangers:
                return
            strangers.append(named)
            holds = False
        verdicts.append(holds)
        if verdicts.count(False) >= TABLE_REFUTED:
            self._refuted.add(layout)

    def take_apart(self, items: tuple[Data, ...], when: datetime | None) -> VendorList:
        """Return a list's proven positions as entries; raise DecodeError while its power is not proven.

        `when` is the notification's clock; the list's own, once proven by its type, goes first.
        """
        if len(items) > MAX_POSITIONS:
            msg = f"unknown list of {len(items)} values without OBIS codes: too long to learn"
            raise DecodeError(msg)
        kinds = tuple(kind_of(value) for value in items)
        key = (kinds, _identity(kinds, items))
        shape = self._shapes.get(key) or self._add(key, _Shape(kinds, _by_type(kinds, items)))
        clock = shape.position_of(CLOCK_CODE)
        listed = items[clock] if clock is not None else None
        numbers = _numbers(kinds, items)
        if shape.shown and not shape.power_holds(numbers):
            shape.refused += 1
            if shape.refused >= RELEARN_AFTER:
                # Not damage now and then: what was proven does not hold for this meter. Learned anew.
                shape = self._shapes[key] = _Shape(kinds, _by_type(kinds, items))
            else:
                # Damaged (a bare push has no checksum), or a lie: it costs this telegram, and teaches nothing.
                detail = "its power is above its phases' parts, or beyond their U·I, unlike when its list was learned"
                raise FrameRefusedError(DropReason.IMPLAUSIBLE, detail)
        shape.refused = 0
        shape.observe(numbers, (parse_date_time(listed) if isinstance(listed, bytes) else None) or when)
        if not shape.shown:
            raise ListNotLearnedError(shape.progress())
        name = shape.position_of(LOGICAL_DEVICE_NAME)
        maker = maker_by_system_title(str(text(items[name])).encode()) if name is not None else None
        # Each entry carries its resolution as a scaler: no table's prior is left for the resolution learner to doubt.
        return VendorList(shape.entries(items), maker, None, STANDARD)

    def _add(self, key: _Key, shape: _Shape) -> _Shape:
        if len(self._shapes) >= MAX_SHAPES:
            # A meter pushes its few shapes again and again, damage or a stranger's now and then: the shape not
            # yet shown that was seen least goes first (the oldest of those), a learned one only when all are.
            unlearned = [old for old, known in self._shapes.items() if not known.shown]
            least = min(unlearned, key=lambda old: self._shapes[old].telegrams, default=next(iter(self._shapes)))
            del self._shapes[least]
        self._shapes[key] = shape
        return shape

    @property
    def learned(self) -> list[LearnedListData]:
        """What is proven of each list shape followed, with the evidence: for a store, and for diagnostics."""
        return [
            LearnedListData(
                rules=LEARNER_RULES,
                kinds=list(kinds),
                identity=identity,
                shown=shape.shown,
                waiting=shape.waiting,
                positions=[
                    LearnedPositionData(index=p.index, obis=str(p.obis), exponent=p.exponent, evidence=p.evidence)
                    for p in shape.proven.values()
                ],
                still=[
                    StillRegisterData(index=index, value=value, seconds=still.total_seconds())
                    for index, (value, still) in shape.standing_still().items()
                ],
            )
            for (kinds, identity), shape in self._shapes.items()
        ]

    def restore(self, data: Iterable[Mapping[str, object]]) -> set[ObisCode]:
        """Take back what was proven before a restart; whatever in it does not hold together is left out.

        Return the codes a store showed that are learned anew (proven under older rules).
        """
        withdrawn: set[ObisCode] = set()
        for stored in data:
            restored = _restored(stored, withdrawn)
            if restored is not None:
                self._add(*restored)
        return withdrawn


def _restored(stored: Mapping[str, object], withdrawn: set[ObisCode]) -> tuple[_Key, _Shape] | None:
    """Read a stored list shape back, or None when it is not one this learner could have written.

    The codes it showed that are learned anew go into withdrawn.
    """
    kinds, identity, positions = stored.get("kinds"), stored.get("identity"), stored.get("positions")
    if not isinstance(kinds, list) or not isinstance(identity, str) or not isinstance(positions, list):
        return None
    if len(kinds) > MAX_POSITIONS or not all(isinstance(kind, str) and kind in KINDS for kind in kinds):
        return None
    shape = _Shape(tuple(kinds), {})
    for stored_position in positions:
        position = restored_position(stored_position, shape.kinds)
        if position is None or position.index in shape.proven:
            return None
        shape.proven[position.index] = position
    rules = stored.get("rules")
    if (type(rules) is not int or rules < LEARNER_RULES) and shape.position_of(TARIFFS[0]) is None:
        # An import register proven alone under older rules may be the running tariff of a list without a total.
        if shape.position_of(ENERGY_IMPORT) is not None:
            withdrawn.add(ENERGY_IMPORT)
        shape.proven = {index: position for index, position in shape.proven.items() if position.obis != ENERGY_IMPORT}
    waiting = stored.get("waiting")
    if shape.learns_energy:
        shape.waiting = shape.registers.waiting  # whatever it was stored with: the import register is sought
        _resume(shape, stored.get("still"))
    elif isinstance(waiting, str):
        shape.waiting = waiting[:MAX_EVIDENCE]
    return (shape.kinds, identity), shape


def _resume(shape: _Shape, still: object) -> None:
    """Count on what stood still beside the import register sought, as a store kept it."""
    for stored in still if isinstance(still, list) else ():
        if (restored := restored_still(stored, shape.kinds)) is not None and restored[0] not in shape.proven:
            index, value, seconds = restored
            shape.registers.resumed[index] = (value, seconds)
