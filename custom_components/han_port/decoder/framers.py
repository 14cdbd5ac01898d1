"""Every framer over the same bytes, the arbiter that says whose each byte is, and how messages join.

A stream's format is found, never configured: each framer reads every
chunk, and what they find comes out as positioned messages in the order
they began, with a bare APDU never read from bytes a frame claimed. A
message transport's messages join into that stream (MessageJoiner): each
continues what the messages before it began, or begins anew.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .arbiter import FRAME_END_BYTES, MAX_CLAIMS, Arbiter, Framing, lies_in_a_frame
from .bare import HISTORY, MAX_NOTIFICATION_BYTES, NotificationFramer, NotificationMessage
from .glo import MAX_APDU_BYTES, GloFramer, GloMessage
from .hdlc import FLAG as HDLC_FLAG
from .hdlc import HdlcFramer, HdlcMessage
from .mbus import APDU_OFFSET as MBUS_APDU_OFFSET
from .mbus import START as MBUS_START
from .mbus import MbusFramer, MbusMessage
from .model import P1_OPENING, DroppedFrame
from .p1 import P1Framer, P1Message
from .payload import hex_digits, is_bare_apdu, unwrapped

if TYPE_CHECKING:
    from collections.abc import Sequence

type FramedMessage = HdlcMessage | MbusMessage | GloMessage | NotificationMessage | P1Message
type Framed = tuple[int, Framing, FramedMessage | DroppedFrame]
"""A message or a drop a framer found, with the stream position it began at and its framer's kind."""

# The stream's latest bytes kept while its format is unknown, for a frame header that came in an earlier
# read than the APDU after it: as many as the longest APDU a bare framer reads, and the header before it.
_HEADER_ROOM = 64
_RECENT_BYTES = max(MAX_NOTIFICATION_BYTES, MAX_APDU_BYTES) + _HEADER_ROOM
# What opens a frame or telegram: HDLC's flag, an M-Bus long frame's start, P1's '/'.
_FRAME_OPENINGS = (bytes([HDLC_FLAG]), bytes([MBUS_START]), P1_OPENING)


class WaitingApdus:
    """Bare APDUs at a stream's start held for the bytes after them, and those let go to be judged without them."""

    def __init__(self) -> None:
        """Hold nothing."""
        self._held: list[Framed] = []
        self._let_go: list[Framed] = []

    def hold(self, framed: Framed, fed: int) -> bool:
        """Hold an APDU (of fed bytes so far) whose frame's check and end would not have come; say whether held."""
        position, _, message = framed
        if framed in self._let_go or position + len(message.raw) + FRAME_END_BYTES <= fed:
            return False
        self._held.append(framed)
        return True

    def take(self) -> list[Framed]:
        """Return what is held, to be judged again with the bytes read since."""
        held, self._held, self._let_go = self._held, [], []
        return held

    def let_go(self, also: Sequence[Framed] = ()) -> list[Framed]:
        """Return what is held, and also these, to be judged as they are: no bytes come after them."""
        self._let_go, self._held = [*self._held, *also], []
        return self._let_go


class Framers:
    """Reads a stream with every framer at once; the arbiter keeps each byte to one of them."""

    def __init__(self) -> None:
        """Start knowing nothing of the stream."""
        self.hdlc = HdlcFramer()
        self.p1 = P1Framer()
        self.mbus = MbusFramer()
        self.glo = GloFramer()
        self.notifications = NotificationFramer()
        self.arbiter = Arbiter()
        self._mbus_failed: list[tuple[int, int]] = []  # bytes of M-Bus frames whose checksum failed
        # The bytes the latest chunk's messages were found in (while the format is unknown), and the stream
        # position of the first.
        self._recent = bytearray()
        self._recent_start = 0
        self._waiting = WaitingApdus()

    @property
    def fed(self) -> int:
        """Bytes read so far."""
        return self.p1.fed

    @property
    def noise_bytes(self) -> int:
        """Bytes that belonged to no checksum-valid frame of either format."""
        return min(self.hdlc.noise_bytes, self.p1.noise_bytes, self.mbus.noise_bytes)

    def frame(self, data: bytes) -> list[Framed]:
        """Read a chunk with every framer; return what they completed, in the order it began."""
        hdlc = self.hdlc.feed_positioned(data)
        p1 = self.p1.feed_positioned(data)
        mbus = self.mbus.feed_positioned(data)
        # HDLC and M-Bus frames own their bytes once their header held; a P1 telegram once its end is in.
        arbiter = self.arbiter
        mbus_checked, mbus_failed = self.mbus.take_claims()
        claims = {
            "hdlc": self.hdlc.take_claims(),
            "p1": [(position, position + len(message.raw)) for position, message in p1],
            "mbus": mbus_checked,
        }
        for kind, taken in claims.items():
            arbiter.claim(taken, kind)
        self._mbus_failed = [*self._mbus_failed, *mbus_failed][-MAX_CLAIMS:]
        framed: list[Framed] = [
            (position, Framing.FRAMES, message)
            for kind, found in (("hdlc", hdlc), ("p1", p1), ("mbus", mbus))
            for position, message in found
            # An HDLC frame still arriving holds a P1 telegram's bytes already: its header has a check of
            # its own, and cannot come by chance in P1's text (in an M-Bus stream it can).
            if not arbiter.carried(position, kind, self.hdlc.pending_claims() if kind == "p1" else ())
        ]
        glo: Sequence[tuple[int, GloMessage | DroppedFrame]] = []
        notifications: Sequence[tuple[int, NotificationMessage | DroppedFrame]] = []
        if arbiter.reads_bare(self.p1.fed):
            glo = self.glo.feed_positioned(data)
            notifications = self.notifications.feed_positioned(data)
        else:
            self.glo.skip(data)
            self.notifications.skip(data)
        bare: list[Framed] = [
            (position, framing, self._amid_frames(position, message))
            for framing, found in ((Framing.CIPHERED, glo), (Framing.NOTIFICATIONS, notifications))
            for position, message in found
            if not self._owned(position, framing)
        ]
        forgotten = min(self.glo.buffered_from, self.notifications.buffered_from) - HISTORY
        arbiter.forget_before(forgotten)
        self._mbus_failed = [claim for claim in self._mbus_failed if claim[1] > forgotten]
        messages = [*self._waiting.take(), *framed, *bare]
        if len(messages) > 1:
            messages.sort(key=lambda positioned: positioned[0])
        self._keep_recent(data, messages)
        return messages

    def _keep_recent(self, data: bytes, messages: list[Framed]) -> None:
        """Keep the bytes a frame around a bare APDU may lie in: needed only while the format is unknown.

        The latest bytes, for a header that came in an earlier read than the
        APDU after it; and, from a read longer than those, every bare APDU's
        with the header before it (see in_untaken_frame).
        """
        if self.arbiter.framing is not None:
            self._recent.clear()
        else:
            self._recent += data
            bare = (position for position, framing, _ in messages if framing is not Framing.FRAMES)
            keep_from = min(self.fed - _RECENT_BYTES, min(bare, default=self.fed) - _HEADER_ROOM)
            del self._recent[: max(0, keep_from - (self.fed - len(self._recent)))]
        self._recent_start = self.fed - len(self._recent)

    def held_for_frame_end(self, framed: Framed) -> bool:
        """Hold a bare APDU at a stream's start until the bytes after it come; say whether it is held.

        Fed in small reads, an APDU is whole before the check and end of a
        frame it may lie in (see in_untaken_frame): it is judged with them,
        or as it is once none come.
        """
        framing, message = framed[1:]
        if framing is Framing.FRAMES or self.arbiter.framing is not None or isinstance(message, DroppedFrame):
            return False
        return self._waiting.hold(framed, self.fed)

    def judge_held(self) -> list[Framed]:
        """Return the bare APDUs held for the bytes after them, to be judged as they are: none come."""
        return self._waiting.let_go()

    def _owned(self, position: int, framing: Framing) -> bool:
        """Whether a bare APDU begins inside a frame's bytes, passed or failed: that frame's, never read as bare.

        "68 L L 68" has no check of its own: an M-Bus frame that failed, or
        has yet to come, owns only the APDU where its own would begin, never
        a ciphered one (its tag proves its bytes) nor any in a bare stream.
        """
        if self.arbiter.claimed(position, self.hdlc.pending_claims()):
            return True
        if framing is Framing.CIPHERED or self.arbiter.framing in (Framing.CIPHERED, Framing.NOTIFICATIONS):
            return False
        return any(
            start + MBUS_APDU_OFFSET == position for start, _ in (*self._mbus_failed, *self.mbus.pending_claims())
        )

    def _amid_frames(self, position: int, message: FramedMessage | DroppedFrame) -> FramedMessage | DroppedFrame:
        """Mark a bare ciphered APDU whose bytes run into frames': a tag that fails there is the line's, not the keys'.

        A frame whose header was damaged (or whose checksum failed) hands its
        ciphered APDU over bare, and the APDU's length runs on into the frames
        after it, or ends inside the failed one.
        """
        if not isinstance(message, GloMessage):
            return message
        frames = [*self.hdlc.pending_claims()]
        # M-Bus frames that failed, or still arrive, count too; in a stream known to be bare they do not: such
        # a header has no check of its own, and there it is chance (see _owned).
        if self.arbiter.framing not in (Framing.CIPHERED, Framing.NOTIFICATIONS):
            frames += [*self._mbus_failed, *self.mbus.pending_claims()]
        if self.arbiter.overlapped(position, position + len(message.raw), frames):
            return replace(message, amid_frames=True)
        return message

    def in_untaken_frame(self, framed: Framed) -> bool:
        """Whether a bare APDU of the latest chunk, at a stream's start, lies in a frame that no framer took."""
        position, framing, message = framed
        if framing is Framing.FRAMES or self.arbiter.framing is not None:
            return False
        start = position - self._recent_start
        # Read in place: a copy for each APDU of a long read would cost the read's length each.
        return lies_in_a_frame(self._recent, start, start + len(message.raw))

    def flush(self) -> list[Framed]:
        """Return what waits for the bytes after it: none come.

        A bare APDU held for its frame's end (see held_for_frame_end), and the
        bare notification whose body is whole, held back for what the next
        bytes might begin.
        """
        whole = self.notifications.flush() if self.arbiter.reads_bare(self.p1.fed) else []
        return self._waiting.let_go(
            [
                (at, Framing.NOTIFICATIONS, message)
                for at, message in whole
                if not self._owned(at, Framing.NOTIFICATIONS)
            ]
        )

    def unfinished(self) -> list[str | None]:
        """Say what each framer has begun and waits for the rest of (None for each that waits for nothing)."""
        framers = [self.hdlc.unfinished(), self.mbus.unfinished(), self.p1.unfinished()]
        if self.arbiter.framing is not Framing.FRAMES:
            framers += [self.glo.unfinished(), self.notifications.unfinished()]
        return framers

    @property
    def mid_frame(self) -> bool:
        """Whether a frame has begun and waits for its rest (a P1 telegram aside: a message transport judges those)."""
        return self.hdlc.pending or self._other_mid_frame

    @property
    def begun(self) -> bool:
        """Whether a frame has begun past a lone flag (most often the closing flag a message ended with)."""
        return self.hdlc.begun or self._other_mid_frame

    def continued_by(self, data: bytes) -> bool:
        """Whether data, the next message of a message transport, continues a frame the messages so far began."""
        return self.hdlc.continued_by(data) or self._other_mid_frame

    @property
    def _other_mid_frame(self) -> bool:
        # In a stream of frames, a bare notification begun is a chance pattern, no message waiting.
        bare = self.notifications.pending and self.arbiter.framing is not Framing.FRAMES
        return self.mbus.pending or bare

    def discard(self) -> None:
        """Forget every message begun: a message transport's message, or a connection, ended without its rest."""
        self.hdlc.discard()
        self.p1.discard()
        self.mbus.discard()
        self.glo.skip(b"")
        self.notifications.discard()


class MessageJoiner:
    """Joins a message transport's messages into the stream the framers read.

    A message continues the frame or telegram the messages before it began,
    written as its start was (raw, or hex text), or it begins anew, and
    whatever they began is let go: a push lost its rest.
    """

    def __init__(self, framers: Framers) -> None:
        """Join messages for these framers."""
        self._framers = framers
        # The stream position of a P1 telegram begun at the start of a message.
        self._p1_waits_from: int | None = None
        # Whether the frame that waits for its rest came as hex text.
        self._hex_frame = False

    def joined(self, payload: bytes) -> bytes:
        """Return the bytes a message adds to the stream, hex text read; let go of what it does not continue."""
        payload = unwrapped(payload)
        # The rest of a frame comes written as its start was: raw bytes
        # that happen to be hex digits ("00") are not hex text.
        rest = (hex_digits(payload) if self._hex_frame else None) or payload
        if self._continues(payload, rest):
            return rest
        self.end()
        decoded = hex_digits(payload)
        self._hex_frame = decoded is not None
        return decoded or payload

    def _continues(self, payload: bytes, rest: bytes) -> bool:
        """Whether a message continues a frame or telegram the messages before it began (rest: as it would be read).

        A frame begun raw is not continued by hex text that opens a frame, or
        is a bare APDU, of its own: that is the next push, written as a
        hex-text bridge writes it, after a raw message's tail (another
        device's, say) that happened to look like a frame's start.
        """
        if not (self._framers.continued_by(rest) or self._p1_waits_from is not None):
            return False
        if self._p1_waits_from is not None and self._framers.p1.continued_by_crc(rest):
            return True  # its digits, not hex text ("2F…" would open a telegram)
        if self._hex_frame:
            return True
        decoded = hex_digits(payload)
        return decoded is None or not (decoded[:1] in _FRAME_OPENINGS or is_bare_apdu(decoded))

    def ends_p1_telegram(self, payload: bytes) -> bool:
        """Whether a message ends a P1 telegram that came up to its '!': one that does not go on with it.

        Read as the telegram was written (raw, or hex text; unwrapped from
        a bridge's JSON), a message that is not its CRC and line end is the
        next telegram, or a reader's status.
        """
        p1 = self._framers.p1
        if not p1.awaits_line_end:
            return False
        payload = unwrapped(payload)
        rest = (hex_digits(payload) if self._hex_frame else None) or payload
        return bool(rest.strip()) and not p1.continued_by_crc(rest)

    def after_read(self, message_start: int) -> None:
        """Note that the framers read the message that began at this stream position.

        A P1 telegram opens a message: a '/' inside one ("tibber/pulse")
        starts none, and must not hold back the messages after it. One that
        came up to its '!' is a telegram wherever it began (a message of
        several, each line end after the '!' stripped but between them).
        """
        p1 = self._framers.p1
        since = p1.pending_since
        waits = since in (message_start, self._p1_waits_from) or p1.awaits_line_end
        self._p1_waits_from = since if since is not None and waits else None

    def end(self) -> None:
        """Forget what the last messages left behind: it began no frame that a message continues."""
        self._framers.discard()
        self._p1_waits_from = None

    @property
    def mid_frame(self) -> bool:
        """Whether a frame or telegram has begun in the messages so far and waits for its rest."""
        return self._framers.mid_frame or self._p1_waits_from is not None

    @property
    def awaits_rest(self) -> bool:
        """Whether the messages so far began a frame or telegram past a lone flag: the next message is its rest."""
        return self._framers.begun or self._p1_waits_from is not None
