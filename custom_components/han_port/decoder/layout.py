"""Layouts: a meter's list, learned once, read fast every push after.

A meter sends the same list every few seconds: the same OBIS codes, scalers
and strings, only the numbers change. After one full decode, a layout holds
which bytes are numbers and what each one means; the next push with the same
constant bytes is read straight from those offsets. A layout is trusted only
after it reproduces the full decode of the frame it was learned from, and any
difference in a constant byte sends the frame down the full path again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .axdr import (
    ARRAY,
    BIT_STRING,
    DATE,
    DATE_TIME,
    DOUBLE_LONG,
    DOUBLE_LONG_UNSIGNED,
    LONG,
    LONG64,
    LONG64_UNSIGNED,
    LONG_UNSIGNED,
    OCTET_STRING,
    STRUCTURE,
    TIME,
    Data,
    Structure,
    decode_length,
)
from .cosem import DATE_TIME_LENGTH, parse_date_time
from .lists import VendorList, take_apart
from .model import DecodeError, Reading
from .readings import Entry, ListContent, Role, interpret, plan, scale

if TYPE_CHECKING:
    from .obis import ObisCode, Unit

# Types that carry register values: read from their offsets every push.
# (Scalers and units are integer and enum: they stay constant bytes.)
_SLOT_TYPES: dict[int, tuple[int, bool]] = {
    DOUBLE_LONG: (4, True),
    DOUBLE_LONG_UNSIGNED: (4, False),
    LONG: (2, True),
    LONG_UNSIGNED: (2, False),
    LONG64: (8, True),
    LONG64_UNSIGNED: (8, False),
}
_LEAF_SIZES = {
    0x00: 0, 0x03: 1, 0x05: 4, 0x06: 4, 0x0D: 1, 0x0F: 1, 0x10: 2, 0x11: 1, 0x12: 2,
    0x14: 8, 0x15: 8, 0x16: 1, 0x17: 4, 0x18: 8, DATE_TIME: DATE_TIME_LENGTH, DATE: 5, TIME: 4,
}  # fmt: skip


class _Slot:
    """Stands, in a decoded tree, for a value read from these bytes of the body."""

    __slots__ = ("end", "offset", "signed")

    def __init__(self, offset: int, size: int, signed: bool) -> None:
        self.offset = offset
        self.end = offset + size
        self.signed = signed


class _DateSlot(_Slot):
    """A 12-byte octet-string: the meter's clock, new in every list that has it."""


def _leaves(body: bytes) -> list[tuple[int, int]]:
    """Every leaf of an A-XDR body in document order, as (type, offset of its value).

    A string's value starts after its length, which may take several bytes
    (09 81 0C ...): the offset is where its content begins.
    """
    leaves: list[tuple[int, int]] = []
    stack = [1]  # items left to read at each nesting level
    pos = 0
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        tag = body[pos]
        if tag in (ARRAY, STRUCTURE):
            count, pos = decode_length(body, pos + 1)
            stack.append(count)
            continue
        size = _LEAF_SIZES.get(tag)
        if size is not None:
            leaves.append((tag, pos + 1))
            pos += 1 + size
        else:  # strings and bit-strings carry their length
            length, pos = decode_length(body, pos + 1)
            leaves.append((tag, pos))
            pos += (length + 7) // 8 if tag == BIT_STRING else length
    return leaves


def _with_slots(tree: Data, leaves: list[tuple[int, int]]) -> Data:
    """Replace every value-carrying number of the tree by its slot."""
    remaining = iter(leaves)

    def rebuild(node: Data) -> Data:
        if isinstance(node, Structure):
            return Structure(tuple(rebuild(item) for item in node.items))
        if isinstance(node, list):
            return [rebuild(item) for item in node]
        tag, offset = next(remaining)
        if tag == OCTET_STRING and isinstance(node, bytes) and len(node) == DATE_TIME_LENGTH:
            return _DateSlot(offset, DATE_TIME_LENGTH, signed=False)  # type: ignore[return-value]
        slot_type = _SLOT_TYPES.get(tag)
        if slot_type is None:
            return node
        size, signed = slot_type
        return _Slot(offset, size, signed)  # type: ignore[return-value]  # stands in for the number

    return rebuild(tree)


@dataclass(frozen=True, slots=True)
class Layout:
    """One list's constant bytes and where its numbers are."""

    length: int
    constants: tuple[tuple[int, int, bytes], ...]
    readings: tuple[tuple[int, int, bool, ObisCode, int, Unit | None], ...]
    identifications: tuple[tuple[int, int, bool, str], ...]
    clock: tuple[int, int] | None
    fixed: ListContent
    vendor_list: VendorList

    def read(self, body: bytes) -> ListContent | None:
        """Read the list's content, or None when this body is not of this layout."""
        if len(body) != self.length:
            return None
        for start, end, expected in self.constants:
            if body[start:end] != expected:
                return None
        readings = dict(self.fixed.readings)
        for start, end, signed, obis, exponent, unit in self.readings:
            raw = int.from_bytes(body[start:end], signed=signed)
            readings[obis] = Reading(raw if exponent == 0 else scale(raw, exponent), unit)
        fields = self.fixed.identification
        if self.identifications:
            fields = dict(fields)
            for start, end, signed, field in self.identifications:
                fields.setdefault(field, str(int.from_bytes(body[start:end], signed=signed)))
        clock = self.fixed.clock if self.clock is None else parse_date_time(body[self.clock[0] : self.clock[1]])
        return ListContent(fields, clock, readings)


@dataclass(frozen=True, slots=True)
class _Slots:
    """What the varying values of a list mean."""

    constant_entries: list[Entry]
    readings: list[tuple[int, int, bool, ObisCode, int, Unit | None]]
    identifications: list[tuple[int, int, bool, str]]
    clock: tuple[int, int] | None
    used: list[_Slot]


def _assign(slotted: VendorList) -> _Slots | None:
    """Sort a list's entries into constant ones and slots by what they fill; None if unsupported."""
    slots = _Slots([], [], [], None, [])
    clock = None
    for entry in slotted.entries:
        value: object = entry.value
        if not isinstance(value, _Slot):
            slots.constant_entries.append(entry)
            continue
        entry_plan = plan(entry.obis, entry.scaler, entry.unit, slotted.scaling)
        slots.used.append(value)
        if isinstance(value, _DateSlot):
            if entry_plan.role is not Role.CLOCK:
                return None
            clock = (value.offset, value.end)
        elif entry_plan.role is Role.READING:
            slots.readings.append(
                (value.offset, value.end, value.signed, entry_plan.obis, entry_plan.exponent, entry_plan.unit)
            )
        elif entry_plan.role is Role.IDENTIFICATION and entry_plan.field is not None:
            slots.identifications.append((value.offset, value.end, value.signed, entry_plan.field))
        else:
            return None
    return _Slots(slots.constant_entries, slots.readings, slots.identifications, clock, slots.used)


def learn(body: bytes, tree: Data, vendor_list: VendorList, content: ListContent) -> Layout | None:
    """Learn the layout of a fully decoded body; None when it cannot be read by layout."""
    try:
        slotted = take_apart(_with_slots(tree, _leaves(body)))
    except (DecodeError, IndexError, StopIteration):
        return None
    slots = _assign(slotted)
    if slots is None:
        return None
    constants = []
    start = 0
    for slot in sorted(slots.used, key=lambda slot: slot.offset):
        if slot.offset > start:
            constants.append((start, slot.offset, body[start : slot.offset]))
        start = slot.end
    if start < len(body):
        constants.append((start, len(body), body[start:]))
    layout = Layout(
        length=len(body),
        constants=tuple(constants),
        readings=tuple(slots.readings),
        identifications=tuple(slots.identifications),
        clock=slots.clock,
        fixed=interpret(slots.constant_entries, slotted.scaling),
        vendor_list=slotted,
    )
    # Trust it only if it reads this very body exactly as the full decode did.
    same_vendor = (slotted.manufacturer, slotted.list_version) == (vendor_list.manufacturer, vendor_list.list_version)
    if not same_vendor or layout.read(body) != content:
        return None
    return layout


# A meter sends a handful of lists; more layouts than this means noise.
_MAX_LAYOUTS = 16
# A list whose constant bytes keep changing is not worth learning again.
_MAX_MISSES = 3


class LayoutCache:
    """The layouts of one meter's lists, by body length."""

    def __init__(self) -> None:
        """Start knowing no list."""
        self._layouts: dict[int, Layout] = {}
        self._misses: dict[int, int] = {}

    def read(self, body: bytes) -> tuple[VendorList, ListContent] | None:
        """Read a body by a known layout, or None when none fits."""
        layout = self._layouts.get(len(body))
        if layout is None:
            return None
        content = layout.read(body)
        if content is None:
            self._misses[len(body)] = self._misses.get(len(body), 0) + 1
            return None
        self._misses[len(body)] = 0
        return layout.vendor_list, content

    def learn(self, body: bytes, tree: Data, vendor_list: VendorList, content: ListContent) -> None:
        """Remember the layout of a body that took the full decode."""
        if self._misses.get(len(body), 0) >= _MAX_MISSES:
            return
        layout = learn(body, tree, vendor_list, content)
        if layout is None:
            self._misses[len(body)] = _MAX_MISSES
            return
        if len(self._layouts) >= _MAX_LAYOUTS:
            self._layouts.clear()
        self._layouts[len(body)] = layout
