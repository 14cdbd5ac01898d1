"""HAN port meter decoder: HDLC/DLMS and P1 telegrams into readings.

Self-contained (standard library and `cryptography` only), so it can be used
and tested without Home Assistant. The names below are its public API; the
modules behind them are its insides, free to change.
"""

from .ciphering import Keys, is_bare_ciphered, key_digits, parse_key
from .decoder import Decoder, Event
from .hdlc import frame_apdu, hdlc_frame
from .masking import mask_serials, reseal, serial_masks
from .model import Ciphering, DecodeError, DroppedFrame, DropReason, FrameFormat, Reading, Telegram
from .obis import ObisCode, Unit
from .registers import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    APPARENT_ENERGY,
    APPARENT_POWER,
    CURRENT,
    FREQUENCY,
    INSTANTANEOUS,
    NET_ACTIVE_ENERGY,
    NET_ACTIVE_POWER,
    POWER_FACTOR,
    PRESENT_VALUE,
    REACTIVE_ENERGY,
    REACTIVE_POWER,
    TOTAL,
    VOLTAGE,
    Code,
    Quantity,
    quantity_of,
)

__all__ = [
    "ACTIVE_ENERGY",
    "ACTIVE_POWER",
    "APPARENT_ENERGY",
    "APPARENT_POWER",
    "CURRENT",
    "FREQUENCY",
    "INSTANTANEOUS",
    "NET_ACTIVE_ENERGY",
    "NET_ACTIVE_POWER",
    "POWER_FACTOR",
    "PRESENT_VALUE",
    "REACTIVE_ENERGY",
    "REACTIVE_POWER",
    "TOTAL",
    "VOLTAGE",
    "Ciphering",
    "Code",
    "DecodeError",
    "Decoder",
    "DropReason",
    "DroppedFrame",
    "Event",
    "FrameFormat",
    "Keys",
    "ObisCode",
    "Quantity",
    "Reading",
    "Telegram",
    "Unit",
    "frame_apdu",
    "hdlc_frame",
    "is_bare_ciphered",
    "key_digits",
    "mask_serials",
    "parse_key",
    "quantity_of",
    "reseal",
    "serial_masks",
]
