"""The decoder: bytes in, telegrams out."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .ciphering import Keys
from .content import ApduMessage, ContentDecoder, Event
from .framers import Framers, MessageJoiner
from .model import DroppedFrame, DropReason, Telegram
from .p1 import LINE_END
from .payload import MAX_MESSAGE_BYTES, describe, is_bare_apdu
from .stream import FramedMessageReader

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .framers import Framed
    from .learned_positions import LearnedListData
    from .obis import ObisCode
    from .resolution import Decision

# Codes of values left out that the decoder names in its counts: far more than any meter's list holds.
MAX_LEFT_OUT_CODES = 64
# An unrecognised message is kept in its drop this far: enough to tell what sent it.
MAX_SHOWN_BYTES = 256


def _unrecognised(payload: bytes, what: str) -> DroppedFrame:
    detail = f"not a frame, APDU or telegram: {what}"
    return DroppedFrame(DropReason.UNRECOGNISED, detail, payload[:MAX_SHOWN_BYTES])


class Decoder:
    """Incremental decoder for a meter's HAN port: HDLC/DLMS and P1 alike.

    Feed it bytes as they arrive, in chunks of any size; every telegram is
    returned by the call that delivers its last byte, in stream order, but
    for a bare push that may end in the next bytes, or end a frame whose
    header was lost (see quiet). Damaged, implausible and refused frames
    are dropped, counted by reason, and never stop the next good frame; no
    input makes it raise. A message transport's payloads (MQTT) go to
    feed_message, one message a call.
    """

    def __init__(self, key: bytes | None = None, auth_key: bytes | None = None) -> None:
        """Create a decoder; keys are needed only for ciphered (Danish) meters."""
        self._content = ContentDecoder(Keys(key, auth_key))
        self._framers = Framers()
        self._stream = FramedMessageReader(self._framers, self._content)
        self._messages = MessageJoiner(self._framers)
        self.telegrams = 0
        """Telegrams decoded so far."""
        self.dropped: Counter[DropReason] = Counter()
        """Frames dropped so far, by reason."""
        self.left_out: Counter[ObisCode] = Counter()
        """Values left out of telegrams so far, by code: codes whose meaning nothing here interprets,
        values the meter worked out beyond their bounds, and powers, currents and voltages that contradicted
        each other telegrams in a row (see Telegram.left_out).

        At most MAX_LEFT_OUT_CODES codes are named; values of any further code are not counted (a
        meter sends a fixed list, and a stream of ever-new codes is hostile)."""
        self.contradicted = 0
        """Telegrams whose powers, currents and voltages contradicted each other, taken out (Telegram.contradiction)."""

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

    def restore_learned_lists(self, data: Iterable[Mapping[str, object]]) -> set[ObisCode]:
        """Take back learned lists kept from before; entries that do not hold together are left out.

        Return the codes the lists showed before that are learned anew.
        """
        return self._content.lists.restore(data)

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
        return self._events_of(self._framers.frame(data))

    def quiet(self) -> list[Event]:
        """Say the line fell quiet (pushes come seconds apart, their bytes without a pause); return what it ends.

        A bare push held back as its last bytes might begin the next is read,
        as is one at a stream's start held for the three bytes after it (a
        frame's check and end, had a frame's header been lost); and a P1
        telegram that came up to its '!' (and a short CRC, or none) ends
        there: its line end was lost, or a message transport stripped it.
        All else begun goes on.
        """
        events = self._events_of(self._framers.flush())
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
        # The middle of a frame begun in an earlier message may look like a whole APDU: a frame of the stream's
        # own (see HdlcOwnership) claimed those bytes, so they are its own while they fit in what it waits for.
        if is_bare_apdu(data) and not self._framers.awaits(len(data)):
            event = self._content.decode(ApduMessage(data, data))
            if isinstance(event, Telegram):
                self._framers.note_bare_push()
            # Were a frame begun in an earlier message, an APDU that decodes
            # on its own says that frame was cut: it ends here.
            if isinstance(event, Telegram) or event is None or not self._messages.mid_frame:
                self._messages.end()
                return ended if event is None else [*ended, self._counted(event)]
        message_start = self._framers.fed + len(data) - len(data.lstrip())
        # A message's end is no frame's: what was held for the bytes after it is judged without them.
        events = [*ended, *self.feed_events(data), *self._events_of(self._framers.judge_held())]
        self._messages.after_read(message_start)
        if not events and not self._messages.mid_frame:
            what = describe(data) if data is payload else f"hex text of {describe(data)}"
            events.append(self._counted(_unrecognised(payload, what)))
        return events

    def _events_of(self, found: list[Framed]) -> list[Event]:
        """Decode, or drop, what the framers found, and count it."""
        return [self._counted(event) for framed in found if (event := self._stream.take(framed)) is not None]

    def _counted(self, event: Event) -> Event:
        if isinstance(event, Telegram):
            self.telegrams += 1
            if event.contradiction is not None:
                self.contradicted += 1
            self.left_out.update(
                code for code in event.left_out if code in self.left_out or len(self.left_out) < MAX_LEFT_OUT_CODES
            )
        else:
            self.dropped[event.reason] += 1
        return event
