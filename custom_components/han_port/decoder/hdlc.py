"""Incremental HDLC framing as the meters send it (IEC 62056-46, frame type 3).

The meters do not stuff octets: 0x7E and 0x7D occur inside frames, so a frame
is found by its length field and proven by its HCS and FCS, never by looking
for the closing flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .behind import StartsBehind
from .crc import crc16_x25
from .dlms import LLC_HEADERS, PUSHED_APDUS, strip_llc
from .model import DroppedFrame, DropReason
from .partial import MAX_MESSAGE_BYTES, MAX_PARTS

FLAG = 0x7E
_FORMAT_TYPE_3 = 0xA0
_FORMAT_MASK = 0xF0
FORMAT_BYTES = bytes(range(_FORMAT_TYPE_3, _FORMAT_TYPE_3 + (~_FORMAT_MASK & 0xFF) + 1))
"""Every first format byte of frame format type 3 (see is_frame_format): segmented or not, any length."""
_SEGMENTED = 0x08
# A message's first information byte after its LLC header: the tag of an APDU a meter pushes.
_PUSHED_TAGS = frozenset(bytes([tag]) for tag in PUSHED_APDUS)
_LENGTH_HIGH_BITS = 0x07  # the format's last three bits: the length field is 11 bits
_MAX_LENGTH = (_LENGTH_HIGH_BITS << 8) | 0xFF
# What a frame built here is addressed with: the decoder reads any address,
# these are a meter's usual (client 0x41, server 0x0883) and its push control.
_PUSH_ADDRESSES = b"\x41\x08\x83"
_PUSH_CONTROL = 0x13
_FCS_BYTES = 2
_MAX_ADDRESS_BYTES = 4
HCS_BYTES = 2
HEADER_SIZES = range(2 + 1 + 1 + 1, 2 + 2 * _MAX_ADDRESS_BYTES + 1 + 1)
"""How long a header is from format to control: two format bytes, two addresses of 1 to 4 bytes, control."""
# Shortest frame: two format bytes, one-byte addresses, control and FCS.
_MIN_LENGTH = 7


@dataclass(frozen=True, slots=True)
class HdlcMessage:
    """The information field of one frame, or of a run of segments joined."""

    information: bytes
    raw: bytes


def is_frame_format(first: int) -> bool:
    """Whether a frame's first format byte is of frame format type 3, as every HAN port's HDLC frame is."""
    return first & _FORMAT_MASK == _FORMAT_TYPE_3


def _address_end(data: bytes | bytearray, pos: int) -> int:
    """Position after a variable-length address (its last byte has LSB 1)."""
    for offset in range(_MAX_ADDRESS_BYTES):
        if data[pos + offset] & 1:
            return pos + offset + 1
    return -1


_FLAG_RUN = re.compile(b"~+")  # 0x7E is "~"


def length_field(first: int, second: int) -> int:
    """Return the 11-bit frame length that a frame's two format bytes carry (the first's type bits aside)."""
    return ((first & _LENGTH_HIGH_BITS) << 8) | second


def _frame_length(data: bytes | bytearray, start: int) -> int | None:
    """Return the length field of the frame opening at start: -1 when it cannot open one, None until known."""
    if len(data) - start < 3:  # noqa: PLR2004 - the flag and two format bytes
        return None
    first = data[start + 1]
    length = length_field(first, data[start + 2])
    if not is_frame_format(first) or length < _MIN_LENGTH:
        return -1
    return length


def _proven(data: bytes | bytearray, start: int, end: int) -> bool:
    """Whether the frame from the flag at start to end closes with a flag and passes its FCS."""
    return data[end - 1] == FLAG and crc16_x25(data[start + 1 : end - 3]) == data[end - 3] | (data[end - 2] << 8)


def _information_start(data: bytes | bytearray, start: int, length: int) -> int:
    """Where the information field of the frame at start begins.

    Returns -1 when the header is not valid (a false start or damage) and
    raises IndexError while its bytes have not all arrived.
    """
    destination_end = _address_end(data, start + 3)
    if destination_end < 0:
        return -1
    source_end = _address_end(data, destination_end)
    if source_end < 0:
        return -1
    control_end = source_end + 1
    header_length = control_end - (start + 1)
    if length == header_length + 2:
        return control_end  # no information field and so no HCS: the FCS decides
    if length < header_length + 4:
        return -1
    if crc16_x25(data[start + 1 : control_end]) != data[control_end] | (data[control_end + 1] << 8):
        return -1
    return control_end + 2


_CANNOT_OPEN = (-1, -1)


def _judge_header(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """Judge the header at a flag: (length, information start), (-1, -1) when it opens no frame, None until known.

    The HCS decides, for the price of the header alone.
    """
    length = _frame_length(buffer, start)
    if length is None:
        return None
    if length < 0:
        return _CANNOT_OPEN
    try:
        information_start = _information_start(buffer, start, length)
    except IndexError:
        return None  # the header is still arriving
    return _CANNOT_OPEN if information_start < 0 else (length, information_start)


def _frame_end(buffer: bytearray, start: int) -> int | None:
    """Where the frame whose header opens at start ends (both flags included); -1 when none opens, None until known."""
    header = _judge_header(buffer, start)
    if header is None:
        return None
    return start + header[0] + 2 if header[0] >= 0 else -1


class _Segments:
    """The segments of one message, joined as they come (the frame format's segmentation bit says more follow)."""

    def __init__(self) -> None:
        """Start with no message begun."""
        self._information: list[bytes] = []
        self._frames: list[bytes] = []
        self._size = 0
        self.message_at = 0
        """The stream position of the message's first frame."""

    @property
    def count(self) -> int:
        """How many segments of a message wait for its last one."""
        return len(self._information)

    def add(
        self, information: bytes, frame: bytes, position: int, *, segmented: bool
    ) -> HdlcMessage | DroppedFrame | None:
        """Take a frame's information field; return the message once its last segment is in."""
        if not self._information:
            self.message_at = position
            if not segmented:
                return HdlcMessage(information, frame)
        self._information.append(information)
        self._frames.append(frame)
        self._size += len(information)
        # A reassembly longer than a push, or of more segments (empty ones
        # too), is a stream of segments whose last one was lost.
        if self._size > MAX_MESSAGE_BYTES or len(self._information) > MAX_PARTS:
            raw = b"".join(self._frames)
            self.reset()
            return DroppedFrame(DropReason.UNDECODABLE, "segmented message never ended", raw)
        if segmented:
            return None
        message = HdlcMessage(b"".join(self._information), b"".join(self._frames))
        self.reset()
        return message

    def cut(self) -> DroppedFrame:
        """Drop the segments waiting: a new message began before their last one came."""
        raw = b"".join(self._frames)
        self.reset()
        return DroppedFrame(DropReason.UNDECODABLE, "segmented message cut: its last segment never came", raw)

    def reset(self) -> None:
        """Forget the segments waiting."""
        self._information, self._frames, self._size = [], [], 0


class HdlcFramer:
    """Turns bytes, in chunks of any size, into HDLC messages as they complete.

    Every byte costs linear time: runs of flags are skipped in one C call, a
    frame start is judged by its header check (HCS) before its frame check
    (FCS) is computed, and a frame start whose frame has not all arrived never
    holds back a complete, checksum-valid frame that follows it: meters never
    send one frame inside another, so that start was false.
    """

    def __init__(self) -> None:
        """Start with nothing buffered."""
        self._buffer = bytearray()
        self._offset = 0  # stream position of the buffer's first byte
        self._segments = _Segments()
        self._behind = StartsBehind(FLAG, _frame_end, _proven)
        # Where the last frame dropped for its FCS ended: a false start inside
        # it is the same damage, not another drop.
        self._dropped_to = 0
        # Frames whose header held, found since the caller last took them (stream positions): FCS held, and failed.
        self._checked_claims: list[tuple[int, int]] = []
        self._failed_claims: list[tuple[int, int]] = []
        self.noise_bytes = 0
        """Bytes skipped outside any checksum-valid frame."""

    def feed(self, data: bytes) -> list[HdlcMessage | DroppedFrame]:
        """Add bytes; return every message and drop they complete, in order."""
        return [event for _, event in self.feed_positioned(data)]

    @property
    def pending(self) -> bool:
        """Whether a frame, or a message of segments, has begun and waits for the rest."""
        # A flag whose next byte is no frame format waits for nothing; a flag
        # with nothing after it yet may open a frame whose rest comes next.
        buffer = self._buffer
        if self._segments.count:
            return True
        return bool(buffer) and (len(buffer) == 1 or is_frame_format(buffer[1]))

    @property
    def begun(self) -> bool:
        """Whether a frame, or a message of segments, has begun past its opening flag and waits for the rest."""
        buffer = self._buffer
        return bool(self._segments.count) or (len(buffer) > 1 and is_frame_format(buffer[1]))

    def continued_by(self, data: bytes) -> bool:
        """Whether data, the next message of a message transport, continues a frame begun before it.

        A lone flag, most often the closing flag the last message ended with,
        is continued only by a frame format byte: a message that begins
        otherwise (hex text, say) begins anew.
        """
        if self._buffer == bytes([FLAG]) and not self._segments.count:
            return bool(data) and is_frame_format(data[0])
        return self.pending

    def awaits(self, count: int) -> bool:
        """Whether a frame whose header held has begun and waits for at least count more bytes."""
        buffer = self._buffer
        header = _judge_header(buffer, 0) if len(buffer) > 1 else None
        return header is not None and header[0] >= 0 and len(buffer) + count <= header[0] + 2  # its two flags

    def take_claims(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return the bytes frames whose header held have taken since the last call: FCS held, and failed."""
        claims = (self._checked_claims, self._failed_claims)
        self._checked_claims, self._failed_claims = [], []
        return claims

    def pending_claims(self) -> list[tuple[int, int]]:
        """Return the bytes frames whose header held wait for (see HdlcOwnership for whose they are meanwhile)."""
        buffer, offset = self._buffer, self._offset
        claims = self._behind.claims(offset)
        header = _judge_header(buffer, 0) if len(buffer) > 1 else None
        if header is not None and header[0] >= 0:
            claims.append((offset, offset + header[0] + 2))
        return claims

    def unfinished(self) -> str | None:
        """Say what a frame begun, whose header holds, still waits for; None when nothing is begun."""
        if self._segments.count:
            return f"a message of HDLC segments: {self._segments.count} came, its last never did"
        buffer = self._buffer
        header = _judge_header(buffer, 0) if len(buffer) > 1 else None
        if header is None or header[0] < 0:
            return None
        return f"an HDLC frame: {len(buffer)} of its {header[0] + 2} bytes came"

    def discard(self) -> None:
        """Forget a frame start, or segments, that will never be continued (counted as noise)."""
        self._skip(self._buffer, 0, len(self._buffer))
        self._offset += len(self._buffer)
        self._buffer.clear()
        self._segments.reset()

    def feed_positioned(self, data: bytes) -> list[tuple[int, HdlcMessage | DroppedFrame]]:
        """Add bytes; return every message and drop they complete, with the stream position it started at."""
        buffer = self._buffer
        buffer += data
        events: list[tuple[int, HdlcMessage | DroppedFrame]] = []
        pos = 0
        size = len(buffer)
        while (start := buffer.find(FLAG, pos)) >= 0:
            self._skip(buffer, pos, start, events)
            # Only the last flag of a run can open a frame: the byte after an
            # opening flag is a format byte, never a flag.
            if start + 1 < size and buffer[start + 1] == FLAG:
                start = _FLAG_RUN.match(buffer, start).end() - 1  # type: ignore[union-attr]
            if start + 1 == size:
                pos = start
                break
            after = self._frame_at(buffer, start, events)
            if after is None:
                after = self._behind.find(buffer, self._offset, start)
                if after is None:
                    pos = start  # keep the frame start and wait for more bytes
                    break
                self._skip(buffer, start, after, events)
            pos = after
        else:
            self._skip(buffer, pos, len(buffer), events)
            pos = len(buffer)
        del buffer[:pos]
        self._offset += pos
        return events

    def _frame_at(
        self, buffer: bytearray, start: int, events: list[tuple[int, HdlcMessage | DroppedFrame]]
    ) -> int | None:
        """Judge what starts at this flag; return where to look next, or None to wait for more bytes."""
        header = _judge_header(buffer, start)
        if header is None:
            return None
        length, information_start = header
        if length < 0:
            return start + 1  # a closing flag, flag fill, or a 0x7E inside noise
        end = start + length + 2  # both flags included
        if len(buffer) < end:
            return None
        position = self._offset + start
        claim = (position, self._offset + end)
        if position not in self._behind.disproven and _proven(buffer, start, end):
            self._checked_claims.append(claim)
            frame = bytes(buffer[start:end])
            segmented = bool(buffer[start + 1] & _SEGMENTED)
            information = frame[information_start - start : -3]
            segments = self._segments
            if segments.count and information[:3] in LLC_HEADERS and information[3:4] in _PUSHED_TAGS:
                # A message's first frame (an LLC header, then a pushed APDU's
                # tag) while another waits for its last segment (lost to a
                # damaged header): that one ends here, cut. A segment's data
                # may open with LLC's bytes by chance, rarely with a tag too.
                events.append((segments.message_at, segments.cut()))
            message = segments.add(information, frame, position, segmented=segmented)
            if message is not None:
                # A message of segments is positioned where its first began: bytes
                # another framer found inside it come after it, not before.
                events.append((segments.message_at, message))
            return end - 1  # the closing flag may double as the next opening flag
        self._failed_claims.append(claim)
        self._segments.reset()
        if position >= self._dropped_to:
            events.append(
                (
                    position,
                    DroppedFrame(
                        DropReason.BAD_CHECKSUM, "HDLC frame check sequence (FCS) mismatch", bytes(buffer[start:end])
                    ),
                )
            )
        self._dropped_to = max(self._dropped_to, self._offset + end - 1)  # its closing flag may open the next
        # The length may be what was damaged: look for the next frame inside
        # this one rather than after it.
        return start + 1

    def _skip(
        self,
        buffer: bytearray,
        start: int,
        end: int,
        events: list[tuple[int, HdlcMessage | DroppedFrame]] | None = None,
    ) -> None:
        """Count bytes between frames as noise; flags are not noise.

        A meter sends the segments of a message back to back, flags alone
        between them: noise there is a damaged frame, maybe another push's
        first, so the segments waiting are let go rather than joined to
        whatever segment comes next.
        """
        if end <= start:
            return
        noise = end - start - buffer.count(FLAG, start, end)
        self.noise_bytes += noise
        if noise and events is not None and self._segments.count:
            events.append((self._segments.message_at, self._segments.cut()))


def reseal(frames: bytes) -> bytes:
    """Recompute the frame check (FCS) of every HDLC frame in a run of frames.

    For frames whose information field was edited on purpose, such as a
    meter id masked in diagnostics: they decode again, with our own command too.
    """
    out = bytearray(frames)
    pos = 0
    while pos < len(out) and out[pos] == FLAG:
        length = _frame_length(out, pos)
        end = pos + (length or 0) + 2
        if length is None or length < 0 or end > len(out):
            break
        out[end - 3 : end - 1] = crc16_x25(out[pos + 1 : end - 3]).to_bytes(2, "little")
        pos = end
    return bytes(out)


def hdlc_frame(information: bytes, *, segmented: bool = False) -> bytes:
    """Build one HDLC frame (type 3) around an information field, with its HCS and FCS.

    For frames made from edited content (diagnostics) that must decode again.
    Raises ValueError for an information field too long for one frame.
    """
    header_rest = _PUSH_ADDRESSES + bytes([_PUSH_CONTROL])
    length = 2 + len(header_rest) + HCS_BYTES + len(information) + _FCS_BYTES
    if length > _MAX_LENGTH:
        msg = f"an HDLC frame holds at most {_MAX_LENGTH} bytes; frame the APDU in segments"
        raise ValueError(msg)
    header = bytes([_FORMAT_TYPE_3 | (_SEGMENTED if segmented else 0) | (length >> 8), length & 0xFF]) + header_rest
    body = header + crc16_x25(header).to_bytes(HCS_BYTES, "little") + information
    return bytes([FLAG]) + body + crc16_x25(body).to_bytes(_FCS_BYTES, "little") + bytes([FLAG])


# The most information one frame built here carries: its length less format, addresses, control, HCS and FCS.
_MAX_INFORMATION = _MAX_LENGTH - (2 + len(_PUSH_ADDRESSES) + 1 + HCS_BYTES + _FCS_BYTES)


def frame_apdu(apdu: bytes) -> bytes:
    """Frame an APDU (or an LLC PDU) as a meter does: behind an LLC header, in segments when one frame is too short."""
    information = LLC_HEADERS[0] + strip_llc(apdu)
    chunks = [information[at : at + _MAX_INFORMATION] for at in range(0, len(information), _MAX_INFORMATION)]
    return b"".join(hdlc_frame(chunk, segmented=index < len(chunks) - 1) for index, chunk in enumerate(chunks))
