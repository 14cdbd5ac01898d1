"""COSEM date-time (IEC 62056-62 / Blue Book 4.1.6.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from .model import DecodeError

DATE_TIME_LENGTH = 12
_UNSPECIFIED_DEVIATION = -0x8000
_UNSPECIFIED_BYTE = 0xFF
# The years a meter's clock may tell: smart meters came after 2000, and P1 says its year in two digits. A
# clock outside was damaged or never set, and at year 1 or 9999 a zone's offset would overflow the date.
CLOCK_YEARS = range(2000, 2100)


def parse_date_time(data: bytes) -> datetime | None:
    """Decode a 12-byte COSEM date-time.

    Returns None when the meter leaves the date or time unspecified (0xFF)
    or sends one that cannot be (month 13, a deviation of days, a year
    outside CLOCK_YEARS): a clock is never worth dropping the readings
    beside it. Naive when the meter gives no deviation from UTC, aware when
    it does. DLMS counts the deviation as UTC minus local time, so CET is
    sent as -60.
    """
    if len(data) != DATE_TIME_LENGTH:
        msg = f"a date-time is {DATE_TIME_LENGTH} bytes, not {len(data)}"
        raise DecodeError(msg)
    year = (data[0] << 8) | data[1]
    month, day, _weekday, hour, minute, second, hundredths = data[2:9]
    if year not in CLOCK_YEARS or _UNSPECIFIED_BYTE in (month, day, hour, minute):
        return None
    if second == _UNSPECIFIED_BYTE:
        second = 0
    microsecond = 0 if hundredths == _UNSPECIFIED_BYTE else hundredths * 10_000
    deviation = int.from_bytes(data[9:11], "big", signed=True)
    tzinfo = None
    try:
        if deviation != _UNSPECIFIED_DEVIATION:
            tzinfo = UTC if deviation == 0 else timezone(timedelta(minutes=-deviation))
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tzinfo)
    except ValueError:
        return None


# COSEM interface classes (Blue Book, DLMS UA 1000-1) whose attributes a push
# names, by class id, with how many attributes each has: attributes count
# from 1 (the logical name), so 0, or one beyond the class's last, names
# nothing and is damage.
INTERFACE_CLASS_ATTRIBUTES: dict[int, int] = {
    1: 2,  # data: logical name, value
    3: 3,  # register: ..., scaler and unit
    4: 5,  # extended register: ..., status, capture time
    5: 9,  # demand register
    7: 8,  # profile generic
    8: 9,  # clock: logical name, time, ...
    70: 4,  # disconnect control: ..., output state, control state, control mode
    71: 11,  # limiter
}
VALUE_ATTRIBUTE = 2
"""The attribute that holds a data object's or register's value, and the clock's time."""
VALUE_CLASSES = frozenset((1, 3, 4))
"""Data, register and extended register: the classes whose attribute 2 is a reading."""
CLOCK_CLASS = 8
