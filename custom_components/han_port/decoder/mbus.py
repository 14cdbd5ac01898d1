"""Incremental wired M-Bus framing (EN 13757-2 long frames), as Austrian and Polish meters send DLMS.

A long frame is `68 L L 68 C A CI data CS 16`: L counts C, A, CI and the
data, CS is their sum modulo 256. DLMS over M-Bus (EN 13757-1, IEC 62056-7-3)
puts an APDU in one or more frames: a CI of 0x00 to 0x1F says "DLMS", its low
four bits number the segment and bit 4 marks the last one; two transport
addresses (STSAP, DTSAP) come before each segment's share of the APDU. A
message spread over frames is emitted when the last byte of its last
segment arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from .behind import StartsBehind
from .model import DroppedFrame, DropReason
from .partial import MAX_PARTS

START = 0x68
STOP = 0x16
_HEADER = 4  # 68 L L 68
MIN_LENGTH = 3  # C, A and CI
# L counts C, A, CI and the data in one byte. A Sagemcom T210-D sends a first segment of 257 bytes, its L
# wrapped to 0x01: an L below MIN_LENGTH is read as 256 more (as amshan and amsreader read it), the
# checksum and the stop byte deciding whether a frame is there.
_WRAP = 0x100
MAX_LENGTH = _WRAP + MIN_LENGTH - 1
APDU_OFFSET = 9
"""Where a DLMS segment's share of the APDU begins in its frame: after 68 L L 68, C, A, CI and the two TSAPs."""
_CI_DLMS_LAST = 0x1F  # CI 0x00-0x1F: DLMS segments
LAST_SEGMENT = 0x10
SEQUENCE = 0x0F
TSAP_BYTES = 2
DLMS_TSAP = b"\x01\x67"  # STSAP and DTSAP of DLMS over M-Bus
# What meters send before them: SND_UD (a push) to the broadcast address.
_SND_UD = 0x53
_BROADCAST = 0xFF
# A meter's push fits in a few frames (the Austrian lists take two); the CI
# numbers sixteen, and a frame that does not continue them lets them go.
MAX_SEGMENTS = min(SEQUENCE + 1, MAX_PARTS)


@dataclass(frozen=True, slots=True)
class MbusMessage:
    """The APDU of one DLMS message, joined from its segments, and the frames that carried it."""

    information: bytes
    raw: bytes


class MbusFramer:
    """Turns bytes, in chunks of any size, into DLMS messages carried in M-Bus long frames.

    Linear in its input: a start is judged by its four header bytes, and a
    frame's checksum costs its own length (at most 261 bytes) once.
    """

    def __init__(self) -> None:
        """Start with nothing buffered."""
        self._buffer = bytearray()
        self._offset = 0  # stream position of the buffer's first byte
        self._segments: list[bytes] = []
        self._segment_frames: list[bytes] = []
        self._next_sequence = 0
        self._segments_end = -1  # stream position where the last segment's frame ended
        self._message_at = 0  # stream position of the message's first frame
        # Frames whose header held, found since the caller last took them (stream positions): checksum
        # held, and failed (stop byte or checksum).
        self._checked_claims: list[tuple[int, int]] = []
        self._failed_claims: list[tuple[int, int]] = []
        self._behind = StartsBehind(START, _frame_end, _whole)
        self.noise_bytes = 0
        """Bytes skipped outside any checksum-valid frame."""

    @property
    def pending(self) -> bool:
        """Whether a frame, or a message of segments, has begun and waits for the rest."""
        buffer = self._buffer
        if self._segments:
            return True
        # A start byte with nothing after it yet, or a header that may still be one.
        opening = _opening(buffer, 0) if buffer else -1
        return opening is None or opening >= 0

    def take_claims(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return the bytes frames whose header held have taken since the last call: checksum held, and failed.

        M-Bus's header carries no check of its own: "68 L L 68" in other
        bytes is a chance pattern until its frame's checksum says otherwise.
        """
        claims = (self._checked_claims, self._failed_claims)
        self._checked_claims, self._failed_claims = [], []
        return claims

    def pending_claims(self) -> list[tuple[int, int]]:
        """Return the bytes a frame whose header held waits for: its own until they come, whatever its checksum says."""
        buffer = self._buffer
        length = _opening(buffer, 0)
        if length is None or length < 0:
            return []
        return [(self._offset, self._offset + length + 6)]

    def unfinished(self) -> str | None:
        """Say what a frame or message begun still waits for; None when nothing is begun."""
        if self._segments:
            return f"a message of M-Bus long frames: {len(self._segments)} came, its last never did"
        buffer = self._buffer
        length = _opening(buffer, 0)
        if length is None or length < 0:
            return None
        return f"an M-Bus long frame: {len(buffer)} of its {length + 6} bytes came"

    def discard(self) -> None:
        """Forget a frame start, or segments, that will never be continued (counted as noise)."""
        self.noise_bytes += len(self._buffer)
        self._offset += len(self._buffer)
        self._buffer.clear()
        self._reset_segments()

    def feed_positioned(self, data: bytes) -> list[tuple[int, MbusMessage | DroppedFrame]]:
        """Add bytes; return every message and drop they complete, with the stream position it started at."""
        buffer = self._buffer
        if not buffer and START not in data:
            self.noise_bytes += len(data)
            self._offset += len(data)
            return []
        buffer += data
        events: list[tuple[int, MbusMessage | DroppedFrame]] = []
        pos = 0
        while (start := buffer.find(START, pos)) >= 0:
            self.noise_bytes += start - pos
            length = _opening(buffer, start)
            if length is None:
                pos = start
                break
            if length < 0:
                pos = start + 1
                self.noise_bytes += 1
                continue
            end = start + length + 6
            # Its header held: its bytes are its own, even if its stop byte or checksum fails.
            claim = (self._offset + start, self._offset + end)
            if len(buffer) < end:
                proven = self._behind.find(buffer, self._offset, start)
                if proven is None:
                    pos = start  # the frame's bytes are still arriving
                    break
                # A whole frame behind it: "68 L L 68" was a chance pattern, or a push cut short.
                self._failed_claims.append(claim)
                self.noise_bytes += proven - start
                pos = proven
                continue
            frame = bytes(buffer[start:end])
            if frame[-1] != STOP:
                self._failed_claims.append(claim)
                pos = start + 1  # a 0x68 inside noise, or a frame cut short: look again behind it
                self.noise_bytes += 1
                continue
            body = frame[_HEADER:-2]
            if sum(body) & 0xFF != frame[-2]:
                self._failed_claims.append(claim)
                drop = DroppedFrame(DropReason.BAD_CHECKSUM, "M-Bus checksum mismatch", frame)
                events.append((self._offset + start, drop))
                self._reset_segments()
                # Look again behind its start: a frame cut short ("68 22 22") took the next frame's
                # start byte for its own header, and that next frame is whole.
                pos = start + 1
                continue
            self._checked_claims.append(claim)
            events += self._segment(body, frame, self._offset + start)
            pos = end
        else:
            self.noise_bytes += len(buffer) - pos
            pos = len(buffer)
        del buffer[:pos]
        self._offset += pos
        return events

    def _segment(self, body: bytes, frame: bytes, position: int) -> list[tuple[int, MbusMessage | DroppedFrame]]:
        """Take one checksum-valid frame's body (C, A, CI, data); return a message once its last segment is in."""
        ci = body[2]
        if ci > _CI_DLMS_LAST or len(body) < MIN_LENGTH + TSAP_BYTES:
            detail = f"M-Bus frame with CI 0x{ci:02x} carries no DLMS (only CI 0x00-0x1F does)"
            return [(position, DroppedFrame(DropReason.UNDECODABLE, detail, frame))]
        sequence = ci & SEQUENCE
        events: list[tuple[int, MbusMessage | DroppedFrame]] = []
        if self._segments and position != self._segments_end:
            # A meter sends a message's frames back to back: bytes no frame held came between, and the
            # frame they hid may have been this message's next segment (another push's would splice in).
            had, raw = len(self._segments), b"".join(self._segment_frames)
            self._reset_segments()
            detail = f"M-Bus message cut by bytes no frame held: {had} segment(s) came, its last never did"
            events.append((self._message_at, DroppedFrame(DropReason.UNDECODABLE, detail, raw)))
        if sequence != self._next_sequence:
            had, raw = len(self._segments), b"".join(self._segment_frames)
            self._reset_segments()
            if sequence != 0:
                detail = f"M-Bus segment {sequence} came where segment {had} was due: the message is incomplete"
                return [*events, (position, DroppedFrame(DropReason.UNDECODABLE, detail, frame))]
            # A new message's first segment: the one before lost its end (a damaged frame).
            detail = f"M-Bus message cut: {had} segment(s) came, its last never did"
            events.append((self._message_at, DroppedFrame(DropReason.UNDECODABLE, detail, raw)))
        if not self._segments:
            self._message_at = position
        self._segments.append(body[MIN_LENGTH + TSAP_BYTES :])
        self._segment_frames.append(frame)
        self._segments_end = position + len(frame)
        if not ci & LAST_SEGMENT:
            self._next_sequence = sequence + 1
            if len(self._segments) >= MAX_SEGMENTS:
                raw = b"".join(self._segment_frames)
                self._reset_segments()
                never = DroppedFrame(DropReason.UNDECODABLE, "segmented M-Bus message never ended", raw)
                events.append((position, never))
            return events
        message = MbusMessage(b"".join(self._segments), b"".join(self._segment_frames))
        events.append((self._message_at, message))
        self._reset_segments()
        return events

    def _reset_segments(self) -> None:
        self._segments = []
        self._segment_frames = []
        self._next_sequence = 0
        self._segments_end = -1


def _frame_end(buffer: bytearray, start: int) -> int | None:
    """Where the long frame whose header opens at start ends; -1 when none opens there, None until its header is in."""
    length = _opening(buffer, start)
    if length is None:
        return None
    return start + length + 6 if length >= 0 else -1


def _whole(buffer: bytearray, start: int, end: int) -> bool:
    """Whether the long frame from start to end ends in its stop byte and its checksum holds."""
    return buffer[end - 1] == STOP and sum(buffer[start + _HEADER : end - 2]) & 0xFF == buffer[end - 2]


def _opening(buffer: bytes | bytearray, start: int) -> int | None:
    """Return the length L tells of the long frame at start (its C, A, CI and data); -1 when none opens there.

    None while too few bytes came to tell. A wrapped L (see _WRAP) is taken
    only where a DLMS segment follows, as the T210-D's does: four bytes of
    noise ("68 01 01 68") before bare pushes must not claim 263 bytes.
    """
    if len(buffer) - start < _HEADER:
        return None
    length = buffer[start + 1]
    if buffer[start + 2] != length or buffer[start + 3] != START:
        return -1
    if length >= MIN_LENGTH:
        return length
    opening = buffer[start + _HEADER : start + APDU_OFFSET]
    if len(opening) < APDU_OFFSET - _HEADER:
        return None
    if opening[2] > _CI_DLMS_LAST or opening[MIN_LENGTH:] != DLMS_TSAP:
        return -1
    return length + _WRAP


def ends_with_segment_header(before: bytes) -> bool:
    """Whether bytes end with a whole DLMS segment header (68 L L 68, C, A, CI and the two TSAPs)."""
    start = len(before) - APDU_OFFSET
    if start < 0 or before[start] != START or not before.endswith(DLMS_TSAP):
        return False
    length = _opening(before, start)
    return length is not None and length >= 0 and before[start + _HEADER + 2] <= _CI_DLMS_LAST


def reseal(frames: bytes) -> bytes:
    """Recompute the checksum of every long frame in a run of frames (edited on purpose: diagnostics)."""
    out = bytearray(frames)
    pos = 0
    while pos < len(out) and out[pos] == START and (length := _opening(out, pos)) is not None and length >= 0:
        end = pos + length + 6
        if end > len(out):
            break
        out[end - 2] = sum(out[pos + _HEADER : end - 2]) & 0xFF
        pos = end
    return bytes(out)


def mbus_frames(apdu: bytes, segment_size: int = 250 - MIN_LENGTH - TSAP_BYTES) -> bytes:
    """Frame an APDU as a meter does: long frames of at most segment_size APDU bytes, CI numbering them (an encoder).

    The control (SND_UD) and address (broadcast) bytes and the transport
    addresses are those the Austrian and Polish meters send.
    """
    chunks = [apdu[i : i + segment_size] for i in range(0, len(apdu), segment_size)] or [b""]
    out = bytearray()
    for index, chunk in enumerate(chunks):
        ci = (index & SEQUENCE) | (LAST_SEGMENT if index == len(chunks) - 1 else 0)
        body = bytes([_SND_UD, _BROADCAST, ci]) + DLMS_TSAP + chunk
        if len(body) > MAX_LENGTH:
            msg = f"a segment of {len(body)} bytes cannot be framed: L tells at most {MAX_LENGTH}"
            raise ValueError(msg)
        length = len(body) & 0xFF
        out += bytes([START, length, length, START]) + body + bytes([sum(body) & 0xFF, STOP])
    return bytes(out)
