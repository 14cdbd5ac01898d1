"""The registers HAN Port shows: their sensor keys, which ones current transformers scale, and their names.

The decoder says what a register measures (its quantity, unit and bounds);
which registers become sensors, under which key, and what a
current-transformer ratio multiplies is the integration's business. A key
is part of each sensor's unique id: it never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .decoder import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    APPARENT_ENERGY,
    APPARENT_POWER,
    CURRENT,
    CURRENT_AVERAGE,
    FREQUENCY,
    INSTANTANEOUS,
    MAXIMUM,
    NET_ACTIVE_ENERGY,
    NET_ACTIVE_POWER,
    POWER_FACTOR,
    REACTIVE_ENERGY,
    REACTIVE_POWER,
    TOTAL,
    VOLTAGE,
    Code,
    Quantity,
)

# What a meter measures through current transformers, multiplied by their
# ratio: currents, and the powers and energies worked out from them.
THROUGH_CURRENT_TRANSFORMERS = frozenset(
    {
        CURRENT,
        ACTIVE_POWER,
        REACTIVE_POWER,
        APPARENT_POWER,
        ACTIVE_ENERGY,
        REACTIVE_ENERGY,
        APPARENT_ENERGY,
        NET_ACTIVE_POWER,
        NET_ACTIVE_ENERGY,
    }
)
# A register is written C.D.E.
_CDE = 3


def is_total(register: Code) -> bool:
    """Whether a register is a total since installation (D = 8), which may only grow."""
    return register[1] == TOTAL


def code_name(register: Code) -> str:
    """Write a register as OBIS C.D.E, as the meter's documentation does."""
    return ".".join(map(str, register))


def code_of_name(name: str) -> Code:
    """Read a register written as code_name writes it ("1.8.0"); one that does not read is no register (0.0.0)."""
    parts = name.split(".")
    if len(parts) == _CDE and all(part.isdigit() for part in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    return (0, 0, 0)


@dataclass(frozen=True, slots=True)
class Register:
    """A register we publish: its sensor key, OBIS C.D.E and quantity."""

    key: str
    code: Code
    quantity: Quantity
    phase: int | None = None
    tariff: int | None = None
    family: str | None = None
    """The key a quantity's phases, or a total's tariffs, share: one name with the phase or tariff in it."""
    wanted: bool = True
    """Whether most homes want its sensor, where its quantity's are wanted: if not, it starts disabled."""


def _per_phase(base: int, d: int, key: str, quantity: Quantity, *, wanted: bool = True) -> tuple[Register, ...]:
    """One register per phase: C = base, base + 20, base + 40 (L1, L2, L3)."""
    return tuple(
        Register(f"{key}_l{phase}", (base + 20 * (phase - 1), d, 0), quantity, phase, family=key, wanted=wanted)
        for phase in (1, 2, 3)
    )


# The tariffs a meter counts apart: Dutch and Belgian meters two, day and night (a sensor each, enabled); Czech
# ones up to four.
TARIFFS = range(1, 5)
_DAY_AND_NIGHT = 2


def _per_tariff(c: int, key: str) -> tuple[Register, ...]:
    """One register per tariff of an active energy total: C.8.1 to C.8.4 (the two of day and night wanted)."""
    return tuple(
        Register(f"{key}_tariff_{n}", (c, TOTAL, n), ACTIVE_ENERGY, tariff=n, family=key, wanted=n <= _DAY_AND_NIGHT)
        for n in TARIFFS
    )


ACTIVE_POWER_IMPORT = Register("active_power_import", (1, INSTANTANEOUS, 0), ACTIVE_POWER)
ACTIVE_POWER_EXPORT = Register("active_power_export", (2, INSTANTANEOUS, 0), ACTIVE_POWER)
ACTIVE_ENERGY_IMPORT = Register("active_energy_import", (1, TOTAL, 0), ACTIVE_ENERGY)
ACTIVE_ENERGY_EXPORT = Register("active_energy_export", (2, TOTAL, 0), ACTIVE_ENERGY)
REACTIVE_ENERGY_IMPORT = Register("reactive_energy_import", (3, TOTAL, 0), REACTIVE_ENERGY)
REACTIVE_ENERGY_EXPORT = Register("reactive_energy_export", (4, TOTAL, 0), REACTIVE_ENERGY)

REGISTERS: tuple[Register, ...] = (
    ACTIVE_POWER_IMPORT,
    ACTIVE_POWER_EXPORT,
    Register("reactive_power_import", (3, INSTANTANEOUS, 0), REACTIVE_POWER),
    Register("reactive_power_export", (4, INSTANTANEOUS, 0), REACTIVE_POWER),
    *_per_phase(21, INSTANTANEOUS, "active_power_import", ACTIVE_POWER),
    # Few homes export per phase (its power and its energy alike), and the total power factor says what most need.
    *_per_phase(22, INSTANTANEOUS, "active_power_export", ACTIVE_POWER, wanted=False),
    *_per_phase(23, INSTANTANEOUS, "reactive_power_import", REACTIVE_POWER),
    *_per_phase(24, INSTANTANEOUS, "reactive_power_export", REACTIVE_POWER),
    *_per_phase(31, INSTANTANEOUS, "current", CURRENT),
    *_per_phase(32, INSTANTANEOUS, "voltage", VOLTAGE),
    Register("power_factor", (13, INSTANTANEOUS, 0), POWER_FACTOR),
    *_per_phase(33, INSTANTANEOUS, "power_factor", POWER_FACTOR, wanted=False),
    Register("frequency", (14, INSTANTANEOUS, 0), FREQUENCY),
    # The Belgian capacity tariff's figures: the quarter hour's average demand so far, and the month's peak.
    Register("average_demand", (1, CURRENT_AVERAGE, 0), ACTIVE_POWER),
    Register("maximum_demand", (1, MAXIMUM, 0), ACTIVE_POWER),
    ACTIVE_ENERGY_IMPORT,
    ACTIVE_ENERGY_EXPORT,
    *_per_tariff(1, "active_energy_import"),
    *_per_tariff(2, "active_energy_export"),
    REACTIVE_ENERGY_IMPORT,
    REACTIVE_ENERGY_EXPORT,
    *_per_phase(21, TOTAL, "active_energy_import", ACTIVE_ENERGY),
    *_per_phase(22, TOTAL, "active_energy_export", ACTIVE_ENERGY, wanted=False),
)

REGISTER_BY_CODE: dict[Code, Register] = {register.code: register for register in REGISTERS}
"""Each register we publish, by its code."""
# The live energy sensors (sensor.py): each carries a register on between the meter's totals of it by
# integrating a power. Their keys, the registers and the powers.
_LIVE_ENERGY = (
    ("live_energy_import", ACTIVE_ENERGY_IMPORT, ACTIVE_POWER_IMPORT),
    ("live_energy_export", ACTIVE_ENERGY_EXPORT, ACTIVE_POWER_EXPORT),
)
LIVE_ENERGY_KEYS: dict[Code, str] = {register.code: key for key, register, _ in _LIVE_ENERGY}
"""Each live energy sensor's key, by the register it carries on."""
REGISTER_OF_POWER: dict[Code, Code] = {power.code: register.code for _, register, power in _LIVE_ENERGY}
"""The register a power's integral carries on, by the power."""
