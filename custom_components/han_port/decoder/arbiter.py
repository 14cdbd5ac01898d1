"""One owner for every byte: which framer reads which bytes, and what format a stream carries.

Every framer reads the bytes, as a stream's format is found, never
configured. Two rules keep one message from being read twice or a stream
from being silenced by one stranger:

- Bytes a framer with a check has claimed (an HDLC frame of the stream's
  own whose header held, see HdlcOwnership; an M-Bus frame whose checksum
  held; a P1 telegram begun and ended) are its own, whether an HDLC frame
  then passes its check or fails it: no bare APDU that begins inside them is
  read, so a frame damaged on the line is never read again as a bare APDU,
  nor another framer's frame or telegram that begins inside them: that is
  their content. An M-Bus header has no check of its own: a frame that
  fails owns only the APDU where its own begins (see Framers._owned).
- A stream's format is learned from the first message that proves itself
  (a frame's checksum; a bare APDU's whole decoding, or its ciphering header
  refused for the keys) and kept. Messages of another format are dropped
  with a reason until several in a row prove it, never changed by one.
  A stream known to carry frames is looked at for bare APDUs only while no
  frame comes, so its frames' bytes are not read twice.
"""

from __future__ import annotations

from bisect import bisect_left
from enum import StrEnum
from itertools import accumulate
from typing import TYPE_CHECKING

from .hdlc import FLAG as HDLC_FLAG
from .hdlc import is_frame_format
from .hdlc import length_field as hdlc_length_field
from .mbus import START as MBUS_START
from .mbus import STOP as MBUS_STOP

if TYPE_CHECKING:
    from collections.abc import Iterable

# How many proven messages of another format, in a row, show that the stream
# changed (a bridge set up anew): one is a stranger, a few are the stream.
FORMAT_CHANGE_EVIDENCE = 3
# A stream of frames is read for bare APDUs only once its frames have been
# quiet this long: longer than any HDLC frame (2 047 bytes), so no frame is
# still arriving, and short enough that a bridge set up anew is heard in a
# few pushes. Reading a frame's APDU twice would double the cost of its bytes.
FRAMES_QUIET_BYTES = 2048
# Proven messages after which a stream's format is settled: before, one bare
# APDU alone proved it, and a frame's checksum outweighs it.
_SETTLED = 2
# Claims are forgotten once no framer can still read their bytes; a flood of
# tiny frames keeps no more than this many all the same.
MAX_CLAIMS = 4096

# A frame's end after its information field: HDLC's two FCS bytes and flag, M-Bus's checksum and stop.
_HDLC_END = 3
_MBUS_END = 2
FRAME_END_BYTES = max(_HDLC_END, _MBUS_END)
"""The bytes after a bare APDU that tell whether it ends a frame's information field (see lies_in_a_frame)."""
# M-Bus long frame bytes beyond its L: the four header bytes, the checksum and the stop.
_MBUS_FRAMING = 6
# How far before a bare APDU a frame's header may stand: HDLC's format, addresses, control, HCS and LLC.
_HEADER_REACH = 16

type Claim = tuple[int, int]
"""Stream positions of the first byte a framer owns and of the byte after its last."""


class Framing(StrEnum):
    """The formats a stream may carry, as the arbiter tells them apart."""

    FRAMES = "frames with a checksum (HDLC, M-Bus or P1)"
    NOTIFICATIONS = "bare data-notifications"
    CIPHERED = "bare ciphered APDUs"


class Arbiter:
    """Decides which bytes each framer may read, and which format the stream is known to carry."""

    def __init__(self) -> None:
        """Start knowing nothing of the stream."""
        self.framing: Framing | None = None
        """The format the stream has proven to carry; None until a message proves one."""
        self._claims: list[Claim] = []
        self._owners: list[str] = []  # the framer each claim is of, at the same index
        # By framer, the other framers' claims by where they begin, and the furthest any of them up to each reaches:
        # what carried looks up, made once for all the messages of a chunk (None: claims changed since).
        self._others: dict[str, tuple[list[int], list[int]]] | None = None
        self._framed_to = 0  # where the last frame claimed ends
        # The other format proven in a row since the stream's own last proved itself, and how often.
        self._other: Framing | None = None
        self._other_in_a_row = 0
        self._proofs = 0  # messages that proved the stream's format, up to _SETTLED

    def claim(self, claims: Iterable[Claim], owner: str) -> None:
        """Record bytes that frames of one framer (owner) own."""
        self._others = None
        for claim in claims:
            self._claims.append(claim)
            self._owners.append(owner)
            self._framed_to = max(self._framed_to, claim[1])
        if len(self._claims) > MAX_CLAIMS:
            del self._claims[: len(self._claims) - MAX_CLAIMS]
            del self._owners[: len(self._owners) - MAX_CLAIMS]

    def reads_bare(self, fed: int) -> bool:
        """Whether bare APDUs are looked for in bytes up to fed: in a stream of frames, only once they fell quiet."""
        return self.framing is not Framing.FRAMES or fed - self._framed_to > FRAMES_QUIET_BYTES

    def forget_before(self, position: int) -> None:
        """Forget claims that end before position: no framer still holds bytes they cover."""
        self._others = None
        kept = [index for index, claim in enumerate(self._claims) if claim[1] > position]
        self._claims = [self._claims[index] for index in kept]
        self._owners = [self._owners[index] for index in kept]

    def claimed(self, position: int, pending: Iterable[Claim] = ()) -> bool:
        """Whether the byte at position belongs to a frame: one claimed before, or one waiting for its rest.

        A message that begins inside a frame is that frame's; one that only
        runs into a frame begun after it is not (a chance header inside a
        bare push must not take the push).
        """
        return within(position, (*self._claims, *pending))

    def overlapped(self, first: int, after: int, others: Iterable[Claim] = ()) -> bool:
        """Whether bytes from first to before after share any byte with a frame claimed before, or with others."""
        return any(start < after and first < end for start, end in (*self._claims, *others))

    def carried(self, position: int, owner: str, pending: Iterable[Claim] = ()) -> bool:
        """Whether a frame of owner begins inside another framer's frame (claimed, or pending): that frame's content."""
        if any(first < position < after for first, after in pending):
            return True
        starts, reaches = self._claims_of_others(owner)
        before = bisect_left(starts, position)  # the claims that begin before position
        return before > 0 and reaches[before - 1] > position

    def _claims_of_others(self, owner: str) -> tuple[list[int], list[int]]:
        """Other framers' claims than owner's, by where they begin, and the furthest end of each and those before it.

        A chunk of many small frames asks of each: read claim by claim, its cost grew with the square of the
        frames (up to MAX_CLAIMS claims each).
        """
        if self._others is None:
            self._others = {}
        found = self._others.get(owner)
        if found is None:
            others = sorted(claim for claim, other in zip(self._claims, self._owners, strict=True) if other != owner)
            found = self._others[owner] = (
                [first for first, _ in others],
                list(accumulate((after for _, after in others), max)),
            )
        return found

    def proven(self, framing: Framing, *, whole: bool = True, outweighs: bool = True, own: bool = False) -> bool:
        """Take a message that proved itself; return whether it is read as the stream's.

        The first proven message sets the format. A frame whose checksum holds
        outweighs one bare APDU alone before it (outweighs: for a bare ciphered
        one, a frame of the same meter's), which may have been a damaged
        frame's; a frame whose tag the bare ciphered stream's own meter made
        (own) outweighs any number of them. One of another format is a stranger,
        dropped by the caller; only FORMAT_CHANGE_EVIDENCE of them in a row,
        with none of the stream's own between, change it. A share of a message
        (a block that more blocks follow) is read as the stream's if its format
        is, and is no evidence otherwise: one push of seven blocks is one
        stranger, not seven.
        """
        if framing is self.framing:
            self._other, self._other_in_a_row = None, 0
            self._proofs = min(self._proofs + 1, _SETTLED)
            return True
        lone_bare = framing is Framing.FRAMES and whole and outweighs and self._proofs < _SETTLED
        own_frame = framing is Framing.FRAMES and whole and own and self.framing is Framing.CIPHERED
        if self.framing is None or lone_bare or own_frame:
            self.framing, self._other, self._other_in_a_row = framing, None, 0
            self._proofs = _SETTLED if framing is Framing.FRAMES else 1
            return True
        if not whole:
            return False
        if framing is self._other:
            self._other_in_a_row += 1
        else:
            self._other, self._other_in_a_row = framing, 1
        if self._other_in_a_row < FORMAT_CHANGE_EVIDENCE:
            return False
        self.framing, self._other, self._other_in_a_row, self._proofs = framing, None, 0, _SETTLED
        return True

    def stranger(self, what: str) -> str:
        """Say why a proven message (what it is) of another format was not read, after proven returned False."""
        return (
            f"{what} in a stream of {self.framing}: not read as the stream's "
            f"({self._other_in_a_row} of the {FORMAT_CHANGE_EVIDENCE} in a row that would change it)"
        )

    def hears(self, framing: Framing) -> bool:
        """Whether what a framer of this format drops is the stream's to report (a framer with a check's always is)."""
        return framing is Framing.FRAMES or self.framing in (None, framing)


def within(position: int, claims: Iterable[Claim]) -> bool:
    """Whether the byte at a stream position lies in any of these claims."""
    return any(first <= position < after for first, after in claims)


def lies_in_a_frame(window: bytes | bytearray, start: int, end: int) -> bool:
    """Whether a bare APDU lies in a frame that no framer took (window[start:end]): its header or check says so.

    A port opened, or a bridge joined, in the middle of a frame hands over
    its information field's rest with no header; a frame whose header was
    damaged hands over all of it. Either way no checksum covers it: the
    frame's check and end follow it, or a frame format's length (HDLC's,
    or either of M-Bus's two copies) ends the frame right after it.
    """
    after = window[max(end, 0) : end + 3]
    # A flag and a frame format right after it begin the next frame: no check and end of this one.
    next_frame = len(after) >= _HDLC_END - 1 and after[0] == HDLC_FLAG and is_frame_format(after[1])
    if (len(after) >= _HDLC_END and after[2] == HDLC_FLAG and not next_frame) or (
        len(after) >= _MBUS_END and after[1] == MBUS_STOP
    ):
        return True
    for at in range(max(start - _HEADER_REACH, 1), max(start - 1, 1)):
        hdlc_length = hdlc_length_field(window[at], window[at + 1])
        # A frame format, or the byte after an opening flag whose type bits were damaged, that measures the APDU.
        opens = is_frame_format(window[at]) or window[at - 1] == HDLC_FLAG
        if opens and at - 1 + hdlc_length + 2 == end + _HDLC_END:
            return True
        mbus_lengths = (window[at], window[at + 1])
        if any(at - 1 + length + _MBUS_FRAMING == end + _MBUS_END for length in mbus_lengths) and (
            window[at - 1] == MBUS_START or window[at + 2] == MBUS_START
        ):
            return True
    return False
