"""HAN port meter decoder: HDLC/DLMS and P1 telegrams into readings.

Self-contained (standard library and `cryptography` only), so it can be used
and tested without Home Assistant. The names below are its public API; the
modules behind them are its insides, free to change.
"""

from .ciphering import Keys, key_digits, parse_key
from .decoder import Decoder, Event
from .hdlc import frame_apdu, hdlc_frame
from .masking import mask_serials, reseal, serial_masks
from .model import Ciphering, DecodeError, DroppedFrame, DropReason, FrameFormat, Reading, Telegram
from .obis import ObisCode, Unit

__all__ = [
    "Ciphering",
    "DecodeError",
    "Decoder",
    "DropReason",
    "DroppedFrame",
    "Event",
    "FrameFormat",
    "Keys",
    "ObisCode",
    "Reading",
    "Telegram",
    "Unit",
    "frame_apdu",
    "hdlc_frame",
    "key_digits",
    "mask_serials",
    "parse_key",
    "reseal",
    "serial_masks",
]
