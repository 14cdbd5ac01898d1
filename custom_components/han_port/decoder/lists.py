"""Vendor lists: how each meter lays out its push, and what it leaves unsaid.

Three shapes reach us:
- self-describing: each register a structure {OBIS, value, {scaler, unit}}
  (Aidon, and most meters outside the Nordics);
- OBIS/value pairs, flat, without scaler (Kamstrup, Swedish Kaifa);
- bare values in fixed positions, without OBIS codes (Norwegian Kaifa).
What a list does not say (positions, scalers) is in the tables here, keyed
by list and meter type, so that vendor knowledge lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from .axdr import Data, Structure
from .cosem import DATE_TIME_LENGTH
from .model import DecodeError
from .obis import ObisCode
from .readings import STANDARD, Entry, Scaling, text

_OBIS_LENGTH = 6

LIST_VERSION = ObisCode(1, 1, 0, 2, 129, 255).to_bytes()
CLOCK = ObisCode(0, 0, 1, 0, 0, 255).to_bytes()
METER_NUMBER = ObisCode(0, 0, 96, 1, 0, 255).to_bytes()

# Norwegian Kaifa lists (KFM_001): registers by position, no OBIS codes.
_KAIFA_IDENTITY = (
    ObisCode(1, 1, 0, 2, 129, 255),
    ObisCode(0, 0, 96, 1, 0, 255),
    ObisCode(0, 0, 96, 1, 7, 255),
)
_KAIFA_POWER = (
    ObisCode(1, 0, 1, 7, 0, 255),
    ObisCode(1, 0, 2, 7, 0, 255),
    ObisCode(1, 0, 3, 7, 0, 255),
    ObisCode(1, 0, 4, 7, 0, 255),
)
_KAIFA_HOURLY = (
    ObisCode(0, 0, 1, 0, 0, 255),
    ObisCode(1, 0, 1, 8, 0, 255),
    ObisCode(1, 0, 2, 8, 0, 255),
    ObisCode(1, 0, 3, 8, 0, 255),
    ObisCode(1, 0, 4, 8, 0, 255),
)
_CURRENTS = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (31, 51, 71))
_VOLTAGES = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (32, 52, 72))
_KAIFA_THREE_PHASE = _KAIFA_IDENTITY + _KAIFA_POWER + _CURRENTS + _VOLTAGES
_KAIFA_ONE_PHASE = _KAIFA_IDENTITY + _KAIFA_POWER + _CURRENTS[:1] + _VOLTAGES[:1]

# (list version, number of elements) -> OBIS code of each position.
_POSITIONAL_CODES: dict[tuple[str | None, int], tuple[ObisCode, ...]] = {
    # List 1 (every 2 s) is one bare value and no list version.
    (None, 1): _KAIFA_POWER[:1],
    ("KFM_001", 9): _KAIFA_ONE_PHASE,
    ("KFM_001", 13): _KAIFA_THREE_PHASE,
    ("KFM_001", 14): _KAIFA_ONE_PHASE + _KAIFA_HOURLY,
    ("KFM_001", 18): _KAIFA_THREE_PHASE + _KAIFA_HOURLY,
}
POSITIONAL_LISTS = {shape: tuple(code.to_bytes() for code in codes) for shape, codes in _POSITIONAL_CODES.items()}

# Raw units of lists without scalers, from the vendors' HAN specifications
# and checked against captures: Kaifa sends mA, 0.1 V and Wh; Kamstrup sends
# 0.01 A, V and, configured as in Norway and Denmark, energy in 0.01 kWh.
KAIFA = Scaling(current=-3, voltage=-1)
KAMSTRUP_10_WH = Scaling(current=-2, energy=1, power_factor=-2)
KAMSTRUP_WH = Scaling(current=-2, power_factor=-2)

# Kamstrup meter types read 6841131 BN 243 101040: the three digits after
# "BN"/"AN" tell the market variant. Norwegian variants (242, 243) count
# energy in 0.01 kWh; the Swedish one (245) in Wh, which other readers got
# 10x wrong. Other variants, and the Danish "DLMS push 1" list that sends no
# meter type, get 0.01 kWh: Danish users of readers that assume it report
# right totals. The resolution is meter configuration that a grid company
# can change, which is why the integration also guards totals against jumps.
_KAMSTRUP_VARIANT = slice(9, 12)
KAMSTRUP_BY_VARIANT: dict[str, Scaling] = {
    "242": KAMSTRUP_10_WH,
    "243": KAMSTRUP_10_WH,
    "245": KAMSTRUP_WH,
}

_LIST_VERSION_CDE = bytes((0, 2, 129))
_METER_TYPE_CDE = bytes((96, 1, 1))
# Kamstrup's "DLMS push 1" list (the Danish one) names the meter by its
# number and leaves its type unsaid; Kamstrup's HAN specification defines
# that list for its OMNIPOWER meters alone, so that is the model it tells.
_KAMSTRUP_UNTYPED_MODEL = "OMNIPOWER"

MANUFACTURERS_BY_LIST_PREFIX = {
    "Kamstrup": "Kamstrup",
    "AIDON": "Aidon",
    "KFM": "Kaifa",
}


@dataclass(frozen=True, slots=True)
class VendorList:
    """A list taken apart: its entries, and what is known of who sent it."""

    entries: list[Entry]
    manufacturer: str | None
    list_version: str | None
    scaling: Scaling
    model: str | None = None
    """The meter model the list's shape tells, for lists that do not name it."""


def _is_obis(item: Data) -> bool:
    return isinstance(item, bytes) and len(item) == _OBIS_LENGTH


# The standard's scaler is an 8-bit integer and its unit an enum: anything
# wider is damage, and a scaler of 10^2147483647 would freeze the reader.
_SCALERS = range(-128, 128)
_UNITS = range(256)


def _scaler_unit(item: Data) -> tuple[int, int] | None:
    """Read a {scaler, unit} structure, as self-describing lists attach to values.

    Returns None when the item is not such a structure; raises DecodeError
    when it is one with a scaler or unit the standard does not allow.
    """
    if isinstance(item, Structure) and len(item.items) == 2:  # noqa: PLR2004
        scaler, unit = item.items
        if type(scaler) is int and type(unit) is int:
            if scaler not in _SCALERS or unit not in _UNITS:
                msg = f"scaler {scaler} or unit {unit} out of range"
                raise DecodeError(msg)
            return scaler, unit
    return None


def _tagged_entry(item: Data) -> Entry | None:
    """Read a {OBIS, value[, {scaler, unit}]} structure, as self-describing lists send each register."""
    if not isinstance(item, Structure) or len(item.items) not in (2, 3) or not _is_obis(item.items[0]):
        return None
    obis_bytes = item.items[0]
    assert isinstance(obis_bytes, bytes)  # noqa: S101 - checked by _is_obis
    scaler_unit = _scaler_unit(item.items[2]) if len(item.items) == 3 else None  # noqa: PLR2004
    scaler, unit = scaler_unit if scaler_unit is not None else (None, None)
    return Entry(obis_bytes, item.items[1], scaler, unit)


def _has_codes(items: tuple[Data, ...]) -> bool:
    """Whether a list names its registers: OBIS codes of its own, or in its structures."""
    return any(_is_obis(item) or _tagged_entry(item) is not None for item in items)


def _tagged(items: tuple[Data, ...]) -> list[Entry]:
    """Entries from a list that names its registers, whatever mix of the two shapes it uses.

    Registers come as {OBIS, value[, {scaler, unit}]} structures (Aidon,
    Austrian Kaifa), or flat as OBIS, value[, {scaler, unit}] (Kamstrup,
    Sagemcom T210-D), and some lists mix both (the Austrian Kaifa MA309 opens
    with a flat clock). Values without a code: a leading one is the list's
    version (Kamstrup) or, twelve bytes long, its clock (Sagemcom); a
    trailing text is the meter number (Sagemcom T210-D and Kaifa MA309 for
    EVN, whose customer interface description puts it last). Null data
    stands in for registers a 1-phase meter does not have.
    """
    entries: list[Entry] = []
    index = 0
    count = len(items)
    while index < count:
        item = items[index]
        if item is None:
            index += 1
            continue
        tagged = _tagged_entry(item)
        if tagged is not None:
            entries.append(tagged)
            index += 1
            continue
        if type(item) is not bytes or len(item) != _OBIS_LENGTH:
            untagged = _untagged(item, first=index == 0, last=index == count - 1)
            if untagged is None:
                msg = f"element {index} should be an OBIS code"
                raise DecodeError(msg)
            entries.append(untagged)
            index += 1
            continue
        if index + 1 >= count:
            msg = "OBIS code without a value at the end of the list"
            raise DecodeError(msg)
        value = items[index + 1]
        index += 2
        following = items[index] if index < count else None
        scaler_unit = _scaler_unit(following) if type(following) is Structure else None
        if scaler_unit is not None:
            index += 1
            entries.append(Entry(item, value, *scaler_unit))
        else:
            entries.append(Entry(item, value))
    return entries


def _untagged(item: Data, *, first: bool, last: bool) -> Entry | None:
    """Place a value sent without an OBIS code, where its position says what it is."""
    if not isinstance(item, str | bytes):
        return None
    if first:
        if isinstance(item, bytes) and len(item) == DATE_TIME_LENGTH:
            return Entry(CLOCK, item)
        return Entry(LIST_VERSION, item)
    if last:
        return Entry(METER_NUMBER, item)
    return None


def _positional(items: tuple[Data, ...]) -> list[Entry]:
    version = text(items[0]) if isinstance(items[0], str | bytes) else None
    layout = POSITIONAL_LISTS.get((version, len(items)))
    if layout is None:
        msg = f"unknown list of {len(items)} values without OBIS codes (list version {version})"
        raise DecodeError(msg)
    return [Entry(obis, value) for obis, value in zip(layout, items, strict=True)]


def _manufacturer(list_version: str | None) -> str | None:
    if list_version is None:
        return None
    for prefix, name in MANUFACTURERS_BY_LIST_PREFIX.items():
        if list_version.startswith(prefix):
            return name
    return None


def _scaling(manufacturer: str | None, entries: list[Entry]) -> Scaling:
    """Choose the units of registers sent without scaler, by vendor, list and meter type."""
    if manufacturer == "Kaifa":
        return KAIFA
    if manufacturer == "Kamstrup":
        meter_type = next((text(e.value) for e in entries if e.obis[2:5] == _METER_TYPE_CDE), None)
        if meter_type is None:
            return KAMSTRUP_10_WH
        return KAMSTRUP_BY_VARIANT.get(meter_type[_KAMSTRUP_VARIANT], KAMSTRUP_10_WH)
    return STANDARD


def take_apart(body: Data) -> VendorList:
    """Recognise the list's shape and vendor; return its entries and units."""
    if isinstance(body, Structure):
        items = body.items
    elif isinstance(body, list):
        items = tuple(body)
    else:
        items = (body,)
    if not items:
        msg = "empty list"
        raise DecodeError(msg)
    positional = not _has_codes(items)
    entries = _positional(items) if positional else _tagged(items)
    list_version = next((text(e.value) for e in entries if e.obis[2:5] == _LIST_VERSION_CDE), None)
    manufacturer = _manufacturer(list_version)
    if manufacturer is None and positional:
        manufacturer = "Kaifa"  # the bare one-value list 1 is Kaifa's alone
    model = None
    if manufacturer == "Kamstrup" and not any(e.obis[2:5] == _METER_TYPE_CDE for e in entries):
        model = _KAMSTRUP_UNTYPED_MODEL
    return VendorList(entries, manufacturer, list_version, _scaling(manufacturer, entries), model)
