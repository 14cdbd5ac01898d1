"""P1 / IEC 62056-21 ASCII telegrams: incremental framing and parsing.

A telegram runs from '/' to '!' followed by four hex digits: CRC-16/ARC over
everything from '/' through '!'. Some meters leave the CRC's leading zeros
out ("!2A6"): fewer digits, ended by the line end. DSMR 2.2 and 3 (and a few
other meters' ports) send no CRC: their '!' opens a line and is followed by
its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from .crc import crc16_arc, crc16_arc_starts
from .hdlc import FLAG as HDLC_FLAG
from .hdlc import FORMAT_BYTES as HDLC_FORMAT_BYTES
from .model import P1_OPENING, DecodeError, DroppedFrame, DropReason, Maker, Reading, Telegram
from .obis import ObisCode, Unit, identification, is_clock
from .readings import scale, take_reading
from .registers import quantity_of

START = P1_OPENING[0]
END = ord("!")
_CRC_DIGITS = 4
# The byte a line end begins with: CR (of CR LF), or LF alone.
_LINE_END_BYTES = (b"\r", b"\n")
LINE_END = b"\r\n"
"""The line end a telegram's lines, and the telegram itself, end with."""
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
"""The bytes of hex digits, either case: a P1 CRC, or hex text a bridge writes."""
# A telegram is text: it opens with '/' and a three-letter manufacturer id,
# and holds nothing but printable characters and line ends (but for a few
# bytes damaged on the line, see _DAMAGED_BYTES).
_IDENT = re.compile(rb"/[A-Za-z]{3}")
_IDENT_LENGTH = 4
# What may follow a telegram's '!' in the next message: its CRC digits and line end (in messages of
# their own, or with the next telegram after them).
_CRC_REST = re.compile(rb"[0-9A-Fa-f]{1,4}\r?\n?\Z|[0-9A-Fa-f]{0,4}\r?\n")
_TEXT = re.compile(rb"[\x20-\x7e\r\n]*")
# A telegram damaged on the line holds a few bytes that are not text (a bit flipped out of ASCII, a
# byte lost to a NUL): its CRC then tells. More is binary, never a telegram; so is an HDLC frame's
# opening (its flag and format byte), as its header may hold no more than one or two bytes that are not
# text. Matched on the bytes before a '!' read backwards, on from where their text ends.
_DAMAGED_BYTES = 4
_HDLC_OPENING_BACKWARDS = b"[%s]%s" % (re.escape(HDLC_FORMAT_BYTES), re.escape(bytes([HDLC_FLAG])))
_DAMAGED_TEXT = re.compile(
    rb"(?:(?!%s)[^\x20-\x7e\r\n][\x20-\x7e\r\n]*){0,%d}" % (_HDLC_OPENING_BACKWARDS, _DAMAGED_BYTES)
)
# No CRC proves a telegram without one, so it must at least look like one
# throughout its first lines: identification line (three letters, the baud
# rate character, at most 32 characters of identification, never a value's
# brackets: a URL's path in a text line may look like one), the empty line
# (which some meters leave out, as Landis+Gyr's E350 does), and a data line's
# OBIS code, each line ended as the first is (CR LF, or LF alone). Bounded,
# so trying it at every '/' costs the same.
_UNCHECKED_OPENING = re.compile(rb"/[A-Za-z]{3}[0-9A-Z][\x20-\x27\x2a-\x7e]{0,32}(\r?\n)\1?\d{1,3}-\d{1,3}:\d{1,3}\.")
# Swedish and Danish telegrams are under 1 kB; a '/' with no '!' this far
# on was not the start of a telegram.
MAX_TELEGRAM_BYTES = 4096
# Meters a stream remembers, with a CRC and without: a line carries one, a shared bus or topic a few.
MAX_METERS_HEARD = 8


@dataclass(frozen=True, slots=True)
class P1Message:
    """A checksum-valid telegram, or one its meter sends without a checksum, still as text."""

    text: str
    raw: bytes
    checksummed: bool = True
    """False for a telegram sent without a CRC (DSMR 2.2/3 style): nothing but its bounds proves its values."""


class P1Framer:
    """Turns bytes, in chunks of any size, into P1 telegrams as they complete.

    Linear in its input whatever it is: the end mark found for one start
    serves every start before it, and starts too far from any end are passed
    over in one step.
    """

    def __init__(self) -> None:
        """Start with nothing buffered."""
        self._buffer = bytearray()
        self._offset = 0  # stream position of the buffer's first byte
        self.noise_bytes = 0
        """Bytes skipped outside any checksum-valid telegram."""
        self._heard = _MetersHeard()
        # What a chunk learned that the next one need not learn again (stream positions): before
        # _rejected no '!' ends a telegram; the text before the '!' at _text_before[0] begins at [1],
        # and at [2] with a few damaged bytes in it.
        self._rejected = 0
        self._text_before = (-1, 0, 0)

    def feed(self, data: bytes) -> list[P1Message | DroppedFrame]:
        """Add bytes; return every telegram and drop they complete, in order."""
        return [event for _, event in self.feed_positioned(data)]

    @property
    def pending_since(self) -> int | None:
        """The stream position of a telegram that has begun (a '/' and what may be its identification), or None."""
        buffer = self._buffer
        if buffer and (len(buffer) < _IDENT_LENGTH or _IDENT.match(buffer) is not None):
            return self._offset
        return None

    def unfinished(self) -> str | None:
        """Say what a telegram begun (its identification line in) still waits for; None when nothing is begun."""
        buffer = self._buffer
        if not buffer or _IDENT.match(buffer) is None:
            return None
        return f"a P1 telegram: {len(buffer)} bytes came, its end ('!', and a CRC if it carries one) never did"

    @property
    def awaits_line_end(self) -> bool:
        """Whether the telegram begun ends in '!' and fewer than four CRC digits, and waits only for its line end."""
        buffer = self._buffer
        end = buffer.rfind(END)
        return (
            end >= 0
            and _IDENT.match(buffer) is not None
            and len(buffer) - end - 1 < _CRC_DIGITS
            and HEX_DIGITS.issuperset(buffer[end + 1 :])
        )

    def continued_by_crc(self, data: bytes) -> bool:
        """Whether bytes go on with the telegram begun, cut after its '!': CRC digits, and a line end."""
        return self.awaits_line_end and _CRC_REST.match(data) is not None

    @property
    def fed(self) -> int:
        """Bytes fed so far: the stream position of the next byte."""
        return self._offset + len(self._buffer)

    def discard(self) -> None:
        """Forget bytes kept for a start that will never be continued (counted as noise)."""
        self._skip(self._buffer, 0, len(self._buffer))
        self._offset += len(self._buffer)
        self._buffer.clear()

    def feed_positioned(self, data: bytes) -> list[tuple[int, P1Message | DroppedFrame]]:
        """Add bytes; return every telegram and drop they complete, with the stream position it started at."""
        buffer = self._buffer
        if not buffer and START not in data:
            # Nothing started and nothing starts: all of it is noise (or HDLC).
            self._skip(data, 0, len(data))
            self._offset += len(data)
            return []
        buffer += data
        events: list[tuple[int, P1Message | DroppedFrame]] = []
        pos = 0
        end_mark = -1
        rejected = max(self._rejected - self._offset, 0)  # end marks before this were found to end no telegram
        # No telegram ending at end_mark can start before damaged_from; one starting before text_from holds
        # bytes that are not text.
        text_from = damaged_from = 0
        while (start := buffer.find(START, pos)) >= 0:
            self._skip(buffer, pos, start)
            pos = start
            if end_mark < start:
                end_mark = buffer.find(END, max(start, rejected))
                text_from, damaged_from = self._text_start(buffer, end_mark)
            if (passed := _passed_over(buffer, start, text_from, damaged_from)) is not None:
                self._skip(buffer, start, passed)
                pos = passed
                continue
            # A start farther than a telegram's length from the end mark (or
            # from the buffer's end, when there is none yet) cannot be one.
            horizon = (end_mark if end_mark >= 0 else len(buffer)) - MAX_TELEGRAM_BYTES
            if start < horizon:
                self._skip(buffer, start, horizon)
                pos = horizon
                continue
            if end_mark < 0:
                break
            after = bytes(buffer[end_mark + 1 : end_mark + 1 + _CRC_DIGITS])
            if _ends_without_crc(bytes(buffer[max(end_mark - 2, 0) : end_mark]), after):
                pos = self._judge_without_crc(buffer, start, end_mark, events, all_text=start >= text_from)
                continue
            digits = _crc_digits(after)
            if digits is None:
                break  # what follows the '!' has yet to come
            if not digits:
                # This '!' ends no telegram: a later one may end this one.
                rejected = end_mark + 1
                end_mark = buffer.find(END, rejected)
                text_from, damaged_from = self._text_start(buffer, end_mark)
                continue
            raw = bytes(buffer[start : end_mark + 1 + digits])
            event, length = _judge_crc(raw, end_mark + 1 - start)
            events.append((self._offset + start, event))
            self._heard.checked(event)
            pos = start + length
        else:
            self._skip(buffer, pos, len(buffer))
            pos = len(buffer)
        self._rejected = self._offset + rejected
        del buffer[:pos]
        self._offset += pos
        return events

    def _text_start(self, buffer: bytearray, end_mark: int) -> tuple[int, int]:
        """Where the text before an end mark begins, and where a telegram damaged on the line would (_DAMAGED_BYTES).

        One scan per end mark, backwards over at most a telegram's length,
        serves every start before it, and every chunk after it.
        """
        if end_mark < 0:
            return 0, 0
        at, text_from, damaged_from = self._text_before
        if at == self._offset + end_mark:
            return max(text_from - self._offset, 0), max(damaged_from - self._offset, 0)
        window = max(0, end_mark - MAX_TELEGRAM_BYTES)
        backwards = bytes(buffer[window:end_mark])[::-1]
        # Each matches the empty text too; the damaged text goes on from where the text ends.
        text_length = _TEXT.match(backwards).end()  # type: ignore[union-attr]
        damaged_length = _DAMAGED_TEXT.match(backwards, text_length).end()  # type: ignore[union-attr]
        text, damaged = end_mark - text_length, end_mark - damaged_length
        self._text_before = (self._offset + end_mark, self._offset + text, self._offset + damaged)
        return text, damaged

    def _judge_without_crc(
        self,
        buffer: bytearray,
        start: int,
        end_mark: int,
        events: list[tuple[int, P1Message | DroppedFrame]],
        *,
        all_text: bool,
    ) -> int:
        """Take the telegram from start to a '!' that no CRC follows; return where to look next.

        Without a CRC only the stream proves it: a meter (by its
        identification line) whose telegrams have shown a CRC that held
        sends none without, so a missing CRC there is damage (a CRC lost or
        damaged into a line end), never a telegram to read unchecked.
        Another meter's CRC does not make this one's telegrams damage, but
        where telegrams carry one, a meter not heard before is read only from
        its second (see _MetersHeard). A telegram read without a CRC proves
        nothing, and refuses no CRC that holds later.
        Nor is one read with a byte damaged past text (all_text false).
        """
        if _UNCHECKED_OPENING.match(buffer, start) is None:
            # A '/' that opens no telegram (a chance one in the text): the next may.
            self._skip(buffer, start, start + 1)
            return start + 1
        # With no CRC to fail, a telegram cut short runs on into the next: its opening lines say where.
        restart = buffer.rfind(START, start + 1, end_mark)
        while restart > start and _UNCHECKED_OPENING.match(buffer, restart) is None:
            restart = buffer.rfind(START, start + 1, restart)
        if restart > start:
            events.append(self._drop(start, "P1 telegram cut short by another", bytes(buffer[start:restart])))
            return restart
        raw = bytes(buffer[start : end_mark + 1])
        if (damaged := self._heard.unchecked(raw)) is not None:
            events.append(self._drop(start, damaged, raw))
        elif not all_text:
            events.append(self._drop(start, "P1 telegram without a CRC holds bytes that are not text: damaged", raw))
        else:
            events.append((self._offset + start, P1Message(raw.decode("ascii"), raw, checksummed=False)))
        return end_mark + 1

    def _drop(self, start: int, detail: str, raw: bytes) -> tuple[int, DroppedFrame]:
        return self._offset + start, _damaged(detail, raw)

    def _skip(self, buffer: bytes | bytearray, start: int, end: int) -> None:
        if end > start:
            # Line ends after the CRC are part of the telegram, not noise.
            self.noise_bytes += end - start - buffer.count(b"\r", start, end) - buffer.count(b"\n", start, end)


class _MetersHeard:
    """The meters a stream's telegrams came from, by identification line, with a CRC that held and without one.

    A telegram that opens as one whose CRC held and ends without one is
    damage (a stranger's checked telegram proves nothing of this meter's).
    Where telegrams carry a CRC, one without from a meter not heard before
    may be a checked meter's whose identification was damaged too: a meter
    that sends none is read from its second telegram.
    """

    def __init__(self) -> None:
        """Start having heard no meter."""
        self._checked: dict[bytes, None] = {}
        self._unchecked: dict[bytes, None] = {}

    def checked(self, judged: P1Message | DroppedFrame) -> None:
        """Take a telegram judged by its CRC (one that failed tells nothing)."""
        if isinstance(judged, P1Message):
            _remember(self._checked, _identification(judged.raw))

    def unchecked(self, raw: bytes) -> str | None:
        """Take a telegram without a CRC; return why it is damage, or None to read it."""
        identification = _identification(raw)
        if identification in self._checked:
            return "P1 telegram without a CRC from a meter whose telegrams carry one: damaged on the line"
        if _remember(self._unchecked, identification) and self._checked:
            return "P1 telegram without a CRC, in a stream whose telegrams carry one, from a meter not heard before"
        return None


def _remember(meters: dict[bytes, None], identification: bytes) -> bool:
    """Remember a meter's identification line as the latest heard, the oldest forgotten; return whether it is new."""
    new = meters.pop(identification, False) is not None
    meters[identification] = None
    if len(meters) > MAX_METERS_HEARD:
        del meters[next(iter(meters))]
    return new


def _identification(raw: bytes) -> bytes:
    """Return a telegram's identification line (its first, after the '/'): which meter and port sent it."""
    return raw[:MAX_TELEGRAM_BYTES].split(b"\n", 1)[0].rstrip(b"\r")


def _passed_over(buffer: bytearray, start: int, text_from: int, damaged_from: int) -> int | None:
    """Where to look on when the '/' at start begins no telegram ending at the next end mark; None when it may."""
    if start < damaged_from:
        return damaged_from  # binary between this '/' and the end mark: HDLC, not a telegram
    if start < text_from and _IDENT.match(buffer, start) is None:
        # A few bytes that are not text after a '/' that opens no identification: noise. After one that does, a
        # CRC judges the telegram, damaged in its first lines too (one without a CRC must open as a telegram).
        return start + 1
    return None


def _judge_crc(raw: bytes, body_length: int) -> tuple[P1Message | DroppedFrame, int]:
    """Check the CRC of a telegram ('/' to '!' in its first body_length bytes, its CRC's digits after them).

    Return the telegram, or its drop, and how many of raw's bytes it used up
    (after a telegram cut short, the rest is read again).
    """
    sent = int(raw[body_length:], 16)
    if crc16_arc(raw[:body_length]) == sent:
        return P1Message(raw.decode("ascii", errors="replace"), raw), len(raw)
    # A telegram cut short runs on into the next, which begins at the first
    # '/' after its own that opens an identification and the CRC holds from
    # (a '/' in its own text, a URL's, comes later). When none holds, the
    # next was damaged too: it is taken to begin at the last identification.
    holding = (1 + at for at in reversed(crc16_arc_starts(raw[1:body_length], sent)))
    restart = next((at for at in holding if _IDENT.match(raw, at) is not None), None)
    if restart is None:
        restart = raw.rfind(START, 1, body_length)
        while restart > 0 and _IDENT.match(raw, restart) is None:
            restart = raw.rfind(START, 1, restart)
    if restart > 0:
        return _damaged("P1 telegram cut short by another", raw[:restart]), restart
    return _damaged("P1 CRC mismatch", raw), len(raw)


def _damaged(detail: str, raw: bytes) -> DroppedFrame:
    return DroppedFrame(DropReason.BAD_CHECKSUM, detail, raw)


def _ends_without_crc(before: bytes, after: bytes) -> bool:
    """Whether a '!' between these bytes ends a telegram sent without a CRC: it opens a line, and its line end follows.

    A '!' inside a line is a damaged byte. The line end is CR LF, or LF alone
    after a line that ends so (text a gateway wrote out again). Anything else
    after a '!' is no such end: a CRC damaged into CR and more digits, into
    LF where lines end CR LF, or into the '/' a telegram opens with, must not
    pass for a telegram without one. Where lines end LF alone, one CRC digit
    damaged into LF does what two damaged into CR LF do elsewhere: only before
    a CRC held in the stream is that telegram read without one.
    """
    if not before.endswith(b"\n"):
        return False
    return after.startswith(b"\r\n") or (after.startswith(b"\n") and before != b"\r\n")


def _crc_digits(after: bytes) -> int | None:
    """Count the digits of the CRC that the bytes after a '!' begin with: 0 if they begin none, None until they tell.

    Four hex digits are a CRC; fewer are one when a line end follows them
    (a CRC sent without its leading zeros). The numbers compare, not their
    text: "2A6" is 0x02A6.
    """
    digits = next((at for at, byte in enumerate(after) if byte not in HEX_DIGITS), len(after))
    if digits == _CRC_DIGITS or (digits and after[digits : digits + 1] in _LINE_END_BYTES):
        return digits
    if len(after) < _CRC_DIGITS:
        return None
    return 0


# Registers print at most ten digits and three decimals; a longer number is
# damage, and one of thousands of digits would cost the reader dearly.
_MAX_DIGITS = 18
# A data line: OBIS code (its F group after '*' or '.', or none) and its
# value, split into number and unit when it is one ("1-0:1.8.0(00006678.394*kWh)",
# some meters leave the '*' out). A value stamped with when it was reached
# comes after its timestamp: the month's maximum demand in Belgium and
# Switzerland ("1-0:1.6.0(200509134558S)(02.589*kW)"), a gas meter's
# reading. Values after the first (a history's entries) are not read.
_DATA_LINE = re.compile(
    r"^(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:[*.]\d{1,3})?)\((?:\d{12}[SW]\)\()?"
    r"((?:([-+]?\d+(?:\.\d+)?)(?:(?:\*|(?=[A-Za-z]))([^()]+))?)|[^()]*)\)",
    re.MULTILINE | re.ASCII,
)
_CODE = re.compile(r"(\d+)-(\d+):(\d+)\.(\d+)\.(\d+)(?:[*.](\d+))?", re.ASCII)
_TIMESTAMP = re.compile(r"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([SW])?", re.ASCII)
# A NES meter's (Denmark) clock, written out: "20240111 09:35:00".
_WRITTEN_OUT_TIMESTAMP = re.compile(r"(\d{4})(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})", re.ASCII)
# Prefix exponent and base unit of each unit the meters print.
_UNITS: dict[str, tuple[int, Unit]] = {
    "w": (0, Unit.WATT),
    "kw": (3, Unit.WATT),
    "wh": (0, Unit.WATT_HOUR),
    "kwh": (3, Unit.WATT_HOUR),
    "var": (0, Unit.VAR),
    "kvar": (3, Unit.VAR),
    "varh": (0, Unit.VAR_HOUR),
    "kvarh": (3, Unit.VAR_HOUR),
    "va": (0, Unit.VOLT_AMPERE),
    "kva": (3, Unit.VOLT_AMPERE),
    "vah": (0, Unit.VOLT_AMPERE_HOUR),
    "kvah": (3, Unit.VOLT_AMPERE_HOUR),
    "v": (0, Unit.VOLT),
    # Lithuanian ESO meters print their phases in kV and kA. Their frequency in kHz, to a whole hertz
    # cut short ("0000.049*kHz" on a 50 Hz grid), is left out: 49 Hz is no grid's frequency.
    "kv": (3, Unit.VOLT),
    "a": (0, Unit.AMPERE),
    "ka": (3, Unit.AMPERE),
    "hz": (0, Unit.HERTZ),
}
# FLAG manufacturer ids (the three letters after '/').
_MANUFACTURERS = {
    "KAM": Maker.KAMSTRUP,
    "LGF": Maker.LANDIS_GYR,
    "LGZ": Maker.LANDIS_GYR,
    "KFM": Maker.KAIFA,
    "AID": Maker.AIDON,
    "ADN": Maker.AIDON,  # Swedish Aidon P1 ports ("/ADN9 6534")
    "ISK": Maker.ISKRAEMECO,
    "SAG": Maker.SAGEMCOM,
    "ESY": Maker.EASYMETER,
}
# Channels 1 to 4 of the abstract objects (A = 0) are the M-Bus devices wired
# to the meter, a gas or water meter: their identifiers are not the meter's.
_OWN_CHANNEL = 0
# The meters print local time and say only whether summer time applies, not
# their zone (Central European in most markets, Eastern in Lithuania, Irish in
# Ireland): the clock comes naive, and "W" marks the second of the hour that
# the end of summer time repeats (fold, as zoneinfo reads it).
_SECOND_OCCURRENCE = "W"


def _parse_timestamp(text: str) -> datetime | None:
    match = _TIMESTAMP.fullmatch(text)
    century, fold = 2000, 0
    if match is not None:
        fold = int(match.group(7) == _SECOND_OCCURRENCE)
    elif (match := _WRITTEN_OUT_TIMESTAMP.fullmatch(text)) is not None:
        century = 0  # the year comes whole; no S or W says which of a repeated hour
    else:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        return datetime(century + year, month, day, hour, minute, second, fold=fold)  # noqa: DTZ001 - the meter's zone is not said
    except ValueError:
        return None


class _LinePlan(NamedTuple):
    """How to read a line, by its OBIS code and unit: worked out once, not per telegram."""

    obis: ObisCode
    field: str | None
    clock: bool
    exponent: int
    unit: Unit | None
    usable: bool
    meaningful: bool
    """Whether its code means a quantity: any other's number (a count, a serial, a text's hex) is left out unread."""


@lru_cache(maxsize=1024)
def _line_plan(code: str, unit_text: str | None) -> _LinePlan:
    a, b, c, d, e, f = (None if part is None else int(part) for part in _CODE.fullmatch(code).groups())  # type: ignore[union-attr]
    obis = ObisCode(a, b, c, d, e, 255 if f is None else f)  # type: ignore[arg-type]
    quantity = quantity_of(obis)
    known = _UNITS.get(unit_text.lower()) if unit_text is not None else (0, None)
    exponent, unit = known if known is not None else (0, None)
    field = identification(obis) if obis.a != 0 or obis.b == _OWN_CHANNEL else None
    # A number without the unit its quantity has, or in a unit not known, is in a unit nobody can say.
    usable = known is not None and (quantity is None or unit == quantity.unit)
    return _LinePlan(obis, field, is_clock(obis), exponent, unit, usable=usable, meaningful=quantity is not None)


def _reading(line: _LinePlan, number: str) -> Reading:
    """Read a line's number in its quantity's base unit."""
    whole, _, fraction = number.partition(".")
    if len(whole) + len(fraction) > _MAX_DIGITS:
        msg = f"{line.obis} has a number of {len(whole) + len(fraction)} digits"
        raise DecodeError(msg)
    return Reading(scale(int(whole + fraction), line.exponent - len(fraction)), line.unit)


def parse_telegram(message: P1Message) -> Telegram:
    """Turn a checksum-valid P1 telegram into readings; skip lines that are not data."""
    text = message.text
    first_line = text.split("\n", 1)[0].strip()
    ident = first_line[1:] if first_line.startswith("/") else ""
    if not ident:
        msg = "P1 telegram without an identification line"
        raise DecodeError(msg)
    readings: dict[ObisCode, Reading] = {}
    left_out: dict[ObisCode, None] = {}
    fields: dict[str, str] = {}
    timestamp = None
    for code, first, number, unit_text in _DATA_LINE.findall(text):
        line = _line_plan(code, unit_text or None)
        if line.clock:
            timestamp = _parse_timestamp(first)
        elif line.field is not None:
            if first:  # an empty identifier ("0-0:96.1.1()", Iskra's) names nothing: a later one may
                fields.setdefault(line.field, first)
        elif number and line.meaningful and line.usable:
            take_reading(readings, line.obis, _reading(line, number))
        elif number or (first and line.meaningful):
            # Never passed on unbounded, in a unit not known, or with no number to read ("01.193 kW", "0.987*");
            # its digits (a gas meter's serial may be 34) never read.
            left_out[line.obis] = None
    flag = ident[:3]
    # After the flag comes the baud rate character, then the identification;
    # '\2'-style escapes mark enhanced identification.
    model = ident[4:]
    if model.startswith("\\") and len(model) > 1:
        model = model[2:]
    # Aidon's "/ADN9 6534" sets its type apart with a space, a NES meter's "/NES5:83335-3E" with a colon.
    model = model.strip().removeprefix(":")
    return Telegram(
        format="p1",
        manufacturer=_MANUFACTURERS.get(flag.upper()),
        list_version=None,
        meter_id=fields.get("meter_id"),
        meter_type=fields.get("meter_type") or model or None,
        timestamp=timestamp,
        readings=readings,
        raw=message.raw,
        logical_device_name=fields.get("logical_device_name"),
        # A code sent twice, once readable: it is read, not left out.
        left_out=tuple(code for code in left_out if code not in readings),
        checksummed=message.checksummed,
    )


def reseal(telegram: bytes) -> bytes:
    """Recompute the CRC of a P1 telegram ("/" to "!" and its hex digits) whose text was edited on purpose.

    The CRC is written as wide as the meter wrote it, four digits or fewer.
    """
    end_mark = telegram.rfind(b"!")
    after = telegram[end_mark + 1 :]
    digits = after.rstrip(b"\r\n")  # the line end after the CRC, where the meter sends one
    if end_mark < 0 or not 0 < len(digits) <= _CRC_DIGITS or not HEX_DIGITS.issuperset(digits):
        return telegram
    body = telegram[: end_mark + 1]
    return body + f"{crc16_arc(body):0{len(digits)}X}".encode("ascii") + after[len(digits) :]
