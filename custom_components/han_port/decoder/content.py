"""What checksum-valid messages carry: blocks joined, ciphering checked and opened, lists read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from .bare import NotificationMessage
from .blocks import BlockAssembler, parse_block
from .ciphering import Keys, SecurityPolicy
from .dlms import GENERAL_BLOCK_TRANSFER, parse_apdu, strip_llc
from .glo import GloMessage
from .hdlc import HdlcMessage
from .learned import ListLearner
from .lists import (
    DEVIATION_UNSAID_AS_ZERO,
    NO_JUDGEMENT,
    STANDARD_TIME_MAKERS,
    UnlistedPositionalListError,
    VendorList,
    maker_by_system_title,
    take_apart,
)
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
from .p1 import P1Framer, P1Message, parse_telegram
from .readings import STANDARD, interpret
from .registers import (
    implausible,
    interpretable,
    power_beyond_currents,
    weighed_together,
    weighs_powers,
    worked_out_beyond_bounds,
)
from .resolution import ResolutionLearner

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .dlms import Notification
    from .framers import FramedMessage
    from .model import Reading
    from .obis import ObisCode
    from .readings import Scaling

type Event = Telegram | DroppedFrame
"""What decoding a message gives: its telegram, or its drop with the reason."""

_BLOCK_TAG = bytes([GENERAL_BLOCK_TRANSFER])


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
# Messages whose checksum two bit flips can cancel: an M-Bus frame's is an 8-bit sum.
_WEAKLY_CHECKED = (*_UNCHECKED, MbusMessage)
# A ciphered APDU without a checksum (or a weak one) that proven keys fail to open is damage; this many in a row
# are the keys'.
_DAMAGED_IN_A_ROW = 3
# Telegrams in a row whose powers and currents contradict each other before the values they last stood by are
# no longer taken for the meter's: a load switching on between two samples explains one, never a run.
_CONTRADICTED_IN_A_ROW = 3


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
    manufacturer = vendor_list.manufacturer
    if manufacturer is None and notification.ciphering is not None:
        manufacturer = maker_by_system_title(notification.ciphering.system_title)
    timestamp = content.clock or notification.date_time
    if manufacturer in DEVIATION_UNSAID_AS_ZERO and timestamp is not None and not timestamp.utcoffset():
        timestamp = timestamp.replace(tzinfo=None)  # its 0 says no offset: the clock is local, as its maker keeps it
    readings: Mapping[ObisCode, Reading]
    readings, left_out = interpretable(content.readings)
    readings, resolution_proven, contradiction = _at_proven_resolution(
        readings, vendor_list.scaling, resolutions, meter_id, timestamp
    )
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
        standard_time=manufacturer in STANDARD_TIME_MAKERS and timestamp is not None and timestamp.tzinfo is None,
        checksummed=checked,
        resolution_proven=resolution_proven,
        contradiction=contradiction,
    )


def _at_proven_resolution(
    readings: Mapping[ObisCode, Reading],
    scaling: Scaling,
    resolutions: ResolutionLearner | None,
    meter: str | None,
    when: datetime | None,
) -> tuple[Mapping[ObisCode, Reading], bool, str | None]:
    """Return a list's readings at the resolution physics shows, whether it proved it, and why they contradict it.

    Values sent at a resolution guessed from the vendor's table prove nothing until physics proved it.
    """
    if scaling is STANDARD:
        return readings, True, None
    if resolutions is None:
        return readings, False, None
    readings = resolutions.apply(readings, scaling, meter, when)
    return readings, resolutions.proven(meter, scaling), resolutions.contradiction(meter, scaling)


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
            lists.judge(unlisted.refuted, None, checked=checked, meter=unlisted.meter)
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


def _undecoded_reason(err: DecodeError) -> DropReason:
    """Say why a message that passed its checks did not decode: a list still learned, an unphysical reading, or not."""
    if isinstance(err, ListNotLearnedError):
        return DropReason.LEARNING
    if isinstance(err, UnlistedPositionalListError) and err.refuted is not None:
        return DropReason.IMPLAUSIBLE
    return DropReason.UNDECODABLE


class ContentDecoder:
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
        # How many telegrams whose currents weighed their powers found them contradict each other, in a row.
        self._contradicted_in_a_row = 0

    def _join_blocks(self, message: DlmsMessage, position: int | None) -> DlmsMessage | None:
        """Add a block; return the joined APDU, carried as its blocks were, once the last is in."""
        joined = self.blocks.add(parse_block(strip_llc(message.information)), message.raw, position)
        return None if joined is None else type(message)(joined.apdu, joined.raw)

    def _refused(self, err: FrameRefusedError, message: DlmsMessage | P1Message) -> DroppedFrame:
        """Drop a refused frame; a ciphered APDU the proven keys fail to open, once in a while, was damaged.

        A bare APDU, in a stream or a message, has no checksum but its tag
        (or, encrypted only, its content), and an M-Bus frame's sum lets
        flips that cancel pass: once these keys opened this
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
            and isinstance(message, _WEAKLY_CHECKED)
            and self.policy.keys_proven
        ):
            self._rejected_in_a_row += 1
            if self._rejected_in_a_row < _DAMAGED_IN_A_ROW:
                detail = f"{err.failed}, though these keys opened this meter's APDUs before: damaged on the line"
                return DroppedFrame(DropReason.BAD_CHECKSUM, detail, message.raw, err.ciphering)
        return DroppedFrame(err.reason, str(err), message.raw, err.ciphering)

    def _counted_in_a_row(self, telegram: Telegram, sent: Telegram) -> Telegram:
        """Count a contradiction in a row: from the third, what it took out is left out as well (Telegram.left_out).

        One is most often a load that switched on between the meter's samples, and the values it last stood by
        are still its own, a moment old; a run is not. A telegram whose currents weighed its powers and carried
        them ends the run.
        """
        if telegram.contradiction is None:
            if telegram.resolution_proven and weighs_powers(telegram.readings):
                self._contradicted_in_a_row = 0
            return telegram
        self._contradicted_in_a_row += 1
        if self._contradicted_in_a_row < _CONTRADICTED_IN_A_ROW:
            return telegram
        return replace(telegram, left_out=(*telegram.left_out, *weighed_together(sent.readings)))

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
            judged = _judged_by_physics(telegram)
            if isinstance(judged, str):
                return DroppedFrame(DropReason.IMPLAUSIBLE, judged, message.raw, telegram.ciphering)
            # Only a frame that opened and made sense counts for the counters:
            # garbage from a wrong key must not raise the mark genuine frames must pass.
            if judged.ciphering is not None:
                self.policy.admit(judged.ciphering)
                self._rejected_in_a_row = 0
            telegram = self._counted_in_a_row(judged, telegram)
        except FrameRefusedError as err:
            return self._refused(err, message)
        except DecodeError as err:
            return DroppedFrame(_undecoded_reason(err), str(err), message.raw)
        return telegram


def _judged_by_physics(telegram: Telegram) -> Telegram | str:
    """Return the telegram as physics lets it be shown, or why it shows nothing."""
    if telegram.checksummed and telegram.carries_p1:
        telegram = _without_what_was_worked_out_beyond_bounds(telegram)
    reason = implausible(telegram.readings)
    if reason is not None:
        return reason
    contradiction = telegram.contradiction  # currents at odds with the resolution proven for them (see resolution)
    if contradiction is None and telegram.resolution_proven:
        contradiction = power_beyond_currents(telegram.readings)
    if contradiction is None:
        return telegram
    if not telegram.checksummed:
        return contradiction  # without a check, the sign of damage that may have struck the rest too
    # Nothing tells which of its powers, currents and voltages lies: all go, and the rest (an hourly list's totals)
    # stands. A run of them: see ContentDecoder._counted_in_a_row.
    return replace(
        telegram, readings=_readings_without(telegram, weighed_together(telegram.readings)), contradiction=contradiction
    )


def _without_what_was_worked_out_beyond_bounds(telegram: Telegram) -> Telegram:
    """Leave out of a P1 telegram whose CRC held the values its meter worked out beyond their bounds.

    A P1 line prints its number as the meter has it, decimal point and all: a power factor of 4.556 (E.ON
    Hungary's Sanxing) is the meter's own arithmetic, and says nothing of the values it measured. A DLMS list's
    may come at a scale guessed here (Kamstrup sends none, and a wrong one would spoil the currents learned
    from it), and an M-Bus byte sum can hide two errors: there, such a value drops its telegram.
    """
    odd = worked_out_beyond_bounds(telegram.readings)
    if not odd:
        return telegram
    return replace(telegram, readings=_readings_without(telegram, odd), left_out=(*telegram.left_out, *odd))


def _readings_without(telegram: Telegram, codes: tuple[ObisCode, ...]) -> dict[ObisCode, Reading]:
    """Return a telegram's readings but those of these codes."""
    return {obis: reading for obis, reading in telegram.readings.items() if obis not in codes}


def tag_holds(message: FramedMessage | DroppedFrame, keys: Keys) -> bool:
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
