"""DLMS general-glo-ciphering (security suite 0: AES-128-GCM, 12-byte tag)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .axdr import decode_length
from .model import AUTHENTICATED, ENCRYPTED, Ciphering, DecodeError, DropReason, FrameRefusedError, KeyProblemError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

GENERAL_GLO_CIPHERING = 0xDB
SECURITY_CONTROLS = frozenset((AUTHENTICATED, ENCRYPTED, AUTHENTICATED | ENCRYPTED))
"""The security control bytes of suite 0: authenticated, encrypted, or both."""
KEY_LENGTH = 16
TAG_LENGTH = 12
SYSTEM_TITLE_LENGTH = 8
# The authentication key DSMR 5 P1 ports use, published with the standard
# (Luxembourg's Smarty meters): a meter that tags with it needs its
# encryption key alone, so it is tried when no authentication key is given.
P1_AUTHENTICATION_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
_INVOCATION_COUNTER_LENGTH = 4
GLO_LENGTH_AT = 2 + SYSTEM_TITLE_LENGTH
"""Where the ciphered part's length begins: after the tag, the system title's length and the title."""
SECURITY_HEADER_LENGTH = 1 + _INVOCATION_COUNTER_LENGTH
"""The security control and the invocation counter, the first bytes of the ciphered part."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The customer keys: GUEK/GPK60 encrypts, GAK/GPK61 authenticates."""

    encryption: bytes | None = None
    authentication: bytes | None = None

    def __post_init__(self) -> None:
        """Refuse keys of the wrong size up front, not at the first frame."""
        for name, key in (("encryption", self.encryption), ("authentication", self.authentication)):
            if key is not None and len(key) != KEY_LENGTH:
                msg = f"the {name} key must be {KEY_LENGTH} bytes (32 hex digits), not {len(key)}"
                raise ValueError(msg)

    @property
    def fingerprint(self) -> str:
        """Tell these keys from others, saying nothing of them: a digest to keep beside what was kept under them."""
        keys = b"|".join(key or b"" for key in (self.encryption, self.authentication))
        return hashlib.sha256(b"han-port keys|" + keys).hexdigest()[:16]


def read_header(apdu: bytes) -> tuple[Ciphering, bytes]:
    """Split a general-glo-ciphering APDU into its header and ciphered part."""
    if len(apdu) < 2 or apdu[0] != GENERAL_GLO_CIPHERING:  # noqa: PLR2004
        msg = "not a general-glo-ciphering APDU"
        raise DecodeError(msg)
    title_length = apdu[1]
    if title_length != SYSTEM_TITLE_LENGTH:
        msg = f"system title of {title_length} bytes"
        raise DecodeError(msg)
    system_title = apdu[2 : 2 + title_length]
    length, pos = decode_length(apdu, GLO_LENGTH_AT)
    if length != len(apdu) - pos or length < SECURITY_HEADER_LENGTH:
        msg = f"ciphered part announces {length} bytes but {len(apdu) - pos} are there"
        raise DecodeError(msg)
    security_control = apdu[pos]
    counter = int.from_bytes(apdu[pos + 1 : pos + 1 + _INVOCATION_COUNTER_LENGTH], "big")
    header = Ciphering(bytes(system_title), security_control, counter)
    return header, bytes(apdu[pos + SECURITY_HEADER_LENGTH :])


def decipher(apdu: bytes, keys: Keys, is_content: Callable[[bytes], bool]) -> tuple[Ciphering, bytes]:
    """Open a general-glo-ciphering APDU; return its header and the inner APDU.

    Raises KeyProblemError when a key is missing or the tag does not verify,
    and DecodeError when the header itself is malformed. is_content tells
    deciphered bytes that open as a meter's content from noise.
    """
    header, body = read_header(apdu)
    if not header.encrypted and not header.authenticated:
        return header, body
    # Imported on the first ciphered frame: most meters never send one, and
    # the command line starts a third faster without it.
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415

    # GCM needs the encryption key even to check the tag of plaintext.
    if keys.encryption is None:
        raise KeyProblemError(
            DropReason.KEY_MISSING, "the telegrams are ciphered: the encryption key is needed", header
        )
    iv = header.system_title + header.invocation_counter.to_bytes(_INVOCATION_COUNTER_LENGTH, "big")
    if not header.authenticated:
        # Encrypted without a tag: GCM without its tag is AES-CTR from counter 2.
        decryptor = Cipher(algorithms.AES(keys.encryption), modes.CTR(iv + b"\x00\x00\x00\x02")).decryptor()
        return header, decryptor.update(body) + decryptor.finalize()
    if len(body) < TAG_LENGTH:
        msg = "authenticated APDU shorter than its tag"
        raise DecodeError(msg)
    body, tag = body[:-TAG_LENGTH], body[-TAG_LENGTH:]
    authentication = keys.authentication or P1_AUTHENTICATION_KEY
    decryptor = Cipher(algorithms.AES(keys.encryption), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)).decryptor()
    # AAD is the security control byte and the authentication key, followed
    # by the APDU itself when it is authenticated but not encrypted.
    aad = bytes([header.security_control]) + authentication
    if header.encrypted:
        decryptor.authenticate_additional_data(aad)
        plaintext = decryptor.update(body)
    else:
        decryptor.authenticate_additional_data(aad + body)
        plaintext = body
    try:
        decryptor.finalize()
    except InvalidTag:
        raise _tag_failed(header, keys, is_content(plaintext)) from None
    return header, plaintext


def _tag_failed(header: Ciphering, keys: Keys, deciphered_content: bool) -> KeyProblemError:
    """Say which key a tag that did not match blames, by what the encryption key deciphered.

    Without an authentication key the published one was tried: content a
    meter sends means the meter has one of its own; noise, that the
    encryption key is wrong (a tag over plaintext tells neither).
    """
    failed = "the authentication tag does not match"
    if keys.authentication is not None:
        return KeyProblemError(
            DropReason.KEY_REJECTED, f"{failed}: the encryption or authentication key is wrong", header, failed=failed
        )
    if deciphered_content or not header.encrypted:
        return KeyProblemError(
            DropReason.KEY_MISSING,
            "the meter authenticates its telegrams with a key of its own: the authentication key is needed",
            header,
            failed=failed,
        )
    return KeyProblemError(
        DropReason.KEY_REJECTED, f"{failed}, and the encryption key deciphers noise: it is wrong", header, failed=failed
    )


# Authentic frames whose invocation counters fall below the highest accepted
# but keep rising among themselves, arriving one after another with nothing
# accepted between them, before the counter is taken to have restarted. The
# standard never lets a meter reuse a counter under one key, but a firmware
# update or a meter swap under the same keys can; one that replays captured
# frames is interrupted by the meter's own, accepted frames (10 s apart).
COUNTER_RESTART_FRAMES = 20


@dataclass(frozen=True, slots=True)
class _Restart:
    """A run of authentic frames below the high mark, counter and length."""

    counter: int
    frames: int


class SecurityPolicy:
    """What a meter set up with keys must prove of every frame.

    With an encryption key, plaintext is refused; with an authentication key
    too, frames without a tag are (a downgrade anyone on the wire could send).
    Each system title's invocation counter must increase: a frame sent again
    is refused. The counters live as long as the decoder, unless they are
    kept elsewhere (counters) and taken back (restore_counters), as the
    integration does over restarts.
    """

    def __init__(self, keys: Keys) -> None:
        """Demand of every frame what the keys can prove."""
        self._keys = keys
        self.requires_ciphering = keys.encryption is not None
        """Whether plaintext (HDLC or P1) is refused."""
        self._highest: dict[bytes, int] = {}
        self._restarts: dict[bytes, _Restart] = {}
        self._admitted = False

    def check(self, ciphering: Ciphering | None) -> None:
        """Refuse a frame whose security is less than the keys can prove (FrameRefusedError).

        Called as soon as the frame's header is read, before its content is decoded.
        """
        if not self.requires_ciphering:
            return
        if ciphering is None or not (ciphering.encrypted or ciphering.authenticated):
            msg = "plaintext frame from a meter set up with keys"
            raise FrameRefusedError(DropReason.UNAUTHENTICATED, msg, ciphering)
        if self._keys.authentication is not None and not ciphering.authenticated:
            msg = f"frame without an authentication tag (security 0x{ciphering.security_control:02x})"
            raise FrameRefusedError(DropReason.UNAUTHENTICATED, msg, ciphering)

    @property
    def keys_proven(self) -> bool:
        """Whether a frame these keys opened has been admitted: they are the meter's (counters taken back are not)."""
        return self._admitted

    @property
    def counters(self) -> dict[bytes, int]:
        """The highest invocation counter admitted so far, by system title: what the next frame must exceed."""
        return dict(self._highest)

    def restore_counters(self, counters: Mapping[bytes, int]) -> None:
        """Take back counters kept from before (a restart): a frame captured earlier stays refused.

        A counter lower than one already admitted is no reason to go back.
        """
        for title, counter in counters.items():
            if counter > self._highest.get(title, -1):
                self._highest[title] = counter

    def admit(self, ciphering: Ciphering | None) -> None:
        """Accept a frame's invocation counter, or raise FrameRefusedError for a frame sent again.

        Called once the frame has opened and decoded to plausible values, so
        that garbage from a wrong key never raises the mark genuine frames must pass.
        """
        if ciphering is None or not _proves_its_counter(ciphering):
            return
        self._admitted = True  # refused as sent again or not, these keys opened it
        frames = self._frames_since_restart(ciphering)
        if frames is None or frames >= COUNTER_RESTART_FRAMES:
            self._highest[ciphering.system_title] = ciphering.invocation_counter
            self._restarts.pop(ciphering.system_title, None)
            return
        self._refuse(ciphering, frames)

    def refuse_stale(self, ciphering: Ciphering) -> None:
        """Refuse, before its content is read, a frame whose counter does not increase (FrameRefusedError).

        A frame captured earlier, or delivered out of order, reads as the
        meter's past: read, it would teach what the meter's lists and
        resolutions are from values that contradict the present. The frame
        that proves a restarted counter is let through, for admit to take.
        """
        frames = self._frames_since_restart(ciphering)
        if frames is not None and frames < COUNTER_RESTART_FRAMES:
            self._refuse(ciphering, frames)

    def _frames_since_restart(self, ciphering: Ciphering) -> int | None:
        """How many frames in a row, this one included, count up from below the mark; None for a counter above it."""
        title, counter = ciphering.system_title, ciphering.invocation_counter
        highest = self._highest.get(title)
        if highest is None or counter > highest or not _proves_its_counter(ciphering):
            return None
        restart = self._restarts.get(title)
        return restart.frames + 1 if restart is not None and counter > restart.counter else 1

    def _refuse(self, ciphering: Ciphering, frames: int) -> None:
        title, counter = ciphering.system_title, ciphering.invocation_counter
        self._restarts[title] = _Restart(counter, frames)
        msg = f"invocation counter {counter} does not increase (last {self._highest[title]}): a frame sent again"
        raise FrameRefusedError(DropReason.REPLAYED, msg, ciphering)


def _proves_its_counter(ciphering: Ciphering) -> bool:
    """Whether only the keys could have made a frame's invocation counter: its tag covers it, or it deciphers by it.

    The envelope around plaintext (security 0x00) proves nothing: anyone can
    write any counter there, and one frame with the highest would refuse the
    meter's own as sent again, and a new system title in each would be kept
    without end.
    """
    return ciphering.encrypted or ciphering.authenticated


def is_bare_ciphered(raw: bytes) -> bool:
    """Whether a message is a general-glo-ciphering APDU with no frame around it, as P1 ports send theirs."""
    return raw[:1] == bytes([GENERAL_GLO_CIPHERING])
