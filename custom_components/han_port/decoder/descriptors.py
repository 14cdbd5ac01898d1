"""Descriptor lists: every value behind the COSEM attribute it is, named by a descriptor with no A-XDR tags.

ČEZ Distribuce's Sagemcom XT211 (Czechia) pushes a data-notification whose
body is a structure {enum, array}; each element of the array is a structure
of two whose first element is a COSEM attribute descriptor written bare,
the class id (two bytes), the OBIS code (six) and the attribute (one), and
whose second is the value, tagged as A-XDR always is:

    02 02  00 03  01 00 01 07 00 FF  02  06 00 00 07 A4
           register 1-0:1.7.0.255, attribute 2 (its value): 1956 W

(the capture published with esphome-libs/dlms_parser,
tests/dumps/raw_sagecom_xt211.log, 355 bytes, no frame around the APDU; ZPA
meters for the same grid send the shape too, as esphome-dlms-cosem's "U.ZPA"
pattern reads it). Values come without scaler, in W and Wh.

The descriptor's bytes are no A-XDR (its 0x00 would be null-data, an OBIS
code's 0x60 no type at all): a body is read this way only when it does not
read as standard A-XDR, by the same rules when it is measured in a stream
(DescriptorListExtent) and when it is decoded (decode_descriptor_list).
"""

from __future__ import annotations

from dataclasses import dataclass

from .axdr import ARRAY, STRUCTURE, Data, ItemExtent, decode_data, decode_length, read_length
from .cosem import CLOCK_CLASS, INTERFACE_CLASS_ATTRIBUTES, VALUE_ATTRIBUTE, VALUE_CLASSES
from .model import DecodeError
from .obis import ObisCode

_ELEMENT_HEAD = bytes((STRUCTURE, 2))  # {descriptor, value}
_CLASS_ID_BYTES = 2
_OBIS_BYTES = 6
_DESCRIPTOR_BYTES = _CLASS_ID_BYTES + _OBIS_BYTES + 1
_VALUE_AT = len(_ELEMENT_HEAD) + _DESCRIPTOR_BYTES
"""Where an element's value begins: after its head and its descriptor."""
_MIN_ELEMENT_BYTES = _VALUE_AT + 1  # and a value takes its tag at least


@dataclass(frozen=True, slots=True)
class Described:
    """One value of a descriptor list, and the attribute it is."""

    class_id: int
    obis: bytes
    """The logical name: the OBIS code's six bytes."""
    attribute: int
    value: Data

    @property
    def is_reading(self) -> bool:
        """Whether the value is a data object's or a register's value, or the clock's time.

        Other attributes (a disconnector's state, a limiter's threshold) are
        no register value: nothing here reads them.
        """
        return self.attribute == VALUE_ATTRIBUTE and (self.class_id in VALUE_CLASSES or self.class_id == CLOCK_CLASS)


@dataclass(frozen=True, slots=True)
class DescriptorList:
    """A body of values each behind its attribute descriptor, in the order sent."""

    values: tuple[Described, ...]


def _nonsense(class_id: int, attribute: int) -> str | None:
    """Say why a descriptor names no attribute of any object; None when it may name one.

    A class id not in the table (a maker's own class) is no damage: its value
    is passed over. Only what no class can have is.
    """
    if class_id == 0:
        return "class id 0 is no COSEM interface class"
    if attribute == 0:
        return f"attribute 0 of class {class_id}: attributes count from 1"
    count = INTERFACE_CLASS_ATTRIBUTES.get(class_id)
    if count is not None and attribute > count:
        return f"class {class_id} has {count} attributes, not {attribute}"
    return None


def _announced(count: int, left: int) -> None:
    """Refuse a count of values that the bytes left cannot hold: a damaged count, never a loop over it."""
    if count * _MIN_ELEMENT_BYTES > left:
        msg = f"{count} described values announced but {left} bytes left"
        raise DecodeError(msg)


def _described_array(body: bytes, pos: int, values: list[Described]) -> int:
    """Read the array of described values at pos into values; return the position after it."""
    count, pos = decode_length(body, pos + 1)
    _announced(count, len(body) - pos)
    for index in range(1, count + 1):
        if len(body) - pos < _MIN_ELEMENT_BYTES:
            msg = f"the list ends inside described value {index} of {count}"
            raise DecodeError(msg)
        if body[pos : pos + len(_ELEMENT_HEAD)] != _ELEMENT_HEAD:
            msg = f"described value {index} of {count} at byte {pos} is no {{descriptor, value}} structure"
            raise DecodeError(msg)
        at = pos + len(_ELEMENT_HEAD)
        class_id = int.from_bytes(body[at : at + _CLASS_ID_BYTES])
        obis = body[at + _CLASS_ID_BYTES : at + _CLASS_ID_BYTES + _OBIS_BYTES]
        attribute = body[at + _DESCRIPTOR_BYTES - 1]
        problem = _nonsense(class_id, attribute)
        if problem is not None:
            msg = f"described value {index} of {count} ({ObisCode.from_bytes(obis)}): {problem}"
            raise DecodeError(msg)
        value, pos = decode_data(body, pos + _VALUE_AT)
        values.append(Described(class_id, obis, attribute, value))
    return pos


def decode_descriptor_list(body: bytes) -> DescriptorList:
    """Decode a body of described values; it must take every byte.

    The body is the array of described values, or a structure whose arrays
    are: its other items are standard A-XDR, read past (the XT211's leading
    enum, whose meaning no source gives). Raises DecodeError for anything
    else, a count the bytes do not fill, and a descriptor that names nothing.
    """
    values: list[Described] = []
    tag = body[0] if body else None
    if tag == ARRAY:
        pos = _described_array(body, 0, values)
    elif tag == STRUCTURE:
        count, pos = decode_length(body, 1)
        for _ in range(count):
            if body[pos : pos + 1] == bytes([ARRAY]):
                pos = _described_array(body, pos, values)
            else:
                _, pos = decode_data(body, pos)
    else:
        msg = "a descriptor list is an array or a structure"
        raise DecodeError(msg)
    if pos != len(body):
        msg = f"{len(body) - pos} bytes left after the described values: fewer were announced than came"
        raise DecodeError(msg)
    return DescriptorList(tuple(values))


class DescriptorListExtent:
    """Finds where a descriptor list ends while its bytes still arrive, by decode_descriptor_list's rules.

    Each call resumes where the last stopped (each value is measured by an
    ItemExtent), so finding the end costs time linear in the list's bytes.
    """

    def __init__(self, start: int, max_bytes: int) -> None:
        """Look for the end of the list that starts at start, refusing one longer than max_bytes."""
        self._pos = start
        self._max_bytes = max_bytes
        self._limit = start + max_bytes
        self._wrapper: int | None = None
        """Items left in the structure around the arrays; None until the body's head is read."""
        self._values = 0  # described values left in the array being read
        self._item: ItemExtent | None = None  # a value, or an item of the structure, being measured

    @property
    def position(self) -> int:
        """Where reading stopped: the start of what is not yet whole, or of what is no descriptor list."""
        return self._item.position if self._item is not None else self._pos

    def scan(self, data: bytes | bytearray) -> int | None:
        """Read on in data; return the list's end once it is whole, None while it needs more bytes.

        Raises DecodeError when the bytes cannot be a descriptor list.
        """
        while True:
            if self._item is not None:
                end = self._item.scan(data)
                if end is None:
                    return None
                self._pos, self._item = end, None
            if self._pos > self._limit:
                msg = f"descriptor list longer than {self._max_bytes} bytes"
                raise DecodeError(msg)
            if self._values:
                if not self._element(data):
                    return None
            elif self._wrapper == 0:
                return self._pos
            elif not self._list_item(data):
                return None

    def _element(self, data: bytes | bytearray) -> bool:
        """Read a described value's head and descriptor, and start measuring its value; False while they are not in."""
        pos = self._pos
        head = data[pos : pos + _VALUE_AT]
        if bytes(head[: len(_ELEMENT_HEAD)]) != _ELEMENT_HEAD[: len(head)]:
            msg = f"a described value at byte {pos} is no {{descriptor, value}} structure"
            raise DecodeError(msg)
        if len(head) < _VALUE_AT:
            return False
        self._values -= 1
        self._item = ItemExtent(pos + _VALUE_AT, self._limit - pos - _VALUE_AT)
        return True

    def _list_item(self, data: bytes | bytearray) -> bool:
        """Read the body's head, or the next item of the structure around the arrays; False while it is not in."""
        pos = self._pos
        if pos >= len(data):
            return False
        tag = data[pos]
        if tag != ARRAY and self._wrapper is not None:
            self._wrapper -= 1
            self._item = ItemExtent(pos, self._limit - pos)
            return True
        if tag not in (ARRAY, STRUCTURE):
            msg = f"a descriptor list is an array or a structure, not type 0x{tag:02x}"
            raise DecodeError(msg)
        length = read_length(data, pos + 1)
        if length is None:
            return False
        count, self._pos = length
        if tag == STRUCTURE:
            self._wrapper = count
            return True
        _announced(count, self._limit - self._pos)
        # The body itself is the array: nothing follows it.
        self._wrapper = 0 if self._wrapper is None else self._wrapper - 1
        self._values = count
        return True
