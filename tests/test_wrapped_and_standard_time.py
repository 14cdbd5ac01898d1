"""A reviewer's cases: noise that reads as a wrapped M-Bus header, and a clock kept without summer time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.decoder import Decoder
from custom_components.han_port.hours import wall_clock

from .test_arbiter import power_list, powers, ten_second_list

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.mark.parametrize("build", [power_list, ten_second_list], ids=["29-byte pushes", "273-byte pushes"])
@pytest.mark.parametrize("length", [0x00, 0x01, 0x02])
@pytest.mark.parametrize("chunk", [1, 100_000])
def test_four_noise_bytes_read_as_a_wrapped_m_bus_header_swallow_no_bare_push(
    build: Callable[[int], bytes], length: int, chunk: int
) -> None:
    """ "68 00 00 68" (or 01, 02) before plain bare data-notifications, their format not yet known.

    Taken as a wrapped M-Bus header, it would claim 262-264 bytes, and every push that begins in them. A
    T210-D's wrapped header is followed by a DLMS segment's CI and transport addresses; a data-notification
    (0F ...) is none.
    """
    stream = bytes([0x68, length, length, 0x68]) + b"".join(build(1000 + n) for n in range(8))
    decoder = Decoder()
    events = [event for at in range(0, len(stream), chunk) for event in decoder.feed_events(stream[at : at + chunk])]
    events += decoder.finish()
    assert powers(events) == [1000 + n for n in range(8)], dict(decoder.dropped)


@pytest.mark.parametrize(
    ("kept", "wall"),
    [
        (datetime(2026, 1, 15, 12, 0), datetime(2026, 1, 15, 12, 0)),  # winter: GMT on the wall
        (datetime(2026, 7, 1, 12, 0), datetime(2026, 7, 1, 13, 0)),  # summer: IST, an hour ahead
    ],
)
def test_a_clock_kept_without_summer_time_in_a_zone_whose_tzdata_saving_is_negative(
    kept: datetime, wall: datetime
) -> None:
    """tzdata gives Europe/Dublin a negative saving in winter (IST is its legal standard time).

    A clock that keeps one time all year keeps the zone's winter offset: GMT, whatever dst() says.
    """
    assert wall_clock(kept, ZoneInfo("Europe/Dublin"), standard_time=True) == wall
