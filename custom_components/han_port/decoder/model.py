"""What the decoder produces: telegrams of readings, and dropped frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .obis import ObisCode, Unit

Number = int | float
type FrameFormat = Literal["hdlc", "p1", "mbus", "apdu"]
"""How a telegram came: HDLC frames, a P1 telegram, M-Bus long frames, or a bare APDU (a message's payload)."""


class Reading(NamedTuple):
    """One register's value in base units (W, Wh, V, A, ...).

    Immutable like the dataclasses here, but a tuple because every telegram
    makes dozens of them and a tuple is the cheapest immutable record.
    """

    value: Number
    unit: Unit | None


AUTHENTICATED = 0x10
"""Security control bit 4: the APDU carries a GCM tag."""
ENCRYPTED = 0x20
"""Security control bit 5: the APDU is encrypted."""
P1_OPENING = b"/"
"""What a P1 telegram opens with, before the meter's identification."""


@dataclass(frozen=True, slots=True)
class Telegram:
    """Everything one push from the meter said."""

    format: FrameFormat
    """How the telegram came: HDLC frames, a P1 telegram, M-Bus long frames, or a bare APDU (a message's payload)."""
    manufacturer: str | None
    list_version: str | None
    meter_id: str | None
    meter_type: str | None
    # Timezone-aware when the meter states its offset, naive local time when not.
    timestamp: datetime | None
    readings: Mapping[ObisCode, Reading]
    # The frame as it came off the wire (all segments, before decryption).
    raw: bytes = field(repr=False)
    ciphering: Ciphering | None = None
    """The general-glo-ciphering header, for a frame that came ciphered."""
    plaintext: bytes | None = field(default=None, repr=False)
    """The deciphered APDU, for a frame that came ciphered (diagnostics show it, masked)."""
    logical_device_name: str | None = None
    """The COSEM logical device name, for a list that sends it: the maker's id and the meter's serial."""
    left_out: tuple[ObisCode, ...] = ()
    """Registers the meter sent whose code nothing here interprets, left out of readings, never passed on unbounded;
    those it worked out beyond their bounds (a power factor of 4.6) in a P1 telegram whose CRC held; and the
    powers, currents and voltages of the third telegram in a row, and each after it, that they contradict."""
    contradiction: str | None = None
    """Why the powers, currents and voltages a checked telegram sent were taken out of its readings: a power
    beyond what its voltages and currents carry (one of them lies, or the meter sampled them as a big load
    switched on), or powers that make its currents come at another resolution than physics proved for them.
    Its other readings (an hourly list's totals) stand. From the third in a row on, they are also left_out."""
    resolution_proven: bool = True
    """Whether its voltages and currents came at a resolution the meter stated (a scaler, a decimal point) or
    physics proved: False while a list without scalers has one still guessed from its vendor's table, or a
    change of the currents' waits to be confirmed. Only then may they contradict its powers (see
    contradiction): a wrong guess is no lie."""
    standard_time: bool = False
    """Whether a naive timestamp is the zone's standard time all year: its meter's clock keeps no daylight saving."""
    checksummed: bool = True
    """Whether a check the telegram came with proved its bytes intact (a P1 CRC, HDLC FCS, M-Bus checksum, GCM tag).

    False for a P1 telegram its meter sends without a CRC (DSMR 2.2 and 3,
    some Iskraemeco and EasyMeter ports), and for a bare APDU that no tag
    authenticated: only the bounds of its values stand between line damage
    and a wrong reading."""

    @property
    def encrypted(self) -> bool:
        """Whether the frame came ciphered."""
        return self.ciphering is not None

    @property
    def carries_p1(self) -> bool:
        """Whether the telegram is P1 text: sent as such, or deciphered from a ciphered P1 telegram (DSMR 5)."""
        return self.format == "p1" or (self.plaintext or b"")[:1] == P1_OPENING


class Maker(StrEnum):
    """A meter's maker, as HAN Port names it (whatever the telegram's own spelling: "KFM", "AIDON")."""

    AIDON = "Aidon"
    EASYMETER = "EasyMeter"
    ISKRAEMECO = "Iskraemeco"
    KAIFA = "Kaifa"
    KAMSTRUP = "Kamstrup"
    LANDIS_GYR = "Landis+Gyr"
    SAGEMCOM = "Sagemcom"


class DropReason(StrEnum):
    """Why a frame did not become a telegram."""

    BAD_CHECKSUM = "bad_checksum"
    UNDECODABLE = "undecodable"
    IMPLAUSIBLE = "implausible"
    """It decoded, but to a value no household's meter can show."""
    KEY_MISSING = "key_missing"
    KEY_REJECTED = "key_rejected"
    UNAUTHENTICATED = "unauthenticated"
    """Plaintext, or ciphered without a tag, from a meter set up with keys that prove its frames."""
    REPLAYED = "replayed"
    """Authentic, but its invocation counter did not increase: a frame sent again."""
    UNRECOGNISED = "unrecognised"
    """A message (an MQTT payload), or a whole input, that holds no frame, APDU or telegram the decoder reads."""
    LEARNING = "learning"
    """A list of bare values no table knows, whose positions the meter's physics has not proven yet."""


@dataclass(frozen=True, slots=True)
class Ciphering:
    """The general-glo-ciphering header of an encrypted frame."""

    system_title: bytes
    security_control: int
    invocation_counter: int

    @property
    def encrypted(self) -> bool:
        """Security control bit 5: the APDU is encrypted."""
        return bool(self.security_control & ENCRYPTED)

    @property
    def authenticated(self) -> bool:
        """Security control bit 4: the APDU carries a GCM tag."""
        return bool(self.security_control & AUTHENTICATED)


@dataclass(frozen=True, slots=True)
class DroppedFrame:
    """A frame, or run of bytes, that was skipped, and why."""

    reason: DropReason
    detail: str
    raw: bytes = field(repr=False)
    ciphering: Ciphering | None = None


class DecodeError(ValueError):
    """The bytes passed their checksum but do not decode."""


class ListNotLearnedError(DecodeError):
    """A list of bare values no table knows, whose positions are still being learned from its physics."""


class FrameRefusedError(DecodeError):
    """A frame that is not to be believed, whatever it decodes to."""

    def __init__(self, reason: DropReason, detail: str, ciphering: Ciphering | None = None) -> None:
        """Carry the drop reason and the ciphering header of the frame, if it had one."""
        super().__init__(detail)
        self.reason = reason
        self.ciphering = ciphering


class KeyProblemError(FrameRefusedError):
    """A ciphered frame could not be opened with the keys given."""

    def __init__(
        self, reason: DropReason, detail: str, ciphering: Ciphering | None = None, *, failed: str | None = None
    ) -> None:
        """Carry, besides the reason, what failed when it is a check that damage on the line fails too."""
        super().__init__(reason, detail, ciphering)
        self.failed = failed
        """What failed, said without blaming the keys: a tag that does not match, or deciphered
        content that does not decode. Bytes damaged on the line fail the same way. None when a key is absent."""
