"""What one message of a message transport (an MQTT payload) holds.

A serial line or a TCP bridge delivers a stream of bytes; a bridge that
publishes to MQTT delivers messages, and puts in each what its maker chose:
one HDLC frame, several, part of one, a bare APDU or LLC PDU without any
framing, a P1 telegram, or any of these written out as hex text. These
functions tell the shapes apart; the decoder takes it from there.
"""

from __future__ import annotations

import re
import unicodedata

from .ciphering import KEY_LENGTH
from .dlms import PUSHED_APDUS, strip_llc
from .p1 import HEX_DIGITS

# Between hex digits, bridges and people write spaces, line ends, colons, commas or dashes, and some a 0x per
# byte in braces (a C array's); what people paste may hold spaces of other kinds (a no-break space from a PDF).
_SEPARATORS = r"0x|[\s:,;{}-]"
_HEX_NOISE = re.compile(_SEPARATORS.encode(), re.IGNORECASE)
_KEY_NOISE = re.compile(_SEPARATORS, re.IGNORECASE)
# Dashes, invisible format characters and spaces of every kind (Unicode categories).
_GROUPING_CATEGORIES = frozenset(("Pd", "Cf", "Zs"))
# A JSON object of one string value: {"name": "value"}, as a bridge wraps what it read.
_ONE_VALUE = re.compile(rb'\{\s*"[^"\\]*"\s*:\s*"([^"\\]*)"\s*\}\s*')
# A data-notification's tag and invoke id: anything shorter is no APDU.
_MIN_APDU_BYTES = 6
MAX_MESSAGE_BYTES = 64 * 1024
"""A message longer than this is no meter's (a push list is under 2 kB, even as hex text)."""


def hex_digits(text: bytes) -> bytes | None:
    """Return the bytes that hex text writes out, or None when text is not hex text.

    Separators between the digits are allowed: "7e a0 2a", "7EA02A",
    "0x7e,0xa0", "7e:a0". Raw frames are never hex text: their first byte,
    the flag 0x7E, is "~".
    """
    try:
        # Most bridges write plain digits or spaced bytes, which fromhex reads at C speed.
        decoded = bytes.fromhex(text.decode("ascii"))
    except ValueError:  # UnicodeDecodeError too: binary, or separators fromhex does not know
        digits = _HEX_NOISE.sub(b"", text)
        if not digits or len(digits) % 2 or not HEX_DIGITS.issuperset(digits):
            return None
        return bytes.fromhex(digits.decode("ascii"))
    return decoded or None


def unwrapped(payload: bytes) -> bytes:
    """Return the hex text a bridge wrapped in a JSON object of one value, else the payload as it is.

    Tasmota's serial bridge, told to (SerialDelimiter 254), publishes what
    it reads as hex in `{"SerialReceived": "7EA0…"}` (`SSerialReceived` from
    a software serial port). A reader's status JSON, whose values are no hex
    text, stays what it is: no meter data. Matched, not parsed: a JSON parser
    recurses as deep as a hostile message nests.
    """
    wrapped = _ONE_VALUE.fullmatch(payload) if payload.startswith(b"{") else None
    if wrapped is None or hex_digits(wrapped[1]) is None:
        return payload
    return wrapped[1]


def is_bare_apdu(data: bytes) -> bool:
    """Whether data opens with a pushed APDU (after an LLC header, if it has one) rather than a frame."""
    apdu = strip_llc(data)
    return len(apdu) >= _MIN_APDU_BYTES and apdu[0] in PUSHED_APDUS


def describe(payload: bytes) -> str:
    """Say what an unrecognised payload looks like, in a few words, for the drop line."""
    if not payload:
        return "an empty message"
    head = payload[:16]
    if head.isascii() and head.decode("ascii").isprintable():
        return f"{len(payload)} bytes of text starting {head.decode('ascii')!r}"
    return f"{len(payload)} bytes starting {head.hex(' ')}"


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def key_digits(text: str) -> str:
    """Strip a key as users paste it down to what should be its digits: no separators, no 0x.

    Besides what bridges write between digits, a key grouped in a PDF or a
    mail comes with dashes of every width, dots, underscores and spaces
    that are not ASCII, some of them invisible. Digits typed through an
    input method for Chinese or Japanese are full-width: NFKC makes them the
    ASCII ones.
    """
    grouped = "".join(
        character
        for character in unicodedata.normalize("NFKC", text)
        if unicodedata.category(character) not in _GROUPING_CATEGORIES and character not in "._"
    )
    return _KEY_NOISE.sub("", grouped)


def hex_digit_count(text: str) -> int:
    """Count the hex digits in a key as typed: what a form tells a user who typed one too few, or an O for a 0."""
    return sum(character in _HEX_DIGITS for character in key_digits(text))


def non_hex_characters(text: str) -> str:
    """Name what a key as typed holds besides hex digits and separators, each once, in the order typed.

    A 32-character key with a g or an O in it has 31 hex digits: a form
    that said only that would send the user counting.
    """
    return " ".join(dict.fromkeys(character for character in key_digits(text) if character not in _HEX_DIGITS))


def parse_key(text: str) -> bytes:
    """Read a key as users paste it: hex, with the separators bridges and people write between digits."""
    cleaned = key_digits(text)
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        msg = "a key is 32 hexadecimal digits"
        raise ValueError(msg) from None
    if len(key) != KEY_LENGTH:
        msg = f"a key is 32 hexadecimal digits, not {hex_digit_count(text)}"
        raise ValueError(msg)
    return key


def read_capture(data: bytes, *, as_hex: bool) -> bytes:
    """Return a capture's bytes; hex text may have whitespace, newlines, 0x, ':', ',' and '-'."""
    if not as_hex:
        return data
    decoded = hex_digits(data) if data.strip() else b""
    if decoded is None:
        msg = "not hex text"
        raise ValueError(msg)
    return decoded
