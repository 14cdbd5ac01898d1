"""The decoder: bytes in, telegrams out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from .arbiter import Framing
from .bare import NotificationMessage
from .blocks import BlockAssembler, is_block_before_last, parse_block
from .ciphering import GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH, Keys, SecurityPolicy
from .dlms import GENERAL_BLOCK_TRANSFER, parse_apdu, strip_llc
from .framers import Framers, MessageJoiner
from .glo import GloMessage
from .hdlc import HdlcMessage
from .learned import LearnedListData, ListLearner
from .lists import NO_JUDGEMENT, UnlistedPositionalListError, VendorList, maker_by_system_title, take_apart
from .mbus import MbusMessage
from .model import (
    DecodeError,
    DroppedFrame,
    DropReason,
    FrameRefusedError,
    KeyProblemError,
    ListNotLearnedError,
    Telegram,
)
from .p1 import LINE_END, P1Framer, P1Message, parse_telegram
from .payload import MAX_MESSAGE_BYTES, describe, is_bare_apdu
from .readings import STANDARD, interpret
from .registers import implausible, interpretable
from .resolution import Decision, ResolutionLearner

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .dlms import Notification
    from .framers import Framed, FramedMessage
    from .model import Reading
    from .obis import ObisCode

type Event = Telegram | DroppedFrame

_BLOCK_TAG = bytes([GENERAL_BLOCK_TRANSFER])
_GLO_TAG = bytes([GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH])
# Codes of values left out that the decoder names in its counts: far more than any meter's list holds.
MAX_LEFT_OUT_CODES = 64
# An unrecognised message is kept in its drop this far: enough to tell what sent it.
MAX_SHOWN_BYTES = 256


@dataclass(frozen=True, slots=True)
class ApduMessage:
    """A bare APDU (or LLC PDU) that came without any framing: a message transport's payload."""

    information: bytes
    raw: bytes


type DlmsMessage = HdlcMessage | MbusMessage | ApduMessage | GloMessage | NotificationMessage
_FORMATS: dict[type[DlmsMessage], Literal["hdlc", "mbus", "apdu"]] = {
    HdlcMessage: "hdlc",
    MbusMessage: "mbus",
    ApduMessage: "apdu",
    GloMessage: "apdu",
    NotificationMessage: "apdu",
}
# Messages whose bytes no checksum proved: only a ciphered APDU's tag (or content) says they came whole.
_UNCHECKED = (GloMessage, ApduMessage)
# Messages that came with no envelope at all, and so no checksum.
_BARE = (*_UNCHECKED, NotificationMessage)
# What each message is, said when one of another format than the stream's is dropped.
_KINDS: dict[type[DlmsMessage | P1Message], str] = {
    HdlcMessage: "an HDLC frame",
    MbusMessage: "an M-Bus message",
    P1Message: "a P1 telegram",
    ApduMessage: "a bare APDU",
    GloMessage: "a bare ciphered APDU",
    NotificationMessage: "a bare data-notification",
}
# A bare ciphered APDU refused for these reasons had a ciphering header that held.
_KEY_REFUSALS = frozenset({DropReason.KEY_MISSING, DropReason.KEY_REJECTED, DropReason.REPLAYED})
# A ciphered APDU without a checksum that proven keys fail to open is damage; this many in a row are the keys'.
_DAMAGED_IN_A_ROW = 3


def decode_dlms_message(
    message: DlmsMessage,
    keys: Keys,
    resolutions: ResolutionLearner | None = None,
    policy: SecurityPolicy | None = None,
    lists: ListLearner | None = None,
) -> Telegram:
    """Turn one checksum-valid DLMS message (HDLC, M-Bus, or a bare APDU) into a telegram.

    With a resolution learner, values sent without a scaler
    take the resolution their physics shows; with a list learner, lists of
    bare values no table knows are shown once their physics proves them.
    Raises KeyProblemError when ciphering fails and DecodeError when the
    content does not decode (or its list is not yet learned).
    """
    notification = parse_apdu(strip_llc(message.information), keys, policy)
    if policy is not None and notification.ciphering is not None:
        policy.refuse_stale(notification.ciphering)
    if notification.carries_p1:
        return _ciphered_p1(notification, message)
    # The whole body decoded, to the byte: the key, if any, was right;
    # a list we cannot take apart is undecodable, never a key problem.
    # A bare APDU came with no checksum: only a GCM tag proves its bytes.
    checked = not isinstance(message, _BARE) or (
        notification.ciphering is not None and notification.ciphering.authenticated
    )
    vendor_list = _take_apart(notification, lists, checked=checked)
    content = interpret(vendor_list.entries, vendor_list.scaling)
    meter_id = content.identification.get("meter_id")
    timestamp = content.clock or notification.date_time
    readings: Mapping[ObisCode, Reading]
    readings, left_out = interpretable(content.readings)
    if resolutions is not None and vendor_list.scaling is not STANDARD:
        readings = resolutions.apply(readings, vendor_list.scaling, meter_id, timestamp)
    manufacturer = vendor_list.manufacturer
    if manufacturer is None and notification.ciphering is not None:
        manufacturer = maker_by_system_title(notification.ciphering.system_title)
    return Telegram(
        format=_FORMATS[type(message)],
        manufacturer=manufacturer,
        list_version=vendor_list.list_version,
        meter_id=meter_id,
        meter_type=content.identification.get("meter_type") or vendor_list.model,
        timestamp=timestamp,
        readings=readings,
        raw=message.raw,
        ciphering=notification.ciphering,
        plaintext=notification.plaintext,
        logical_device_name=content.identification.get("logical_device_name"),
        left_out=left_out,
        checksummed=checked,
    )


def _take_apart(notification: Notification, lists: ListLearner | None, *, checked: bool) -> VendorList:
    """Take the body's list apart by the tables, or, for bare values no table knows, by what is learned of them.

    checked: a checksum or tag proved the notification's bytes, so what physics refutes is no damage.
    """
    try:
        ciphering = notification.ciphering
        maker = maker_by_system_title(ciphering.system_title) if ciphering is not None else None
        judged = lists.judgement if lists is not None else NO_JUDGEMENT
        vendor_list = take_apart(notification.decode_body(), judged, maker)
    except UnlistedPositionalListError as unlisted:
        if lists is None:
            raise
        if unlisted.refuted is not None:
            lists.judge(unlisted.refuted, None, checked=checked)
            if unlisted.refuted not in lists.distrusted:
                raise  # one telegram its table cannot read: dropped alone, the next read by the table again
        return lists.take_apart(unlisted.items, notification.date_time)
    if lists is not None and vendor_list.table is not None:
        lists.judge(vendor_list.table.layout, vendor_list.table, checked=checked)
    return vendor_list


def _ciphered_p1(notification: Notification, message: DlmsMessage) -> Telegram:
    """Read the P1 telegram a ciphered APDU held; its own CRC must hold too."""
    assert notification.plaintext is not None  # noqa: S101 - carries_p1 says so
    framed = P1Framer().feed(notification.plaintext)
    text = next((event for event in framed if isinstance(event, P1Message)), None)
    if text is None:
        msg = "the ciphered P1 telegram fails its CRC" if framed else "the ciphered P1 telegram is incomplete"
        # Without a tag, nonsense after deciphering says the key is wrong.
        raise notification.content_error(DecodeError(msg))
    telegram = parse_telegram(text)
    return replace(
        telegram,
        format=_FORMATS[type(message)],
        raw=message.raw,
        ciphering=notification.ciphering,
        plaintext=notification.plaintext,
    )


def _proves(event: Event | None) -> bool:
    """Whether a bare APDU proved itself: it decoded whole.

    Not a ciphered one the keys refused: the APDU of a damaged frame, read
    bare, is refused too, and would make a stream of frames look bare.
    """
    return isinstance(event, Telegram)


def _undecoded_reason(err: DecodeError) -> DropReason:
    """Say why a message that passed its checks did not decode: a list still learned, an unphysical reading, or not."""
    if isinstance(err, ListNotLearnedError):
        return DropReason.LEARNING
    if isinstance(err, UnlistedPositionalListError) and err.refuted is not None:
        return DropReason.IMPLAUSIBLE
    return DropReason.UNDECODABLE


class _ContentDecoder:
    """Decodes what checksum-valid messages carry: blocks joined, ciphering checked and opened, lists read."""

    def __init__(self, keys: Keys) -> None:
        """Decode with these keys: refusing, by the policy they set, frames that fall short of them."""
        self.keys = keys
        self.policy = SecurityPolicy(keys)
        self.blocks = BlockAssembler()
        self.resolutions = ResolutionLearner()
        self.lists = ListLearner()
        # How many bare ciphered APDUs the keys, once proven, failed to open in a row (see _refused).
        self._rejected_in_a_row = 0

    def _join_blocks(self, message: DlmsMessage, position: int | None) -> DlmsMessage | None:
        """Add a block; return the joined APDU, carried as its blocks were, once the last is in."""
        joined = self.blocks.add(parse_block(strip_llc(message.information)), message.raw, position)
        return None if joined is None else type(message)(joined.apdu, joined.raw)

    def _refused(self, err: FrameRefusedError, message: DlmsMessage | P1Message) -> DroppedFrame:
        """Drop a refused frame; a ciphered APDU the proven keys fail to open, once in a while, was damaged.

        A bare APDU, in a stream or a message, has no checksum but its tag
        (or, encrypted only, its content): once these keys opened this
        meter's frames, a lone failure is the line's, and only failures in a
        row are the keys'. So for every security suite: both keys, the
        encryption key alone, or it with the published P1 authentication key.
        """
        if (
            isinstance(err, KeyProblemError)
            and err.failed is not None
            and isinstance(message, GloMessage)
            and message.amid_frames
        ):
            detail = f"{err.failed}, in bytes that frames carried: a damaged frame's, on the line"
            return DroppedFrame(DropReason.BAD_CHECKSUM, detail, message.raw, err.ciphering)
        if (
            isinstance(err, KeyProblemError)
            and err.failed is not None
            and isinstance(message, _UNCHECKED)
            and self.policy.keys_proven
        ):
            self._rejected_in_a_row += 1
            if self._rejected_in_a_row < _DAMAGED_IN_A_ROW:
                detail = f"{err.failed}, though these keys opened this meter's APDUs before: damaged on the line"
                return DroppedFrame(DropReason.BAD_CHECKSUM, detail, message.raw, err.ciphering)
        return DroppedFrame(err.reason, str(err), message.raw, err.ciphering)

    def decode(self, message: DlmsMessage | P1Message, position: int | None = None) -> Event | None:
        """Decode a checksum-valid message; drop it if it does not decode, is impossible or is refused.

        None for a block of a general-block-transfer that is not the last:
        the APDU it belongs to is decoded with its last block.
        """
        try:
            if not isinstance(message, P1Message) and strip_llc(message.information)[:1] == _BLOCK_TAG:
                joined = self._join_blocks(message, position)
                if joined is None:
                    return None
                message = joined
            else:
                self.blocks.other_message(position, len(message.raw))
            if not isinstance(message, P1Message):
                telegram = decode_dlms_message(message, self.keys, self.resolutions, self.policy, self.lists)
            else:
                if self.policy.requires_ciphering:
                    self.policy.check(None)
                telegram = parse_telegram(message)
            reason = implausible(telegram.readings)
            if reason is not None:
                return DroppedFrame(DropReason.IMPLAUSIBLE, reason, message.raw, telegram.ciphering)
            # Only a frame that opened and made sense counts for the counters:
            # garbage from a wrong key must not raise the mark genuine frames must pass.
            if telegram.ciphering is not None:
                self.policy.admit(telegram.ciphering)
                self._rejected_in_a_row = 0
        except FrameRefusedError as err:
            return self._refused(err, message)
        except DecodeError as err:
            return DroppedFrame(_undecoded_reason(err), str(err), message.raw)
        return telegram


def _tag_holds(message: FramedMessage | DroppedFrame, keys: Keys) -> bool:
    """Whether a message's ciphered APDU carries a GCM tag that holds: only its meter, with its keys, made its bytes.

    Checked without keeping anything (no replay counter moves): the message is decoded again if read.
    """
    if isinstance(message, P1Message | DroppedFrame):
        return False
    try:
        telegram = decode_dlms_message(message, keys)
    except (FrameRefusedError, DecodeError):
        return False
    return telegram.ciphering is not None and telegram.ciphering.authenticated


def _outweighs_bare(message: DlmsMessage | P1Message, framing: Framing | None, bare_title: bytes) -> bool:
    """Whether a frame may outweigh one bare APDU alone before it: a ciphered one only with its meter's own frame.

    A tag proves a bare ciphered APDU's bytes; it may still be a frame's
    whose header was lost, and then the frames after it are the same
    meter's: ciphered, with its system title (bare_title). Another device's
    frame is a stranger.
    """
    if framing is not Framing.CIPHERED:
        return True
    if isinstance(message, P1Message):
        return False
    information = strip_llc(message.information)
    return information[:2] == _GLO_TAG and information[2 : 2 + len(bare_title)] == bare_title


def _unrecognised(payload: bytes, what: str) -> DroppedFrame:
    detail = f"not a frame, APDU or telegram: {what}"
    return DroppedFrame(DropReason.UNRECOGNISED, detail, payload[:MAX_SHOWN_BYTES])


class Decoder:
    """Incremental decoder for a meter's HAN port: HDLC/DLMS and P1 alike.

    Feed it bytes as they arrive, in chunks of any size; every telegram is
    returned by the call that delivers its last byte, in stream order. Damaged,
    implausible and refused frames are dropped, counted by reason, and never
    stop the next good frame; no input makes it raise. A message transport's
    payloads (MQTT) go to feed_message, one message a call.
    """

    def __init__(self, key: bytes | None = None, auth_key: bytes | None = None) -> None:
        """Create a decoder; keys are needed only for ciphered (Danish) meters."""
        self._content = _ContentDecoder(Keys(key, auth_key))
        self._framers = Framers()
        self._messages = MessageJoiner(self._framers)
        # The system title of the bare ciphered APDU that proved the stream's format.
        self._bare_title = b""
        self.telegrams = 0
        """Telegrams decoded so far."""
        self.dropped: Counter[DropReason] = Counter()
        """Frames dropped so far, by reason."""
        self.left_out: Counter[ObisCode] = Counter()
        """Values left out of telegrams so far, by code: codes whose meaning nothing here interprets.

        At most MAX_LEFT_OUT_CODES codes are named; values of any further code are not counted (a
        meter sends a fixed list, and a stream of ever-new codes is hostile)."""

    @property
    def noise_bytes(self) -> int:
        """Bytes that belonged to no checksum-valid frame of either format."""
        return self._framers.noise_bytes

    @property
    def resolutions(self) -> list[Decision]:
        """What physics decided of the resolution of values sent without a scaler, and why."""
        return self._content.resolutions.decisions

    @property
    def learned_lists(self) -> list[LearnedListData]:
        """What physics proved of lists no table knows, per meter and list shape, with the evidence.

        Plain data: keep it to show those lists from the first telegram after a restart.
        """
        return self._content.lists.learned

    @property
    def refuted_tables(self) -> list[str]:
        """The makers whose table's reading of this meter's lists physics refuted: those lists are learned instead."""
        return sorted(layout.manufacturer for layout in self._content.lists.distrusted)

    def restore_learned_lists(self, data: Iterable[Mapping[str, object]]) -> None:
        """Take back learned lists kept from before; entries that do not hold together are left out."""
        self._content.lists.restore(data)

    @property
    def replay_counters(self) -> dict[bytes, int]:
        """The highest invocation counter admitted, by system title: keep them to refuse replays after a restart."""
        return self._content.policy.counters

    @property
    def keys_fingerprint(self) -> str:
        """A digest that tells the decoder's keys from others and says nothing of them: keep it with the counters."""
        return self._content.keys.fingerprint

    def restore_replay_counters(self, counters: Mapping[bytes, int], kept_under: str | None = None) -> None:
        """Take back replay counters kept from before: a frame captured earlier stays refused.

        kept_under is the keys_fingerprint they were kept with. Counters kept under other keys are not taken:
        a meter given new keys (a reauth) counts again from 1, and frames of the old keys open under none.
        """
        if kept_under in (None, self.keys_fingerprint):
            self._content.policy.restore_counters(counters)

    def feed(self, data: bytes) -> list[Telegram]:
        """Add bytes from the meter; return the telegrams they complete."""
        return [event for event in self.feed_events(data) if isinstance(event, Telegram)]

    def feed_events(self, data: bytes) -> list[Event]:
        """Add bytes; return completed telegrams and dropped frames, in stream order."""
        return [event for framed in self._framers.frame(data) if (event := self._take(framed)) is not None]

    def _take(self, framed: Framed) -> Event | None:
        """Decode, or drop, what a framer found; None for a block of a longer APDU (its event comes with the last)."""
        if self._framers.in_untaken_frame(framed):
            ciphered = framed[2]
            if isinstance(ciphered, GloMessage) and _tag_holds(ciphered, self._content.keys):
                # Its tag proves its bytes, not the stream's format: it may be a frame's whose header was lost.
                proven = self._content.decode(ciphered)
                return None if proven is None else self._counted(proven)
            detail = "inside a frame whose header or check failed: no checksum of it held"
            return self._counted(DroppedFrame(DropReason.UNRECOGNISED, detail, framed[2].raw))
        event = self._arbitrate(*framed)
        return None if event is None else self._counted(event)

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
            outweighs = _outweighs_bare(message, arbiter.framing, self._bare_title)
            # The bare ciphered stream's meter sending frames: its bare pushes were frames whose headers were lost.
            own = outweighs and arbiter.framing is Framing.CIPHERED and _tag_holds(message, self._content.keys)
            if arbiter.proven(framing, whole=whole, outweighs=outweighs, own=own):
                return self._content.decode(message, position)
            return DroppedFrame(DropReason.UNRECOGNISED, arbiter.stranger(_KINDS[type(message)]), message.raw)
        # A bare APDU has no checksum: only its decoding proves it.
        event = self._content.decode(message)
        if arbiter.framing in (None, framing):
            if _proves(event):
                arbiter.proven(framing)
                if isinstance(message, NotificationMessage):
                    self._framers.notifications.proven(message)
                if isinstance(event, Telegram) and event.ciphering is not None:
                    self._bare_title = event.ciphering.system_title
            return event
        if not isinstance(event, Telegram):
            return None  # a chance pattern in the bytes of the stream's own format
        return (
            event
            if arbiter.proven(framing)
            else DroppedFrame(DropReason.UNRECOGNISED, arbiter.stranger(_KINDS[type(message)]), message.raw)
        )

    def quiet(self) -> list[Event]:
        """Say the line fell quiet (pushes come seconds apart, their bytes without a pause); return what it ends.

        A bare push held back as its last bytes might begin the next is read,
        and a P1 telegram that came up to its '!' (and a short CRC, or none)
        ends there: its line end was lost, or a message transport stripped
        it. All else begun goes on.
        """
        events = [event for framed in self._framers.flush() if (event := self._take(framed)) is not None]
        if self._framers.p1.awaits_line_end:
            events += self.feed_events(LINE_END)
        return events

    def finish(self) -> list[Event]:
        """End the input (a capture's end, a connection lost); return what it held back, and a drop for what it began.

        A bare push whose body was whole, held back only as its last bytes
        might have begun the next, is read. A capture, or a connection, cut
        inside a frame, or holding nothing any framer reads, says so rather
        than ending in silence; what it began is let go, and the bytes fed
        next begin anew.
        """
        events = self.quiet()
        framers = [*self._framers.unfinished(), self._content.blocks.unfinished()]
        begun = next((what for what in framers if what is not None), None)
        fed = self._framers.fed
        self._messages.end()
        # The next connection's blocks belong to a later push: never the rest of this one's.
        self._content.blocks.end()
        if begun is not None:
            drop = DroppedFrame(DropReason.UNDECODABLE, f"the input ends inside {begun}", b"")
        elif fed and not self.telegrams and not self.dropped:
            drop = DroppedFrame(DropReason.UNRECOGNISED, f"no frame, APDU or telegram in {fed} bytes", b"")
        else:
            return events
        return [*events, self._counted(drop)]

    @property
    def awaits_rest(self) -> bool:
        """Whether the messages fed so far began a frame or telegram that waits for its rest in the next one."""
        return self._messages.awaits_rest

    def feed_message(self, payload: bytes) -> list[Event]:
        """Decode one message of a message transport (an MQTT payload); return its events.

        The payload may hold HDLC frames (one, several, or the part of one
        whose rest comes in the next messages), a bare APDU or LLC PDU, a P1
        telegram, or any of these as hex text: the shape is found, never
        configured. A message that holds none of them is dropped as
        unrecognised, with what it looked like.
        """
        if len(payload) > MAX_MESSAGE_BYTES:
            too_long = f"{len(payload)} bytes: longer than any meter's message"
            return [self._counted(_unrecognised(payload, too_long))]
        # A reader that strips the line end after a telegram's '!' (and a CRC sent without its leading zeros,
        # or none) leaves the telegram waiting for it: a message that is not its CRC or line end ends it (the
        # next telegram, a reader's status), or would run on into it. Not the message's own end: a telegram
        # split over messages may be cut right after its '!'. The quiet after the last does too (see quiet).
        ended: list[Event] = []
        if self._messages.ends_p1_telegram(payload):
            ended = self.feed_events(LINE_END)
            self._messages.after_read(self._framers.fed)
        data = self._messages.joined(payload)
        # The middle of a frame begun in an earlier message may look like a whole APDU: the frame's
        # header claimed those bytes, so they are its own while they fit in what it still waits for.
        if is_bare_apdu(data) and not self._framers.hdlc.awaits(len(data)):
            event = self._content.decode(ApduMessage(data, data))
            # Were a frame begun in an earlier message, an APDU that decodes
            # on its own says that frame was cut: it ends here.
            if isinstance(event, Telegram) or event is None or not self._messages.mid_frame:
                self._messages.end()
                return ended if event is None else [*ended, self._counted(event)]
        message_start = self._framers.fed + len(data) - len(data.lstrip())
        events = [*ended, *self.feed_events(data)]
        self._messages.after_read(message_start)
        if not events and not self._messages.mid_frame:
            what = describe(data) if data is payload else f"hex text of {describe(data)}"
            events.append(self._counted(_unrecognised(payload, what)))
        return events

    def _counted(self, event: Event) -> Event:
        if isinstance(event, Telegram):
            self.telegrams += 1
            self.left_out.update(
                code for code in event.left_out if code in self.left_out or len(self.left_out) < MAX_LEFT_OUT_CODES
            )
        else:
            self.dropped[event.reason] += 1
        return event
