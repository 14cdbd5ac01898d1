"""What in a meter's frames tells which meter, and household, it is: and the same bytes masked.

A serial stands in a frame as the meter id (as text, as the hex of its text,
or as a 32-bit number), in a COSEM logical device name, and in the system
title of a ciphered frame. Each mask keeps its length, so every offset and
length field stays where it was: once their checksums are computed anew
(reseal), masked frames decode as before, with the maker's three-letter id
kept where the decoder reads the maker from it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import dlms, hdlc, mbus, p1
from .axdr import DOUBLE_LONG_UNSIGNED
from .blocks import parse_block
from .ciphering import SYSTEM_TITLE_LENGTH, read_header
from .model import DecodeError, DroppedFrame

if TYPE_CHECKING:
    from .model import Ciphering, FrameFormat, Telegram

MASK = ord("X")
# A logical device name and a system title open with the maker's FLAG id: who made it, not which one it is.
_MAKER_ID_LENGTH = 3
# Every equipment identifier a P1 telegram carries (0-0:96.1.1 the meter's, 0-1:96.1.0 a gas or water
# meter's on its M-Bus): each is a serial, whichever one the decoder took as the meter id.
_P1_IDENTIFIER = re.compile(rb"\d-\d:96\.1\.\d\(([^)\r\n]+)\)")


def _masked_after_maker(name: bytes) -> bytes:
    return name[:_MAKER_ID_LENGTH] + bytes([MASK]) * (len(name) - _MAKER_ID_LENGTH)


def _meter_id_masks(meter_id: str) -> list[tuple[bytes, bytes]]:
    """List the ways a frame writes a meter id, each with what replaces it."""
    text = meter_id.encode("ascii", "ignore")
    if not text:
        return []
    masks = [(text, bytes([MASK]) * len(text))]
    # P1 meters often write their id as the hex of its ASCII text.
    masks += [
        (spelled, bytes([MASK]).hex().encode() * len(text))
        for spelled in (text.hex().upper().encode(), text.hex().encode())
    ]
    if meter_id.isdigit() and int(meter_id) < 1 << 32:
        # The Danish list sends its meter number as a 32-bit integer.
        number = bytes([DOUBLE_LONG_UNSIGNED]) + int(meter_id).to_bytes(4, "big")
        masks.append((number, bytes([DOUBLE_LONG_UNSIGNED, 0, 0, 0, 0])))
    return masks


def serial_masks(telegram: Telegram, meter_id: str | None = None) -> list[tuple[bytes, bytes]]:
    """List every byte string in a telegram's frames that tells which meter sent it, each with its mask.

    meter_id is the meter's id when known from elsewhere (a short list that
    does not carry it is still the same meter's).
    """
    masks: list[tuple[bytes, bytes]] = []
    for known in dict.fromkeys(filter(None, (meter_id, telegram.meter_id))):
        masks += _meter_id_masks(known)
    if telegram.format == "p1":
        identifiers = {match.group(1) for match in _P1_IDENTIFIER.finditer(telegram.raw)}
        masks += [(identifier, bytes([MASK]) * len(identifier)) for identifier in identifiers]
    name = (telegram.logical_device_name or "").encode("ascii", "ignore")
    if len(name) > _MAKER_ID_LENGTH:
        masks.append((name, _masked_after_maker(name)))
    if telegram.ciphering is not None:
        masks += system_title_masks(telegram.ciphering.system_title)
    # The longest first: an id inside a logical device name is masked with it.
    return sorted(masks, key=lambda mask: len(mask[0]), reverse=True)


# A run of letters and digits this long may be a serial, in a list whose positions nothing names yet.
_TEXT_RUN = re.compile(rb"[0-9A-Za-z]{6,}")


def mask_texts(data: bytes) -> bytes:
    """Mask every run of six or more letters and digits but its first three: a list no table knows may hold a serial.

    Each mask keeps its length, and the first three letters keep a maker's
    FLAG id readable.
    """
    return _TEXT_RUN.sub(lambda match: _masked_after_maker(match.group()), data)


def system_title_masks(system_title: bytes) -> list[tuple[bytes, bytes]]:
    """List a ciphered frame's system title with its mask, its maker's three letters kept: the rest is a serial."""
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        return []
    return [(system_title, _masked_after_maker(system_title))]


def capture_format(raw: bytes) -> FrameFormat:
    """Tell a capture's framing by its first byte: an HDLC flag, an M-Bus long frame's start; else a bare APDU."""
    first = raw[:1]
    return "hdlc" if first == bytes([hdlc.FLAG]) else "mbus" if first == bytes([mbus.START]) else "apdu"


def capture_ciphering(raw: bytes, frame_format: FrameFormat) -> Ciphering | None:
    """Return the ciphering header a capture's frames carry, if they carry a ciphered APDU, before any list is read."""
    try:
        ciphering, _ = read_header(carried(raw, frame_format))
    except DecodeError:
        return None
    return ciphering


def carried(raw: bytes, frame_format: FrameFormat) -> bytes:
    """Return what a telegram's frames carry, joined, their framing left out: what anyone reads of them, keyless.

    A serial that a segment boundary, or a general-block-transfer's block
    header, splits stands whole here, and in no single frame or block: a
    mask that looks only frame by frame misses it.
    """
    framer: hdlc.HdlcFramer | mbus.MbusFramer
    if frame_format == "hdlc":
        framer = hdlc.HdlcFramer()
    elif frame_format == "mbus":
        framer = mbus.MbusFramer()
    else:
        return _unblocked(raw)
    return b"".join(
        _unblocked(dlms.strip_llc(event.information))
        for _, event in framer.feed_positioned(raw)
        if not isinstance(event, DroppedFrame)
    )


def _unblocked(apdu: bytes) -> bytes:
    """Return a general-block-transfer's data, its header left out; any other APDU as it is."""
    if apdu[:1] != bytes([dlms.GENERAL_BLOCK_TRANSFER]):
        return apdu
    try:
        return parse_block(apdu).data
    except DecodeError:
        return apdu


def mask_serials(data: bytes, masks: list[tuple[bytes, bytes]]) -> bytes:
    """Replace every serial in data by its mask, keeping every byte's place."""
    for serial, mask in masks:
        data = data.replace(serial, mask)
    return data


def reseal(raw: bytes, frame_format: FrameFormat) -> bytes:
    """Recompute the checksums of a telegram's frames, of the format it came in, after their content was edited.

    A bare APDU has no checksum to recompute; it is read as HDLC frames
    would be, so one that is none comes back unchanged.
    """
    if frame_format == "p1":
        return p1.reseal(raw)
    if frame_format == "mbus":
        return mbus.reseal(raw)
    return hdlc.reseal(raw)
