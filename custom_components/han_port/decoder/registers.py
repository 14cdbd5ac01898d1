"""What the registers are: their quantity, base unit and the physics of a household.

One table for everything that needs to know: the decoder's units and its
plausibility check, and whatever shows the readings. A value outside its quantity's bounds came from a
damaged or hostile frame (or a unit we got wrong), never from a meter in a
home: the frame is dropped, not shown. The exception is a value the meter
works out rather than measures (a power factor), in a P1 telegram whose CRC
held: see worked_out_beyond_bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .obis import ELECTRICITY, ObisCode, Unit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .model import Reading

type Code = tuple[int, int, int]
"""OBIS C.D.E: what a register measures, whichever channel (B) the meter uses."""


# The largest installations behind a HAN port: a farm or an apartment block
# metered through current transformers, well under 1 MW and 2000 A a phase.
# A direct-connected home stays under a tenth of that.
MAX_POWER = 1_000_000.0
MAX_CURRENT = 2_000.0
# Ten digits of kWh, the longest energy register a meter shows.
MAX_ENERGY = 1e13
# What one telegram's powers may be beside the apparent power its own voltages and currents carry (the largest
# voltage times the phases' currents, or a phase's own for its power): wide, as a meter samples them moments
# apart (a load may switch on in between), the currents a list leaves out (two carry an IT grid's three phases)
# and currents rounded down to whole amperes (DSMR). Beyond it, the power or the currents lie within their own
# bounds, or a big load switched on between the samples.
POWER_OVER_APPARENT = 1.5
POWER_ALLOWANCE = 1_000.0


@dataclass(frozen=True, slots=True)
class Quantity:
    """A kind of register: its base unit and the values a household can show."""

    name: str
    unit: Unit | None
    low: float
    high: float
    worked_out: bool = False
    """Whether a meter works the value out from what it measures (a ratio of its powers) rather than measuring it."""

    def holds(self, value: float) -> bool:
        """Whether a value is physically possible for this quantity.

        NaN fails every comparison; integers are compared exactly (a huge one
        would not convert to float), infinities are out of bounds.
        """
        return self.low <= value <= self.high


VOLTAGE = Quantity("voltage", Unit.VOLT, 0.0, 500.0)
# Signed: a few meters give export as a negative current.
CURRENT = Quantity("current", Unit.AMPERE, -MAX_CURRENT, MAX_CURRENT)
ACTIVE_POWER = Quantity("active_power", Unit.WATT, 0.0, MAX_POWER)
REACTIVE_POWER = Quantity("reactive_power", Unit.VAR, 0.0, MAX_POWER)
APPARENT_POWER = Quantity("apparent_power", Unit.VOLT_AMPERE, 0.0, MAX_POWER)
ACTIVE_ENERGY = Quantity("active_energy", Unit.WATT_HOUR, 0.0, MAX_ENERGY)
REACTIVE_ENERGY = Quantity("reactive_energy", Unit.VAR_HOUR, 0.0, MAX_ENERGY)
APPARENT_ENERGY = Quantity("apparent_energy", Unit.VOLT_AMPERE_HOUR, 0.0, MAX_ENERGY)
POWER_FACTOR = Quantity("power_factor", None, -1.0, 1.0, worked_out=True)
FREQUENCY = Quantity("frequency", Unit.HERTZ, 45.0, 65.0)

# Signed: net active power and energy (C=16, import minus export) go negative while a home exports.
NET_ACTIVE_POWER = Quantity("net_active_power", Unit.WATT, -MAX_POWER, MAX_POWER)
NET_ACTIVE_ENERGY = Quantity("net_active_energy", Unit.WATT_HOUR, -MAX_ENERGY, MAX_ENERGY)

# What an electricity register means is in its value groups (IEC 62056-61),
# not in a list of codes: C says the quantity, D how it was processed.
# C 1..20 are summed over the phases, 21..80 the same per phase (20 each).
_PHASES = range(21, 81)
_POWER_AND_ENERGY = {  # C: its power, and its energy (a time integral of the power)
    1: (ACTIVE_POWER, ACTIVE_ENERGY),  # import, +A
    2: (ACTIVE_POWER, ACTIVE_ENERGY),  # export, -A
    3: (REACTIVE_POWER, REACTIVE_ENERGY),  # +R
    4: (REACTIVE_POWER, REACTIVE_ENERGY),  # -R
    5: (REACTIVE_POWER, REACTIVE_ENERGY),  # reactive, quadrants I to IV
    6: (REACTIVE_POWER, REACTIVE_ENERGY),
    7: (REACTIVE_POWER, REACTIVE_ENERGY),
    8: (REACTIVE_POWER, REACTIVE_ENERGY),
    9: (APPARENT_POWER, APPARENT_ENERGY),  # +VA
    10: (APPARENT_POWER, APPARENT_ENERGY),  # -VA
    15: (ACTIVE_POWER, ACTIVE_ENERGY),  # |+A| + |-A|
    16: (NET_ACTIVE_POWER, NET_ACTIVE_ENERGY),  # +A - (-A)
    17: (ACTIVE_POWER, ACTIVE_ENERGY),  # active, quadrants I to IV
    18: (ACTIVE_POWER, ACTIVE_ENERGY),
    19: (ACTIVE_POWER, ACTIVE_ENERGY),
    20: (ACTIVE_POWER, ACTIVE_ENERGY),
}
_POWERS = frozenset({ACTIVE_POWER, REACTIVE_POWER, APPARENT_POWER, NET_ACTIVE_POWER})
_POWERS_AND_CURRENTS = _POWERS | {CURRENT}
_MEASURED = {11: CURRENT, 12: VOLTAGE, 13: POWER_FACTOR, 14: FREQUENCY}  # no time integral means anything
_SUM_OF_PHASES_CURRENT = 90
_NEUTRAL_CURRENT = 91
_NEUTRAL_VOLTAGE = 92
_BY_C_ALONE = {_SUM_OF_PHASES_CURRENT: CURRENT, _NEUTRAL_CURRENT: CURRENT, _NEUTRAL_VOLTAGE: VOLTAGE}
# Value group D, the processing: the instantaneous value; averages, minima and
# maxima over a demand period (a power, when C is one: maximum demand is 1.6.0);
# and time integrals (an energy: the totals are 1.8.0).
INSTANTANEOUS = 7
TOTAL = 8
"""OBIS D of a register's total since the meter was installed (1.8.0: energy imported)."""
CURRENT_AVERAGE = 4
"""OBIS D of a power's average over the demand period in progress (1.4.0: a Belgian meter's quarter hour)."""
MAXIMUM = 6
"""OBIS D of a power's highest demand-period average in the billing period (1.6.0: the month's peak)."""
_SAMPLED = frozenset({INSTANTANEOUS, 0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 27, 28})
_TIME_INTEGRALS = frozenset({TOTAL, 9, 10, 17, 18, 19, 20, 29, 30, 58})


def phase_of(obis: ObisCode) -> int | None:
    """Return the phase (1-3) of a per-phase register, None for totals and the neutral."""
    return (obis.c - 21) // 20 + 1 if obis.c in _PHASES else None


@lru_cache(maxsize=4096)
def quantity_of(obis: ObisCode) -> Quantity | None:
    """Return what an electricity register measures, by its value groups C and D (None: nothing here reads it).

    None for what is not electricity (A), for a quantity or processing the
    standard gives no meaning here (angles, counters, manufacturer codes of C
    128 and above), and for a processing that makes no sense of the quantity
    (a time integral of a voltage).
    """
    if obis.a != ELECTRICITY:
        return None
    kind = (obis.c - 1) % 20 + 1 if obis.c in _PHASES else obis.c
    sampled = obis.d in _SAMPLED
    if kind in _POWER_AND_ENERGY:
        power, energy = _POWER_AND_ENERGY[kind]
        return power if sampled else energy if obis.d in _TIME_INTEGRALS else None
    measured = _MEASURED.get(kind) or _BY_C_ALONE.get(obis.c)
    return measured if sampled else None


def interpretable[T](readings: Mapping[ObisCode, T]) -> tuple[dict[ObisCode, T], tuple[ObisCode, ...]]:
    """Split readings into those whose code means a quantity, and the codes left out.

    A value whose code nothing here interprets has no bound that could tell
    the meter's number from damage: it is left out of the telegram, never
    passed on unbounded.
    """
    kept = {obis: reading for obis, reading in readings.items() if quantity_of(obis) is not None}
    if len(kept) == len(readings):
        return kept, ()
    return kept, tuple(obis for obis in readings if obis not in kept)


def implausible(readings: Mapping[ObisCode, Reading]) -> str | None:
    """Say what is physically impossible in a telegram's readings, or None when nothing is.

    Every reading must be of a quantity its code means (see interpretable),
    lie in that quantity's bounds, and carry its unit, if it names one.
    """
    for obis, (value, unit) in readings.items():
        quantity = quantity_of(obis)
        if quantity is None:
            return f"{obis} = {value}: nothing here reads what its code means"
        if not quantity.holds(value):
            return _why(obis, value, quantity)
        # A unit the meter did not name is the standard one; a different one is damage.
        if unit is not None and unit != quantity.unit:
            standard = quantity.unit or "no unit"
            return f"{obis} comes in {unit}, but {quantity.name.replace('_', ' ')} is in {standard}"
    return None


def power_beyond_currents(readings: Mapping[ObisCode, Reading]) -> str | None:
    """Say which instantaneous power is more than the telegram's own voltages and currents carry, if one is.

    Each within its bounds, together they contradict each other: one is a lie, and nothing tells which. Or
    the meter sampled them moments apart, as a big load switched on: see POWER_OVER_APPARENT. A phase's power is
    weighed against its own phase's current where the telegram sends one above 0 A (an IT grid's meter measuring
    two currents sends 0 for the third); the others against the phases' currents, or else their sum (C 90; C 11
    may be one phase's). The voltage is the highest a phase has, or else the most any may have (a list without
    voltages, DSMR 4's; a phase at 0 V carries nothing). None too for a telegram without such currents: see
    weighs_powers.
    """
    by_phase: dict[int, float] = {}
    for obis, (value, _unit) in readings.items():
        if (phase := _phase_current(obis)) is not None:
            by_phase[phase] = max(abs(value), by_phase.get(phase, 0.0))
    summed = [abs(value) for obis, (value, _unit) in readings.items() if _summed_current(obis)]
    total = sum(by_phase.values()) if by_phase else max(summed, default=None)
    if total is None:
        return None
    voltages = [value for obis, (value, _unit) in readings.items() if _phase_voltage(obis) and value > 0]
    voltage = max(voltages, default=VOLTAGE.high)
    for obis, (value, _unit) in readings.items():
        if obis.d != INSTANTANEOUS or quantity_of(obis) not in _POWERS:
            continue
        phase = phase_of(obis)
        own = by_phase.get(phase, 0.0) if phase is not None else 0.0
        current, whose = (own, f"L{phase}'s ") if own else (total, "")
        carried = POWER_OVER_APPARENT * voltage * current + POWER_ALLOWANCE
        if abs(value) > carried:
            amperes = f"{whose}{current:g} A"
            return f"{obis} = {value:g} is more than the {carried:g} that {amperes} at up to {voltage:g} V carry"
    return None


def weighs_powers(readings: Mapping[ObisCode, Reading]) -> bool:
    """Whether a telegram sends the currents its powers are weighed against (see power_beyond_currents)."""
    return any(_phase_current(obis) is not None or _summed_current(obis) for obis in readings)


def weighed_together(readings: Mapping[ObisCode, Reading]) -> tuple[ObisCode, ...]:
    """Return the codes of a telegram's instantaneous powers, currents and voltages: what a contradiction takes out."""
    return tuple(
        obis
        for obis in readings
        if obis.d == INSTANTANEOUS and (quantity_of(obis) in _POWERS_AND_CURRENTS or _phase_voltage(obis))
    )


def _phase_voltage(obis: ObisCode) -> bool:
    """Whether a register is an instantaneous voltage of a phase (C 12: of any), not the neutral's."""
    return obis.d == INSTANTANEOUS and quantity_of(obis) is VOLTAGE and obis.c != _NEUTRAL_VOLTAGE


def _phase_current(obis: ObisCode) -> int | None:
    """Return the phase whose instantaneous current a register is, None for any other register."""
    return phase_of(obis) if obis.d == INSTANTANEOUS and quantity_of(obis) is CURRENT else None


def _summed_current(obis: ObisCode) -> bool:
    """Whether a register is the instantaneous sum of the phases' currents."""
    return obis.d == INSTANTANEOUS and obis.c == _SUM_OF_PHASES_CURRENT and quantity_of(obis) is CURRENT


def worked_out_beyond_bounds(readings: Mapping[ObisCode, Reading]) -> tuple[ObisCode, ...]:
    """Return the codes of values a meter worked out (see Quantity.worked_out) that lie beyond their bounds.

    In a P1 telegram whose CRC held, such a value is the meter's own
    arithmetic (E.ON Hungary's Sanxing sends 4.556 as its power factor), not
    a sign that the line lied: it is left out, and each value the meter
    measured still answers for the telegram.
    """
    return tuple(
        obis
        for obis, (value, _unit) in readings.items()
        if (quantity := quantity_of(obis)) is not None and quantity.worked_out and not quantity.holds(value)
    )


def _why(obis: ObisCode, value: float, quantity: Quantity) -> str:
    """Explain why a value is impossible for its register."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{obis} is {value}"
    unit = f" {quantity.unit}" if quantity.unit else ""
    what = quantity.name.replace("_", " ")
    return f"{obis} = {value} is impossible for {what} ({quantity.low:g} to {quantity.high:g}{unit})"
