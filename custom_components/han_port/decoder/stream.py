"""The stream's messages read as its format says: what each framer found is decoded, dropped, or passed over."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arbiter import Framing
from .bare import NotificationMessage
from .blocks import is_block_before_last
from .ciphering import GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH
from .content import ApduMessage, ContentDecoder, DlmsMessage, Event, tag_holds
from .dlms import strip_llc
from .glo import GloMessage
from .hdlc import HdlcMessage
from .mbus import MbusMessage
from .model import DroppedFrame, DropReason, Telegram
from .p1 import P1Message

if TYPE_CHECKING:
    from .framers import Framed, FramedMessage, Framers

_GLO_TAG = bytes([GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH])
# What each message is, said when one of another format than the stream's is dropped.
_KINDS: dict[type[DlmsMessage | P1Message], str] = {
    HdlcMessage: "an HDLC frame",
    MbusMessage: "an M-Bus message",
    P1Message: "a P1 telegram",
    ApduMessage: "a bare APDU",
    GloMessage: "a bare ciphered APDU",
    NotificationMessage: "a bare data-notification",
}


class FramedMessageReader:
    """Reads what the framers find in one stream as the stream's own (decoded), a stranger's, or no message at all."""

    def __init__(self, framers: Framers, content: ContentDecoder) -> None:
        """Read what these framers find, and decode what is the stream's with this content decoder."""
        self._framers = framers
        self._content = content
        # The system title of the bare ciphered APDU that proved the stream's format.
        self._bare_title = b""

    def take(self, framed: Framed) -> Event | None:
        """Decode, or drop, what a framer found.

        None for a block of a longer APDU (its event comes with the last), a
        drop in a format the stream does not carry, a chance pattern in the
        bytes of the stream's own format, and a bare APDU held for the bytes
        after it.
        """
        if self._framers.start.held_for_frame_end(framed, self._framers.fed):
            return None
        if self._framers.start.in_untaken_frame(framed):
            ciphered = framed[2]
            if isinstance(ciphered, GloMessage) and tag_holds(ciphered, self._content.keys):
                # Its tag proves its bytes, not the stream's format: it may be a frame's whose header was lost.
                return self._content.decode(ciphered)
            detail = "inside a frame whose header or check failed: no checksum of it held"
            return DroppedFrame(DropReason.UNRECOGNISED, detail, framed[2].raw)
        return self._arbitrate(*framed)

    def _arbitrate(self, position: int, framing: Framing, message: FramedMessage | DroppedFrame) -> Event | None:
        """Read a message as the stream's, drop it as a stranger's, or pass over a chance pattern in another's bytes."""
        arbiter = self._framers.arbiter
        if isinstance(message, DroppedFrame):
            if framing is Framing.FRAMES and message.reason is DropReason.BAD_CHECKSUM:
                # The frame that failed may have carried the next block: what came before it is no half.
                self._content.blocks.damaged_frame()
            return message if arbiter.hears(framing) else None
        if framing is Framing.FRAMES:
            # Its checksum proved it: what it carries is decoded only if it is the stream's.
            whole = isinstance(message, P1Message) or not is_block_before_last(strip_llc(message.information))
            outweighs = self._outweighs_bare(message, arbiter.framing)
            # The bare ciphered stream's meter sending frames: its bare pushes were frames whose headers were lost.
            own = outweighs and arbiter.framing is Framing.CIPHERED and tag_holds(message, self._content.keys)
            if arbiter.proven(framing, whole=whole, outweighs=outweighs, own=own):
                return self._content.decode(message, position)
            return DroppedFrame(DropReason.UNRECOGNISED, arbiter.stranger(_KINDS[type(message)]), message.raw)
        # A bare APDU has no checksum: only its decoding proves it, whole (not a ciphered one the keys
        # refused: the APDU of a damaged frame, read bare, is refused too, and would make frames look bare).
        event = self._content.decode(message)
        if arbiter.framing in (None, framing):
            if isinstance(event, Telegram):
                arbiter.proven(framing)
                if isinstance(message, NotificationMessage):
                    self._framers.notifications.proven(message)
                if event.ciphering is not None:
                    self._bare_title = event.ciphering.system_title
            return event
        if not isinstance(event, Telegram):
            return None  # a chance pattern in the bytes of the stream's own format
        return (
            event
            if arbiter.proven(framing)
            else DroppedFrame(DropReason.UNRECOGNISED, arbiter.stranger(_KINDS[type(message)]), message.raw)
        )

    def _outweighs_bare(self, message: DlmsMessage | P1Message, framing: Framing | None) -> bool:
        """Whether a frame may outweigh one bare APDU alone before it: a ciphered one only with its meter's own frame.

        A tag proves a bare ciphered APDU's bytes; it may still be a frame's
        whose header was lost, and then the frames after it are the same
        meter's: ciphered, with its system title. Another device's frame is a
        stranger.
        """
        if framing is not Framing.CIPHERED:
            return True
        if isinstance(message, P1Message):
            return False
        information = strip_llc(message.information)
        title = self._bare_title
        return information[:2] == _GLO_TAG and information[2 : 2 + len(title)] == title
