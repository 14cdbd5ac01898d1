"""P1 telegrams sent without a CRC (#23)."""

from __future__ import annotations

import time

import pytest

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, ObisCode, Telegram, Unit
from simulator import frames as encoder

WH, W = Unit.WATT_HOUR, Unit.WATT


def code(text: str) -> ObisCode:
    """Parse an OBIS code as the P1 lines write it, with EasyMeter's "*255" F or none."""
    return ObisCode.parse(text.replace("*", "."))


def values(telegram: Telegram) -> dict[str, tuple[float, Unit | None]]:
    """The readings, keyed by A-B:C.D.E (every one here is a present value, F 255)."""
    assert all(obis.f == 255 for obis in telegram.readings)  # F of a present value
    return {f"{o.a}-{o.b}:{o.c}.{o.d}.{o.e}": (r.value, r.unit) for o, r in telegram.readings.items()}


def only_telegram(events: list[Telegram | DroppedFrame]) -> Telegram:
    (telegram,) = events
    assert isinstance(telegram, Telegram), telegram
    return telegram


# --- 1. Telegrams without a CRC ------------------------------------------------

DSMR_2_2_LINES = [
    "0-0:96.1.1(00000000000012)",
    "1-0:1.8.1(00012.345*kWh)",
    "1-0:1.8.2(00023.456*kWh)",
    "1-0:2.8.1(00001.002*kWh)",
    "1-0:2.8.2(00000.000*kWh)",
    "0-0:96.14.0(0001)",
    "1-0:1.7.0(0001.21*kW)",
    "1-0:2.7.0(0000.00*kW)",
    "0-0:17.0.0(0999.00*kW)",
    "0-1:24.1.0(3)",
    "0-1:96.1.0(000000000077)",
    # DSMR 2.2/3 gas: the reading comes on the line after its header.
    "0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)",
    "(00042.001)",
    "0-1:24.4.0(1)",
]
DSMR_2_2 = encoder.p1_telegram("ISk5\\2MT382-1004", DSMR_2_2_LINES, crc=False)


def test_a_dsmr_2_2_telegram_without_a_crc_decodes_and_says_nothing_checked_it() -> None:
    telegram = only_telegram(Decoder().feed_events(DSMR_2_2))
    assert not telegram.checksummed
    assert values(telegram) == {
        "1-0:1.8.1": (12345, WH),
        "1-0:1.8.2": (23456, WH),
        "1-0:2.8.1": (1002, WH),
        "1-0:2.8.2": (0, WH),
        "1-0:1.7.0": (1210, W),
        "1-0:2.7.0": (0, W),
    }
    assert telegram.manufacturer == "Iskraemeco"
    # The gas meter's id (channel 1) is not the electricity meter's.
    assert telegram.meter_id == "00000000000012"
    # Gas is no electricity register: never a reading, named as left out.
    assert code("0-1:24.3.0") in telegram.left_out


def test_telegrams_with_a_crc_still_say_so() -> None:
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])))
    assert telegram.checksummed
    assert values(telegram) == {"1-0:1.7.0": (2027, W)}


def test_a_telegram_without_a_crc_comes_with_its_line_end_or_the_next_telegrams_start() -> None:
    decoder = Decoder()
    bare_end = DSMR_2_2.removesuffix(b"\r\n")
    outcomes = [len(decoder.feed(bare_end[i : i + 1])) for i in range(len(bare_end))]
    assert sum(outcomes) == 0  # a '!' alone: a CRC may follow
    assert len(decoder.feed(b"/")) == 1  # the next telegram's start ends it
    decoder = Decoder()
    assert [len(decoder.feed(DSMR_2_2[i : i + 1])) for i in range(len(DSMR_2_2))][-2:] == [0, 1]


def test_a_stream_whose_telegrams_carry_a_crc_drops_one_that_lost_it() -> None:
    lines = ["1-0:1.8.1(001581.123*kWh)", "1-0:1.7.0(02.027*kW)"]
    good = encoder.p1_telegram("KFM5KAIFA-METER", lines)
    lost = good.removesuffix(b"\r\n")[:-4] + b"\r\n"  # its four CRC digits lost on the line
    decoder = Decoder()
    events = decoder.feed_events(good + lost + good)
    assert [isinstance(event, Telegram) for event in events] == [True, False, True]
    dropped = events[1]
    assert isinstance(dropped, DroppedFrame)
    assert dropped.reason is DropReason.BAD_CHECKSUM
    assert "stream whose telegrams carry one" in dropped.detail


# Two digits damaged into exactly CR LF would read as a telegram without a CRC, but only at a stream's start
# (see below): a CRC that held before makes it damage.
@pytest.mark.parametrize("damage", [b"\r", b"\n", b" ", b"\rX"], ids=["cr", "lf", "space", "cr-and-more"])
def test_a_crc_damaged_into_other_bytes_is_never_read_unchecked_even_first(damage: bytes) -> None:
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    crc_at = good.rindex(b"!") + 1
    damaged = good[:crc_at] + damage + good[crc_at + len(damage) :]
    events = Decoder().feed_events(damaged + good)
    assert [event.checksummed for event in events if isinstance(event, Telegram)] == [True]


def test_a_lost_crc_is_damage_even_when_the_stream_began_without_telegrams_checked() -> None:
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    crc_lost = good.removesuffix(b"\r\n")[:-4] + b"\r\n"
    # Before any CRC held, nothing tells a lost CRC from a meter that sends none: its bounds alone check it.
    decoder = Decoder()
    first = decoder.feed_events(crc_lost)
    assert [event.checksummed for event in first if isinstance(event, Telegram)] == [False]
    # Once one held, the stream is known to carry CRCs: for good.
    assert [type(event) for event in decoder.feed_events(good + crc_lost + crc_lost + crc_lost)] == [
        Telegram,
        DroppedFrame,
        DroppedFrame,
        DroppedFrame,
    ]


def test_telegrams_read_without_a_crc_never_refuse_one_whose_crc_holds() -> None:
    """The converse: a stream without CRCs learns nothing from them, and a CRC that fails teaches nothing."""
    checked = encoder.p1_telegram("ISk5\\2MT382-1000", DSMR_2_2_LINES)
    wrong_crc = DSMR_2_2.removesuffix(b"\r\n") + b"1A2B\r\n"  # "\r\n" damaged into digits
    decoder = Decoder()
    events = decoder.feed_events(DSMR_2_2 + wrong_crc + DSMR_2_2 + checked)
    assert [(type(event), getattr(event, "checksummed", None)) for event in events] == [
        (Telegram, False),
        (DroppedFrame, None),
        (Telegram, False),
        (Telegram, True),
    ]


def test_a_telegram_without_a_crc_cut_short_by_the_next_costs_itself_alone() -> None:
    cut = DSMR_2_2[: DSMR_2_2.index(b"1-0:1.7.0(") + 14]  # "1-0:1.7.0(0001" and no more
    decoder = Decoder()
    events = decoder.feed_events(cut + DSMR_2_2)
    assert [type(event) for event in events] == [DroppedFrame, Telegram]
    dropped, telegram = events
    assert isinstance(dropped, DroppedFrame)
    assert "cut short" in dropped.detail
    assert isinstance(telegram, Telegram)
    assert values(telegram)["1-0:1.7.0"] == (1210, W)


@pytest.mark.parametrize(
    "text",
    [b"tibber/pulse ready!\r\n", b"/ISK5\r\n\r\nhello!\r\n", b"/ISK5\\2M550T\r\n1-0:1.7.0(0001.21*kW)\r\n!\r\n"],
    ids=["topic", "no-data-line", "no-empty-line"],
)
def test_text_that_opens_no_telegram_is_never_read_as_one_without_a_crc(text: bytes) -> None:
    decoder = Decoder()
    assert decoder.feed(text) == []
    assert only_telegram(decoder.feed_events(DSMR_2_2)).readings


def test_a_telegram_without_a_crc_in_a_message_decodes() -> None:
    telegram = only_telegram(Decoder().feed_message(DSMR_2_2))
    assert values(telegram)["1-0:1.8.1"] == (12345, WH)


@pytest.mark.parametrize(
    "flood",
    [b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(", b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(1)\r\n/!\r\n", b"!\r\n/ABC5"],
    ids=["openings", "cut-openings", "ends"],
)
def test_floods_of_telegram_shapes_without_a_crc_cost_linear_time(flood: bytes) -> None:
    decoder = Decoder()
    started = time.perf_counter()
    for _ in range(16):
        decoder.feed_events(flood * 4096)
    assert time.perf_counter() - started < 20  # a quadratic reading takes minutes
    # Whatever the flood left begun is cut short by the next telegram, which decodes.
    *_, telegram = decoder.feed_events(b"\r\n" + DSMR_2_2)
    assert isinstance(telegram, Telegram)
    assert values(telegram)["1-0:1.7.0"] == (1210, W)
