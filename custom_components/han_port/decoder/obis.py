"""OBIS codes, and which registers identify the meter or carry its clock.

What the measuring registers are (quantity, unit, bounds) is in `registers`.
"""

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


PRESENT_VALUE = 255
"""OBIS F of a register's present value; others are billing periods and history."""

_OBIS_TEXT = re.compile(r"^(\d+)-(\d+):(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?$")


OBIS_LENGTH = 6
"""A logical name (an OBIS code) is six bytes, A to F."""


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
    f: int = PRESENT_VALUE

    @classmethod
    def from_bytes(cls, data: bytes) -> ObisCode:
        """Build from the six-byte logical name the meters send."""
        if len(data) != OBIS_LENGTH:
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
        return cls(int(a), int(b), int(c), int(d), int(e), PRESENT_VALUE if f is None else int(f))

    def to_bytes(self) -> bytes:
        """Return the six-byte logical name, as the meters send it."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    @property
    def register(self) -> tuple[int, int, int]:
        """C.D.E: what is measured, whichever channel (B) the meter uses."""
        return (self.c, self.d, self.e)

    def __str__(self) -> str:  # OBIS notation, not tuple notation
        return f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}.{self.f}"


# Value group A: what kind of object (IEC 62056-61).
ABSTRACT = 0
ELECTRICITY = 1


# Identification and clock registers, matched on C.D.E because vendors
# disagree on A and B (Kamstrup 1-1:0.0.5, Aidon 0-0:96.1.0, ...).
_LIST_VERSION = (0, 2, 129)
_CLOCK = (1, 0, 0)
_METER_ID = (96, 1, 0)
_GS1_NUMBER = (0, 0, 5)
_METER_NUMBER = (0, 0, 1)
# Device ID 1: the serial EasyMeter (1-0:0.0.0) and Swiss P1 ports (0-0:0.0.0) send.
_DEVICE_ID = (0, 0, 0)
_METER_TYPE = (96, 1, 7)
# 96.1.1 is the equipment identifier in the standard (and in P1 telegrams),
# but Kamstrup's HAN lists send the meter type there as 1-1:96.1.1.
_EQUIPMENT_ID = (96, 1, 1)
# The COSEM logical device name: the maker's three-letter id and the serial ("ISK1030792283067").
_LOGICAL_DEVICE_NAME = (42, 0, 0)


def identification(obis: ObisCode) -> str | None:
    """Which telegram field an identification register fills, if any."""
    register = obis.register
    if register == _LIST_VERSION:
        return "list_version"
    if register in (_METER_ID, _GS1_NUMBER, _DEVICE_ID) or (register == _METER_NUMBER and obis.a == ELECTRICITY):
        return "meter_id"
    if register == _METER_TYPE:
        return "meter_type"
    if register == _EQUIPMENT_ID:
        return "meter_type" if obis.a == ELECTRICITY else "meter_id"
    if register == _LOGICAL_DEVICE_NAME:
        return "logical_device_name"
    return None


def is_clock(obis: ObisCode) -> bool:
    """Whether the register is the meter's clock (0-x:1.0.0)."""
    return obis.a == 0 and obis.register == _CLOCK
