"""What a learned list's position can be proven to hold: the kinds of values, the codes, and their stored form.

Shared by the learner (`learned`) and the import registers' learning (`learned_registers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from math import isfinite
from typing import TYPE_CHECKING, TypedDict

from .cosem import DATE_TIME_LENGTH, parse_date_time
from .lists import CLOCK, LOGICAL_DEVICE_NAME, PHASE_CURRENTS, PHASE_IMPORT_POWERS, PHASE_VOLTAGES
from .obis import ObisCode

if TYPE_CHECKING:
    from .axdr import Data

TEXT, TIME, NUMBER, NULL, OTHER = "text", "clock", "number", "null", "other"
KINDS = frozenset((TEXT, TIME, NUMBER, NULL, OTHER))
"""What a position holds, by its type alone: a list's shape is the kinds of its positions."""


METER_ID = ObisCode(0, 0, 96, 1, 0, 255)
ACTIVE_IMPORT = ObisCode(1, 0, 1, 7, 0, 255)
ENERGY_IMPORT = ObisCode(1, 0, 1, 8, 0, 255)
TARIFFS = (ObisCode(1, 0, 1, 8, 1, 255), ObisCode(1, 0, 1, 8, 2, 255))
CLOCK_CODE = ObisCode.from_bytes(CLOCK)
LEARNER_RULES = 2
"""The version of what the learner proves, raised when a rule changes it: what a store proved under older rules
and these would not is learned anew. Stores that name no rules are of rules 1, under which some versions took a
list's running tariff, growing by the power's energy in a list that sends no total, for the import register."""
LEARNABLE = frozenset(
    (
        LOGICAL_DEVICE_NAME,
        METER_ID,
        CLOCK_CODE,
        ACTIVE_IMPORT,
        ENERGY_IMPORT,
        *TARIFFS,
        *PHASE_VOLTAGES,
        *PHASE_CURRENTS,
        *PHASE_IMPORT_POWERS,
    )
)
"""The codes a position can be proven to hold: anything else in a store is not restored."""
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class LearnedPosition:
    """What one position of a list was proven to hold, at what resolution, and the evidence."""

    index: int
    obis: ObisCode
    exponent: int
    """Decimal exponent of the raw value (0 for texts and clocks)."""
    evidence: str


def kind_of(value: Data) -> str:
    """Say what a value is by its type: a text, a COSEM clock, a number, null or anything else."""
    if isinstance(value, bool):
        return OTHER
    if isinstance(value, int) or (isinstance(value, float) and isfinite(value)):
        return NUMBER
    if value is None:
        return NULL
    if isinstance(value, bytes) and len(value) == DATE_TIME_LENGTH and parse_date_time(value) is not None:
        return TIME
    if isinstance(value, str | bytes):
        as_text = value if isinstance(value, str) else value.decode("latin-1")
        return TEXT if _PRINTABLE.fullmatch(as_text) else OTHER
    return OTHER


class LearnedPositionData(TypedDict):
    """A proven position, as plain data a store keeps: the code in OBIS notation."""

    index: int
    obis: str
    exponent: int
    evidence: str


class StillRegisterData(TypedDict):
    """A register that stood still while the import register was sought: at what value, and for how long (s)."""

    index: int
    value: float
    seconds: float


class LearnedListData(TypedDict):
    """A list shape and what is proven of it, as plain data a store keeps and diagnostics show.

    `identity` is a digest of the list's texts (its meter's), never the serials themselves. `rules` is the
    LEARNER_RULES it was proven under; `still`, the registers standing still beside an import register held.
    """

    rules: int
    kinds: list[str]
    identity: str
    shown: bool
    waiting: str
    positions: list[LearnedPositionData]
    still: list[StillRegisterData]


_EXPONENTS = range(-9, 10)
_LONGEST_STILL = timedelta(days=366)
_KIND_OF_CODE = {LOGICAL_DEVICE_NAME: TEXT, METER_ID: TEXT, CLOCK_CODE: TIME}
MAX_EVIDENCE = 400
"""Characters of evidence kept: what a store hands back is bounded whatever was written in it."""


def restored_position(stored: object, kinds: tuple[str, ...]) -> LearnedPosition | None:
    """Read a stored position back, or None when it is not one a learner could have written for these kinds."""
    if not isinstance(stored, dict):
        return None
    index, obis, exponent, evidence = (stored.get(name) for name in ("index", "obis", "exponent", "evidence"))
    if (
        type(index) is not int
        or type(exponent) is not int
        or not isinstance(obis, str)
        or not isinstance(evidence, str)
    ):
        return None
    try:
        code = ObisCode.parse(obis)
    except ValueError:
        return None
    if code not in LEARNABLE or not 0 <= index < len(kinds) or exponent not in _EXPONENTS:
        return None
    if kinds[index] != _KIND_OF_CODE.get(code, NUMBER):
        return None
    return LearnedPosition(index, code, exponent, evidence[:MAX_EVIDENCE])


def restored_still(stored: object, kinds: tuple[str, ...]) -> tuple[int, float, timedelta] | None:
    """Read back a register that stood still, or None when it is not one a learner could have written."""
    if not isinstance(stored, dict):
        return None
    index, value, seconds = (stored.get(name) for name in ("index", "value", "seconds"))
    if type(index) is not int or not 0 <= index < len(kinds) or kinds[index] != NUMBER:
        return None
    number, still = _finite(value), _finite(seconds)
    if number is None or still is None or not 0 < still <= _LONGEST_STILL.total_seconds():
        return None
    return index, number, timedelta(seconds=still)


def _finite(stored: object) -> float | None:
    """Read a stored number back as a finite float: None for a bool, NaN, infinity or an int beyond a float's."""
    if not isinstance(stored, int | float) or isinstance(stored, bool):
        return None
    try:
        number = float(stored)
    except OverflowError:
        return None
    return number if isfinite(number) else None
