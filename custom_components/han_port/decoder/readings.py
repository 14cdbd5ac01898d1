"""From decoded list entries to readings in base units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, auto
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from .cosem import DATE_TIME_LENGTH, parse_date_time
from .model import DropReason, FrameRefusedError, Number, Reading
from .obis import ABSTRACT, ELECTRICITY, ObisCode, Unit, identification, is_clock
from .registers import CURRENT, FREQUENCY, POWER_FACTOR, VOLTAGE, quantity_of

if TYPE_CHECKING:
    from .axdr import Data

# DLMS unit enumeration (Blue Book 4.3.2) for the units the meters send.
DLMS_UNITS: dict[int, Unit] = {
    27: Unit.WATT,
    28: Unit.VOLT_AMPERE,
    29: Unit.VAR,
    30: Unit.WATT_HOUR,
    31: Unit.VOLT_AMPERE_HOUR,
    32: Unit.VAR_HOUR,
    33: Unit.AMPERE,
    35: Unit.VOLT,
    44: Unit.HERTZ,
}
_TOTAL = 8


class Entry(NamedTuple):
    """One register of a list: its six-byte OBIS code, raw value, and scaler/unit if sent."""

    obis: bytes
    value: Data
    scaler: int | None = None
    unit: int | None = None


# Compared and hashed by identity: each is a named constant, and the plan
# cache below looks one up for every register of every telegram.
@dataclass(frozen=True, slots=True, eq=False)
class Scaling:
    """Decimal exponents for registers that a list sends without a scaler."""

    current: int = 0
    voltage: int = 0
    power: int = 0
    energy: int = 0
    power_factor: int = 0

    def exponent(self, obis: ObisCode) -> int:
        """Return the decimal exponent of the raw value of this register."""
        kind = quantity_of(obis)
        if kind is None or kind is FREQUENCY:
            return 0
        measured = {CURRENT: self.current, VOLTAGE: self.voltage, POWER_FACTOR: self.power_factor}.get(kind)
        if measured is not None:
            return measured
        return self.energy if obis.d == _TOTAL else self.power


STANDARD = Scaling()


def scale(digits: int, exponent: int) -> Number:
    """Digits x 10^exponent, exact for integers and correctly rounded otherwise."""
    if exponent == 0:
        return digits
    power: int = 10 ** abs(exponent)
    if exponent > 0:
        return digits * power
    # Dividing by an exact power of ten rounds once; multiplying by 0.1 would not.
    return digits / power


def text(value: Data) -> str | None:
    """Read an identification register as text, however the meter encoded it.

    Bytes that are no printable text (not ASCII, or with a control
    character inside) are read as their hex: an id becomes names, titles and
    log lines, where an escape sequence or a line end would do harm.
    """
    if isinstance(value, str):
        read = value.strip("\x00 ")
        return (read if read.isprintable() else value.encode().hex()) or None
    if isinstance(value, bytes):
        try:
            read = value.decode("ascii").strip("\x00 ")
        except UnicodeDecodeError:
            return value.hex()
        return (read if read.isprintable() else value.hex()) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class ListContent:
    """What a list says, in base units."""

    identification: dict[str, str]
    clock: datetime | None
    readings: dict[ObisCode, Reading]


class Role(Enum):
    """What a register is to the telegram."""

    IDENTIFICATION = auto()
    CLOCK = auto()
    READING = auto()


class Plan(NamedTuple):
    """How to read one register: worked out once per register, not per telegram."""

    obis: ObisCode
    role: Role
    field: str | None = None
    exponent: int = 0
    unit: Unit | None = None


@lru_cache(maxsize=4096)
def plan(obis_bytes: bytes, scaler: int | None, unit_code: int | None, scaling: Scaling) -> Plan:
    """Work out how to read a register from its OBIS code and the scaler and unit it came with."""
    obis = ObisCode.from_bytes(obis_bytes)
    field = identification(obis)
    if field is not None:
        return Plan(obis, Role.IDENTIFICATION, field)
    if is_clock(obis):
        return Plan(obis, Role.CLOCK)
    kind = quantity_of(obis)
    standard_unit = kind.unit if kind is not None else None
    if scaler is not None:
        unit = DLMS_UNITS.get(unit_code) if unit_code is not None else standard_unit
        electricity = obis._replace(a=ELECTRICITY)
        named = quantity_of(electricity)
        if obis.a == ABSTRACT and named is not None and unit is not None and unit == named.unit:
            # Landis+Gyr's ZMF100 names its energy registers 0-0:1.8.0 (A 0, abstract objects, where C 1 and D 8
            # mean nothing): the unit it sends with each says which electricity register it is.
            obis = electricity
        return Plan(obis, Role.READING, exponent=scaler, unit=unit)
    return Plan(obis, Role.READING, exponent=scaling.exponent(obis), unit=standard_unit)


def take_reading(readings: dict[ObisCode, Reading], code: ObisCode, reading: Reading) -> None:
    """Add a register's reading; a telegram that sends one register twice, with two values, contradicts itself.

    Its checksum held, yet one of the two values is a lie, and nothing tells which: the whole telegram is refused.
    Not for a code that means nothing here (an M-Bus channel's, a maker's own): it is left out, whatever it holds.
    """
    sent = readings.setdefault(code, reading)
    if sent != reading and quantity_of(code) is not None:
        msg = f"{code} is sent twice, as {sent.value} and {reading.value} {reading.unit}"
        raise FrameRefusedError(DropReason.IMPLAUSIBLE, msg)


def interpret(entries: list[Entry], scaling: Scaling) -> ListContent:
    """Convert entries to readings: the meter's own scaler first, else the vendor's."""
    fields: dict[str, str] = {}
    clock = None
    readings: dict[ObisCode, Reading] = {}
    for obis_bytes, value, scaler, unit_code in entries:
        register = plan(obis_bytes, scaler, unit_code, scaling)
        if register.role is Role.READING:
            if type(value) is int:
                exponent = register.exponent
                take_reading(
                    readings, register.obis, Reading(value if exponent == 0 else scale(value, exponent), register.unit)
                )
            elif type(value) is float:
                take_reading(readings, register.obis, Reading(value * 10**register.exponent, register.unit))
        elif register.role is Role.IDENTIFICATION:
            as_text = text(value)
            if as_text is not None and register.field is not None:
                fields.setdefault(register.field, as_text)
        elif isinstance(value, datetime):
            clock = value
        elif isinstance(value, bytes) and len(value) == DATE_TIME_LENGTH:
            clock = parse_date_time(value)
    return ListContent(fields, clock, readings)
