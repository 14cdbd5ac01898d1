"""From decoded list entries to readings in base units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .cosem import DATE_TIME_LENGTH, parse_date_time
from .model import Number, Reading
from .obis import ObisCode, Unit, identification, is_clock, is_power_factor, quantity, standard_unit

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
_CURRENT = 11
_VOLTAGE = 12
_NEUTRAL_CURRENT = 91
_INSTANTANEOUS = 7
_TOTAL = 8


@dataclass(frozen=True, slots=True)
class Entry:
    """One register of a list: its OBIS code, raw value, and scaler/unit if sent."""

    obis: ObisCode
    value: Data
    scaler: int | None = None
    unit: int | None = None


@dataclass(frozen=True, slots=True)
class Scaling:
    """Decimal exponents for registers that a list sends without a scaler."""

    current: int = 0
    voltage: int = 0
    power: int = 0
    energy: int = 0
    power_factor: int = 0

    def exponent(self, obis: ObisCode) -> int:
        """Return the decimal exponent of the raw value of this register."""
        kind = quantity(obis)
        if kind == _CURRENT or obis.c == _NEUTRAL_CURRENT:
            return self.current
        if kind == _VOLTAGE:
            return self.voltage
        if is_power_factor(obis):
            return self.power_factor
        if obis.d == _TOTAL:
            return self.energy
        if obis.d == _INSTANTANEOUS:
            return self.power
        return 0


STANDARD = Scaling()


def scale(digits: int, exponent: int) -> Number:
    """Digits x 10^exponent, exact for integers and correctly rounded otherwise."""
    power: int = 10 ** abs(exponent)
    if exponent >= 0:
        return digits * power
    # Dividing by an exact power of ten rounds once; multiplying by 0.1 would not.
    return digits / power


def text(value: Data) -> str | None:
    """Read an identification register as text, however the meter encoded it."""
    if isinstance(value, str):
        return value.strip("\x00 ") or None
    if isinstance(value, bytes):
        try:
            return value.decode("ascii").strip("\x00 ") or None
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class ListContent:
    """What a list says, in base units."""

    identification: dict[str, str]
    clock: datetime | None
    readings: dict[ObisCode, Reading]


def interpret(entries: list[Entry], scaling: Scaling) -> ListContent:
    """Convert entries to readings: the meter's own scaler first, else the vendor's."""
    fields: dict[str, str] = {}
    clock = None
    readings: dict[ObisCode, Reading] = {}
    for entry in entries:
        obis, value = entry.obis, entry.value
        field = identification(obis)
        if field is not None:
            as_text = text(value)
            if as_text is not None:
                fields.setdefault(field, as_text)
            continue
        if is_clock(obis):
            if isinstance(value, datetime):
                clock = value
            elif isinstance(value, bytes) and len(value) == DATE_TIME_LENGTH:
                clock = parse_date_time(value)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if entry.scaler is not None:
            exponent = entry.scaler
            unit = DLMS_UNITS.get(entry.unit) if entry.unit is not None else standard_unit(obis)
        else:
            exponent = scaling.exponent(obis)
            unit = standard_unit(obis)
        if isinstance(value, float):
            readings[obis] = Reading(value * 10**exponent, unit)
        else:
            readings[obis] = Reading(scale(value, exponent), unit)
    return ListContent(fields, clock, readings)
