"""HAN port meter decoder: HDLC/DLMS and P1 telegrams into readings.

Self-contained (standard library and `cryptography` only), so it can be used
and tested without Home Assistant. The names below are its public API; the
modules behind them are its insides, free to change.
"""

from .ciphering import COUNTER_RESTART_FRAMES, P1_AUTHENTICATION_KEY, Keys, is_bare_ciphered
from .content import Event
from .crc import crc16_arc, crc16_x25
from .decoder import Decoder
from .dlms import strip_llc
from .hdlc import frame_apdu, hdlc_frame
from .learned_positions import LearnedListData, LearnedPositionData
from .masking import (
    capture_ciphering,
    capture_format,
    carried,
    mask_serials,
    mask_texts,
    reseal,
    serial_masks,
    system_title_masks,
)
from .mbus import mbus_frames
from .model import Ciphering, DecodeError, DroppedFrame, DropReason, FrameFormat, Maker, Reading, Telegram
from .obis import PRESENT_VALUE, ObisCode, Unit
from .payload import hex_digit_count, non_hex_characters, parse_key, read_capture
from .registers import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    APPARENT_ENERGY,
    APPARENT_POWER,
    CURRENT,
    CURRENT_AVERAGE,
    FREQUENCY,
    INSTANTANEOUS,
    MAXIMUM,
    NET_ACTIVE_ENERGY,
    NET_ACTIVE_POWER,
    POWER_FACTOR,
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
    "COUNTER_RESTART_FRAMES",
    "CURRENT",
    "CURRENT_AVERAGE",
    "FREQUENCY",
    "INSTANTANEOUS",
    "MAXIMUM",
    "NET_ACTIVE_ENERGY",
    "NET_ACTIVE_POWER",
    "P1_AUTHENTICATION_KEY",
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
    "LearnedListData",
    "LearnedPositionData",
    "Maker",
    "ObisCode",
    "Quantity",
    "Reading",
    "Telegram",
    "Unit",
    "capture_ciphering",
    "capture_format",
    "carried",
    "crc16_arc",
    "crc16_x25",
    "frame_apdu",
    "hdlc_frame",
    "hex_digit_count",
    "is_bare_ciphered",
    "mask_serials",
    "mask_texts",
    "mbus_frames",
    "non_hex_characters",
    "parse_key",
    "quantity_of",
    "read_capture",
    "reseal",
    "serial_masks",
    "strip_llc",
    "system_title_masks",
]
