"""HAN port meter decoder: HDLC/DLMS and P1 telegrams into readings.

Self-contained (standard library and `cryptography` only), so it can be used
and tested without Home Assistant.
"""

from .ciphering import Keys, key_digits, parse_key
from .decoder import Decoder, Event
from .model import Ciphering, DecodeError, DroppedFrame, DropReason, Reading, Telegram
from .obis import ObisCode, Unit

__all__ = [
    "Ciphering",
    "DecodeError",
    "Decoder",
    "DropReason",
    "DroppedFrame",
    "Event",
    "Keys",
    "ObisCode",
    "Reading",
    "Telegram",
    "Unit",
    "key_digits",
    "parse_key",
]
