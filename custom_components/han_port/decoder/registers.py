"""What the registers are: their quantity, base unit and the physics of a household.

One table for everything that needs to know: the decoder's units and its
plausibility check, and the integration's sensors, current-transformer
scaling and energy guard. A value outside its quantity's bounds came from a
damaged or hostile frame (or a unit we got wrong), never from a meter in a
home: the frame is dropped, not shown.
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

PRESENT_VALUE = 255
"""OBIS F of a register's present value; others are billing periods and history."""

# The largest installations behind a HAN port: a farm or an apartment block
# metered through current transformers, well under 1 MW and 2000 A a phase.
# A direct-connected home stays under a tenth of that.
MAX_POWER = 1_000_000.0
MAX_CURRENT = 2_000.0
# Ten digits of kWh, the longest energy register a meter shows.
MAX_ENERGY = 1e13
# Registers outside the table (not published) must still be numbers a
# database can hold: finite, and far from the limits of a float.
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True, slots=True)
class Quantity:
    """A kind of register: its base unit and the values a household can show."""

    name: str
    unit: Unit | None
    low: float
    high: float
    through_current_transformers: bool = False
    """Measured through current transformers: multiplied by their ratio (current, power, energy)."""

    def holds(self, value: float) -> bool:
        """Whether a value is physically possible for this quantity."""
        return self.low <= value <= self.high


VOLTAGE = Quantity("voltage", Unit.VOLT, 0.0, 500.0)
# Signed: a few meters give export as a negative current.
CURRENT = Quantity("current", Unit.AMPERE, -MAX_CURRENT, MAX_CURRENT, through_current_transformers=True)
ACTIVE_POWER = Quantity("active_power", Unit.WATT, 0.0, MAX_POWER, through_current_transformers=True)
REACTIVE_POWER = Quantity("reactive_power", Unit.VAR, 0.0, MAX_POWER, through_current_transformers=True)
APPARENT_POWER = Quantity("apparent_power", Unit.VOLT_AMPERE, 0.0, MAX_POWER, through_current_transformers=True)
ACTIVE_ENERGY = Quantity("active_energy", Unit.WATT_HOUR, 0.0, MAX_ENERGY, through_current_transformers=True)
REACTIVE_ENERGY = Quantity("reactive_energy", Unit.VAR_HOUR, 0.0, MAX_ENERGY, through_current_transformers=True)
APPARENT_ENERGY = Quantity("apparent_energy", Unit.VOLT_AMPERE_HOUR, 0.0, MAX_ENERGY, through_current_transformers=True)
POWER_FACTOR = Quantity("power_factor", None, -1.0, 1.0)
FREQUENCY = Quantity("frequency", Unit.HERTZ, 45.0, 65.0)

# Value group C of electricity registers (IEC 62056-61): the quantity, and
# for C in 21..80 the phase (20 per phase). D=7 is an instantaneous value,
# D=8 a total.
_INSTANTANEOUS = 7
_TOTAL = 8
_PHASES = range(21, 81)
_NEUTRAL_CURRENT = 91
_BY_C_INSTANTANEOUS = {
    1: ACTIVE_POWER,
    2: ACTIVE_POWER,
    3: REACTIVE_POWER,
    4: REACTIVE_POWER,
    9: APPARENT_POWER,
    10: APPARENT_POWER,
    11: CURRENT,
    12: VOLTAGE,
    13: POWER_FACTOR,
    14: FREQUENCY,
}
_BY_C_TOTAL = {
    1: ACTIVE_ENERGY,
    2: ACTIVE_ENERGY,
    3: REACTIVE_ENERGY,
    4: REACTIVE_ENERGY,
    5: REACTIVE_ENERGY,
    6: REACTIVE_ENERGY,
    7: REACTIVE_ENERGY,
    8: REACTIVE_ENERGY,
    9: APPARENT_ENERGY,
    10: APPARENT_ENERGY,
}


def phase_of(obis: ObisCode) -> int | None:
    """Return the phase (1-3) of a per-phase register, None for totals and the neutral."""
    return (obis.c - 21) // 20 + 1 if obis.c in _PHASES else None


@lru_cache(maxsize=4096)
def quantity_of(obis: ObisCode) -> Quantity | None:
    """Return what an electricity register measures, by the standard's value groups (None: not known)."""
    if obis.a != ELECTRICITY:
        return None
    if obis.c == _NEUTRAL_CURRENT and obis.d == _INSTANTANEOUS:
        return CURRENT
    kind = (obis.c - 1) % 20 + 1 if obis.c in _PHASES else obis.c
    if obis.d == _INSTANTANEOUS:
        return _BY_C_INSTANTANEOUS.get(kind)
    if obis.d == _TOTAL:
        return _BY_C_TOTAL.get(kind)
    return None


@dataclass(frozen=True, slots=True)
class Register:
    """A register we publish: its key, OBIS C.D.E and quantity."""

    key: str
    code: Code
    quantity: Quantity
    phase: int | None = None


def _per_phase(base: int, d: int, key: str, quantity: Quantity) -> tuple[Register, ...]:
    """One register per phase: C = base, base + 20, base + 40 (L1, L2, L3)."""
    return tuple(Register(f"{key}_l{phase}", (base + 20 * (phase - 1), d, 0), quantity, phase) for phase in (1, 2, 3))


ACTIVE_POWER_IMPORT = Register("active_power_import", (1, 7, 0), ACTIVE_POWER)
ACTIVE_POWER_EXPORT = Register("active_power_export", (2, 7, 0), ACTIVE_POWER)
ACTIVE_ENERGY_IMPORT = Register("active_energy_import", (1, 8, 0), ACTIVE_ENERGY)
ACTIVE_ENERGY_EXPORT = Register("active_energy_export", (2, 8, 0), ACTIVE_ENERGY)

REGISTERS: tuple[Register, ...] = (
    ACTIVE_POWER_IMPORT,
    ACTIVE_POWER_EXPORT,
    Register("reactive_power_import", (3, 7, 0), REACTIVE_POWER),
    Register("reactive_power_export", (4, 7, 0), REACTIVE_POWER),
    *_per_phase(21, _INSTANTANEOUS, "active_power_import", ACTIVE_POWER),
    *_per_phase(22, _INSTANTANEOUS, "active_power_export", ACTIVE_POWER),
    *_per_phase(23, _INSTANTANEOUS, "reactive_power_import", REACTIVE_POWER),
    *_per_phase(24, _INSTANTANEOUS, "reactive_power_export", REACTIVE_POWER),
    *_per_phase(31, _INSTANTANEOUS, "current", CURRENT),
    *_per_phase(32, _INSTANTANEOUS, "voltage", VOLTAGE),
    Register("power_factor", (13, 7, 0), POWER_FACTOR),
    *_per_phase(33, _INSTANTANEOUS, "power_factor", POWER_FACTOR),
    Register("frequency", (14, 7, 0), FREQUENCY),
    ACTIVE_ENERGY_IMPORT,
    ACTIVE_ENERGY_EXPORT,
    Register("reactive_energy_import", (3, 8, 0), REACTIVE_ENERGY),
    Register("reactive_energy_export", (4, 8, 0), REACTIVE_ENERGY),
    *_per_phase(21, _TOTAL, "active_energy_import", ACTIVE_ENERGY),
    *_per_phase(22, _TOTAL, "active_energy_export", ACTIVE_ENERGY),
)


@lru_cache(maxsize=1024)
def _bounds(obis: ObisCode) -> tuple[float, float, Unit | None]:
    """Return the values and unit a register may have: its quantity's, or any number a meter could send."""
    quantity = quantity_of(obis)
    if quantity is None:
        return -MAX_MAGNITUDE, MAX_MAGNITUDE, None
    return quantity.low, quantity.high, quantity.unit


def implausible(readings: Mapping[ObisCode, Reading]) -> str | None:
    """Say what is physically impossible in a telegram's readings, or None when nothing is.

    Every reading must be a finite number a database can hold; a register of
    a known quantity must also lie in that quantity's bounds and carry its unit.
    """
    for obis, (value, unit) in readings.items():
        low, high, standard = _bounds(obis)
        # NaN fails every comparison; integers are compared exactly (a huge
        # one would not convert to float), infinities are out of bounds.
        if not low <= value <= high:
            return _why(obis, value)
        # A unit the meter did not name is the standard one; a different one is damage.
        if unit is not None and standard is not None and unit != standard:
            return f"{obis} comes in {unit}, but {quantity_of(obis).name.replace('_', ' ')} is in {standard}"  # type: ignore[union-attr]
    return None


def _why(obis: ObisCode, value: float) -> str:
    """Explain why a value is impossible for its register."""
    quantity = quantity_of(obis)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{obis} is {value}"
    if quantity is None:
        return f"{obis} = {value} is beyond any meter's range"
    unit = f" {quantity.unit}" if quantity.unit else ""
    what = quantity.name.replace("_", " ")
    return f"{obis} = {value} is impossible for {what} ({quantity.low:g} to {quantity.high:g}{unit})"
