"""OBIS codes and what the standard says their registers measure."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class Unit(StrEnum):
    """Base units a register value is expressed in."""

    WATT = "W"
    VAR = "var"
    VOLT_AMPERE = "VA"
    WATT_HOUR = "Wh"
    VAR_HOUR = "varh"
    VOLT_AMPERE_HOUR = "VAh"
    VOLT = "V"
    AMPERE = "A"
    HERTZ = "Hz"


_OBIS_TEXT = re.compile(r"^(\d+)-(\d+):(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?$")


class ObisCode(NamedTuple):
    """An OBIS code A-B:C.D.E.F (IEC 62056-61).

    A named tuple rather than a frozen dataclass: readings are keyed by it,
    and a tuple hashes in C, where a dataclass hashes in Python per lookup.
    """

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255

    @classmethod
    def from_bytes(cls, data: bytes) -> ObisCode:
        """Build from the six-byte logical name the meters send."""
        if len(data) != 6:  # noqa: PLR2004 - a logical name is six bytes
            msg = f"an OBIS code is 6 bytes, not {len(data)}"
            raise ValueError(msg)
        return cls(data[0], data[1], data[2], data[3], data[4], data[5])

    @classmethod
    def parse(cls, text: str) -> ObisCode:
        """Parse 'A-B:C.D.E' or 'A-B:C.D.E.F' (F defaults to 255)."""
        match = _OBIS_TEXT.match(text)
        if match is None:
            msg = f"not an OBIS code: {text!r}"
            raise ValueError(msg)
        a, b, c, d, e, f = match.groups()
        return cls(int(a), int(b), int(c), int(d), int(e), 255 if f is None else int(f))

    def to_bytes(self) -> bytes:
        """Return the six-byte logical name, as the meters send it."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    @property
    def register(self) -> tuple[int, int, int]:
        """C.D.E: what is measured, whichever channel (B) the meter uses."""
        return (self.c, self.d, self.e)

    def __str__(self) -> str:  # OBIS notation, not tuple notation
        return f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}.{self.f}"


# Value group C of electricity (A=1) registers: the quantity, and for C in
# 21..80 the phase (20 per phase). D=7 is an instantaneous value, D=8 a total.
_POWER_UNIT_BY_QUANTITY = {
    1: Unit.WATT,
    2: Unit.WATT,
    3: Unit.VAR,
    4: Unit.VAR,
    9: Unit.VOLT_AMPERE,
    10: Unit.VOLT_AMPERE,
}
_ENERGY_UNIT_BY_POWER_UNIT = {
    Unit.WATT: Unit.WATT_HOUR,
    Unit.VAR: Unit.VAR_HOUR,
    Unit.VOLT_AMPERE: Unit.VOLT_AMPERE_HOUR,
}
_INSTANTANEOUS = 7
_TOTAL = 8
_PHASE_QUANTITIES = range(21, 81)
_CURRENT = 11
_VOLTAGE = 12
_POWER_FACTOR = 13
_FREQUENCY = 14
_NEUTRAL_CURRENT = 91
ELECTRICITY = 1


def quantity(obis: ObisCode) -> int:
    """Return the quantity of C with the phase taken out: 31 (I L1) -> 11 (I)."""
    if obis.c in _PHASE_QUANTITIES:
        return (obis.c - 1) % 20 + 1
    return obis.c


def standard_unit(obis: ObisCode) -> Unit | None:  # noqa: PLR0911 - one return per quantity
    """Return the base unit IEC 62056-61 gives an electricity register, if any."""
    if obis.a != ELECTRICITY:
        return None
    if obis.c == _NEUTRAL_CURRENT and obis.d == _INSTANTANEOUS:
        return Unit.AMPERE
    kind = quantity(obis)
    power_unit = _POWER_UNIT_BY_QUANTITY.get(kind)
    if power_unit is not None:
        if obis.d == _INSTANTANEOUS:
            return power_unit
        if obis.d == _TOTAL:
            return _ENERGY_UNIT_BY_POWER_UNIT[power_unit]
        return None
    if obis.d != _INSTANTANEOUS:
        return None
    return {_CURRENT: Unit.AMPERE, _VOLTAGE: Unit.VOLT, _FREQUENCY: Unit.HERTZ}.get(kind)


def is_power_factor(obis: ObisCode) -> bool:
    """Whether the register is a (total or per-phase) power factor."""
    return obis.a == ELECTRICITY and quantity(obis) == _POWER_FACTOR and obis.d == _INSTANTANEOUS


# Identification and clock registers, matched on C.D.E because vendors
# disagree on A and B (Kamstrup 1-1:0.0.5, Aidon 0-0:96.1.0, ...).
_LIST_VERSION = (0, 2, 129)
_CLOCK = (1, 0, 0)
_METER_ID = (96, 1, 0)
_GS1_NUMBER = (0, 0, 5)
_METER_NUMBER = (0, 0, 1)
_METER_TYPE = (96, 1, 7)
# 96.1.1 is the equipment identifier in the standard (and in P1 telegrams),
# but Kamstrup's HAN lists send the meter type there as 1-1:96.1.1.
_EQUIPMENT_ID = (96, 1, 1)


def identification(obis: ObisCode) -> str | None:
    """Which telegram field an identification register fills, if any."""
    register = obis.register
    if register == _LIST_VERSION:
        return "list_version"
    if register in (_METER_ID, _GS1_NUMBER) or (register == _METER_NUMBER and obis.a == ELECTRICITY):
        return "meter_id"
    if register == _METER_TYPE:
        return "meter_type"
    if register == _EQUIPMENT_ID:
        return "meter_type" if obis.a == ELECTRICITY else "meter_id"
    return None


def is_clock(obis: ObisCode) -> bool:
    """Whether the register is the meter's clock (0-x:1.0.0)."""
    return obis.a == 0 and obis.register == _CLOCK
