"""DLMS application layer: LLC header, data-notification, ciphering."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .axdr import OCTET_STRING, STRUCTURE, Data, decode_data
from .ciphering import GENERAL_GLO_CIPHERING, Keys, SecurityPolicy, decipher
from .cosem import DATE_TIME_LENGTH, parse_date_time
from .descriptors import DescriptorList, decode_descriptor_list
from .model import P1_OPENING, Ciphering, DecodeError, DropReason, KeyProblemError
from .obis import OBIS_LENGTH

if TYPE_CHECKING:
    from datetime import datetime

DATA_NOTIFICATION = 0x0F
GENERAL_BLOCK_TRANSFER = 0xE0
# The APDUs a meter pushes: a data-notification, ciphered or not, whole or in blocks.
PUSHED_APDUS = frozenset((DATA_NOTIFICATION, GENERAL_GLO_CIPHERING, GENERAL_BLOCK_TRANSFER))
# LLC: destination LSAP 0xE6, source LSAP 0xE7 (response) or 0xE6, quality 0.
LLC_HEADERS = (b"\xe6\xe7\x00", b"\xe6\xe6\x00")
INVOKE_ID_LENGTH = 4
# How a data-notification gives its date-time, after its invoke id: absent
# (00), as a bare 12-byte string (0C ...), or typed as an octet-string
# (09 0C ...); each marker, and how many bytes of date-time follow it.
DATE_TIME_MARKERS = (
    (b"\x00", 0),
    (bytes([DATE_TIME_LENGTH]), DATE_TIME_LENGTH),
    (bytes([OCTET_STRING, DATE_TIME_LENGTH]), DATE_TIME_LENGTH),
)

# Landis+Gyr's ZMF100 writes some registers' logical names 06 09 (the length, then the octet-string tag) where
# A-XDR has 09 06: a register's structure opening so, before six bytes that read as an electricity code (A 0 or
# 1, F 255), is put right where the body as sent is no standard A-XDR.
_SWAPPED_NAME = re.compile(
    bytes([STRUCTURE]) + rb"([\x02\x03])" + bytes([OBIS_LENGTH, OCTET_STRING]) + rb"(?=[\x00\x01].{4}\xff)", re.DOTALL
)
_NAME_PUT_RIGHT = bytes([STRUCTURE]) + rb"\1" + bytes([OCTET_STRING, OBIS_LENGTH])


@dataclass(frozen=True, slots=True)
class Notification:
    """A data-notification: its date-time, if sent, and its A-XDR body, still bytes."""

    date_time: datetime | None
    body: bytes
    ciphering: Ciphering | None = None
    plaintext: bytes | None = None
    """The whole APDU after deciphering, for a notification that came ciphered."""

    @property
    def carries_p1(self) -> bool:
        """Whether the ciphered APDU held a P1 telegram, not a data-notification (encrypted P1, DSMR 5 style)."""
        return self.plaintext is not None and self.plaintext[:1] == P1_OPENING

    def decode_body(self) -> Data | DescriptorList:
        """Decode the whole body; it must take every byte.

        A body that is no standard A-XDR may be a ZMF100's (see _SWAPPED_NAME),
        or a descriptor list, whose descriptors carry no tags (see
        descriptors): it is read as one then.
        """
        try:
            return self._standard_body(self.body)
        except DecodeError as standard:
            put_right = _SWAPPED_NAME.sub(_NAME_PUT_RIGHT, self.body)
            if put_right != self.body:
                try:
                    return self._standard_body(put_right)
                except DecodeError:
                    pass
            try:
                return decode_descriptor_list(self.body)
            except DecodeError as described:
                # Deciphered, the header read as a data-notification's, as a wrong key's random bytes
                # almost never do (one in tens of thousands): the key opened it, and the body is damaged.
                opened = "deciphered, its header reads right, but " if self.ciphering is not None else ""
                msg = f"{opened}{standard}; nor is it a descriptor list: {described}"
                raise DecodeError(msg) from described

    @staticmethod
    def _standard_body(body: bytes) -> Data:
        data, pos = decode_data(body)
        if pos != len(body):
            msg = f"{len(body) - pos} bytes left after the notification body"
            raise DecodeError(msg)
        return data

    def content_error(self, err: DecodeError) -> DecodeError:
        """Choose the error to report when deciphered content fails to decode from its first byte.

        The frame's checksums held, so garbage after decrypting without a tag
        means the key is wrong; with a tag the key was proven right.
        """
        if self.ciphering is None or self.ciphering.authenticated or not self.ciphering.encrypted:
            return err
        failed = f"deciphered data does not decode ({err})"
        msg = f"{failed}: the encryption key is probably wrong"
        return KeyProblemError(DropReason.KEY_REJECTED, msg, self.ciphering, failed=failed)


def strip_llc(information: bytes) -> bytes:
    """Return the APDU inside an HDLC information field."""
    if information[:3] in LLC_HEADERS:
        return information[3:]
    return information


def _parse_data_notification(apdu: bytes, ciphering: Ciphering | None = None) -> Notification:
    if not apdu or apdu[0] != DATA_NOTIFICATION:
        what = f"0x{apdu[0]:02x}" if apdu else "an empty APDU"
        msg = f"{what} is not a data-notification"
        raise DecodeError(msg)
    pos = 1 + INVOKE_ID_LENGTH
    if len(apdu) <= pos:
        msg = "data-notification ends before its date-time"
        raise DecodeError(msg)
    for marker, size in DATE_TIME_MARKERS:
        if apdu[pos : pos + len(marker)] == marker:
            stamp = pos + len(marker)
            date_time = parse_date_time(apdu[stamp : stamp + size]) if size else None
            body = stamp + size
            return Notification(date_time, apdu[body:], ciphering, apdu if ciphering is not None else None)
    msg = f"data-notification date-time starts with 0x{apdu[pos]:02x}"
    raise DecodeError(msg)


_GLO_TAG = bytes([GENERAL_GLO_CIPHERING])
_P1_BAUD_AT = 4


def is_content(plaintext: bytes) -> bool:
    """Whether deciphered bytes open as a meter's content: a data-notification, or a P1 telegram (ciphered DSMR 5).

    A wrong encryption key deciphers to noise, which opens like this by chance once in tens of thousands.
    """
    if plaintext[:1] == P1_OPENING:
        # The identification (IEC 62056-21): the maker's three letters, then the baud rate's character.
        maker, baud = plaintext[1:_P1_BAUD_AT], plaintext[_P1_BAUD_AT : _P1_BAUD_AT + 1]
        return maker.isascii() and maker.isalpha() and len(maker) == _P1_BAUD_AT - 1 and baud.isalnum()
    stamp = 1 + INVOKE_ID_LENGTH
    return plaintext[:1] == bytes([DATA_NOTIFICATION]) and any(
        plaintext[stamp:].startswith(marker) for marker, _ in DATE_TIME_MARKERS
    )


def parse_apdu(apdu: bytes, keys: Keys, policy: SecurityPolicy | None = None) -> Notification:
    """Read a data-notification's header, deciphering the APDU first when it is ciphered.

    With a policy, a frame whose security falls short of the keys is refused
    before its content is looked at.
    """
    if apdu[:1] != _GLO_TAG:
        # Only a data-notification in clear is a meter's frame less secure than its keys: other bytes (a
        # segmented message that lost its first segment, say) are no APDU at all.
        if policy is not None and policy.requires_ciphering and apdu[:1] == bytes([DATA_NOTIFICATION]):
            policy.check(None)
        return _parse_data_notification(apdu)
    ciphering, plaintext = decipher(apdu, keys, is_content)
    if policy is not None:
        policy.check(ciphering)
    notification = Notification(None, b"", ciphering)
    if plaintext[:1] == P1_OPENING:
        # Luxembourg's and some Austrian meters cipher a P1 telegram, not DLMS data.
        return Notification(None, b"", ciphering, plaintext)
    try:
        return _parse_data_notification(plaintext, ciphering)
    except DecodeError as err:
        raise notification.content_error(err) from err
