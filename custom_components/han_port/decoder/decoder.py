"""The decoder: bytes in, telegrams out."""

from __future__ import annotations

from collections import Counter

from .ciphering import Keys
from .dlms import parse_apdu, strip_llc
from .hdlc import HdlcFramer, HdlcMessage
from .layout import LayoutCache
from .lists import take_apart
from .model import DecodeError, DroppedFrame, DropReason, KeyProblemError, Telegram
from .p1 import P1Framer, P1Message, parse_telegram
from .readings import interpret

type Event = Telegram | DroppedFrame


def decode_hdlc_message(message: HdlcMessage, keys: Keys, layouts: LayoutCache | None = None) -> Telegram:
    """Turn one checksum-valid HDLC message into a telegram.

    With a layouts cache, lists seen before are read by their layout and new
    ones are learned. Raises KeyProblemError when ciphering fails and
    DecodeError when the content does not decode.
    """
    notification = parse_apdu(strip_llc(message.information), keys)
    known = layouts.read(notification.body) if layouts is not None else None
    if known is not None:
        vendor_list, content = known
    else:
        tree = notification.decode_body()
        try:
            vendor_list = take_apart(tree)
        except DecodeError as err:
            raise notification.content_error(err) from err
        content = interpret(vendor_list.entries, vendor_list.scaling)
        if layouts is not None:
            layouts.learn(notification.body, tree, vendor_list, content)
    return Telegram(
        format="hdlc",
        manufacturer=vendor_list.manufacturer,
        list_version=vendor_list.list_version,
        meter_id=content.identification.get("meter_id"),
        meter_type=content.identification.get("meter_type"),
        timestamp=content.clock or notification.date_time,
        readings=content.readings,
        raw=message.raw,
        encrypted=notification.ciphering is not None,
    )


class Decoder:
    """Incremental decoder for a meter's HAN port: HDLC/DLMS and P1 alike.

    Feed it bytes as they arrive, in chunks of any size; every telegram is
    returned by the call that delivers its last byte. Damaged frames are
    dropped, counted by reason, and never stop the next good frame.
    """

    def __init__(self, key: bytes | None = None, auth_key: bytes | None = None) -> None:
        """Create a decoder; keys are needed only for ciphered (Danish) meters."""
        self._keys = Keys(key, auth_key)
        self._hdlc = HdlcFramer()
        self._p1 = P1Framer()
        self._layouts = LayoutCache()
        self.telegrams = 0
        """Telegrams decoded so far."""
        self.dropped: Counter[DropReason] = Counter()
        """Frames dropped so far, by reason."""

    @property
    def noise_bytes(self) -> int:
        """Bytes that belonged to no checksum-valid frame of either format."""
        return min(self._hdlc.noise_bytes, self._p1.noise_bytes)

    def feed(self, data: bytes) -> list[Telegram]:
        """Add bytes from the meter; return the telegrams they complete."""
        return [event for event in self.feed_events(data) if isinstance(event, Telegram)]

    def feed_events(self, data: bytes) -> list[Event]:
        """Add bytes; return completed telegrams and dropped frames, in order."""
        events: list[Event] = [
            self._decode_hdlc(message) if isinstance(message, HdlcMessage) else message
            for message in self._hdlc.feed(data)
        ]
        events.extend(
            self._decode_p1(message) if isinstance(message, P1Message) else message for message in self._p1.feed(data)
        )
        for event in events:
            if isinstance(event, Telegram):
                self.telegrams += 1
            else:
                self.dropped[event.reason] += 1
        return events

    def _decode_hdlc(self, message: HdlcMessage) -> Event:
        try:
            return decode_hdlc_message(message, self._keys, self._layouts)
        except KeyProblemError as err:
            return DroppedFrame(err.reason, str(err), message.raw, err.ciphering)
        except DecodeError as err:
            return DroppedFrame(DropReason.UNDECODABLE, str(err), message.raw)

    @staticmethod
    def _decode_p1(message: P1Message) -> Event:
        try:
            return parse_telegram(message)
        except DecodeError as err:
            return DroppedFrame(DropReason.UNDECODABLE, str(err), message.raw)
