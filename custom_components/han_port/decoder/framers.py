"""Every framer over the same bytes, the arbiter that says whose each byte is, and how messages join.

A stream's format is found, never configured: each framer reads every
chunk, and what they find comes out as positioned messages in the order
they began, with a bare APDU never read from bytes a frame claimed. A
message transport's messages join into that stream (MessageJoiner): each
continues what the messages before it began, or begins anew.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import replace
from typing import TYPE_CHECKING

from .arbiter import FRAME_END_BYTES, MAX_CLAIMS, Arbiter, Claim, Framing, lies_in_a_frame, within
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
# Pushes that passed their checks remembered, to tell what came before an HDLC header (see HdlcOwnership): more
# than fit in the 2 KB an HDLC frame may say follow.
_CHECKED_KEPT = 512
# Pushes of other formats in a row before an HDLC header that make it a chance one: a single one may be what a
# frame whose header was damaged handed over.
_CHANCE_EVIDENCE = 2
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


class RecentBytes:
    """The stream's latest bytes, kept while its format is unknown: a frame around a bare APDU may lie in them."""

    def __init__(self) -> None:
        """Keep nothing."""
        self._bytes = bytearray()
        self._start = 0  # the stream position of the first byte kept

    def keep(self, data: bytes, fed: int, messages: list[Framed], *, format_known: bool) -> None:
        """Keep a read's bytes (fed: bytes read so far, these too) as far as its messages may need them.

        The latest bytes, for a header that came in an earlier read than the
        APDU after it; and, from a read longer than those, every bare APDU's
        with the header before it. None once the format is known.
        """
        if format_known:
            self._bytes.clear()
        else:
            self._bytes += data
            bare = (position for position, framing, _ in messages if framing is not Framing.FRAMES)
            keep_from = min(fed - _RECENT_BYTES, min(bare, default=fed) - _HEADER_ROOM)
            del self._bytes[: max(0, keep_from - (fed - len(self._bytes)))]
        self._start = fed - len(self._bytes)

    def lie_in_a_frame(self, position: int, length: int) -> bool:
        """Whether the bytes from position on (length of them) lie in a frame, as its header or check says."""
        start = position - self._start
        # Read in place: a copy for each APDU of a long read would cost the read's length each.
        return lies_in_a_frame(self._bytes, start, start + length)


class StreamStart:
    """While a stream's format is unknown: bare APDUs held for the bytes after them, and bytes a frame may lie in."""

    def __init__(self, arbiter: Arbiter) -> None:
        """Start knowing nothing of the stream (the arbiter learns its format)."""
        self._arbiter = arbiter
        self.recent = RecentBytes()
        self.waiting = WaitingApdus()

    def held_for_frame_end(self, framed: Framed, fed: int) -> bool:
        """Hold a bare APDU at a stream's start (fed bytes so far) until the bytes after it come; say whether it is.

        Fed in small reads, an APDU is whole before the check and end of a
        frame it may lie in (see in_untaken_frame): it is judged with them,
        or as it is once none come.
        """
        framing, message = framed[1:]
        if framing is Framing.FRAMES or self._arbiter.framing is not None or isinstance(message, DroppedFrame):
            return False
        return self.waiting.hold(framed, fed)

    def in_untaken_frame(self, framed: Framed) -> bool:
        """Whether a bare APDU of the latest chunk, at a stream's start, lies in a frame that no framer took."""
        position, framing, message = framed
        if framing is Framing.FRAMES or self._arbiter.framing is not None:
            return False
        return self.recent.lie_in_a_frame(position, len(message.raw))


class HdlcOwnership:
    """Which HDLC frames own their bytes: those of the stream's own, whole or still arriving, passed or failed.

    A header has a check of its own, but only 16 bits: noise, or a chance
    header in a stream of other pushes, holds now and then, and says up to
    2 KB follow. A frame is taken for the stream's own where either of the
    last two pushes checked before it was an HDLC frame, or two did not come
    yet (and never in a stream known to be bare). Such a frame owns its bytes
    from its header on: what begins inside it is its content (a P1 telegram
    in a text register's octet-string, never a telegram), and once it fails
    its check, or is cut short, it is a damaged frame never read again. Any
    other header is a chance one that owns nothing but a frame whose check
    holds: what begins inside it is read at once. (One push of another
    format alone may be what a frame whose header was damaged handed over:
    it does not make the next frame a chance header.)
    """

    def __init__(self, arbiter: Arbiter) -> None:
        """Know nothing of the stream yet (the arbiter learns whether it is bare)."""
        self._arbiter = arbiter
        # Where the latest pushes that passed their checks began, and whether each was an HDLC frame.
        self._checked: list[tuple[int, bool]] = []

    def owning(
        self,
        checked: list[Claim],
        failed: list[Claim],
        p1: Sequence[tuple[int, P1Message | DroppedFrame]],
        mbus_checked: list[Claim],
        arriving: list[Claim],
    ) -> list[Claim]:
        """Return which HDLC frames that came whole in a read own their bytes, of those whose check held and failed.

        The read's P1 telegrams and M-Bus frames whose checksum held are
        noted as pushes of other formats, but those inside HDLC frames (come
        whole, of the stream's own still arriving, or claimed before): their
        content.
        """
        frames = [*checked, *failed, *arriving]
        others = (*(at for at, message in p1 if isinstance(message, P1Message)), *(at for at, _ in mbus_checked))
        for position, is_hdlc in (
            *((start, True) for start, _ in checked),
            *((start, False) for start in others if not within(start, frames) and not self._arbiter.claimed(start)),
        ):
            insort(self._checked, (position, is_hdlc))
        del self._checked[:-_CHECKED_KEPT]
        return [*checked, *(claim for claim in failed if self.streams_own(claim[0]))]

    def note_push(self, position: int) -> None:
        """Note a push of another format read at this stream position (a message transport's bare APDU)."""
        insort(self._checked, (position, False))
        del self._checked[:-_CHECKED_KEPT]

    def streams_own(self, start: int) -> bool:
        """Whether a frame begun at start is taken for the stream's own (see the class)."""
        if self._arbiter.framing in (Framing.NOTIFICATIONS, Framing.CIPHERED):
            return False
        before = bisect_left(self._checked, (start + 1,))  # a push noted where the frame begins came before it
        last = self._checked[max(0, before - _CHANCE_EVIDENCE) : before]
        return len(last) < _CHANCE_EVIDENCE or any(is_hdlc for _, is_hdlc in last)

    def of_the_stream(self, claims: list[Claim]) -> list[Claim]:
        """Return the frames still arriving that are the stream's own: theirs are the bytes they wait for."""
        return [claim for claim in claims if self.streams_own(claim[0])]


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
        self.start = StreamStart(self.arbiter)
        self._hdlc_owns = HdlcOwnership(self.arbiter)

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
        # HDLC frames of the stream's own once their header held (see HdlcOwnership), M-Bus frames once their
        # checksum did, a P1 telegram once its end is in.
        arbiter = self.arbiter
        hdlc_checked, hdlc_failed = self.hdlc.take_claims()
        mbus_checked, mbus_failed = self.mbus.take_claims()
        arriving = self._hdlc_owns.of_the_stream(self.hdlc.pending_claims()) if p1 or mbus_checked else []
        claims = {
            "hdlc": self._hdlc_owns.owning(hdlc_checked, hdlc_failed, p1, mbus_checked, arriving),
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
            # An HDLC frame of the stream's still arriving holds a P1 telegram's bytes already (M-Bus frames,
            # whose checksums tell them, are read at once).
            if not arbiter.carried(position, kind, arriving if kind == "p1" else ())
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
        messages = [*self.start.waiting.take(), *framed, *bare]
        if len(messages) > 1:
            messages.sort(key=lambda positioned: positioned[0])
        self.start.recent.keep(data, self.fed, messages, format_known=self.arbiter.framing is not None)
        return messages

    def judge_held(self) -> list[Framed]:
        """Return the bare APDUs held for the bytes after them, to be judged as they are: none come."""
        return self.start.waiting.let_go()

    def _owned(self, position: int, framing: Framing) -> bool:
        """Whether a bare APDU begins inside the bytes a frame owns (see HdlcOwnership): never read as bare.

        "68 L L 68" has no check of its own: an M-Bus frame that failed, or
        has yet to come, owns only the APDU where its own would begin, never
        a ciphered one (its tag proves its bytes) nor any in a bare stream.
        """
        if self.arbiter.claimed(position, self._hdlc_owns.of_the_stream(self.hdlc.pending_claims())):
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

    def flush(self) -> list[Framed]:
        """Return what waits for the bytes after it: none come.

        A bare APDU held for its frame's end (see held_for_frame_end), and the
        bare notification whose body is whole, held back for what the next
        bytes might begin.
        """
        whole = self.notifications.flush() if self.arbiter.reads_bare(self.p1.fed) else []
        return self.start.waiting.let_go(
            [
                (at, Framing.NOTIFICATIONS, message)
                for at, message in whole
                if not self._owned(at, Framing.NOTIFICATIONS)
            ]
        )

    def awaits(self, count: int) -> bool:
        """Whether an HDLC frame of the stream's own (no chance header) has begun and waits for count more bytes."""
        return self.hdlc.awaits(count) and self._hdlc_owns.streams_own(self.hdlc.pending_claims()[-1][0])

    def note_bare_push(self) -> None:
        """Note that a message transport's message was read as a bare APDU on its own, at the stream's end so far."""
        self._hdlc_owns.note_push(self.fed)

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
