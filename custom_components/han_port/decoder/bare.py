"""Incremental framing of bare data-notifications in a byte stream: APDUs with no envelope.

Some bridges and dumps deliver the APDU alone, one after another: `0F
<invoke id> <date-time> <body>`, or behind an LLC header only. Nothing
announces its length; the A-XDR body's own encoding says where it ends, and
the notification is emitted with its last byte.

The same bytes occur inside HDLC and M-Bus frames and inside the blocks of
a block transfer: a start behind such an envelope's header belongs to that
envelope, whose own framer reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .axdr import ARRAY, STRUCTURE, ItemExtent, read_length
from .blocks import BLOCK_HEADER_LENGTH, is_pushed_block
from .ciphering import (
    GENERAL_GLO_CIPHERING,
    GLO_LENGTH_AT,
    SECURITY_CONTROLS,
    SECURITY_HEADER_LENGTH,
    SYSTEM_TITLE_LENGTH,
)
from .cosem import DATE_TIME_LENGTH
from .crc import crc16_x25
from .descriptors import DescriptorListExtent
from .dlms import DATA_NOTIFICATION, DATE_TIME_MARKERS, GENERAL_BLOCK_TRANSFER, INVOKE_ID_LENGTH, LLC_HEADERS
from .hdlc import FLAG, HCS_BYTES, HEADER_SIZES, is_frame_format
from .mbus import APDU_OFFSET, DLMS_TSAP, ends_with_segment_header
from .model import DecodeError, DroppedFrame, DropReason

_NO_DATE_TIME = DATE_TIME_MARKERS[0][0]
_STAMP_AT = 1 + INVOKE_ID_LENGTH  # a data-notification's tag and invoke id come before its date-time
# A push list is a few hundred bytes; anything longer is a false start.
MAX_NOTIFICATION_BYTES = 4096
# Where the body begins in a notification without a date-time; and how much of the body a push header holds.
_NO_STAMP_BODY = _STAMP_AT + len(_NO_DATE_TIME)
_BODY_HEAD = 2  # the list's tag and count
# A meter pushes a list or three (Aidon's 10 s and hourly lists); a flood of chance headers is forgotten.
_MAX_HEADERS_KNOWN = 4
_MAX_HEADERS_SEEN = 64
_SIGHTINGS = 2

# An HDLC envelope before its APDU: flag, header, HCS, LLC header.
_HDLC_ENVELOPE = 1 + HEADER_SIZES[-1] + HCS_BYTES + len(LLC_HEADERS[0])
# General-glo-ciphering that authenticates without encrypting carries the APDU
# in clear: DB, 8 and the system title, a one- to three-byte length, the
# security control and the invocation counter stand before it.
_GLO_TAG = bytes([GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH])
_GLO_HEADER = (GLO_LENGTH_AT, SECURITY_HEADER_LENGTH)  # before the length, after it
_GLO_ENVELOPE = sum(_GLO_HEADER) + 3
# The length before a block's data, or a ciphered part, is at most three bytes: 82 and two.
_MAX_LENGTH_BYTES = 2
HISTORY = max(_HDLC_ENVELOPE, _GLO_ENVELOPE, APDU_OFFSET)
"""How many bytes before an APDU tell whether an envelope holds it."""


def inside_envelope(before: bytes, *, bare_stream: bool = False) -> bool:
    """Whether the bytes before an APDU's first byte are another envelope's header, which then owns it.

    An LLC header alone is no envelope (LLC-only streams exist); behind an
    HDLC flag and frame format it is, whether or not that header's HCS
    holds: a frame that fails its checks must not be read here instead.
    In a stream already known to carry bare APDUs (bare_stream), the noise
    between them is read more strictly: a flag and format byte own what
    follows only if their HCS holds, a block header only if it is numbered
    and acknowledges nothing, as pushed blocks are, and M-Bus's transport
    addresses only behind the rest of a segment's header.
    """
    if before.endswith(DLMS_TSAP):
        # Two bytes of noise end with them as often as any two: among bare pushes only a whole header is an envelope.
        return not bare_stream or ends_with_segment_header(before)
    if before.endswith(LLC_HEADERS):
        header_end = len(before) - 3 - HCS_BYTES
        hcs = int.from_bytes(before[header_end : header_end + HCS_BYTES], "little")
        return any(
            header_end - size >= 1
            and before[header_end - size - 1] == FLAG
            and is_frame_format(before[header_end - size])
            and (not bare_stream or crc16_x25(before[header_end - size : header_end]) == hcs)
            for size in HEADER_SIZES
        )
    for size in range(1, 2 + _MAX_LENGTH_BYTES):
        # A general-block-transfer block: E0, control, two block numbers, then the length.
        block = len(before) - BLOCK_HEADER_LENGTH - size
        if (
            block >= 0
            and before[block] == GENERAL_BLOCK_TRANSFER
            and _is_length(before[len(before) - size :])
            and (not bare_stream or is_pushed_block(before[block : block + BLOCK_HEADER_LENGTH]))
        ):
            return True
        glo = len(before) - _GLO_HEADER[1] - size - _GLO_HEADER[0]
        if (
            glo >= 0
            and before[glo : glo + 2] == _GLO_TAG
            and _is_length(before[glo + _GLO_HEADER[0] : glo + _GLO_HEADER[0] + size])
            and before[-_GLO_HEADER[1]] in SECURITY_CONTROLS
        ):
            return True
    return False


def _is_length(field: bytes) -> bool:
    """Whether these bytes are an A-XDR length of their own size, as long as a push's lengths are."""
    try:
        length = read_length(field, 0, _MAX_LENGTH_BYTES)
    except DecodeError:
        return False
    return length is not None and length[1] == len(field)


@dataclass(frozen=True, slots=True)
class NotificationMessage:
    """One bare data-notification (behind its LLC header, if it had one), as it came."""

    information: bytes
    raw: bytes


def _body_start(buffer: bytes | bytearray, start: int) -> int | None:
    """Where the body of a notification starting at start begins; -1 when it is no notification.

    None until enough bytes are in to tell.
    """
    at = start + _STAMP_AT
    for stamp, skip in DATE_TIME_MARKERS:
        head = buffer[at : at + len(stamp)]
        if len(head) < len(stamp) and stamp.startswith(head):
            return None
        if head == stamp:
            body = at + len(stamp) + skip
            if body >= len(buffer):
                return None
            # A push's body is a list: an array or a structure.
            return body if buffer[body] in (ARRAY, STRUCTURE) else -1
    return -1


@dataclass(frozen=True, slots=True)
class PushHeader:
    """How one meter's pushes of one list begin: what stays the same from push to push.

    The invoke id's first byte (priority and service class), how the
    date-time is given, and the list's tag and count; the invoke id's number
    and the date-time itself change.
    """

    flags: int
    stamp: bytes
    body: bytes

    @classmethod
    def of(cls, notification: bytes | bytearray, body: int) -> PushHeader:
        """Read the header of the notification these bytes begin with, whose body starts at body."""
        stamp = bytes(notification[_STAMP_AT : body - (0 if body == _NO_STAMP_BODY else DATE_TIME_LENGTH)])
        return cls(notification[1], stamp, bytes(notification[body : body + _BODY_HEAD]))

    def of_any_count(self) -> PushHeader:
        """Return the same header, whatever the list's count: damage to a push's count is what runs its body on."""
        return PushHeader(self.flags, self.stamp, self.body[:1])

    @property
    def reach(self) -> int:
        """How many bytes from a push's start tell whether it begins with this header."""
        return (
            _NO_STAMP_BODY if self.stamp == _NO_DATE_TIME else 1 + INVOKE_ID_LENGTH + len(self.stamp) + DATE_TIME_LENGTH
        )

    def begins(self, buffer: bytes | bytearray, pos: int) -> bool | None:
        """Whether the bytes at pos begin a push with this header; None while those in agree and the rest is to come."""
        whole = True
        parts = (
            (0, bytes([DATA_NOTIFICATION, self.flags])),
            (1 + INVOKE_ID_LENGTH, self.stamp),
            (self.reach, self.body),
        )
        for offset, expected in parts:
            there = buffer[pos + offset : pos + offset + len(expected)]
            if there != expected[: len(there)]:
                return False
            whole = whole and len(there) == len(expected)
        return True if whole else None


class PushHeaders:
    """The headers this stream's pushes began with, to find the next push inside one damaged on the line.

    A header is believed once a push that began with it decoded whole, or
    two were read whole: a chance notification found in noise, or in what
    damage left of a push, neither decodes nor repeats. Before any is, the
    latest header read whole and a push's own (whatever its count) cut a
    push where they recur inside it too (the stream's first push cut short,
    or damaged in its count, or its second damaged in its own header): a
    chance header recurs inside a push no more often than a believed one.
    """

    def __init__(self) -> None:
        """Start knowing no header."""
        self._seen: dict[PushHeader, int] = {}
        self.known: list[PushHeader] = []
        self._latest: PushHeader | None = None

    def learn(self, notification: bytes | bytearray, body: int) -> None:
        """Take the header of a notification read whole (its body starting at body)."""
        header = self._latest = PushHeader.of(notification, body)
        if header in self.known:
            return
        if len(self._seen) >= _MAX_HEADERS_SEEN:
            self._seen.clear()
        self._seen[header] = self._seen.get(header, 0) + 1
        if self._seen[header] >= _SIGHTINGS:
            self.believe(header)

    def prove(self, information: bytes) -> None:
        """Believe the header of a notification (behind its LLC header, if it had one) that decoded whole."""
        apdu = information[3:] if information[:3] in LLC_HEADERS else information
        body = _body_start(apdu, 0)
        if body is not None and body >= 0:
            self.believe(PushHeader.of(apdu, body))

    def believe(self, header: PushHeader) -> None:
        """Take a header as this stream's: seen twice, or on a push that decoded whole."""
        if header not in self.known:
            self.known = [*self.known[-(_MAX_HEADERS_KNOWN - 1) :], header]

    def find(
        self, buffer: bytes | bytearray, start: int, end: int, own: PushHeader | None = None
    ) -> tuple[int | None, int]:
        """Where a header of this stream's pushes starts in buffer, from start to before end; where to search on.

        Those known, the latest read whole, and the push's own (own): found
        inside a push, each is the same meter's next push. Searching goes on
        from a start whose header agrees as far as its bytes have come (end
        when there is none): it may still be one.
        """
        headers = list(dict.fromkeys([*self.known, *(h for h in (self._latest, own) if h is not None)]))
        pos = start
        while headers and (found := buffer.find(DATA_NOTIFICATION, pos, end)) >= 0:
            verdicts = [header.begins(buffer, found) for header in headers]
            if True in verdicts:
                return found, found
            if None in verdicts:
                return None, found
            pos = found + 1
        return None, end


def _llc_header(before: bytes) -> bytes:
    """Return the LLC header that the bytes before a notification end with, if they do: its own."""
    return before[-3:] if before.endswith(LLC_HEADERS) else b""


class NotificationFramer:
    """Turns bytes, in chunks of any size, into bare data-notifications as they complete."""

    def __init__(self) -> None:
        """Start with nothing buffered."""
        self._buffer = bytearray()
        self._offset = 0  # stream position of the buffer's first byte
        self._history = b""  # the bytes just before the buffer, to see an envelope's header
        # The body being measured, of the notification at the buffer's start:
        # as standard A-XDR, then, if it is none, as a descriptor list.
        self._extent: ItemExtent | DescriptorListExtent | None = None
        self._failed_at = 0  # where the bytes stopped being either, for a false start
        # Whether that notification is another envelope's: measured only to
        # skip it whole, as a chance 0F inside its date-time or values is no start.
        self._owned = False
        self._emitted = False  # whether a notification was read here: the stream carries them bare
        # The headers of the pushes read, where that notification's body
        # starts, and how far its bytes were searched for the next push's header.
        self._headers = PushHeaders()
        self._body = 0
        self._searched = 1

    @property
    def buffered_from(self) -> int:
        """The stream position of the first byte kept for what may still be read: nothing before it will be."""
        return self._offset

    @property
    def pending(self) -> bool:
        """Whether a notification has begun and waits for the rest of its body."""
        return self._extent is not None

    def unfinished(self) -> str | None:
        """Say what a data-notification begun still waits for; None when none is, or it is an envelope's."""
        if self._extent is None or self._owned:
            return None
        return f"a data-notification: {len(self._buffer)} bytes came, the rest of its body never did"

    def skip(self, data: bytes) -> None:
        """Pass over bytes not read here (a stream of frames): nothing begun before them goes on after them."""
        self._offset += len(self._buffer) + len(data)
        self._buffer.clear()
        self._extent = None
        self._history = b""

    def proven(self, message: NotificationMessage) -> None:
        """Believe the header of a notification read here that decoded whole: this meter's pushes begin so."""
        self._headers.prove(message.information)

    def discard(self) -> None:
        """Forget a notification begun: a message transport's message ended without its rest."""
        self._offset += len(self._buffer)
        self._buffer.clear()
        self._extent = None

    def feed_positioned(self, data: bytes) -> list[tuple[int, NotificationMessage | DroppedFrame]]:
        """Add bytes; return every notification they complete, with the stream position it started at.

        And a drop for one the same meter's next push was found inside: damaged on the line, or cut short.
        """
        buffer = self._buffer
        if not buffer and DATA_NOTIFICATION not in data:
            self._history = (self._history + data)[-HISTORY:]
            self._offset += len(data)
            return []
        buffer += data
        events: list[tuple[int, NotificationMessage | DroppedFrame]] = []
        pos = 0
        while True:
            if self._extent is None:
                pos, waits = self._begin(pos)
                if waits:
                    break
                if self._extent is None:
                    continue
            pos = self._measure(self._extent, events)
            if pos < 0:
                break  # still arriving: the buffer keeps it
        if self._extent is None:
            self._drop(pos)
        return events

    def _scan(self, extent: ItemExtent | DescriptorListExtent, data: bytes | bytearray) -> int | None:
        """Measure the body on in data: its end once whole, None while it arrives, -1 when it is neither shape of body.

        A body that is no standard A-XDR is measured again from its start as
        a descriptor list, as its decoding reads it (see dlms): twice at most.
        """
        try:
            return extent.scan(data)
        except DecodeError:
            self._failed_at = max(self._failed_at, extent.position)
        if isinstance(extent, DescriptorListExtent):
            return -1
        self._extent = DescriptorListExtent(self._body, MAX_NOTIFICATION_BYTES)
        return self._scan(self._extent, data)

    def _measure(
        self, extent: ItemExtent | DescriptorListExtent, events: list[tuple[int, NotificationMessage | DroppedFrame]]
    ) -> int:
        """Measure on the notification at the buffer's start, read once whole; return where to look next, -1 to wait."""
        buffer = self._buffer
        if self._owned:
            end = self._scan(extent, buffer)
        else:
            # The same meter's next push, where its header is found, bounds this one: a body still unfinished
            # there ran on into it (damaged, or cut short), and is not read past it. Found first, so a flood
            # of headers costs each its few bytes, not a body's longest.
            own = PushHeader.of(buffer, self._body).of_any_count()
            cut, self._searched = self._headers.find(buffer, max(1, self._searched), len(buffer), own)
            end = self._scan(extent, buffer if cut is None else buffer[:cut])
            # (Measured whole past it already, while the header's bytes were still coming.)
            if cut is not None and (end is None or end > cut):
                self._cut(cut, events)
                return 0
        if end is None or (end >= 0 and not self._owned and self._searched < end):
            return -1  # still arriving, or what may be the next push's header inside it
        self._extent = None
        if end < 0:
            # A false start. Looking again from where the bytes stopped
            # being A-XDR, not from the byte after the start, keeps the
            # cost linear: a flood of false starts is read once; from a
            # push's header before there, if one may begin, it is read too.
            return self._failed_at if self._owned else min(self._failed_at, self._searched)
        if self._owned:
            return end
        events.append(self._read(end))
        return 0

    def _read(self, end: int) -> tuple[int, NotificationMessage]:
        """Read the notification at the buffer's start, whole at end."""
        llc = _llc_header(self._history)
        apdu = llc + bytes(self._buffer[:end])
        self._emitted = True
        self._headers.learn(self._buffer, self._body)
        # The bytes of a notification read are no envelope's header for what follows.
        self._drop(end)
        self._history = b""
        return self._offset - end - len(llc), NotificationMessage(apdu, apdu)

    def flush(self) -> list[tuple[int, NotificationMessage]]:
        """Read the notification begun if its body is whole: held back only as its last bytes may begin the next push.

        The input ended (a capture's end, a connection lost): no push begins there.
        """
        if self._extent is None or self._owned or (end := self._scan(self._extent, self._buffer)) is None or end < 0:
            return []
        self._extent = None
        return [self._read(end)]

    def _cut(self, cut: int, events: list[tuple[int, NotificationMessage | DroppedFrame]]) -> None:
        """Drop the notification at the buffer's start: the same meter's next push begins at cut, inside it.

        A flipped bit in a count or length, or a push cut short by a
        reconnect, makes its body run on into the pushes after it: read from
        the next push's header, the damage costs this push alone.
        """
        buffer = self._buffer
        llc = _llc_header(self._history)
        end = cut - 3 if bytes(buffer[max(0, cut - 3) : cut]) in LLC_HEADERS else cut  # the next push's LLC is its own
        detail = "data-notification cut short by the same meter's next push: damaged on the line, or cut"
        events.append(
            (self._offset - len(llc), DroppedFrame(DropReason.BAD_CHECKSUM, detail, llc + bytes(buffer[:end])))
        )
        self._extent = None
        self._drop(cut)

    def _begin(self, pos: int) -> tuple[int, bool]:
        """Look for a notification's start from pos; return where to go on, and whether to wait for more bytes.

        A start found is kept at the buffer's start (position 0) with its
        body's extent to measure; one behind another envelope's header is
        measured too, to be skipped whole.
        """
        buffer = self._buffer
        start = buffer.find(DATA_NOTIFICATION, pos)
        if start < 0:
            return len(buffer), True
        body = _body_start(buffer, start)
        if body is None:
            return start, True  # still arriving
        if body < 0:
            return start + 1, False
        before = (self._history + bytes(buffer[max(0, start - HISTORY) : start]))[-HISTORY:]
        self._drop(start)
        self._extent = ItemExtent(body - start, MAX_NOTIFICATION_BYTES)
        self._body, self._searched, self._failed_at = body - start, 1, 0
        self._owned = inside_envelope(before, bare_stream=self._emitted)
        return 0, False

    def _drop(self, count: int) -> None:
        """Remove the buffer's first count bytes, keeping the last of them as history."""
        buffer = self._buffer
        self._history = (self._history + bytes(buffer[max(0, count - HISTORY) : count]))[-HISTORY:]
        del buffer[:count]
        self._offset += count
