"""The resolution of registers that a list sends without a scaler, decided by physics.

Kamstrup and Kaifa lists carry bare numbers: whether 22199 is volts or
hundredths of a volt is a property of the meter's firmware and configuration,
which the vendor table in `lists` can only guess (the prior). Each telegram
can prove more: a phase voltage lies near the nominal 230 V, and the active
power a meter measures is what its phases' voltages and currents carry, times
their power factors; over half an hour or more, the import register grows by
the energy the import power carried. A decision, and why, is remembered per
meter, for telegrams that prove nothing (no load, or no voltages in the list).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from .model import Reading
from .obis import PRESENT_VALUE
from .registers import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    APPARENT_ENERGY,
    CURRENT,
    INSTANTANEOUS,
    POWER_FACTOR,
    REACTIVE_ENERGY,
    REACTIVE_POWER,
    VOLTAGE,
    Quantity,
    phase_of,
    quantity_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .obis import ObisCode
    from .readings import Scaling

# Phase voltage of a working low-voltage grid (230 V, well beyond its ±10 %):
# candidates a factor of ten apart can never both fall inside.
VOLTAGE_RANGE = (150.0, 300.0)
# Below this the currents are a few digits and the power factor of standby
# loads is anyone's guess: such telegrams prove nothing about current.
MIN_EVIDENCE_POWER = 200.0
# How far the power that voltages, currents and power factors carry may be
# from the power the meter measured (the readings are taken moments apart).
POWER_TOLERANCE = 0.35
# ΣU·I over the apparent power √(P² + Q²): 1 where the meter measures phase
# voltages (TN grids), about √3 where it measures line-to-line voltages
# (Norway's IT grid), more with unbalanced phases. Under a factor of ten
# wide, so only one resolution can fit.
APPARENT_RATIO_RANGE = (0.7, 2.5)
# With neither power factors nor reactive power: P / ΣU·I of a household
# under load (a power factor, divided by up to √3 on an IT grid).
POWER_FACTOR_RANGE = (0.2, 1.1)


# The resolutions meters use: volts to hundredths of a volt, tenths of an
# ampere to milliamperes. A fit outside these is a coincidence.
VOLTAGE_EXPONENTS = (0, -1, -2)
CURRENT_EXPONENTS = (-1, -2, -3)
# Telegrams that must agree before a current resolution other than the one in
# force is taken: one telegram's power and currents can be moments apart. A
# phase voltage near nominal proves its resolution at once, but only until as
# many telegrams agreed with it: a frame that passed its checksum may still
# lie, and the first one heard must not set a resolution the next ones cannot
# undo at once. Once settled, a change needs as many as a current's.
CURRENT_CONFIRMATIONS = 3
VOLTAGE_CONFIRMATIONS = 3
# Telegrams between two weighings of the evidence, once nothing is in doubt.
RECHECK_TELEGRAMS = 16
# Energy registers count Wh, tens of Wh (Kamstrup in Norway and Denmark) or more.
ENERGY_EXPONENTS = (0, 1, 2, 3)
# An energy register's growth is weighed against the power integrated over at
# least this long and this much energy: enough to tell resolutions a factor of
# ten apart, with a register that steps by 10 Wh and power sampled every few seconds.
ENERGY_WINDOW = timedelta(minutes=30)
MIN_EVIDENCE_ENERGY = 200.0
ENERGY_TOLERANCE = 0.3
# Power samples further apart than this leave a hole in the integral: the window starts again.
MAX_SAMPLE_GAP = timedelta(minutes=5)
# Meters remembered per reader (a line carries one; a swap makes two).
MAX_METERS = 4
_NO_TIME = timedelta(0)
# Windows that must agree before another energy resolution is taken.
ENERGY_CONFIRMATIONS = 3
_POWER_IMPORT = (1, 7, 0)
_ENERGY_IMPORT = (1, 8, 0)
_ENERGIES = (ACTIVE_ENERGY, REACTIVE_ENERGY, APPARENT_ENERGY)


type _Meter = tuple[str | None, "Scaling"]
"""A meter, by its id and the vendor table its list is read by."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A register quantity's resolution for one meter, and the evidence for it."""

    meter: str | None
    quantity: str
    exponent: int
    """Decimal exponent of the raw value: -2 means hundredths."""
    evidence: str


@dataclass(frozen=True, slots=True)
class _Pending:
    """Evidence against the resolution in force, not yet confirmed."""

    exponent: int
    telegrams: int


@dataclass(slots=True)
class _EnergyWindow:
    """The import register at a window's start, and the import power integrated since."""

    register: float | None = None
    """At the resolution in force when the window started."""
    started: datetime | None = None
    integral: float = 0.0
    power: float | None = None
    power_at: datetime | None = None
    codes: dict[tuple[int, int, int], ObisCode] = field(default_factory=dict)
    """Where this meter's lists keep the import power and register."""

    def find(self, readings: Mapping[ObisCode, Reading], register: tuple[int, int, int]) -> float | None:
        """Return a register's present value, wherever the meter's lists keep it."""
        code = self.codes.get(register)
        if code is not None:
            reading = readings.get(code)
            return None if reading is None else reading[0]
        c, d, e = register
        for obis, reading in readings.items():
            if obis.d == d and obis.c == c and obis.e == e and obis.f == PRESENT_VALUE:
                self.codes[register] = obis
                return reading.value
        return None

    def observe(self, readings: Mapping[ObisCode, Reading], when: datetime | None) -> tuple[float, float] | None:
        """Integrate this telegram's import power; return the register's growth and the power's energy per window.

        Both are in Wh, the register's at the vendor table's resolution.
        """
        power = self.find(readings, _POWER_IMPORT)
        if power is not None and when is not None:
            elapsed = clock_elapsed(self.power_at, when)
            if elapsed is None or elapsed > MAX_SAMPLE_GAP or elapsed < _NO_TIME:
                self.register = None  # a hole in the power: the window starts again
            elif self.power is not None:
                self.integral += (self.power + power) / 2 * elapsed.total_seconds() / 3600
            self.power, self.power_at = power, when
        energy = self.find(readings, _ENERGY_IMPORT)
        if energy is None or when is None:
            return None
        closed = None
        window = clock_elapsed(self.started, when)
        if self.register is not None and window is not None and window >= ENERGY_WINDOW:
            if self.integral >= MIN_EVIDENCE_ENERGY:
                closed = (energy - self.register, self.integral)
            self.register = None
        if self.register is None:
            self.register, self.started, self.integral = energy, when, 0.0
        return closed


def clock_elapsed(earlier: datetime | None, later: datetime) -> timedelta | None:
    """Time between two of a meter's clock readings; None when there is no earlier one, or they cannot be compared."""
    if earlier is None or (earlier.tzinfo is None) != (later.tzinfo is None):
        return None
    return later - earlier


def _energy_evidence(growth: float, carried: float, prior: int) -> tuple[int, str] | None:
    """Find the resolution at which the register grew by the energy its power carried, if exactly one does."""
    fits = [
        (exponent, f"import register grew {_scaled(growth, exponent - prior):.0f} Wh as power carried {carried:.0f} Wh")
        for exponent in ENERGY_EXPONENTS
        if abs(_scaled(growth, exponent - prior) / carried - 1) <= ENERGY_TOLERANCE
    ]
    return fits[0] if len(fits) == 1 else None


def _split(
    readings: Mapping[ObisCode, Reading],
) -> tuple[dict[ObisCode, Reading], dict[ObisCode, Reading], dict[ObisCode, Reading]]:
    """Return a telegram's voltages, its currents and its energy totals."""
    voltages: dict[ObisCode, Reading] = {}
    currents: dict[ObisCode, Reading] = {}
    energies: dict[ObisCode, Reading] = {}
    for obis, reading in readings.items():
        kind = quantity_of(obis)
        if kind is VOLTAGE:
            voltages[obis] = reading
        elif kind is CURRENT:
            currents[obis] = reading
        elif kind in _ENERGIES:
            energies[obis] = reading
    return voltages, currents, energies


# Far more decimals than any register has, far fewer than a float's 17 significant digits.
_DIGITS = 9


def _scaled(value: float, change: int) -> float:
    """Move a value by a power of ten, dividing where it shrinks; as its digits write it (926.45 / 10 is 92.645).

    The value was scaled once already: rounded to the digits a meter sends, a second rounding leaves no tail
    (92.64500000000001) in the state Home Assistant shows and keeps.
    """
    factor: int = 10 ** abs(change)
    return round(value * factor if change >= 0 else value / factor, _DIGITS)


@dataclass(slots=True)
class _Learned:
    """What is known of one meter's resolutions (as read by one vendor table)."""

    meter: str | None
    window: _EnergyWindow = field(default_factory=_EnergyWindow)
    unexamined: int = RECHECK_TELEGRAMS
    decisions: dict[str, Decision] = field(default_factory=dict)
    exponents: dict[str, int] = field(default_factory=dict)
    """The decisions' exponents, by quantity: what every telegram looks up."""
    pending: dict[str, _Pending] = field(default_factory=dict)
    agreed: dict[str, int] = field(default_factory=dict)
    """Telegrams in a row whose evidence agreed with the decision in force, by quantity."""
    telegrams: int = 0
    """Telegrams heard: a meter heard often is the line's own, kept when strangers come."""
    contradiction: str | None = None
    """Why the latest telegram's currents contradict the resolution decided for them, if they did."""

    def settled(self, quantity: Quantity, confirmations: int) -> bool:
        """Whether as many telegrams agreed with the quantity's decision as a change of it needs."""
        return self.agreed.get(quantity.name, 0) >= confirmations

    def examines(self) -> bool:
        """Whether the telegram now heard has its voltages and currents weighed.

        A meter's lists prove the same every few seconds: they are weighed on
        every telegram until the current's resolution is decided (a meter's
        first telegrams may carry too little power to prove it, and its
        currents are shown at the table's guess meanwhile), while a change
        waits to be confirmed or a voltage decided is not yet settled, and
        otherwise every RECHECK_TELEGRAMS (a resolution that changed in between
        makes values implausible, which drops them).
        """
        unsettled = VOLTAGE.name in self.decisions and not self.settled(VOLTAGE, VOLTAGE_CONFIRMATIONS)
        waits = bool({CURRENT.name, VOLTAGE.name} & self.pending.keys()) or CURRENT.name not in self.decisions
        examine = self.unexamined >= RECHECK_TELEGRAMS or waits or unsettled
        self.unexamined = 0 if examine else self.unexamined + 1
        return examine

    def exponent(self, quantity: Quantity, prior: int) -> int:
        """Return the exponent in force: the decision, or the prior."""
        return self.exponents.get(quantity.name, prior)

    def resolve(
        self, quantity: Quantity, prior: int, evidence: tuple[int, str] | None, confirmations: int
    ) -> int | None:
        """Return the exponent in force after this telegram's evidence, or None while it is in doubt."""
        in_force = self.exponent(quantity, prior)
        if evidence is None:
            return in_force
        exponent, why = evidence
        pending = self.pending.pop(quantity.name, None)
        if exponent == in_force:
            telegrams = self.agreed.get(quantity.name, 0) + 1
        else:
            telegrams = pending.telegrams + 1 if pending is not None and pending.exponent == exponent else 1
            if telegrams < confirmations:
                self.pending[quantity.name] = _Pending(exponent, telegrams)
                return None
        self.agreed[quantity.name] = telegrams
        self.decisions[quantity.name] = Decision(self.meter, quantity.name, exponent, why)
        self.exponents[quantity.name] = exponent
        return exponent

    def energy(self, readings: Mapping[ObisCode, Reading], prior: int, when: datetime | None) -> int | None:
        """Follow the energy register against the power; return its exponent in force, None while in doubt."""
        closed = self.window.observe(readings, when)
        if closed is not None:
            self.resolve(ACTIVE_ENERGY, prior, _energy_evidence(*closed, prior), ENERGY_CONFIRMATIONS)
        return None if ACTIVE_ENERGY.name in self.pending else self.exponent(ACTIVE_ENERGY, prior)


class ResolutionLearner:
    """Decides, per meter, the resolution of voltage, current and energy in lists without scalers."""

    def __init__(self) -> None:
        """Start from the vendor table's priors alone."""
        # By meter and vendor table: one id sent in two vendors' lists is two
        # firmwares to learn, not one.
        self._meters: dict[_Meter, _Learned] = {}

    @property
    def decisions(self) -> list[Decision]:
        """What was decided, for diagnostics."""
        return [decision for learned in self._meters.values() for decision in learned.decisions.values()]

    def _learned(self, meter: str | None, prior: Scaling) -> _Learned:
        """Return what is known of a meter, kept as the one heard latest."""
        learned = self._meters.pop((meter, prior), None)
        if learned is None:
            if len(self._meters) >= MAX_METERS:
                # A line carries one meter: ids beyond a few are damage or an attack, and must not grow
                # memory. The one heard least is forgotten (of those, the least lately): never the line's own
                # meter, heard every few seconds, for strangers, however many come in a row.
                del self._meters[min(self._meters, key=lambda known: self._meters[known].telegrams)]
            learned = _Learned(meter)
        learned.telegrams += 1
        self._meters[meter, prior] = learned
        return learned

    def proven(self, meter: str | None, prior: Scaling) -> bool:
        """Whether physics proved this meter's voltage and current resolutions, and no change of the current waits.

        While a change of the voltage's waits, the telegram's voltages are left
        out: what weighs its powers then takes the highest voltage a grid has.
        """
        learned = self._meters.get((meter, prior))
        return (
            learned is not None
            and CURRENT.name not in learned.pending
            and {VOLTAGE.name, CURRENT.name} <= learned.decisions.keys()
        )

    def contradiction(self, meter: str | None, prior: Scaling) -> str | None:
        """Why the meter's latest telegram contradicts the current resolution decided for it, if it does.

        Its currents are left out until the change is confirmed; its powers,
        which nothing then weighs, must not be shown unweighed: most often
        one of them lies, and a change of firmware costs two telegrams.
        """
        learned = self._meters.get((meter, prior))
        return None if learned is None else learned.contradiction

    def apply(
        self, readings: Mapping[ObisCode, Reading], prior: Scaling, meter: str | None, when: datetime | None = None
    ) -> Mapping[ObisCode, Reading]:
        """Return the readings with voltage, current and energy at the resolution their physics shows.

        Values whose resolution the evidence contradicts, before enough of it
        confirms the change, are left out rather than shown wrong.
        """
        learned = self._learned(meter, prior)
        learned.contradiction = None
        energy = learned.energy(readings, prior.energy, when)
        examine = learned.examines()
        decided = learned.exponents
        voltage: int | None = decided.get(VOLTAGE.name, prior.voltage)
        current: int | None = decided.get(CURRENT.name, prior.current)
        if not examine and (voltage, current, energy) == (prior.voltage, prior.current, prior.energy):
            return readings  # the vendor table is right for this meter
        voltages, currents, energies = _split(readings)
        if examine and voltages:
            evidence = self._voltage_evidence(voltages, prior.voltage)
            confirmations = VOLTAGE_CONFIRMATIONS if learned.settled(VOLTAGE, VOLTAGE_CONFIRMATIONS) else 1
            voltage = learned.resolve(VOLTAGE, prior.voltage, evidence, confirmations)
        if examine and currents:
            # Voltages in doubt weigh no currents.
            evidence = (
                None
                if voltage is None
                else self._current_evidence(
                    readings, currents, prior.current, voltage - prior.voltage, learned.exponent(CURRENT, prior.current)
                )
            )
            proven = decided.get(CURRENT.name)
            current = learned.resolve(CURRENT, prior.current, evidence, CURRENT_CONFIRMATIONS)
            if current is None and proven is not None:
                learned.contradiction = (
                    f"its powers make its currents come in {_amperes(learned.pending[CURRENT.name].exponent)} A, "
                    f"not in the {_amperes(proven)} A physics proved for this meter"
                )
        if (voltage, current, energy) == (prior.voltage, prior.current, prior.energy):
            return readings
        corrected = dict(readings)
        for values, exponent, table in (
            (voltages, voltage, prior.voltage),
            (currents, current, prior.current),
            (energies, energy, prior.energy),
        ):
            for obis, (value, unit) in values.items():
                if exponent is None:
                    del corrected[obis]
                elif exponent != table:
                    corrected[obis] = Reading(_scaled(value, exponent - table), unit)
        return corrected

    @staticmethod
    def _voltage_evidence(voltages: dict[ObisCode, Reading], prior: int) -> tuple[int, str] | None:
        """Find the resolution that puts most phase voltages near nominal and none above it, if exactly one does.

        A phase at zero says nothing, nor one at a few volts: a lost phase
        keeps what its neighbours induce in it. Phases that disagree otherwise
        prove nothing.
        """
        present = [abs(value) for value, _ in voltages.values() if value]
        low, high = VOLTAGE_RANGE
        fits = []
        for exponent in VOLTAGE_EXPONENTS:
            scaled = [_scaled(volts, exponent - prior) for volts in present]
            near = [volts for volts in scaled if low <= volts <= high]
            if 2 * len(near) > len(scaled) and max(scaled) <= high:
                fits.append((exponent, f"phase voltages {', '.join(f'{volts:g}' for volts in scaled)} V"))
        return fits[0] if len(fits) == 1 else None

    @staticmethod
    def _current_evidence(
        readings: Mapping[ObisCode, Reading],
        currents: dict[ObisCode, Reading],
        prior: int,
        voltage_change: int,
        in_force: int,
    ) -> tuple[int, str] | None:
        """Find the resolution that makes the phases carry the measured power, if exactly one does.

        With per-phase power factors, the phases' U·I·cos φ must add up to the
        active power; with reactive power, their U·I to the apparent power
        √(P² + Q²); with neither, the power factor P / ΣU·I must be a
        household's under load. The active power is the phases' own summed,
        where the list sends them: a phase exporting solar power beside two
        drawing cancels in the total, not in their currents. Where it sends
        none, currents too large for the total prove nothing (they may be
        such a home's): no finer resolution than the one in force is taken.
        """
        phase_powers = _phase_powers(readings)
        active = max(_largest(readings, ACTIVE_POWER), sum(phase_powers.values()))
        reactive = _largest(readings, REACTIVE_POWER)
        measured = math.hypot(active, reactive)
        phases = _phase_loads(readings, currents, voltage_change)
        if measured < MIN_EVIDENCE_POWER or not phases:
            return None
        with_factors = all(factor is not None for _, factor in phases)
        fits = []
        for exponent in CURRENT_EXPONENTS:
            if exponent < in_force and not phase_powers:
                continue
            change = exponent - prior
            apparent = sum(_scaled(volt_amperes, change) for volt_amperes, _ in phases)
            if with_factors:
                carried = sum(_scaled(volt_amperes, change) * (factor or 0.0) for volt_amperes, factor in phases)
                fit = active >= MIN_EVIDENCE_POWER and abs(carried / active - 1) <= POWER_TOLERANCE
                why = f"phases carry {carried:.0f} W (U·I·cos φ) of {active:g} W measured"
            elif reactive:
                fit = APPARENT_RATIO_RANGE[0] <= apparent / measured <= APPARENT_RATIO_RANGE[1]
                why = f"phases carry {apparent:.0f} VA (U·I) of {measured:.0f} VA measured"
            else:
                fit = bool(apparent) and POWER_FACTOR_RANGE[0] <= active / apparent <= POWER_FACTOR_RANGE[1]
                why = f"phases carry {apparent:.0f} VA (U·I) for {active:g} W measured"
            if fit:
                fits.append((exponent, why))
        return fits[0] if len(fits) == 1 else None


def _amperes(exponent: int) -> str:
    """Write a current resolution: 0.01 for hundredths of an ampere."""
    return f"{10.0**exponent:g}"


def _phase_powers(readings: Mapping[ObisCode, Reading]) -> dict[int, float]:
    """Return each phase's active power, the larger of its import and export, for the phases the list sends."""
    powers: dict[int, float] = {}
    for obis, reading in readings.items():
        phase = phase_of(obis)
        if phase is not None and obis.d == INSTANTANEOUS and quantity_of(obis) is ACTIVE_POWER:
            powers[phase] = max(powers.get(phase, 0.0), abs(float(reading.value)))
    return powers


def _largest(readings: Mapping[ObisCode, Reading], quantity: Quantity) -> float:
    """Return the larger of a total power's import and export (the other is zero)."""
    return max(
        (
            float(reading.value)
            for obis, reading in readings.items()
            if quantity_of(obis) is quantity and phase_of(obis) is None
        ),
        default=0.0,
    )


def _phase_loads(
    readings: Mapping[ObisCode, Reading], currents: dict[ObisCode, Reading], voltage_change: int
) -> list[tuple[float, float | None]]:
    """Return each phase's U·I (current at the prior's resolution), and its power factor if the list has one."""
    voltages = {phase_of(obis): value for obis, (value, _) in readings.items() if quantity_of(obis) is VOLTAGE}
    factors = {phase_of(obis): abs(value) for obis, (value, _) in readings.items() if quantity_of(obis) is POWER_FACTOR}
    loads = []
    for obis, (current, _) in currents.items():
        phase = phase_of(obis)
        voltage = voltages.get(phase)
        # The neutral and total currents carry no phase's power.
        if phase is not None and voltage is not None:
            loads.append((_scaled(voltage, voltage_change) * abs(current), factors.get(phase)))
    return loads
