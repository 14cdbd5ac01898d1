"""Vendor lists: how each meter lays out its push, and what it leaves unsaid.

Three shapes reach us:
- self-describing: each register a structure {OBIS, value, {scaler, unit}}
  (Aidon, and most meters outside the Nordics);
- OBIS/value pairs, flat, without scaler (Kamstrup, Swedish Kaifa);
- bare values in fixed positions, without OBIS codes (Norwegian Kaifa).
What a list does not say (positions, scalers) is in the tables here, keyed
by list and meter type, so that vendor knowledge lives in one place. A list
of bare values no table knows is left to `learned`, which proves what its
positions hold from their physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .axdr import Data, Structure
from .cosem import CLOCK_CLASS, DATE_TIME_LENGTH, VALUE_ATTRIBUTE, VALUE_CLASSES
from .descriptors import DescriptorList
from .model import DecodeError, Maker
from .obis import OBIS_LENGTH, ObisCode
from .proofs import TableReading, table_holds, totals_after
from .readings import STANDARD, Entry, Scaling, text
from .registers import TOTAL

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


LIST_VERSION = ObisCode(1, 1, 0, 2, 129, 255).to_bytes()
CLOCK = ObisCode(0, 0, 1, 0, 0, 255).to_bytes()
METER_NUMBER_CODE = ObisCode(0, 0, 96, 1, 0, 255)
METER_NUMBER = METER_NUMBER_CODE.to_bytes()
LOGICAL_DEVICE_NAME = ObisCode(0, 0, 42, 0, 0, 255)
"""The COSEM logical device name: the maker's three-letter id and the serial ("ISK1030792283067")."""


def _register(c: int, e: int = 0) -> ObisCode:
    """Return the code of an energy register (C its quantity, E its tariff: 0 for the total)."""
    return ObisCode(1, 0, c, TOTAL, e, 255)


_IMPORT_REGISTER = _register(1)
# Active import and export, reactive import and export: in this order in every list that sends them.
_POWERS = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (1, 2, 3, 4))
PHASE_CURRENTS = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (31, 51, 71))
PHASE_VOLTAGES = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (32, 52, 72))

# Norwegian Kaifa lists (KFM_001): registers by position, no OBIS codes.
_KAIFA_IDENTITY = (
    ObisCode(1, 1, 0, 2, 129, 255),
    METER_NUMBER_CODE,
    ObisCode(0, 0, 96, 1, 7, 255),
)
_KAIFA_HOURLY = (ObisCode(0, 0, 1, 0, 0, 255), *(_register(c) for c in (1, 2, 3, 4)))
_KAIFA_THREE_PHASE = _KAIFA_IDENTITY + _POWERS + PHASE_CURRENTS + PHASE_VOLTAGES
_KAIFA_ONE_PHASE = _KAIFA_IDENTITY + _POWERS + PHASE_CURRENTS[:1] + PHASE_VOLTAGES[:1]

# (list version, number of elements) -> OBIS code of each position.
_POSITIONAL_CODES: dict[tuple[str | None, int], tuple[ObisCode, ...]] = {
    # List 1 (every 2 s) is a structure of one value and no list version.
    (None, 1): _POWERS[:1],
    ("KFM_001", 9): _KAIFA_ONE_PHASE,
    ("KFM_001", 13): _KAIFA_THREE_PHASE,
    ("KFM_001", 14): _KAIFA_ONE_PHASE + _KAIFA_HOURLY,
    ("KFM_001", 18): _KAIFA_THREE_PHASE + _KAIFA_HOURLY,
}
POSITIONAL_LISTS = {shape: tuple(code.to_bytes() for code in codes) for shape, codes in _POSITIONAL_CODES.items()}

PHASE_IMPORT_POWERS = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (21, 41, 61))
_PHASE_EXPORT_POWERS = tuple(ObisCode(1, 0, c, 7, 0, 255) for c in (22, 42, 62))


@dataclass(frozen=True, slots=True)
class PositionalLayout:
    """A list of bare values outside Kaifa's: who sends it, how it opens, what each position holds.

    None at a position: a value whose meaning no evidence settles, left out
    rather than guessed.
    """

    manufacturer: str
    opens_with: str | None
    """The text the list's first value starts with (None: any value)."""
    codes: tuple[ObisCode | None, ...]
    texts: tuple[int, ...]
    """The positions the list sends as text (octets); it sends numbers, or nothing, at the others."""
    ciphered_by_maker: bool = False
    """Read only from a push ciphered under its maker's system title: a list of numbers alone says too little."""

    @property
    def totals(self) -> tuple[ObisCode, ...]:
        """The codes of the energy totals the layout places: registers that only grow."""
        return tuple(code for code in self.codes if code is not None and code.d == TOTAL)

    def fits(self, items: tuple[Data, ...]) -> bool:
        """Whether a list is one of this layout's shape: its length, its opening, text where the layout has text.

        A list of another shape is another list, which the layout does not read; physics judges only a list of
        its shape (see _table_read). Where the layout places registers with their tariffs, the shape is the
        order the sums of those registers tell, and only a meter that counted in each of its import's tariffs
        tells it (zeros add up wherever they stand, and so does nothing: null data, a number damage made into
        another type).
        """
        opening = text(items[0]) if isinstance(items[0], str | bytes) else None
        return (
            len(items) == len(self.codes)
            and (self.opens_with is None or (opening or "").startswith(self.opens_with))
            and all(isinstance(value, str | bytes) == (index in self.texts) for index, value in enumerate(items))
            and self._counted(items)
        )

    def tariffs_of(self, total: ObisCode) -> tuple[ObisCode, ...]:
        """Return the codes of a total's tariff registers the layout places (1.8.1 and 1.8.2 of 1.8.0, say)."""
        return tuple(code for code in self.codes if code is not None and code.e and code._replace(e=0) == total)

    def _counted(self, items: tuple[Data, ...]) -> bool:
        """Whether every total placed with tariffs, and they, are numbers; the import's and its tariffs' above 0."""
        for total in self.totals:
            tariffs = self.tariffs_of(total)
            if not tariffs:
                continue
            counts = [_number(items[self.codes.index(code)]) for code in (total, *tariffs)]
            if None in counts or (total == _IMPORT_REGISTER and not all(counts)):
                return False
        return True


# Iskraemeco AM550, Elektro Ljubljana (Slovenia), pushed every second
# (corpus ams-19-iskraemeco-am550-elektro-ljubljana). Evidence, position by
# position: 0 is the COSEM logical device name ("ISK" and the serial), 1 the
# meter number (amsreader's golden meter id); 2-5 active import, active
# export, reactive import and reactive export power: the three phase import
# powers at 12-14 (216 + 19 + 10 W) sum to position 2 (246 W, amsreader's
# P import); 6-8 the phase voltages in 0.1 V (2325 -> 232.5 V, near nominal,
# as amsreader shows); 9-11 the phase currents in 0.01 A (152 -> 1.52 A:
# U·I over the phases, 416 VA, carries the 246 W and 286 var measured
# beside it, sqrt(246² + 286²) = 377 VA); 12-14 and 15-17 the phase import
# and export powers, the export ones 0 while the meter imports.
ISKRAEMECO_AM550 = PositionalLayout(
    Maker.ISKRAEMECO,
    "ISK",
    (
        LOGICAL_DEVICE_NAME,
        METER_NUMBER_CODE,
        *_POWERS,
        *PHASE_VOLTAGES,
        *PHASE_CURRENTS,
        *PHASE_IMPORT_POWERS,
        *_PHASE_EXPORT_POWERS,
    ),
    texts=(0, 1),
)
# Landis+Gyr E450, Netz Burgenland (Austria), ciphered (corpus ams-15 and
# gh501-2, two frames five seconds apart). Evidence: 0-2 the phase voltages in
# whole volts (236, 237, 236); 3-5 the phase currents in 0.01 A (0, 4, 26:
# 0.04 A and 0.26 A carry 71 VA for the 29 W at 6; in 0.1 A, 710 VA would
# carry 29 W at a power factor of 0.04); 6-7 active import and export power;
# 8-9 active import and export energy in Wh (31 358 606 and 7 619, the same
# in both frames, as five seconds of 29 W leave them); 13 the meter number.
# 10-12 (400, 53 then 64, 295) are not settled by anything published: left out.
# Its first value is a number, and so are all but its last: only its ciphering,
# under a Landis+Gyr system title ("LGZ"), tells it from any list of 14 values.
LANDIS_GYR_E450_BURGENLAND = PositionalLayout(
    Maker.LANDIS_GYR,
    None,
    (
        *PHASE_VOLTAGES,
        *PHASE_CURRENTS,
        *_POWERS[:2],
        _register(1),
        _register(2),
        None,
        None,
        None,
        METER_NUMBER_CODE,
    ),
    texts=(13,),
    ciphered_by_maker=True,
)


def _with_tariffs(c: int) -> tuple[ObisCode, ...]:
    """Return a register's code and its two tariffs', in the order Iskraemeco's energy lists send them."""
    return _register(c), _register(c, 1), _register(c, 2)


# Evidence of the layouts below: amsreader-firmware's Iskraemeco parser
# reads their positions so, and in every published push each total is its
# two tariffs' sum to the watt-hour (physics checks that in every telegram,
# see _table_read; a list of another order fails it at once). Two other
# Elektro Ljubljana pushes are left to the learner: the 9-value one (power and
# registers) has nothing to weigh its powers against, and the 1-phase
# 10-value one has the shape of another 10-value list of registers, which
# would refute its table for good in the meter's first checked push of it.
# Iskraemeco AM550, Slovenia: the energy list every 15 minutes (amsreader
# test payloads gh615-2 and -4 of one meter, five days apart, and gh956-2 of
# another: 13 593 + 39 244 = 52 837 Wh imported, 78 615 + 99 312 = 177 927
# exported). 0 is the logical device name; 1 the list's name ("16820006", the
# same meter's instantaneous list names itself "16820005": no meter number);
# 2 an enum and 3 the running tariff as octets ("0001" by day, "0002" at
# night), left out; then import, export (each with its tariffs) and the
# reactive energies imported and exported, in Wh and varh.
ISKRAEMECO_AM550_QUARTER_HOUR = PositionalLayout(
    Maker.ISKRAEMECO,
    "ISK",
    (
        LOGICAL_DEVICE_NAME,
        None,
        None,
        None,
        *_with_tariffs(1),
        *_with_tariffs(2),
        _register(3),
        _register(4),
    ),
    texts=(0, 1, 3),
)
# Iskraemeco IE.5, HEP ODS (Croatia): 33 values (amsreader gh1072-3 and -4
# of one meter, 16 days apart: 4 945 434 + 2 142 784 = 7 088 218 Wh imported;
# the phases' 127 + 189 + 65 W are the 382 W total within a watt; 238.8 V
# and 0.55 A beside 127 W). 0 is an 8-digit number no source names (left
# out, as it may be the list's and not the meter's), 1-2 the meter's time
# and date as octets (the notification's clock says the same); then import
# and export energy with their tariffs in Wh, the reactive energy of the four
# quadrants in varh, active import and export power in W, the power factor in
# thousandths (889 for 0.889), the phases' import and export powers, their
# voltages in 0.1 V and currents in 0.01 A. The last five (17 250, three
# one-value arrays of 9 400, a boolean) are settled by nothing published:
# left out. Another IE.5 of HEP sends the same without its reactive energy
# and power factor, 28 values (amsreader gh1174-1: 2 527 544 + 1 525 339 =
# 4 052 883 Wh; 228 + 193 + 153 W for 576 W; 241.0 V and 1.07 A beside 228 W).
_IE5_OPENING = (None, None, None, *_with_tariffs(1), *_with_tariffs(2))
_IE5_PHASES = (*PHASE_IMPORT_POWERS, *_PHASE_EXPORT_POWERS, *PHASE_VOLTAGES, *PHASE_CURRENTS, *(None,) * 5)
ISKRAEMECO_IE5_CROATIA = PositionalLayout(
    Maker.ISKRAEMECO,
    None,
    (
        *_IE5_OPENING,
        *(_register(c) for c in (5, 6, 7, 8)),
        *_POWERS[:2],
        ObisCode(1, 0, 13, 7, 0, 255),
        *_IE5_PHASES,
    ),
    texts=(0, 1, 2),
)
ISKRAEMECO_IE5_CROATIA_ACTIVE = PositionalLayout(
    Maker.ISKRAEMECO, None, (*_IE5_OPENING, *_POWERS[:2], *_IE5_PHASES), texts=(0, 1, 2)
)
POSITIONAL_LAYOUTS = (
    ISKRAEMECO_AM550,
    ISKRAEMECO_AM550_QUARTER_HOUR,
    ISKRAEMECO_IE5_CROATIA,
    ISKRAEMECO_IE5_CROATIA_ACTIVE,
    LANDIS_GYR_E450_BURGENLAND,
)

# Raw units of lists without scalers, from the vendors' HAN specifications
# and checked against captures: Kaifa sends mA, 0.1 V and Wh; Kamstrup sends
# 0.01 A, V and, configured as in Norway and Denmark, energy in 0.01 kWh;
# Landis+Gyr's E450 0.01 A and power factors in thousandths (941 for 0.941,
# in smartmeter-datacollector's Swiss capture).
KAIFA = Scaling(current=-3, voltage=-1)
ISKRAEMECO = Scaling(current=-2, voltage=-1, power_factor=-3)
LANDIS_GYR = Scaling(current=-2, power_factor=-3)
KAMSTRUP_10_WH = Scaling(current=-2, energy=1, power_factor=-2)
KAMSTRUP_WH = Scaling(current=-2, power_factor=-2)
# Descriptor lists (ČEZ's Sagemcom XT211) send W and Wh: in the published
# capture the total import power, 1956, is its phases' 198 + 1703 + 54 within
# a watt, and the import register, 4913794, its two tariffs' 948933 + 3964860
# within a unit, 4914 kWh as a home's meter counts in years. No voltage or
# current is in it: whole units are the prior, which physics corrects. Its
# own instance, not STANDARD: values sent without a scaler are learned.
DESCRIPTOR_LIST_UNITS = Scaling()

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
_PUSH_SETUP_CDE = bytes((25, 9, 0))
_LOGICAL_DEVICE_NAME_CDE = LOGICAL_DEVICE_NAME.to_bytes()[2:5]
_METER_TYPE_CDE = bytes((96, 1, 1))
# Kamstrup's "DLMS push 1" list (the Danish one) names the meter by its
# number and leaves its type unsaid; Kamstrup's HAN specification defines
# that list for its OMNIPOWER meters alone, so that is the model it tells.
_KAMSTRUP_UNTYPED_MODEL = "OMNIPOWER"

# Kamstrup's clock keeps the zone's standard time all year (a 2017 Norwegian capture logged beside a PC's clock
# reads 03:43:30 at 04:43:32 summer time; amsreader-firmware reads Danish and Finnish pushes so), though newer
# firmware sets the clock status's daylight-saving bit. A Norwegian Aidon's keeps standard time too, and
# writes 0 where the deviation belongs, not 0x8000 ("not specified"): amsreader-firmware reads its clock as
# UTC+1 whatever the deviation says, and its side-by-side run of 2026 (pull request 1262) logged the clock at
# 12:00 in the hourly list that came at 13:00 summer time. Read as UTC, it ran an hour ahead of every list.
STANDARD_TIME_MAKERS = frozenset({Maker.KAMSTRUP, Maker.AIDON})
DEVIATION_UNSAID_AS_ZERO = frozenset({Maker.AIDON})

MANUFACTURERS_BY_LIST_PREFIX = {
    "Kamstrup": Maker.KAMSTRUP,
    "AIDON": Maker.AIDON,
    "KFM": Maker.KAIFA,
}


# A ciphered frame's system title opens with its maker's three-letter FLAG id
# (DLMS UA): the maker of a list that does not name it (the Polish Kaifa).
_MAKERS_BY_FLAG = {
    b"KFM": Maker.KAIFA,
    b"KAM": Maker.KAMSTRUP,
    b"LGZ": Maker.LANDIS_GYR,
    b"SAG": Maker.SAGEMCOM,
    b"ISK": Maker.ISKRAEMECO,
    b"AID": Maker.AIDON,
}


def maker_by_system_title(system_title: bytes) -> str | None:
    """Name the maker a ciphered frame's system title tells, if it is one we know."""
    return _MAKERS_BY_FLAG.get(system_title[:3])


@dataclass(frozen=True, slots=True)
class TableRead:
    """What a table's reading of a meter's telegram leaves for the next telegram to be judged by."""

    layout: PositionalLayout
    meter: str | None
    """The meter number the list sends: another meter's totals are its own."""
    totals: tuple[float | None, ...]
    """The meter's energy totals, raw (None: not sent yet): a later telegram's may not be lower."""


@dataclass(frozen=True, slots=True)
class TableJudgement:
    """What physics found of the positional layouts' earlier readings of a stream's lists."""

    distrusted: Collection[PositionalLayout] = ()
    """The layouts whose reading of the stream's lists physics refuted: those lists are no layout's."""
    read: Mapping[PositionalLayout, TableRead] = field(default_factory=dict)
    """Each layout's reading of the last telegram that a checksum or tag proved and physics allowed."""


NO_JUDGEMENT = TableJudgement()


@dataclass(frozen=True, slots=True)
class VendorList:
    """A list taken apart: its entries, and what is known of who sent it."""

    entries: list[Entry]
    manufacturer: str | None
    list_version: str | None
    scaling: Scaling
    model: str | None = None
    """The meter model the list's shape tells, for lists that do not name it."""
    table: TableRead | None = None
    """The table that read it by its shape alone, and what physics allowed of its reading."""


def _is_obis(item: Data) -> bool:
    return isinstance(item, bytes) and len(item) == OBIS_LENGTH


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
    """Whether a list names its registers: OBIS codes of its own, or in its structures.

    The name of the push setup a list opens with (x-x:25.9.0, an AM550 of
    KELAG's) names no register: values after it without codes are a list
    without them.
    """
    first = items[0] if items else None
    if isinstance(first, bytes) and _is_obis(first) and first[2:5] == _PUSH_SETUP_CDE:
        items = items[1:]
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
        if type(item) is not bytes or len(item) != OBIS_LENGTH:
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


class UnlistedPositionalListError(DecodeError):
    """A list of bare values that no table here reads: what its values are is left to learn (see `learned`)."""

    def __init__(self, items: tuple[Data, ...], version: str | None, refuted: PositionalLayout | None = None) -> None:
        """Carry the values, for a learner to take apart, and the table whose reading physics refuted, if one was."""
        why = "no table knows it" if refuted is None else f"the {refuted.manufacturer} table's reading is unphysical"
        super().__init__(f"unknown list of {len(items)} values without OBIS codes (list version {version}): {why}")
        self.items = items
        self.refuted = refuted
        self.meter = None if refuted is None else _meter_number(refuted, items)
        """The meter number the refuted table reads in the list, if it reads one."""


def _meter_number(layout: PositionalLayout, items: tuple[Data, ...]) -> str | None:
    """Return the meter number a layout reads in a list, if it places one and the list sends it as text."""
    if METER_NUMBER_CODE not in layout.codes:
        return None
    meter = items[layout.codes.index(METER_NUMBER_CODE)]
    return text(meter) if isinstance(meter, str | bytes) else None


def _numbers(values: Mapping[ObisCode, Data], codes: tuple[ObisCode, ...]) -> tuple[float, ...] | None:
    """Return the values a layout puts at these codes, as numbers (null data, a phase the meter lacks, as 0).

    None when one is not a number: a table that reads a text as a power does not fit the list.
    """
    numbers = [0.0 if value is None else _number(value) for value in (values[code] for code in codes if code in values)]
    return None if None in numbers else tuple(number for number in numbers if number is not None)


def _number(value: Data) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _table_reading(values: Mapping[ObisCode, Data]) -> TableReading | None:
    """Read a list's voltages, currents and active powers as a layout places them; None when one is not a number."""
    volts, currents, powers, imports, exports = (
        _numbers(values, codes)
        for codes in (PHASE_VOLTAGES, PHASE_CURRENTS, _POWERS[:2], PHASE_IMPORT_POWERS, _PHASE_EXPORT_POWERS)
    )
    if volts is None or currents is None or powers is None or imports is None or exports is None:
        return None
    return TableReading(volts, currents, powers, imports, exports)


def _tariffs_add_up(layout: PositionalLayout, totals: Mapping[ObisCode, float | None]) -> bool:
    """Whether each total the layout places with its tariffs (numbers all: see fits) is their sum, to the unit."""
    for total, value in totals.items():
        tariffs = [totals[code] or 0.0 for code in layout.tariffs_of(total)]
        if tariffs and abs(sum(tariffs) - (value or 0.0)) > len(tariffs):
            return False
    return True


def _table_read(layout: PositionalLayout, items: tuple[Data, ...], judged: TableJudgement) -> TableRead | None:
    """Judge a layout's reading of a list by physics and by the meter's earlier telegrams; None: it is refuted.

    Its voltages and currents are judged at the resolutions the table shows
    them at (its maker's): a reading physics allows only at others is not
    this table's. A meter's energy totals only grow, and each is its tariffs' sum.
    """
    values = {code: value for code, value in zip(layout.codes, items, strict=True) if code is not None}
    reading = _table_reading(values)
    totals = tuple(_number(values[code]) for code in layout.totals)
    meter_number = _meter_number(layout, items)
    if (
        layout in judged.distrusted
        or reading is None
        or any(values[code] is not None and total is None for code, total in zip(layout.totals, totals, strict=True))
        or not _tariffs_add_up(layout, dict(zip(layout.totals, totals, strict=True)))
    ):
        return None
    scaling = _scaling(layout.manufacturer, [])
    before = judged.read.get(layout)
    grown = totals_after(before.totals if before is not None and before.meter == meter_number else (), totals)
    if grown is None or not table_holds(reading, scaling.voltage, scaling.current):
        return None
    return TableRead(layout, meter_number, grown)


def _positional(
    items: tuple[Data, ...], judged: TableJudgement, maker: str | None
) -> tuple[list[Entry], str, TableRead | None]:
    """Entries of a list of bare values, by the layout whose shape it has; its maker and that layout's reading.

    A layout known by its shape alone (opening, length, texts' places) reads a list only where physics allows
    its reading, and not at all once it is distrusted.
    """
    version = text(items[0]) if isinstance(items[0], str | bytes) else None
    kaifa = POSITIONAL_LISTS.get((version, len(items)))
    if kaifa is not None:
        return [Entry(obis, value) for obis, value in zip(kaifa, items, strict=True)], Maker.KAIFA, None
    for layout in POSITIONAL_LAYOUTS:
        if layout.fits(items) and (not layout.ciphered_by_maker or maker == layout.manufacturer):
            read = _table_read(layout, items, judged)
            if read is None:
                raise UnlistedPositionalListError(items, version, layout)
            entries = [
                Entry(code.to_bytes(), value)
                for code, value in zip(layout.codes, items, strict=True)
                if code is not None and value is not None
            ]
            return entries, layout.manufacturer, read
    raise UnlistedPositionalListError(items, version)


_PUSH_DESCRIPTOR_ITEMS = 4  # class id, logical name, attribute index, data index


def _object_list(items: tuple[Data, ...]) -> list[Entry] | None:
    """Entries of a push that opens with its own object list, as the Swiss Landis+Gyr E450 sends.

    The first element lists what follows, one {class id, OBIS, attribute,
    data index} per value, itself first; each value is its register's
    attribute 2, without scaler (corpus ams-18, Regionalwerke Baden).
    """
    descriptors = items[0]
    if not isinstance(descriptors, list) or len(descriptors) != len(items):
        return None
    entries = []
    for descriptor, value in zip(descriptors, items, strict=True):
        if not isinstance(descriptor, Structure) or len(descriptor.items) != _PUSH_DESCRIPTOR_ITEMS:
            return None
        class_id, obis, attribute, _ = descriptor.items
        if not _is_obis(obis):
            return None
        if (
            (class_id in VALUE_CLASSES or class_id == CLOCK_CLASS)
            and attribute == VALUE_ATTRIBUTE
            and value is not None
        ):
            assert isinstance(obis, bytes)  # noqa: S101 - checked by _is_obis
            entries.append(Entry(obis, value))
    return entries


def _maker_by_name(entries: list[Entry]) -> str | None:
    """Name the maker by the flag id its logical device name opens with ("ISK1030775213859"), if it has one."""
    name = next((text(e.value) for e in entries if e.obis[2:5] == _LOGICAL_DEVICE_NAME_CDE), None)
    return None if name is None else maker_by_system_title(name[:3].upper().encode("ascii", "replace"))


def _manufacturer(list_version: str | None) -> str | None:
    if list_version is None:
        return None
    for prefix, name in MANUFACTURERS_BY_LIST_PREFIX.items():
        if list_version.startswith(prefix):
            return name
    return None


def _scaling(manufacturer: str | None, entries: list[Entry]) -> Scaling:
    """Choose the units of registers sent without scaler, by vendor, list and meter type."""
    if manufacturer == Maker.KAIFA:
        return KAIFA
    if manufacturer == Maker.ISKRAEMECO:
        return ISKRAEMECO
    if manufacturer == Maker.LANDIS_GYR:
        return LANDIS_GYR
    if manufacturer == Maker.KAMSTRUP:
        meter_type = next((text(e.value) for e in entries if e.obis[2:5] == _METER_TYPE_CDE), None)
        if meter_type is None:
            return KAMSTRUP_10_WH
        return KAMSTRUP_BY_VARIANT.get(meter_type[_KAMSTRUP_VARIANT], KAMSTRUP_10_WH)
    return STANDARD


def _descriptor_list(body: DescriptorList) -> VendorList:
    """Entries of a descriptor list: each reading at the OBIS code its descriptor names.

    Nothing in the list names its maker (the XT211's meter number is a bare
    serial), and the shape is not one maker's: the grid's (see descriptors).
    """
    entries = [Entry(item.obis, item.value) for item in body.values if item.is_reading and item.value is not None]
    return VendorList(entries, None, None, DESCRIPTOR_LIST_UNITS)


def take_apart(
    body: Data | DescriptorList, judged: TableJudgement = NO_JUDGEMENT, ciphered_by: str | None = None
) -> VendorList:
    """Recognise the list's shape and vendor; return its entries and units.

    `judged`: what physics found of the positional layouts' earlier readings of this stream's lists.
    `ciphered_by`: the maker whose system title the push was ciphered under, if it was and the title names one.
    """
    if isinstance(body, DescriptorList):
        return _descriptor_list(body)
    if isinstance(body, Structure):
        items = body.items
    elif isinstance(body, list):
        items = tuple(body)
    else:
        # Every meter wraps its values, even Kaifa's one-value list 1; eight bytes of line noise can make a
        # data-notification whose body is one bare number.
        msg = "the body is one value, not a list"
        raise DecodeError(msg)
    if not items:
        msg = "empty list"
        raise DecodeError(msg)
    maker = table = units = None
    object_list = _object_list(items)
    if object_list is not None:
        entries = object_list
        # Landis+Gyr's E450 sends its object list in its push, in its units; an Iskraemeco AM550 in
        # Switzerland does too, and names its maker by its logical device name.
        units = Maker.LANDIS_GYR
        maker = _maker_by_name(entries) or units
    elif _has_codes(items):
        entries = _tagged(items)
    else:
        entries, maker, table = _positional(items, judged, ciphered_by)
    list_version = next((text(e.value) for e in entries if e.obis[2:5] == _LIST_VERSION_CDE), None)
    manufacturer = _manufacturer(list_version) or maker
    model = None
    if manufacturer == Maker.KAMSTRUP and not any(e.obis[2:5] == _METER_TYPE_CDE for e in entries):
        model = _KAMSTRUP_UNTYPED_MODEL
    return VendorList(entries, manufacturer, list_version, _scaling(units or manufacturer, entries), model, table)
