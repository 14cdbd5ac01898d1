"""Incremental framing of bare general-glo-ciphering APDUs in a byte stream: encrypted P1.

Luxembourg's Smarty meters and some Austrian ones send each P1 telegram
ciphered, with no other envelope: `DB 08 <system title> <length> <security>
<invocation counter> <ciphertext> [<tag>]`, one after another on the P1 port
(DSMR 5 style). The length field frames it; the GCM tag, or the telegram's
own CRC inside, proves it.

The same bytes occur inside HDLC and M-Bus frames, and inside the blocks of a
block transfer: a start right behind such an envelope's header belongs to
that envelope, whose own framer reads it (bare.inside_envelope). Behind an
LLC header alone it is an LLC-only stream's, and read here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .axdr import read_length
from .bare import HISTORY, inside_envelope
from .ciphering import (
    GENERAL_GLO_CIPHERING,
    GLO_LENGTH_AT,
    SECURITY_CONTROLS,
    SECURITY_HEADER_LENGTH,
    SYSTEM_TITLE_LENGTH,
)
from .model import DecodeError, DroppedFrame, DropReason

# A ciphered P1 telegram is under 2 kB; anything longer is a false start.
MAX_APDU_BYTES = 4096


@dataclass(frozen=True, slots=True)
class GloMessage:
    """One bare ciphered APDU, as it came."""

    information: bytes
    raw: bytes
    amid_frames: bool = False
    """Whether its bytes run into frames' (framed, failed or arriving): no APDU sent bare, but a damaged frame's."""


# No ciphered push needs more than 64 kB: a longer length field is a false start.
_MAX_LENGTH_BYTES = 2
_HEADERS_KEPT = 2


def _length(buffer: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """Read an A-XDR length at `at`: (length, where the data starts).

    None until its bytes are in; (-1, -1) when it is no length a push has.
    """
    try:
        return read_length(buffer, at, _MAX_LENGTH_BYTES)
    except DecodeError:
        return -1, -1


class GloFramer:
    """Turns bytes, in chunks of any size, into bare ciphered APDUs as they complete."""

    def __init__(self) -> None:
        """Start with nothing buffered."""
        self._buffer = bytearray()
        self._offset = 0  # stream position of the buffer's first byte
        self._history = b""  # the bytes just before the buffer, to see an envelope's header
        # For the APDU whose bytes are arriving: its stream position, and how
        # far its bytes were searched for the next APDU's header.
        self._searched_from = -1
        self._searched_to = 0
        # The headers of the APDUs read last (none yet: the stream is not known to
        # carry them bare), and the stream position the last ended at.
        self._emitted_headers: tuple[bytes, ...] = ()
        self._emitted_to = 0

    @property
    def buffered_from(self) -> int:
        """The stream position of the first byte kept for what may still be read: nothing before it will be."""
        return self._offset

    def skip(self, data: bytes) -> None:
        """Pass over bytes not read here (a stream of frames): nothing begun before them goes on after them."""
        self._offset += len(self._buffer) + len(data)
        self._buffer.clear()
        self._history = b""

    def _end(self, buffer: bytearray, start: int, before: bytes) -> int | None:
        """Where the APDU at start ends, by its header; -1 for a false start, None until its header is in."""
        if len(buffer) - start < 2:  # noqa: PLR2004 - the tag and the system title's length
            return None
        if buffer[start + 1] != SYSTEM_TITLE_LENGTH or inside_envelope(before, bare_stream=bool(self._emitted_headers)):
            return -1
        length = _length(buffer, start + GLO_LENGTH_AT)
        if length is None:
            return None
        size, data_start = length
        if size < SECURITY_HEADER_LENGTH or size > MAX_APDU_BYTES:
            return -1
        if data_start >= len(buffer):
            return None
        # Any other security control is a false start (0x00 would be no ciphering at all).
        return data_start + size if buffer[data_start] in SECURITY_CONTROLS else -1

    def _next_header(self, buffer: bytearray, start: int, end: int) -> int | None:
        """Where the same meter's next APDU (tag, system title) begins before end, if it does.

        The same meter is the one this APDU names, and the one whose APDU
        was read last: a chance header in the ciphertext a damaged length
        left over names another system title, and must not swallow this
        meter's next push. Each byte is looked at once per start: what was
        searched while the APDU's bytes arrived is not searched again.
        """
        origin = self._offset + start
        searched = self._searched_to if self._searched_from == origin else origin + GLO_LENGTH_AT
        since = max(start + GLO_LENGTH_AT, searched - self._offset - GLO_LENGTH_AT + 1)
        self._searched_from, self._searched_to = origin, self._offset + end
        headers = {bytes(buffer[start : start + GLO_LENGTH_AT]), *self._emitted_headers}
        # A header that begins inside the APDU and runs on past its end counts too: the length grew by a few bytes.
        reach = min(end + GLO_LENGTH_AT - 1, len(buffer))
        found = [at for header in headers if 0 <= (at := buffer.find(header, since, reach)) < end]
        return min(found, default=None)

    def unfinished(self) -> str | None:
        """Say what a ciphered APDU begun still waits for; None when nothing is begun."""
        buffer = self._buffer
        length = _length(buffer, GLO_LENGTH_AT) if len(buffer) > GLO_LENGTH_AT else None
        if length is None or length[0] < 0:
            return None
        return f"a ciphered APDU: {len(buffer)} of its {length[1] + length[0]} bytes came"

    def feed_positioned(self, data: bytes) -> list[tuple[int, GloMessage | DroppedFrame]]:
        """Add bytes; return every APDU they complete, with the stream position it started at."""
        buffer = self._buffer
        if not buffer and GENERAL_GLO_CIPHERING not in data:
            self._history = (self._history + data)[-HISTORY:]
            self._offset += len(data)
            return []
        buffer += data
        events: list[tuple[int, GloMessage | DroppedFrame]] = []
        pos = 0
        # Where the last APDU read ends: its bytes are no envelope's header for what follows.
        history, clean = self._history, 0
        while (start := buffer.find(GENERAL_GLO_CIPHERING, pos)) >= 0:
            if self._offset + start < self._emitted_to:
                # Inside the APDU read last: only its own meter's next header,
                # which a damaged length made it swallow the start of.
                header = bytes(buffer[start : start + GLO_LENGTH_AT])
                if not any(known.startswith(header) for known in self._emitted_headers):
                    pos = start + 1
                    continue
            before = (history + bytes(buffer[max(clean, start - HISTORY) : start]))[-HISTORY:]
            end = self._end(buffer, start, before)
            if end is None:
                pos = start  # still arriving
                break
            if end < 0:
                pos = start + 1
                continue
            cut = self._next_header(buffer, start, min(end, len(buffer)))
            if cut is not None:
                # The next APDU of the same meter begins inside this one: its
                # length was damaged on the line. Drop it, read the next.
                detail = "ciphered APDU cut short by the next one: its length was damaged"
                events.append(
                    (self._offset + start, DroppedFrame(DropReason.BAD_CHECKSUM, detail, bytes(buffer[start:cut])))
                )
                pos = clean = cut
                history = b""
                continue
            if len(buffer) < end:
                pos = start  # still arriving
                break
            apdu = bytes(buffer[start:end])
            events.append((self._offset + start, GloMessage(apdu, apdu)))
            # The headers of the last two APDUs read: a damaged title in one must not hide the meter's own.
            self._emitted_headers = (apdu[:GLO_LENGTH_AT], *self._emitted_headers)[:_HEADERS_KEPT]
            self._emitted_to = self._offset + end
            # Look again from where the next header could have begun inside it.
            pos, clean = max(start + 1, end - GLO_LENGTH_AT + 1), end
            history = b""
        else:
            pos = len(buffer)
        self._history = (history + bytes(buffer[max(clean, pos - HISTORY) : pos]))[-HISTORY:]
        del buffer[:pos]
        self._offset += pos
        return events
