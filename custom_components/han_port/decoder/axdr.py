"""A-XDR decoding of DLMS data (IEC 62056-6-2, Green Book 9.5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from struct import calcsize, unpack_from

from .cosem import DATE_TIME_LENGTH, parse_date_time
from .model import DecodeError


@dataclass(frozen=True, slots=True)
class BitString:
    """A DLMS bit-string: its length in bits and the bytes that hold them."""

    bits: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Structure:
    """A DLMS structure (arrays decode to plain lists)."""

    items: tuple[Data, ...]


type Data = bool | int | float | str | bytes | BitString | datetime | Structure | list[Data] | None

NULL_DATA = 0x00
ARRAY = 0x01
STRUCTURE = 0x02
BOOLEAN = 0x03
BIT_STRING = 0x04
DOUBLE_LONG = 0x05
DOUBLE_LONG_UNSIGNED = 0x06
OCTET_STRING = 0x09
VISIBLE_STRING = 0x0A
UTF8_STRING = 0x0C
BCD = 0x0D
INTEGER = 0x0F
LONG = 0x10
UNSIGNED = 0x11
LONG_UNSIGNED = 0x12
LONG64 = 0x14
LONG64_UNSIGNED = 0x15
ENUM = 0x16
FLOAT32 = 0x17
FLOAT64 = 0x18
DATE_TIME = 0x19
DATE = 0x1A
TIME = 0x1B

# Deeper nesting than any meter sends means the bytes are not A-XDR.
_MAX_DEPTH = 16
_LENGTH_FOLLOWS = 0x80
# Lengths fit in 32 bits: a longer length field is no A-XDR a meter sends.
_MAX_LENGTH_BYTES = 4


def read_length(data: bytes | bytearray, pos: int, max_bytes: int = _MAX_LENGTH_BYTES) -> tuple[int, int] | None:
    """Read an A-XDR length at pos: (length, position after it), None until its bytes are in.

    Raises DecodeError for a length field of more than max_bytes after its
    first byte (or none: 0x80), which no meter sends.
    """
    if pos >= len(data):
        return None
    first = data[pos]
    if first < _LENGTH_FOLLOWS:
        return first, pos + 1
    # 0x8N: the length is in the N bytes that follow.
    end = pos + 1 + (first & 0x7F)
    if not 0 < end - pos - 1 <= max_bytes:
        msg = f"bad length 0x{first:02x} at byte {pos}"
        raise DecodeError(msg)
    if end > len(data):
        return None
    return int.from_bytes(data[pos + 1 : end], "big"), end


def decode_length(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an A-XDR length that must be whole: one byte, or 0x8N followed by N bytes."""
    length = read_length(data, pos)
    if length is None:
        msg = f"length runs past the end at byte {pos}"
        raise DecodeError(msg)
    return length


def _take(data: bytes, pos: int, size: int, what: str) -> bytes:
    end = pos + size
    if end > len(data):
        msg = f"{what} of {size} bytes runs past the end at byte {pos}"
        raise DecodeError(msg)
    return bytes(data[pos:end])


def _fixed(fmt: str) -> _ItemDecoder:
    size = calcsize(fmt)

    def decode(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
        if pos + size > len(data):
            msg = f"number runs past the end at byte {pos}"
            raise DecodeError(msg)
        value: int | float = unpack_from(fmt, data, pos)[0]
        return value, pos + size

    return decode


def _raw(size: int) -> _ItemDecoder:
    def decode(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
        return _take(data, pos, size, "date or time"), pos + size

    return decode


# Numbers by their type: how struct reads them, and so their size.
_NUMBER_FORMATS = {
    DOUBLE_LONG: ">i",
    DOUBLE_LONG_UNSIGNED: ">I",
    BCD: ">B",
    INTEGER: ">b",
    LONG: ">h",
    UNSIGNED: ">B",
    LONG_UNSIGNED: ">H",
    LONG64: ">q",
    LONG64_UNSIGNED: ">Q",
    ENUM: ">B",
    FLOAT32: ">f",
    FLOAT64: ">d",
}
_DATE_LENGTH = 5
_TIME_LENGTH = 4
FIXED_SIZES: dict[int, int] = {
    NULL_DATA: 0,
    BOOLEAN: 1,
    DATE_TIME: DATE_TIME_LENGTH,
    DATE: _DATE_LENGTH,
    TIME: _TIME_LENGTH,
} | {tag: calcsize(fmt) for tag, fmt in _NUMBER_FORMATS.items()}
"""What each type of fixed size takes after its tag; the others carry a length (strings) or a count (lists)."""


def _items(data: bytes, pos: int, depth: int) -> tuple[list[Data], int]:
    if depth >= _MAX_DEPTH:
        msg = "data nested too deep"
        raise DecodeError(msg)
    count, pos = decode_length(data, pos)
    # Every item takes at least one byte: a count beyond what is left is damage.
    end = len(data)
    if count > end - pos:
        msg = f"{count} items announced but {end - pos} bytes left"
        raise DecodeError(msg)
    items: list[Data] = []
    append = items.append
    for _ in range(count):
        # Inline what meters send most (numbers, short strings, structures);
        # a call per item would cost more than decoding it. Anything else,
        # and any damage, takes the general path and its checks.
        tag = data[pos] if pos < end else -1
        size = _INLINE_UNSIGNED.get(tag, 0)
        if size and pos + size < end:
            append(int.from_bytes(data[pos + 1 : pos + 1 + size]))
            pos += 1 + size
        elif tag in _INLINE_STRINGS and pos + 1 < end and data[pos + 1] < _LENGTH_FOLLOWS:
            stop = pos + 2 + data[pos + 1]
            if stop > end:
                msg = f"string runs past the end at byte {pos}"
                raise DecodeError(msg)
            raw = data[pos + 2 : stop]
            if tag == OCTET_STRING:
                append(raw)
            elif raw.isascii():
                append(raw.decode("ascii"))
            else:
                msg = f"visible-string at byte {pos} is not ASCII"
                raise DecodeError(msg)
            pos = stop
        elif tag == STRUCTURE:
            children, pos = _items(data, pos + 1, depth + 1)
            append(Structure(tuple(children)))
        else:
            item, pos = decode_data(data, pos, depth + 1)
            append(item)
    return items, pos


# Unsigned types by size, and string types, that _items decodes inline.
_INLINE_UNSIGNED = {tag: FIXED_SIZES[tag] for tag in (DOUBLE_LONG_UNSIGNED, LONG_UNSIGNED, UNSIGNED, ENUM)}
_INLINE_STRINGS = frozenset({OCTET_STRING, VISIBLE_STRING})


def _array(data: bytes, pos: int, depth: int) -> tuple[Data, int]:
    return _items(data, pos, depth)


def _structure(data: bytes, pos: int, depth: int) -> tuple[Data, int]:
    items, pos = _items(data, pos, depth)
    return Structure(tuple(items)), pos


def _octet_string(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
    size, pos = decode_length(data, pos)
    return _take(data, pos, size, "octet-string"), pos + size


def _text(encoding: str) -> _ItemDecoder:
    def decode(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
        size, pos = decode_length(data, pos)
        raw = _take(data, pos, size, "string")
        try:
            return raw.decode(encoding), pos + size
        except UnicodeDecodeError as err:
            msg = f"string at byte {pos} is not {encoding}"
            raise DecodeError(msg) from err

    return decode


def _null(_data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
    return None, pos


def _boolean(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
    return _take(data, pos, 1, "boolean") != b"\x00", pos + 1


def _bit_string(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
    bits, pos = decode_length(data, pos)
    size = (bits + 7) // 8
    return BitString(bits, _take(data, pos, size, "bit-string")), pos + size


def _date_time(data: bytes, pos: int, _depth: int) -> tuple[Data, int]:
    return parse_date_time(_take(data, pos, DATE_TIME_LENGTH, "date-time")), pos + DATE_TIME_LENGTH


type _ItemDecoder = Callable[[bytes, int, int], tuple[Data, int]]

_DECODERS: dict[int, _ItemDecoder] = {
    NULL_DATA: _null,
    ARRAY: _array,
    STRUCTURE: _structure,
    BOOLEAN: _boolean,
    BIT_STRING: _bit_string,
    OCTET_STRING: _octet_string,
    VISIBLE_STRING: _text("ascii"),
    UTF8_STRING: _text("utf-8"),
    DATE_TIME: _date_time,
    DATE: _raw(_DATE_LENGTH),
    TIME: _raw(_TIME_LENGTH),
} | {tag: _fixed(fmt) for tag, fmt in _NUMBER_FORMATS.items()}


def decode_data(data: bytes, pos: int = 0, depth: int = 0) -> tuple[Data, int]:
    """Decode one A-XDR data item at pos; return it and the position after it."""
    if pos >= len(data):
        msg = f"data ends at byte {pos} where an item was expected"
        raise DecodeError(msg)
    decoder = _DECODERS.get(data[pos])
    if decoder is None:
        msg = f"unknown A-XDR type 0x{data[pos]:02x} at byte {pos}"
        raise DecodeError(msg)
    return decoder(data, pos + 1, depth)


_SIZED_STRINGS = frozenset({OCTET_STRING, VISIBLE_STRING, UTF8_STRING})


class ItemExtent:
    """Finds where one A-XDR item ends while its bytes still arrive.

    For data with no length field around it (a bare data-notification in a
    byte stream): each call resumes where the last stopped, so finding the
    end costs time linear in the item's bytes however they are chunked.
    """

    def __init__(self, start: int, max_bytes: int) -> None:
        """Look for the end of the item that starts at start, refusing one longer than max_bytes."""
        self._pos = start
        self._max_bytes = max_bytes
        self._limit = start + max_bytes
        # Items still to read, at each level of nesting: one item at the top.
        self._pending = [1]

    @property
    def position(self) -> int:
        """Where reading stopped: the start of the first item not yet whole, or the one that is no A-XDR."""
        return self._pos

    def scan(self, data: bytes | bytearray) -> int | None:
        """Read on in data; return the item's end once it is whole, None while it needs more bytes.

        Raises DecodeError when the bytes cannot be A-XDR (an unknown type,
        nesting or a length no meter sends).
        """
        pending = self._pending
        while pending:
            if not pending[-1]:
                pending.pop()
                continue
            if self._pos > self._limit:
                msg = f"item longer than {self._max_bytes} bytes"
                raise DecodeError(msg)
            step = self._item_head(data, self._pos)
            if step is None:
                return None
            after, children = step
            pending[-1] -= 1
            if children is not None:
                if len(pending) >= _MAX_DEPTH:
                    msg = f"data nested too deep at byte {self._pos}"
                    raise DecodeError(msg)
                pending.append(children)
            self._pos = after
        return self._pos

    def _item_head(self, data: bytes | bytearray, pos: int) -> tuple[int, int | None] | None:
        """Read the item at pos: where reading goes on, and how many items it holds if it is a list.

        None while its bytes (a list's count, or all of anything else) are not in.
        """
        tag = data[pos] if pos < len(data) else None
        if tag is None:
            return None
        size = FIXED_SIZES.get(tag)
        if size is not None:
            return (pos + 1 + size, None) if pos + 1 + size <= len(data) else None
        if tag not in _SIZED_STRINGS and tag not in (ARRAY, STRUCTURE, BIT_STRING):
            msg = f"unknown A-XDR type 0x{tag:02x} at byte {pos}"
            raise DecodeError(msg)
        length = read_length(data, pos + 1)
        if length is None:
            return None
        count, after = length
        # Every item takes a byte at least: a count beyond the limit is no list a meter sends.
        end = after + (count if tag != BIT_STRING else (count + 7) // 8)
        if end > self._limit:
            msg = f"length {count} at byte {pos}: longer than a meter sends"
            raise DecodeError(msg)
        if tag in (ARRAY, STRUCTURE):
            return after, count
        return (end, None) if end <= len(data) else None
