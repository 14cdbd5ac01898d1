"""P1 telegrams sent without a CRC, and the P1 variants of Europe's meters (#23).

Each variant's telegram is built with the encoder from short lines modelled
on the example telegrams that dsmr_parser's test suite holds for it (their
codes, formats and units), and its electricity values are asserted.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, ObisCode, Telegram, Unit, reseal
from custom_components.han_port.decoder.crc import crc16_arc
from simulator import frames as encoder
from simulator.frames import MeterState

WH, W, V, A = Unit.WATT_HOUR, Unit.WATT, Unit.VOLT, Unit.AMPERE
VARH, VAR, VA = Unit.VAR_HOUR, Unit.VAR, Unit.VOLT_AMPERE


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
# The same text, written out again by a gateway with its lines ended by LF alone.
DSMR_2_2_LF = DSMR_2_2.replace(b"\r\n", b"\n")


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


def test_a_telegram_without_a_crc_comes_with_its_line_end() -> None:
    decoder = Decoder()
    bare_end = DSMR_2_2.removesuffix(b"\r\n")
    outcomes = [len(decoder.feed(bare_end[i : i + 1])) for i in range(len(bare_end))]
    assert sum(outcomes) == 0  # a '!' alone: a CRC may follow
    # A '/' right after it is no end: a CRC's first digit damaged into it must not make the telegram one without.
    assert decoder.feed(b"/") == []
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
    assert "from a meter whose telegrams carry one" in dropped.detail


def test_another_meters_telegram_with_a_crc_never_silences_a_meter_that_sends_none() -> None:
    """A DSMR 2.2 meter's telegrams carry no CRC; one checked telegram of another meter on the line (a stray, or a
    second port on a shared topic) proves nothing of them: they are read on, as before it."""
    own = [
        encoder.p1_telegram("ISk5\\2MT382-1000", [f"1-0:1.7.0({watts / 1000:06.3f}*kW)"], crc=False)
        for watts in (1000, 1100, 1200, 1300)
    ]
    stranger = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(00.500*kW)"])
    decoder = Decoder()
    events = [event for push in (own[0], own[1], stranger, own[2], own[3]) for event in decoder.feed_events(push)]
    readings = [values(event)["1-0:1.7.0"] for event in events if isinstance(event, Telegram)]
    assert readings == [(watts, W) for watts in (1000, 1100, 500, 1200, 1300)]
    assert not decoder.dropped


def test_a_checked_meters_telegram_that_lost_its_crc_and_a_byte_of_its_name_is_never_read() -> None:
    """Its CRC damaged into a line end and one bit of its identification line flipped (still text): a stranger
    telegram without a CRC, as far as its name tells, where telegrams carry one. A meter that sends none is read
    from its second telegram on; a damaged one does not come again."""
    own = [encoder.p1_telegram("KFM5KAIFA-METER", [f"1-0:1.7.0({watts / 1000:06.3f}*kW)"]) for watts in (1000, 1100)]
    lost = encoder.p1_telegram("KFM5KAIFA-METEQ", ["1-0:1.7.0(09.900*kW)"], crc=False)
    decoder = Decoder()
    events = [event for push in (*own, lost, own[1]) for event in decoder.feed_events(push)]
    readings = [values(event)["1-0:1.7.0"] for event in events if isinstance(event, Telegram)]
    assert readings == [(1000, W), (1100, W), (1100, W)]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


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
    [
        b"tibber/pulse ready!\r\n",
        b"/ISK5\r\n\r\nhello!\r\n",
        b"/ISK5\\2M550T\r\nhello(0001.21*kW)\r\n!\r\n",
        b"/ISK5\n\nhello!\n",
        b"/ISK5\\2M550T\nhello(0001.21*kW)\n!\n",
    ],
    ids=["topic", "no-data-line", "no-code-after-the-identification", "lf-no-data-line", "lf-no-code"],
)
def test_text_that_opens_no_telegram_is_never_read_as_one_without_a_crc(text: bytes) -> None:
    decoder = Decoder()
    assert decoder.feed(text) == []
    assert only_telegram(decoder.feed_events(DSMR_2_2)).readings


def test_a_telegram_without_a_crc_in_a_message_decodes() -> None:
    telegram = only_telegram(Decoder().feed_message(DSMR_2_2))
    assert values(telegram)["1-0:1.8.1"] == (12345, WH)
    telegram = only_telegram(Decoder().feed_message(DSMR_2_2_LF))
    assert values(telegram)["1-0:1.8.1"] == (12345, WH)


def test_a_telegram_without_a_crc_whose_lines_end_in_lf_alone_reads_as_with_cr_lf() -> None:
    telegram = only_telegram(Decoder().feed_events(DSMR_2_2_LF))
    as_sent = only_telegram(Decoder().feed_events(DSMR_2_2))
    assert not telegram.checksummed
    assert values(telegram) == values(as_sent)
    assert (telegram.meter_id, telegram.meter_type, telegram.left_out) == (
        as_sent.meter_id,
        as_sent.meter_type,
        as_sent.left_out,
    )
    # A byte at a time: its LF after the '!' ends it.
    decoder = Decoder()
    assert [len(decoder.feed(DSMR_2_2_LF[i : i + 1])) for i in range(len(DSMR_2_2_LF))][-2:] == [0, 1]
    # Cut short by the next, it costs itself alone.
    cut = DSMR_2_2_LF[: DSMR_2_2_LF.index(b"1-0:1.7.0(") + 14]
    assert [type(event) for event in Decoder().feed_events(cut + DSMR_2_2_LF)] == [DroppedFrame, Telegram]


def test_in_a_stream_of_lf_ended_telegrams_with_a_crc_a_lost_crc_is_damage() -> None:
    body = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"], crc=False).replace(b"\r\n", b"\n")
    body = body.removesuffix(b"\n")
    checked = body + f"{crc16_arc(body):04X}\n".encode("ascii")
    lost = body + b"\n"
    events = Decoder().feed_events(checked + lost + checked)
    assert [(type(event), getattr(event, "checksummed", None)) for event in events] == [
        (Telegram, True),
        (DroppedFrame, None),
        (Telegram, True),
    ]


@pytest.mark.parametrize(
    "flood",
    [
        b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(",
        b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(1)\r\n/!\r\n",
        b"!\r\n/ABC5",
        b"/ISK5\\2M550T\n\n1-0:1.7.0(1)\n/!\n",
        b"\n!\n/ABC5",
        b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(\xb1)\r\n!\r\n",
        b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(\x00)\r\n!0000\r\n",
    ],
    ids=["openings", "cut-openings", "ends", "lf-cut-openings", "lf-ends", "damaged", "damaged-crc"],
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


# --- 2. Europe's P1 variants -----------------------------------------------------

VARIANTS: dict[str, tuple[bytes, dict[str, tuple[float, Unit | None]]]] = {
    "nl-dsmr3": (
        encoder.p1_telegram(
            "ISk5\\2MT382-1000",
            [
                "0-0:96.1.1(4B384547303034303436333935353037)",
                "1-0:1.8.1(12345.678*kWh)",
                "1-0:2.8.2(00234.567*kWh)",
                "1-0:1.7.0(001.19*kW)",
                "0-0:17.0.0(016*A)",  # a threshold, of the meter (A = 0): no electricity register
                "0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)",
                "(00001.001)",
            ],
            crc=False,
        ),
        {"1-0:1.8.1": (12345678, WH), "1-0:2.8.2": (234567, WH), "1-0:1.7.0": (1190, W)},
    ),
    "nl-dsmr4": (
        encoder.p1_telegram(
            "KFM5KAIFA-METER",
            [
                "1-3:0.2.8(42)",
                "0-0:1.0.0(161113205757W)",
                "1-0:1.8.2(001435.706*kWh)",
                "1-0:99.97.0(1)(0-0:96.7.19)(000104180320W)(0000237126*s)",
                "1-0:32.32.0(00003)",  # voltage sags: a count, no quantity's bounds hold it
                "1-0:31.7.0(000*A)",
                "1-0:51.7.0(006*A)",
                "1-0:41.7.0(01.247*kW)",
                "1-0:62.7.0(00.209*kW)",
                "0-1:24.2.1(161129200000W)(00981.443*m3)",
            ],
        ),
        {
            "1-0:1.8.2": (1435706, WH),
            "1-0:31.7.0": (0, A),
            "1-0:51.7.0": (6, A),
            "1-0:41.7.0": (1247, W),
            "1-0:62.7.0": (209, W),
        },
    ),
    "nl-dsmr5": (
        encoder.p1_telegram(
            "ISk5\\2MT382-1000",
            [
                "1-3:0.2.8(50)",
                "1-0:2.8.1(000002.444*kWh)",
                "1-0:32.7.0(0230.0*V)",
                "1-0:72.7.0(0229.0*V)",
                "1-0:71.7.0(0.86*A)",
                "1-0:61.7.0(00.142*kW)",
                "0-0:96.13.0(303132333435363738393031323334353637)",  # a text's hex, all digits: no number
                "0-2:24.1.0(003)",
                "0-2:96.1.0()",
            ],
        ),
        {"1-0:2.8.1": (2444, WH), "1-0:32.7.0": (230.0, V), "1-0:72.7.0": (229.0, V), "1-0:71.7.0": (0.86, A)}
        | {"1-0:61.7.0": (142, W)},
    ),
    "be-fluvius": (
        encoder.p1_telegram(
            "FLU5\\253769484_A",
            [
                "0-0:96.1.4(50217)",
                "1-0:1.8.2(000015.758*kWh)",
                "1-0:1.4.0(02.351*kW)",  # the quarter hour's average demand so far
                "1-0:1.6.0(200509134558S)(02.589*kW)",  # the month's maximum demand, and when
                (
                    "0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)"
                    "(200401000000S)(200305122139S)(05.980*kW)"
                ),
                "1-0:22.7.0(00.012*kW)",
                "1-0:52.7.0(234.7*V)",
                "1-0:31.7.0(000.00*A)",
                "0-1:24.2.3(200512134558S)(00112.384*m3)",
            ],
        ),
        {"1-0:1.8.2": (15758, WH), "1-0:1.4.0": (2351, W), "1-0:1.6.0": (2589, W), "1-0:22.7.0": (12, W)}
        | {"1-0:52.7.0": (234.7, V), "1-0:31.7.0": (0, A)},
    ),
    "de-easymeter": (
        encoder.p1_telegram(
            "ESY5Q3DB1024 V3.04",
            [
                "1-0:0.0.0*255(0272031312565)",
                "1-0:1.8.0*255(00052185.7825309*kWh)",
                "1-0:2.8.0*255(00019949.3221493*kWh)",
                "1-0:21.7.0*255(000747.85*W)",
                "1-0:1.7.0*255(002124.86*W)",
                "1-0:96.5.5*255(80)",
                "0-0:96.1.255*255(1ESY1313002565)",
            ],
            crc=False,
        )
        # What the gateway adds after the telegram.
        + b"  25803103\r\n"
        + b"\xff" * 33
        + b"\r\n",
        {"1-0:1.8.0": (52185782.5309, WH), "1-0:2.8.0": (19949322.1493, WH), "1-0:21.7.0": (747.85, W)}
        | {"1-0:1.7.0": (2124.86, W)},
    ),
    "ie-iskra": (
        encoder.p1_telegram(
            "ISK5\\2M550E-1011",
            [
                "0-0:96.1.1()",
                "0-0:96.1.0(09610)",
                "1-0:1.8.1(000010.181*kWh)",
                "1-0:2.8.2(000010.282*kWh)",
                "1-0:2.7.0(00.270*kW)",
                "1-0:42.7.0(00.427*kW)",
                "1-0:72.7.0(243.3*V)",
                "1-0:71.7.0(000*A)",
            ],
        ),
        {"1-0:1.8.1": (10181, WH), "1-0:2.8.2": (10282, WH), "1-0:2.7.0": (270, W), "1-0:42.7.0": (427, W)}
        | {"1-0:72.7.0": (243.3, V), "1-0:71.7.0": (0, A)},
    ),
    "hu-eon": (
        encoder.p1_telegram(
            "SAG5\\2S211",
            [
                "0-0:42.0.0(53414733303832323030303032313630)",
                "0-0:96.1.0(383930303832323030303032313630)",
                "1-0:1.8.0(000173.640*kWh)",
                "1-0:1.8.4(000000.000*kWh)",
                "1-0:2.8.0(000627.177*kWh)",
                "1-0:4.8.0(000303.131*kvarh)",
                "1-0:7.8.0(000160.487*kvarh)",
                "1-0:15.8.0(000800.817*kWh)",
                "1-0:51.7.0(004*A)",
                "1-0:13.7.0(0.758)",
                "1-0:33.7.0(-0.615)",
                "1-0:14.7.0(50.00*Hz)",
                "1-0:7.7.0(00.504*kvar)",
                "1-0:31.4.0(200.00*A)",
                "0-0:98.1.0(230701000000S)(000249.070*kWh)(000100.816*kWh)",
            ],
        ),
        {"1-0:1.8.0": (173640, WH), "1-0:1.8.4": (0, WH), "1-0:2.8.0": (627177, WH), "1-0:4.8.0": (303131, VARH)}
        | {"1-0:7.8.0": (160487, VARH), "1-0:15.8.0": (800817, WH), "1-0:51.7.0": (4, A), "1-0:13.7.0": (0.758, None)}
        | {"1-0:33.7.0": (-0.615, None), "1-0:14.7.0": (50.0, Unit.HERTZ), "1-0:7.7.0": (504, VAR)}
        | {"1-0:31.4.0": (200.0, A)},
    ),
    "lt-eso": (
        encoder.p1_telegram(
            "SAG5\\253713900_A",
            [
                "1-0:1.8.0(007926.000*kWh)",
                "1-0:3.8.1(011688.602*kvarh)",
                "1-0:4.7.0(00.061*kvar)",
                "1-0:63.7.0(00.156*kvar)",
                "1-0:32.24.0(243.0*V)",  # the voltage's average
                "1-0:12.7.0(243.4*V)",
                "1-0:91.7.0(000*A)",
                "1-0:90.7.0(008*A)",
                "1-0:9.7.0(01.270*kVA)",
                "1-0:30.7.0(00.294*kVA)",
                "1-0:16.24.0(-00.024*kW)",  # net: import less export
                "1-0:13.3.0(0.000)",
                "1-0:0.8.2(00900*s)",  # a period: no quantity here
                "1-0:9.4.0(000000.352*kVA)",
                "1-0:32.33.0(00736*s)",
                "1-0:32.34.0(00000*V)",  # the last sag's depth: no instantaneous voltage
                "1-0:0.2.0(02.21)",
            ],
        ),
        {"1-0:1.8.0": (7926000, WH), "1-0:3.8.1": (11688602, VARH), "1-0:4.7.0": (61, VAR), "1-0:63.7.0": (156, VAR)}
        | {"1-0:32.24.0": (243.0, V), "1-0:12.7.0": (243.4, V), "1-0:91.7.0": (0, A), "1-0:90.7.0": (8, A)}
        | {"1-0:9.7.0": (1270, VA), "1-0:30.7.0": (294, VA), "1-0:16.24.0": (-24, W), "1-0:13.3.0": (0.0, None)}
        | {"1-0:9.4.0": (352, VA)},
    ),
    "ch-5s": (
        encoder.p1_telegram(
            "LGZ5\\2ZMF100AC",
            [
                "0-0:0.0.0(353738303337)",
                "0-0:1.0.0(240918141228S)",
                "1-1:1.8.1(000025.600*kWh)",
                "1-1:2.8.1(000465.932*kWh)",
                "1-1:2.7.0(00.006*kW)",
                "1-1:1.6.0(240906083000S)(03.468*kW)",
                "0-0:98.1.0(3)(1-1:1.6.0)(1-1:1.6.0)(240901000000S)(240805093000S)(04.101*kW)",
                "1-0:1.4.0(00.004*kW)",
                "1-0:51.7.0(1.01*A)",
                "1-0:22.7.0(00.073*kW)",
            ],
        ),
        {"1-1:1.8.1": (25600, WH), "1-1:2.8.1": (465932, WH), "1-1:2.7.0": (6, W), "1-1:1.6.0": (3468, W)}
        | {"1-0:1.4.0": (4, W), "1-0:51.7.0": (1.01, A), "1-0:22.7.0": (73, W)},
    ),
    "lu-smarty": (
        encoder.p1_telegram(
            "SAG5\\253757777_A",
            [
                "1-3:0.2.8(42)",
                "0-0:42.0.0(53414733303331373838)",
                "1-0:1.8.0(003487.021*kWh)",
                "1-0:2.8.0(000000.000*kWh)",
                "1-0:3.8.0(000193.022*kvarh)",
                "1-0:1.7.0(00.362*kW)",
                "1-0:4.7.0(00.105*kvar)",
            ],
        ),
        {"1-0:1.8.0": (3487021, WH), "1-0:2.8.0": (0, WH), "1-0:3.8.0": (193022, VARH), "1-0:1.7.0": (362, W)}
        | {"1-0:4.7.0": (105, VAR)},
    ),
    # Landis+Gyr's E350 sends no empty line after its identification (openHAB's test telegram).
    "nl-e350": (
        encoder.p1_telegram(
            "XMX5XMXABCE000015779",
            [
                "0-0:96.1.1(31323639333037322020202020202020)",
                "1-0:1.8.1(07654.321*kWh)",
                "1-0:2.8.1(00000.000*kWh)",
                "1-0:1.7.0(0000.32*kW)",
                "0-0:96.13.0()",
            ],
            crc=False,
            empty_line=False,
        ),
        {"1-0:1.8.1": (7654321, WH), "1-0:2.8.1": (0, WH), "1-0:1.7.0": (320, W)},
    ),
    "at-sagemcom-wh": (
        encoder.p1_telegram(
            "EST5\\253710000_A",
            [
                "1-0:1.8.0(006545766*Wh)",
                "1-0:1.7.0(000000286*W)",
                "1-0:2.8.2(000000058*Wh)",
                "1-0:4.8.1(002692848*varh)",
                "1-0:4.7.0(000000166*var)",
            ],
        ),
        {"1-0:1.8.0": (6545766, WH), "1-0:1.7.0": (286, W), "1-0:2.8.2": (58, WH), "1-0:4.8.1": (2692848, VARH)}
        | {"1-0:4.7.0": (166, VAR)},
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_decodes_to_the_values_it_carries(variant: str) -> None:
    telegram_bytes, expected = VARIANTS[variant]
    decoder = Decoder()
    telegram = only_telegram(decoder.feed_events(telegram_bytes) + decoder.finish())
    assert values(telegram) == expected
    assert telegram.checksummed is (variant not in {"nl-dsmr3", "de-easymeter", "nl-e350"})


def test_variants_name_their_meter() -> None:
    easymeter = only_telegram(Decoder().feed_events(VARIANTS["de-easymeter"][0]))
    assert (easymeter.manufacturer, easymeter.meter_id, easymeter.meter_type) == (
        "EasyMeter",
        "0272031312565",
        "Q3DB1024 V3.04",
    )
    iskra = only_telegram(Decoder().feed_events(VARIANTS["ie-iskra"][0]))
    assert iskra.meter_id == "09610"  # its empty 96.1.1 names nothing
    hungarian = only_telegram(Decoder().feed_events(VARIANTS["hu-eon"][0]))
    assert hungarian.logical_device_name == "53414733303832323030303032313630"
    swiss = only_telegram(Decoder().feed_events(VARIANTS["ch-5s"][0]))
    assert swiss.meter_id == "353738303337"


def test_a_gas_meters_id_is_never_the_meters_own() -> None:
    lines = ["0-1:96.1.0(4730303339303031363532303530323136)", "1-0:1.7.0(01.500*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("ISK5\\2M550E-1012", lines)))
    assert telegram.meter_id is None
    assert values(telegram) == {"1-0:1.7.0": (1500, W)}


def test_histories_logs_counters_and_gas_are_left_out_never_read() -> None:
    fluvius = only_telegram(Decoder().feed_events(VARIANTS["be-fluvius"][0]))
    assert code("0-0:98.1.0") in fluvius.left_out
    dsmr4 = only_telegram(Decoder().feed_events(VARIANTS["nl-dsmr4"][0]))
    assert {code("1-0:99.97.0"), code("1-0:32.32.0")} <= set(dsmr4.left_out)
    lithuanian = only_telegram(Decoder().feed_events(VARIANTS["lt-eso"][0]))
    assert {code("1-0:32.34.0"), code("1-0:0.2.0")} <= set(lithuanian.left_out)


HUNGARIAN_POWER_FACTORS = [  # as dsmr_parser's E.ON Hungary example sends them: no meter measures that
    "1-0:13.7.0(4.556)",
    "1-0:33.7.0(4.591)",
    "1-0:53.7.0(4.542)",
    "1-0:73.7.0(4.552)",
]
HUNGARIAN_MEASURED = [
    "1-0:1.8.0(000173.640*kWh)",
    "1-0:2.7.0(02.601*kW)",
    "1-0:32.7.0(240.4*V)",
    "1-0:31.7.0(003*A)",
    "1-0:51.7.0(004*A)",
    "1-0:71.7.0(003*A)",
]


def test_a_power_factor_beyond_its_bounds_in_a_checked_telegram_is_left_out_and_the_rest_shown() -> None:
    """The meter worked it out, and the CRC says it sent it: its own arithmetic, not a lying line."""
    telegram = only_telegram(
        Decoder().feed_events(encoder.p1_telegram("SAG5\\2S211", [*HUNGARIAN_MEASURED, *HUNGARIAN_POWER_FACTORS]))
    )
    assert values(telegram) == {
        "1-0:1.8.0": (173640, WH),
        "1-0:2.7.0": (2601, W),
        "1-0:32.7.0": (240.4, V),
        "1-0:31.7.0": (3, A),
        "1-0:51.7.0": (4, A),
        "1-0:71.7.0": (3, A),
    }
    assert telegram.left_out == tuple(code(line.split("(")[0]) for line in HUNGARIAN_POWER_FACTORS)


def test_a_power_factor_beyond_its_bounds_drops_a_telegram_without_a_crc_with_its_reason() -> None:
    """Without a check, an impossible number is the sign of damage that may have struck the others too."""
    lines = [*HUNGARIAN_MEASURED, HUNGARIAN_POWER_FACTORS[0]]
    (dropped,) = Decoder().feed_events(encoder.p1_telegram("SAG5\\2S211", lines, crc=False))
    assert isinstance(dropped, DroppedFrame)
    assert dropped.reason is DropReason.IMPLAUSIBLE
    assert "13.7.0" in dropped.detail


def test_a_measured_value_beyond_its_bounds_drops_a_checked_telegram() -> None:
    """A voltage, power or energy the meter measured answers for the telegram: beyond its bounds, nothing is shown."""
    lines = [*HUNGARIAN_MEASURED, "1-0:52.7.0(940.4*V)"]
    (dropped,) = Decoder().feed_events(encoder.p1_telegram("SAG5\\2S211", lines))
    assert isinstance(dropped, DroppedFrame)
    assert dropped.reason is DropReason.IMPLAUSIBLE
    assert "52.7.0" in dropped.detail


def test_a_bang_inside_a_line_is_no_end_of_a_telegram_without_a_crc() -> None:
    """At a stream's start, one bit turns a line's ')' into '!': the telegram's CRC still decides, and fails."""
    lines = ["0-0:1.0.0(240115130010W)", "1-0:1.7.0(02.345*kW)", "1-0:2.8.0(00000.000*kWh)"]
    telegram = bytearray(encoder.p1_telegram("SMA5", lines))
    telegram[telegram.rfind(b")\r\n!")] = ord("!")
    telegram[telegram.find(b"1-0:1.7.0(") + 11] ^= 0x01  # and a digit of the power
    following = encoder.p1_telegram("SMA5", ["0-0:1.0.0(240115130020W)", "1-0:1.7.0(01.001*kW)"])
    decoder = Decoder()
    events = decoder.feed_events(bytes(telegram) + following)
    shown = [
        (event.readings[ObisCode.parse("1-0:1.7.0")].value, event.checksummed)
        for event in events
        if isinstance(event, Telegram)
    ]
    assert shown == [(1001, True)]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


def test_codes_written_with_their_f_group_after_a_dot_are_read() -> None:
    """DSMR 4.2 meters may write the F group as ".255" (openHAB's dsmr_42 telegram), others as "*255" or not at all."""
    lines = ["1-0:1.8.0(000173.640*kWh)", "1-0:31.7.0.255(001*A)", "1-0:21.7.0.255(01.111*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("KFM5KAIFA-METER", lines)))
    assert values(telegram) == {"1-0:1.8.0": (173_640, WH), "1-0:31.7.0": (1, A), "1-0:21.7.0": (1111, W)}


def test_a_unit_written_without_its_star_is_read() -> None:
    lines = ["1-0:1.8.1(000123.456kWh)", "1-0:32.7.0(234.5V)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("FLU5\\253769484_A", lines)))
    assert values(telegram) == {"1-0:1.8.1": (123_456, WH), "1-0:32.7.0": (234.5, V)}


def test_phases_printed_in_kilovolts_and_kiloamperes_are_read_in_volts_and_amperes() -> None:
    """A Lithuanian ESO meter's lines, as its user quoted them (zuidwijk/dsmr#31)."""
    lines = [
        "1-0:32.7.0(0000.242*kV)",
        "1-0:31.7.0(0000.005*kA)",
        "1-0:52.7.0(0000.228*kV)",
        "1-0:51.7.0(0000.004*kA)",
        "1-0:14.7.0(0000.049*kHz)",
        "1-0:15.7.0(00000003.262*kW)",
    ]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("ESO5\\XxXxXxXxXxX", lines)))
    assert values(telegram) == {
        "1-0:32.7.0": (242, V),
        "1-0:31.7.0": (5, A),
        "1-0:52.7.0": (228, V),
        "1-0:51.7.0": (4, A),
        "1-0:15.7.0": (3262, W),
    }
    # Its frequency, to a whole hertz cut short, would read 49 Hz on a 50 Hz grid.
    assert telegram.left_out == (code("1-0:14.7.0"),)


def test_a_value_without_the_unit_its_quantity_needs_is_left_out_never_shown_as_printed() -> None:
    """Luxembourg's Smarty (older firmware) prints reactive power in kvar without its unit: 0.007 is 7 var, or is it?"""
    lines = [
        "1-0:1.7.0(00.193*kW)",
        "1-0:3.7.0(00.000)",
        "1-0:4.7.0(00.007)",
        "1-0:13.7.0(0.998)",
        "1-0:2.8.0(000001.000*MWh)",
    ]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("Ene5\\T210-D ESMR5.0", lines)))
    # A power factor has no unit to leave out.
    assert values(telegram) == {"1-0:1.7.0": (193, W), "1-0:13.7.0": (0.998, None)}
    assert {code("1-0:3.7.0"), code("1-0:4.7.0"), code("1-0:2.8.0")} <= set(telegram.left_out)


@pytest.mark.parametrize(
    ("stamp", "local", "fold"),
    [
        # Lithuania's winter (EET) as Ireland's (GMT); a fold means nothing in an hour lived once.
        ("240214101735W", datetime(2024, 2, 14, 10, 17, 35), 1),
        ("240707120000S", datetime(2024, 7, 7, 12, 0, 0), 0),
        # The hour summer time ends is lived twice: "S" says the first, "W" the second.
        ("241027023000S", datetime(2024, 10, 27, 2, 30, 0), 0),
        ("241027023000W", datetime(2024, 10, 27, 2, 30, 0), 1),
    ],
)
def test_the_meters_clock_is_its_local_time_in_whatever_zone_it_keeps(stamp: str, local: datetime, fold: int) -> None:
    """P1 says only whether summer time applies, not the zone: Lithuania keeps EET, Ireland GMT, the rest CET."""
    lines = [f"0-0:1.0.0({stamp})", "1-0:1.7.0(01.000*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("ESO5\\2ESOLT", lines)))
    assert telegram.timestamp == local
    assert telegram.timestamp is not None
    assert (telegram.timestamp.tzinfo, telegram.timestamp.fold) == (None, fold)


def test_a_swedish_aidon_p1_port_names_its_maker_and_type() -> None:
    lines = ["0-0:1.0.0(240115130010W)", "1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(0001.453*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("ADN9 6534", lines)))
    assert (telegram.manufacturer, telegram.meter_type) == ("Aidon", "6534")


@pytest.mark.parametrize(
    ("lines", "read", "left_out"),
    [
        # A value with its unit after a space, or a bare '*': no number is read, and the code is said left out.
        (["1-0:1.7.0(01.193 kW)", "1-0:13.7.0(0.987*)"], {}, ["1-0:1.7.0", "1-0:13.7.0"]),
        # A code sent twice (damage, or an edited telegram resealed), once readable: read, never also left out.
        (["1-0:1.7.0(01.193)", "1-0:1.7.0(01.193*kW)"], {"1-0:1.7.0": (1193, W)}, []),
    ],
)
def test_a_code_is_read_or_said_left_out_never_both_never_neither(
    lines: list[str], read: dict[str, tuple[float, Unit]], left_out: list[str]
) -> None:
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("KFM5KAIFA-METER", lines)))
    assert values(telegram) == read
    assert telegram.left_out == tuple(code(text) for text in left_out)


def test_a_clock_with_a_line_end_inside_it_is_no_clock() -> None:
    lines = ["0-0:1.0.0(240115130010W\n)", "1-0:1.7.0(01.000*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("KFM5KAIFA-METER", lines)))
    assert telegram.timestamp is None


# --- 3. CRCs sent without their leading zeros, and telegrams cut short ------------


def short_crc_telegram(digits: int) -> tuple[bytes, int]:
    """A telegram whose CRC needs this many hex digits, sent as meters that forget to pad it do ("!2A6"); its power.

    The power's digits vary until the CRC is that small.
    """
    for watts in range(100_000):
        body = encoder.p1_telegram("KFM5KAIFA-METER", [f"1-0:1.7.0({watts / 1000:06.3f}*kW)"], crc=False)
        body = body.removesuffix(b"\r\n")
        crc = f"{crc16_arc(body):X}"
        if len(crc) == digits:
            return body + crc.encode("ascii") + b"\r\n", watts
    raise AssertionError(digits)


def powers(events: list[Telegram | DroppedFrame]) -> list[float | None]:
    """Each event's power, None for a drop."""
    return [event.readings[code("1-0:1.7.0")].value if isinstance(event, Telegram) else None for event in events]


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_a_crc_sent_without_its_leading_zeros_ends_its_telegram(digits: int) -> None:
    telegram, watts = short_crc_telegram(digits)
    decoder = Decoder()
    events = decoder.feed_events(telegram * 3)
    assert powers(events) == [watts] * 3
    assert all(event.checksummed for event in events if isinstance(event, Telegram))
    # Masked and resealed (as diagnostics show it), it still decodes.
    masked = events[0].raw.replace(b"KAIFA-METER", b"KAIFA-XXXXX")
    assert powers(Decoder().feed_events(reseal(masked, "p1") + b"\r\n")) == [watts]
    # A byte at a time: the line end after the digits ends it.
    decoder = Decoder()
    assert [len(decoder.feed_events(telegram[i : i + 1])) for i in range(len(telegram))][-2:] == [1, 0]


def test_a_crc_without_its_leading_zeros_costs_nothing_among_padded_ones() -> None:
    short, watts = short_crc_telegram(3)
    padded = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    decoder = Decoder()
    assert powers(decoder.feed_events(padded + short + padded)) == [2027, watts, 2027]
    assert decoder.dropped == {}


def test_a_short_crc_that_fails_costs_its_telegram_alone() -> None:
    short, _ = short_crc_telegram(3)
    crc_at = short.rindex(b"!") + 1
    wrong = short[:crc_at] + f"{(int(short[crc_at:-2], 16) + 1) % 0x1000:03X}\r\n".encode("ascii")
    padded = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    decoder = Decoder()
    assert powers(decoder.feed_events(wrong + padded)) == [None, 2027]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


@pytest.mark.parametrize("text", ["see http://x/y", "see http://x/KFM5 now"], ids=["slash", "identification"])
def test_a_telegram_cut_short_costs_itself_alone_when_the_next_holds_a_slash(text: str) -> None:
    """A text message line with a '/' in it: the next telegram starts at its own '/', not at the text's."""
    good = encoder.p1_telegram("KFM5KAIFA-METER", [f"0-0:96.13.0({text})", "1-0:1.7.0(02.027*kW)"])
    decoder = Decoder()
    events = decoder.feed_events(good[:30] + good)
    assert powers(events) == [None, 2027]
    dropped = events[0]
    assert isinstance(dropped, DroppedFrame)
    assert "cut short" in dropped.detail
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


def test_a_telegram_cut_short_before_a_damaged_one_costs_those_two_alone() -> None:
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["0-0:96.13.0(see http://x/KFM5 now)", "1-0:1.7.0(02.027*kW)"])
    damaged = good.replace(b"02.027", b"02.028")
    decoder = Decoder()
    assert powers(decoder.feed_events(good[:30] + damaged + good)) == [None, None, 2027]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 2}


@pytest.mark.parametrize("kind", ["no CRC", "short CRC", "no CRC, LF"])
def test_a_message_whose_line_end_after_the_telegram_was_stripped_ends_the_telegram(kind: str) -> None:
    """A reader that publishes each telegram as a message of its own, trailing whitespace stripped (ESPHome's text).

    Four CRC digits tell where a telegram ends by themselves; '!' alone, or fewer digits, wait for the line end
    that never comes: the next message's telegram ran on into it, and both were lost. The next telegram's
    opening ends it now (the message's end cannot: a telegram split over messages may be cut after its '!').
    """
    if kind == "short CRC":
        telegram, watts = short_crc_telegram(3)
    else:
        telegram, watts = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(01.234*kW)"], crc=False), 1234
        if kind == "no CRC, LF":
            telegram = telegram.replace(b"\r\n", b"\n")
    decoder = Decoder()
    events = [event for _ in range(3) for event in decoder.feed_message(telegram.rstrip())]
    assert powers(events) == [watts] * 2
    assert powers(decoder.quiet()) == [watts]  # the quiet after a push ends the last one
    # Several in one message, the line end after each '!' stripped but between them.
    several = b"\r\n".join(telegram.rstrip() for _ in range(2))
    decoder = Decoder()
    assert powers([*decoder.feed_message(several), *decoder.feed_message(several), *decoder.quiet()]) == [watts] * 4
    # A reader's status between two telegrams ends the one before it.
    decoder = Decoder()
    events = [*decoder.feed_message(telegram.rstrip()), *decoder.feed_message(b'{"status":"online"}')]
    assert powers([event for event in events if isinstance(event, Telegram)]) == [watts]


@pytest.mark.parametrize("cut", range(1, 9))
def test_a_telegram_split_over_messages_near_its_end_is_joined(cut: int) -> None:
    """Cut anywhere in its last bytes ('!', its CRC, its line end): the two messages are one telegram."""
    telegram = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    decoder = Decoder()
    events = [*decoder.feed_message(telegram[:-cut]), *decoder.feed_message(telegram[-cut:])]
    assert [event.checksummed for event in events if isinstance(event, Telegram)] == [True]
    # A message of a line end alone holds nothing: counted as such, never a damaged telegram.
    assert {event.reason for event in events if isinstance(event, DroppedFrame)} <= {DropReason.UNRECOGNISED}


def test_an_identification_inside_a_url_never_cuts_a_telegram_without_a_crc() -> None:
    """A text line of a URL whose path looks like an identification ("/KAM5/info)") followed by a data line."""
    lines = [
        "0-0:1.0.0(240301120000W)",
        "1-0:1.8.0(00012345.678*kWh)",
        "0-0:96.13.0(see https://example.com/KAM5/info)",
        "1-0:1.7.0(01.234*kW)",
    ]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("ISk5\\2MT382-1000", lines, crc=False)))
    assert (telegram.manufacturer, values(telegram)["1-0:1.7.0"]) == ("Iskraemeco", (1234, W))


@pytest.mark.parametrize("split", [0, 1, 2, 3])
def test_a_telegram_split_after_its_bang_is_joined_whatever_its_crc_looks_like(split: int) -> None:
    """A CRC of "2F…" read as hex text is the opening of a P1 telegram ("68…" an M-Bus frame's, "7E…" HDLC's)."""
    for watts in range(100_000):
        telegram = encoder.p1_telegram("KFM5KAIFA-METER", [f"1-0:1.7.0({watts / 1000:06.3f}*kW)"])
        crc_at = telegram.rindex(b"!") + 1
        if telegram[crc_at : crc_at + 2] == b"2F":
            break
    else:
        msg = "no CRC opens with 2F"
        raise AssertionError(msg)
    decoder = Decoder()
    events = [*decoder.feed_message(telegram[: crc_at + split]), *decoder.feed_message(telegram[crc_at + split :])]
    assert powers([event for event in events if isinstance(event, Telegram)]) == [watts]
    # Its CR and LF in messages of their own too.
    decoder = Decoder()
    pieces = (telegram[:crc_at], telegram[crc_at:-1], telegram[-1:])
    events = [event for piece in pieces for event in decoder.feed_message(piece)]
    assert powers([event for event in events if isinstance(event, Telegram)]) == [watts]


@pytest.mark.parametrize("cut", [0, 2])
def test_a_telegram_split_after_its_bang_as_hex_text_keeps_its_crc(cut: int) -> None:
    """A bridge that writes hex text (in a JSON object, as Tasmota's does), splitting a telegram in its end."""
    telegram = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    at = telegram.rindex(b"!") + 1 + cut
    for wrap in (lambda part: part.hex().encode(), lambda part: b'{"SerialReceived":"%s"}' % part.hex().encode()):
        decoder = Decoder()
        events = [event for part in (telegram[:at], telegram[at:]) * 3 for event in decoder.feed_message(wrap(part))]
        assert [(event.readings[code("1-0:1.7.0")].value, event.checksummed) for event in events] == [(2027, True)] * 3


def test_a_crc_in_the_message_of_the_next_telegram_is_still_its_own() -> None:
    """A bridge that publishes fixed-size chunks: one ends at a telegram's '!', the next holds its CRC and more."""
    telegram = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    stream = telegram * 3
    first = telegram.rindex(b"!") + 1
    for cut in (first, first + 2):
        decoder = Decoder()
        events = [*decoder.feed_message(stream[:cut]), *decoder.feed_message(stream[cut:])]
        assert [(type(event).__name__, getattr(event, "checksummed", None)) for event in events] == [
            ("Telegram", True)
        ] * 3


HEX_DIGIT_BYTES = b"0123456789abcdefABCDEF"
# A bit flipped out of ASCII (0xB1 for '1'), a byte lost to a NUL, a control character, a burst of them.
OUT_OF_TEXT = [b"\xb1", b"\x00", b"\t", b"\xff\x00\xfe"]


@pytest.mark.parametrize("chunk", [1, 7, 4096], ids=["byte-by-byte", "7-byte-reads", "whole"])
@pytest.mark.parametrize("damage", OUT_OF_TEXT, ids=["high-bit", "nul", "tab", "burst"])
def test_a_telegram_damaged_out_of_text_is_a_damaged_telegram_and_costs_itself_alone(damage: bytes, chunk: int) -> None:
    """Damage on a P1 line that leaves bytes no telegram holds is counted as damage, never as a stranger's bytes."""
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.8.1(001581.123*kWh)", "1-0:1.7.0(02.027*kW)"])
    at = good.index(b"001581")
    damaged = good[:at] + damage + good[at + len(damage) :]
    stream = good + damaged + good
    decoder = Decoder()
    events = [event for i in range(0, len(stream), chunk) for event in decoder.feed_events(stream[i : i + chunk])]
    assert powers(events) == [2027, None, 2027]
    dropped = events[1]
    assert isinstance(dropped, DroppedFrame)
    assert dropped.detail == "P1 CRC mismatch"
    assert dropped.raw == damaged.removesuffix(b"\r\n")
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


@pytest.mark.parametrize("at", [5, 16, 18, 20], ids=["identification", "its-line-end", "empty-line", "first-code"])
def test_a_telegram_damaged_out_of_text_in_its_first_lines_is_a_damaged_telegram(at: int) -> None:
    """Its identification, a line end or the first code damaged past ASCII: the CRC still judges it (fuzzing found it
    passed over silently, as a '/' opening no telegram)."""
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.8.1(001581.123*kWh)", "1-0:1.7.0(02.027*kW)"])
    damaged = bytearray(good)
    damaged[at] ^= 0x80
    decoder = Decoder()
    assert powers(decoder.feed_events(good + damaged + good)) == [2027, None, 2027]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


@pytest.mark.parametrize("damage", OUT_OF_TEXT, ids=["high-bit", "nul", "tab", "burst"])
def test_a_telegram_without_a_crc_damaged_out_of_text_is_dropped_never_read(damage: bytes) -> None:
    at = DSMR_2_2.index(b"0001.21")
    damaged = DSMR_2_2[:at] + damage + DSMR_2_2[at + len(damage) :]
    decoder = Decoder()
    events = decoder.feed_events(damaged + DSMR_2_2)
    assert powers(events) == [None, 1210]
    dropped = events[0]
    assert isinstance(dropped, DroppedFrame)
    assert dropped.detail == "P1 telegram without a CRC holds bytes that are not text: damaged"
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


def test_a_number_its_meter_sent_with_a_byte_that_is_not_text_is_not_read_and_the_rest_is() -> None:
    """The CRC holds: the meter sent the bytes. A number holding one reads as no number; after a value, one harms
    nothing; the other lines read."""
    sent = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.8.1(0015\x0081.123*kWh)", "1-0:1.7.0(02.027*kW)\t"])
    telegram = only_telegram(Decoder().feed_events(sent))
    assert values(telegram) == {"1-0:1.7.0": (2027, W)}


def test_a_few_bytes_that_are_not_text_after_a_slash_that_opens_no_telegram_are_noise() -> None:
    """Bytes that are not text after a '/' that opens no telegram: noise, neither a telegram nor its damage."""
    decoder = Decoder()
    good = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    assert powers(decoder.feed_events(b"/x\x00y\r\n!0000\r\n" + good)) == [2027]
    assert decoder.dropped == {}
    assert decoder.noise_bytes == len(b"/x\x00y!0000")


def pushes_whose_header_reads_as_a_crc(*, segmented: bool) -> list[bytes]:
    """Aidon pushes in HDLC frames to client 0x10 ('!' is 0x21) whose next four header bytes happen to be hex digits.

    Between its flag ('~') and such a '!', a frame's header holds few bytes that are not text: its format's, and
    its length's when that is no printable character.
    Segmented, a push is two frames, the first's format byte marking it (0xA8 to 0xAF).
    """
    found = []
    for power in range(1000, 3000):
        information = encoder.LLC + encoder.data_notification(
            encoder.aidon_list(MeterState(power_import=power), 1), None
        )
        half = len(information) // 2 if segmented else len(information)
        frames = (
            encoder.hdlc_frame(
                information[:half], segmented=segmented, destination=b"\x21", source=source, control=control
            )
            + (
                encoder.hdlc_frame(information[half:], destination=b"\x21", source=source, control=control)
                if segmented
                else b""
            )
            for source in (bytes([byte]) for byte in HEX_DIGIT_BYTES if byte & 1)  # a one-byte address: low bit set
            for control in HEX_DIGIT_BYTES
        )
        push = next((push for push in frames if set(push[4:8]) <= set(HEX_DIGIT_BYTES)), None)
        if push is not None:
            found.append(push)
        if len(found) == 3:
            return found
    raise AssertionError(found)


@pytest.mark.parametrize("segmented", [False, True], ids=["one-frame", "segmented"])
@pytest.mark.parametrize("chunk", [1, 7, 4096], ids=["byte-by-byte", "7-byte-reads", "whole"])
def test_a_telegram_cut_short_before_a_frame_whose_header_reads_as_a_crc_costs_no_push(
    chunk: int, *, segmented: bool
) -> None:
    """A P1 opening cut short, then a push whose HDLC header holds '!' and four hex digits: the push is the frame's.

    Found in review: taken for a telegram with one damaged byte (the frame's format), the opening and the frame's
    header were dropped together as a telegram whose CRC failed, and the push with them.
    """
    first, second, third = pushes_whose_header_reads_as_a_crc(segmented=segmented)
    stream = first + b"/ISK5\\2M550T\r\n\r\n1-0:1.7.0(01" + second + third
    decoder = Decoder()
    events = [event for at in range(0, len(stream), chunk) for event in decoder.feed_events(stream[at : at + chunk])]
    assert [event.format for event in events if isinstance(event, Telegram)] == ["hdlc"] * 3
    assert decoder.dropped == {}


def test_a_nes_meters_clock_written_out_and_its_type_after_a_colon_are_read() -> None:
    """A NES meter (Denmark, amsreader-firmware's captures) writes its clock out, 20240111 09:35:00, and sets its
    type apart from the identification's flag and baud rate with a colon."""
    lines = ["0-0:1.0.0(20240111 09:35:00)", "1-0:1.8.0(00036.273*kWh)", "1-0:1.7.0(0000.193*kW)"]
    telegram = only_telegram(Decoder().feed_events(encoder.p1_telegram("NES5:83335-3E", lines)))
    assert telegram.timestamp == datetime(2024, 1, 11, 9, 35)  # the meter's local time, naive
    assert telegram.meter_type == "83335-3E"
    assert values(telegram) == {"1-0:1.8.0": (36273, WH), "1-0:1.7.0": (193, W)}
