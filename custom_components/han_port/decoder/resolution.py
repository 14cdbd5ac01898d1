"""The resolution of registers that a list sends without a scaler, decided by physics.

Kamstrup and Kaifa lists carry bare numbers: whether 22199 is volts or
hundredths of a volt is a property of the meter's firmware and configuration,
which the vendor table in `lists` can only guess (the prior). Each telegram
can prove more: a phase voltage lies near the nominal 230 V, and the active
power a meter measures is what its phases' voltages and currents carry, times
their power factors. A decision, and why, is remembered per meter, for
telegrams that prove nothing (no load, or no voltages in the list).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import Reading
from .registers import (
    ACTIVE_POWER,
    CURRENT,
    POWER_FACTOR,
    REACTIVE_POWER,
    VOLTAGE,
    Quantity,
    phase_of,
    quantity_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

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
# With neither power factors nor reactive power: a household's power factor
# under load lies between these.
POWER_FACTOR_RANGE = (0.5, 1.05)


# The resolutions meters use: volts to hundredths of a volt, tenths of an
# ampere to milliamperes. A fit outside these is a coincidence.
VOLTAGE_EXPONENTS = (0, -1, -2)
CURRENT_EXPONENTS = (-1, -2, -3)
# Telegrams that must agree before a current resolution other than the one in
# force is taken: one telegram's power and currents can be moments apart. A
# phase voltage near nominal proves its resolution at once.
CURRENT_CONFIRMATIONS = 3
# Telegrams between two weighings of the evidence, once nothing is in doubt.
RECHECK_TELEGRAMS = 16


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


def _split(readings: Mapping[ObisCode, Reading]) -> tuple[dict[ObisCode, Reading], dict[ObisCode, Reading]]:
    """Return a telegram's voltages and its currents."""
    voltages: dict[ObisCode, Reading] = {}
    currents: dict[ObisCode, Reading] = {}
    for obis, reading in readings.items():
        kind = quantity_of(obis)
        if kind is VOLTAGE:
            voltages[obis] = reading
        elif kind is CURRENT:
            currents[obis] = reading
    return voltages, currents


def _scaled(value: float, change: int) -> float:
    """Move a value by a power of ten, dividing where it shrinks so it rounds once."""
    factor: int = 10 ** abs(change)
    return value * factor if change >= 0 else value / factor


class ResolutionLearner:
    """Decides, per meter, the resolution of voltage and current in lists without scalers."""

    def __init__(self) -> None:
        """Start from the vendor table's priors alone."""
        self._decisions: dict[tuple[str | None, str], Decision] = {}
        self._pending: dict[tuple[str | None, str], _Pending] = {}
        self._unexamined: dict[str | None, int] = {}

    @property
    def decisions(self) -> list[Decision]:
        """What was decided, for diagnostics."""
        return list(self._decisions.values())

    def apply(
        self, readings: Mapping[ObisCode, Reading], prior: Scaling, meter: str | None
    ) -> Mapping[ObisCode, Reading]:
        """Return the readings with voltage and current at the resolution their physics shows.

        Currents whose resolution the telegram contradicts, before enough
        telegrams confirm it, are left out rather than shown wrong.
        """
        # A meter's lists prove the same every few seconds: the evidence is
        # weighed on its first telegram, on every one while a change waits to
        # be confirmed, and otherwise every RECHECK_TELEGRAMS (a resolution
        # that changed in between makes values implausible, which drops them).
        unexamined = self._unexamined.get(meter, RECHECK_TELEGRAMS)
        examine = unexamined >= RECHECK_TELEGRAMS or self._in_doubt(meter)
        self._unexamined[meter] = 0 if examine else unexamined + 1
        voltage = self._exponent(meter, VOLTAGE, prior.voltage)
        current: int | None = self._exponent(meter, CURRENT, prior.current)
        if not examine and voltage == prior.voltage and current == prior.current:
            return readings  # the vendor table is right for this meter
        voltages, currents = _split(readings)
        if not voltages and not currents:
            return readings
        if examine:
            evidence = self._voltage_evidence(voltages, prior.voltage)
            voltage = self._resolve(meter, VOLTAGE, prior.voltage, evidence, confirmations=1) or voltage
            evidence = self._current_evidence(readings, currents, prior.current, voltage - prior.voltage)
            current = self._resolve(meter, CURRENT, prior.current, evidence, confirmations=CURRENT_CONFIRMATIONS)
        if voltage == prior.voltage and current == prior.current:
            return readings
        corrected = dict(readings)
        for obis, (value, unit) in voltages.items():
            corrected[obis] = Reading(_scaled(value, voltage - prior.voltage), unit)
        for obis, (value, unit) in currents.items():
            if current is None:
                del corrected[obis]
            else:
                corrected[obis] = Reading(_scaled(value, current - prior.current), unit)
        return corrected

    def _exponent(self, meter: str | None, quantity: Quantity, prior: int) -> int:
        """Return the exponent in force: the decision, or the prior."""
        known = self._decisions.get((meter, quantity.name))
        return prior if known is None else known.exponent

    def _in_doubt(self, meter: str | None) -> bool:
        """Whether a change of resolution waits to be confirmed."""
        pending = self._pending
        return bool(pending) and ((meter, CURRENT.name) in pending or (meter, VOLTAGE.name) in pending)

    def _resolve(
        self,
        meter: str | None,
        quantity: Quantity,
        prior: int,
        evidence: tuple[int, str] | None,
        *,
        confirmations: int,
    ) -> int | None:
        """Return the exponent in force after this telegram's evidence, or None while it is in doubt."""
        key = (meter, quantity.name)
        known = self._decisions.get(key)
        in_force = prior if known is None else known.exponent
        if evidence is None:
            return in_force
        exponent, why = evidence
        if exponent == in_force:
            self._pending.pop(key, None)
            self._decisions[key] = Decision(meter, quantity.name, exponent, why)
            return exponent
        pending = self._pending.get(key)
        telegrams = pending.telegrams + 1 if pending is not None and pending.exponent == exponent else 1
        if telegrams < confirmations:
            self._pending[key] = _Pending(exponent, telegrams)
            return None
        self._pending.pop(key, None)
        self._decisions[key] = Decision(meter, quantity.name, exponent, why)
        return exponent

    @staticmethod
    def _voltage_evidence(voltages: dict[ObisCode, Reading], prior: int) -> tuple[int, str] | None:
        """Find the resolution that puts every phase voltage near nominal, if exactly one does.

        A phase at zero (lost) says nothing; phases that disagree with each
        other prove nothing either.
        """
        present = [abs(value) for value, _ in voltages.values() if value]
        if not present:
            return None
        low, high = VOLTAGE_RANGE
        fits = [
            (exponent, f"phase voltages {', '.join(f'{_scaled(volts, exponent - prior):g}' for volts in present)} V")
            for exponent in VOLTAGE_EXPONENTS
            if all(low <= _scaled(volts, exponent - prior) <= high for volts in present)
        ]
        return fits[0] if len(fits) == 1 else None

    @staticmethod
    def _current_evidence(
        readings: Mapping[ObisCode, Reading], currents: dict[ObisCode, Reading], prior: int, voltage_change: int
    ) -> tuple[int, str] | None:
        """Find the resolution that makes the phases carry the measured power, if exactly one does.

        With per-phase power factors, the phases' U·I·cos φ must add up to the
        active power; with reactive power, their U·I to the apparent power
        √(P² + Q²); with neither, the power factor P / ΣU·I must be a
        household's under load.
        """
        active = _largest(readings, ACTIVE_POWER)
        reactive = _largest(readings, REACTIVE_POWER)
        measured = math.hypot(active, reactive)
        phases = _phase_loads(readings, currents, voltage_change)
        if measured < MIN_EVIDENCE_POWER or not phases:
            return None
        with_factors = all(factor is not None for _, factor in phases)
        fits = []
        for exponent in CURRENT_EXPONENTS:
            change = exponent - prior
            apparent = sum(_scaled(volt_amperes, change) for volt_amperes, _ in phases)
            if with_factors:
                carried = sum(_scaled(volt_amperes, change) * (factor or 0.0) for volt_amperes, factor in phases)
                fit = active >= MIN_EVIDENCE_POWER and abs(carried / active - 1) <= POWER_TOLERANCE
                why = f"phases carry {carried:.0f} W (U·I·cos φ) of {active:g} W measured"
            elif reactive:
                fit = abs(apparent / measured - 1) <= POWER_TOLERANCE
                why = f"phases carry {apparent:.0f} VA (U·I) of {measured:.0f} VA measured"
            else:
                fit = bool(apparent) and POWER_FACTOR_RANGE[0] <= active / apparent <= POWER_FACTOR_RANGE[1]
                why = f"phases carry {apparent:.0f} VA (U·I) for {active:g} W measured"
            if fit:
                fits.append((exponent, why))
        return fits[0] if len(fits) == 1 else None


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
