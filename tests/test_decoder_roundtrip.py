"""Frames built from the specifications, with generated values, decode back to those values."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.han_port.decoder import Decoder, DropReason, Keys, ObisCode, Telegram, Unit
from custom_components.han_port.decoder.content import decode_dlms_message
from custom_components.han_port.decoder.hdlc import HdlcFramer, HdlcMessage
from custom_components.han_port.decoder.registers import MAX_POWER
from custom_components.han_port.decoder.resolution import ResolutionLearner
from simulator import frames as encoder
from simulator.frames import MeterState

if TYPE_CHECKING:
    from collections.abc import Callable


def quantized(value: float, exponent: int) -> float:
    """What the meter can say of value at a resolution of 10^exponent."""
    digits = encoder.raw(value, exponent)
    return digits * 10**exponent if exponent >= 0 else digits / 10**-exponent


def phase_codes(base: int, phases: int, channel: int = 0) -> list[str]:
    return [f"1-{channel}:{base + 20 * p}.7.0.255" for p in range(phases)]


def power_values(state: MeterState, channel: int = 0) -> dict[str, float]:
    return {
        f"1-{channel}:1.7.0.255": state.power_import,
        f"1-{channel}:2.7.0.255": state.power_export,
        f"1-{channel}:3.7.0.255": state.reactive_import,
        f"1-{channel}:4.7.0.255": state.reactive_export,
    }


def active_power_values(state: MeterState) -> dict[str, float]:
    """The active powers alone, for lists that send no reactive power."""
    return {"1-0:1.7.0.255": state.power_import, "1-0:2.7.0.255": state.power_export}


def energy_values(state: MeterState, exponent: int, channel: int = 0) -> dict[str, float]:
    return {
        f"1-{channel}:1.8.0.255": quantized(state.energy_import, exponent),
        f"1-{channel}:2.8.0.255": quantized(state.energy_export, exponent),
        f"1-{channel}:3.8.0.255": quantized(state.reactive_energy_import, exponent),
        f"1-{channel}:4.8.0.255": quantized(state.reactive_energy_export, exponent),
    }


def tariff_values(state: MeterState) -> dict[str, float]:
    """The import and export registers and their two tariffs', as the encoder splits them."""
    values: dict[str, float] = {}
    for c, total in ((1, state.energy_import), (2, state.energy_export)):
        values[f"1-0:{c}.8.0.255"] = total
        values[f"1-0:{c}.8.1.255"], values[f"1-0:{c}.8.2.255"] = encoder.tariffs(total)
    return values


def phase_power_values(state: MeterState) -> dict[str, float]:
    """The phases' import and export powers: the phases carry the flow the totals show, the other direction 0."""
    exporting = state.power_export > state.power_import
    return {
        f"1-0:{c + 20 * p}.7.0.255": state.phase_powers[p] if (c == 22) == exporting else 0
        for p in range(3)
        for c in (21, 22)
    }


def phase_values(state: MeterState, current_exponent: int, voltage_exponent: int, channel: int = 0) -> dict[str, float]:
    values = {}
    for code, current in zip(phase_codes(31, state.phases, channel), state.currents, strict=False):
        values[code] = quantized(current, current_exponent)
    for code, voltage in zip(phase_codes(32, state.phases, channel), state.voltages, strict=False):
        values[code] = quantized(voltage, voltage_exponent)
    return values


@dataclass(frozen=True)
class ListCase:
    """One vendor list: how to build it and what it must decode to."""

    name: str
    build: Callable[[MeterState], bytes]
    expected: Callable[[MeterState], dict[str, float]]
    manufacturer: str | None
    list_version: str | None = None
    has_identity: bool = True
    timestamp: Callable[[MeterState], datetime | None] = lambda _state: None
    three_phase_only: bool = False
    date_style: str = "bare"
    identity: Callable[[MeterState], tuple[str, str | None]] = lambda s: (s.meter_id, s.meter_type)
    household_power_factor: bool = False
    """Without power factors or reactive power in the list, physics judges the currents' resolution
    by a household's power factor under load (decoder/resolution.py): the drawn one must be one."""
    maker_title: bytes | None = None
    """Pushes always ciphered under this system title, their maker's: the list's table reads no other."""
    read_while_physical: bool = False
    """A table known by the list's opening and length reads it only while physics allows its reading
    (decoder/proofs.table_holds): the drawn phases agree as a grid's do, at a household's power factor."""
    counted_in_both_tariffs: bool = False
    """A table that knows the list's order by its import's tariffs adding up reads a meter that counted in both."""

    def sent_with(self, security: int | None) -> int | None:
        """The security its pushes are sent with, given the drawn one: a list its maker ciphers comes ciphered."""
        return 0x30 if self.maker_title is not None and security is None else security


CET = timezone(timedelta(hours=1))
NORWEGIAN_KAMSTRUP = "6841131BN243101040"
# "LGZ", Landis+Gyr's FLAG id, opens the system title the Burgenland E450 ciphers under (corpus ams-15).
LANDIS_GYR_TITLE = b"LGZgr\xa9\xa1\x11"
SWEDISH_KAMSTRUP = "6841131BN245101092"

CASES = [
    ListCase(
        "aidon-list1",
        lambda s: encoder.aidon_list(s, 1),
        lambda s: {"1-0:1.7.0.255": s.power_import},
        None,
        has_identity=False,
    ),
    ListCase(
        "aidon-list2",
        lambda s: encoder.aidon_list(s, 2),
        lambda s: power_values(s) | phase_values(s, -1, -1),
        "Aidon",
        "AIDON_V0001",
    ),
    ListCase(
        "aidon-list3",
        lambda s: encoder.aidon_list(s, 3),
        lambda s: power_values(s) | phase_values(s, -1, -1) | energy_values(s, 1),
        "Aidon",
        "AIDON_V0001",
        # Its deviation of 0 says nothing: the clock keeps standard time, as the meter's own (naive) reading.
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "aidon-sweden",
        encoder.aidon_swedish_list,
        lambda s: (
            power_values(s)
            | phase_values(s, -1, -1)
            | energy_values(s, 0)
            | {
                f"1-0:{c + 20 * p}.7.0.255": (s.phase_powers[p] if c == 21 else 0)
                for p in range(3)
                for c in (21, 22, 23, 24)
            }
        ),
        None,
        has_identity=False,
        timestamp=lambda s: s.moment,
        three_phase_only=True,
    ),
    ListCase(
        "kaifa-list1",
        lambda s: encoder.kaifa_list(s, 1),
        lambda s: {"1-0:1.7.0.255": s.power_import},
        "Kaifa",
        has_identity=False,
        date_style="typed",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kaifa-list2",
        lambda s: encoder.kaifa_list(s, 2),
        lambda s: power_values(s) | phase_values(s, -3, -1),
        "Kaifa",
        "KFM_001",
        date_style="typed",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kaifa-list3",
        lambda s: encoder.kaifa_list(s, 3),
        lambda s: power_values(s) | phase_values(s, -3, -1) | energy_values(s, 0),
        "Kaifa",
        "KFM_001",
        date_style="typed",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kaifa-sweden",
        encoder.kaifa_swedish_list,
        lambda s: power_values(s) | phase_values(s, -3, -1) | energy_values(s, 0),
        "Kaifa",
        "KFM_001",
        timestamp=lambda s: s.moment.replace(tzinfo=CET),
        three_phase_only=True,
    ),
    ListCase(
        "kamstrup-list1-norway",
        lambda s: encoder.kamstrup_list(s, hourly=False),
        lambda s: power_values(s, 1) | phase_values(s, -2, 0, 1),
        "Kamstrup",
        "Kamstrup_V0001",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kamstrup-list2-norway",
        lambda s: encoder.kamstrup_list(s, hourly=True, energy_exponent=1),
        lambda s: power_values(s, 1) | phase_values(s, -2, 0, 1) | energy_values(s, 1, 1),
        "Kamstrup",
        "Kamstrup_V0001",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kamstrup-list2-sweden",
        lambda s: encoder.kamstrup_list(
            MeterState(**{**s.__dict__, "meter_type": SWEDISH_KAMSTRUP}), hourly=True, energy_exponent=0
        ),
        lambda s: power_values(s, 1) | phase_values(s, -2, 0, 1) | energy_values(s, 0, 1),
        "Kamstrup",
        "Kamstrup_V0001",
        timestamp=lambda s: s.moment,
    ),
    ListCase(
        "kamstrup-dlms-push1",
        encoder.kamstrup_push1_list,
        lambda s: (
            power_values(s, 1)
            | phase_values(s, -2, 0, 1)
            | energy_values(s, 1, 1)
            | {f"1-1:{21 + 20 * p}.7.0.255": s.phase_powers[p] for p in range(3)}
            | {f"1-1:{22 + 20 * p}.7.0.255": 0 for p in range(3)}
            | {f"1-1:{33 + 20 * p}.7.0.255": quantized(s.power_factors[p], -2) for p in range(3)}
            | {"1-1:13.7.0.255": quantized(s.power_factor, -2)}
            | {f"1-1:{22 + 20 * p}.8.0.255": 0 for p in range(3)}
            | {f"1-1:{21 + 20 * p}.8.0.255": quantized(s.energy_import / 3, 1) for p in range(3)}
        ),
        "Kamstrup",
        "Kamstrup_V0001",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        # This list carries a numeric meter number and no meter type.
        identity=lambda s: (str(int(s.meter_id[-8:])), "OMNIPOWER"),
    ),
    ListCase(
        "evn-austria",
        encoder.evn_list,
        lambda s: (
            active_power_values(s)
            | phase_values(s, -2, -1)
            | {"1-0:1.8.0.255": s.energy_import, "1-0:2.8.0.255": s.energy_export}
            | {"1-0:13.7.0.255": quantized(s.power_factor, -3)}
        ),
        None,
        timestamp=lambda s: s.moment.replace(tzinfo=CET),
        three_phase_only=True,
        identity=lambda s: (s.meter_id, None),
    ),
    ListCase(
        "iskraemeco-am550",
        encoder.iskraemeco_list,
        lambda s: power_values(s) | phase_values(s, -2, -1) | phase_power_values(s),
        "Iskraemeco",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda s: (s.meter_id, None),
        read_while_physical=True,
    ),
    ListCase(
        "iskraemeco-am550-quarter-hour",
        encoder.iskraemeco_quarter_hour_list,
        lambda s: (
            tariff_values(s) | {"1-0:3.8.0.255": s.reactive_energy_import, "1-0:4.8.0.255": s.reactive_energy_export}
        ),
        "Iskraemeco",
        timestamp=lambda s: s.moment,
        identity=lambda _s: (None, None),
        counted_in_both_tariffs=True,
    ),
    ListCase(
        "iskraemeco-ie5-croatia-active",
        lambda s: encoder.hep_list(s, reactive=False),
        lambda s: active_power_values(s) | tariff_values(s) | phase_values(s, -2, -1) | phase_power_values(s),
        "Iskraemeco",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda _s: (None, None),
        read_while_physical=True,
        counted_in_both_tariffs=True,
    ),
    ListCase(
        "iskraemeco-ie5-croatia",
        encoder.hep_list,
        lambda s: (
            active_power_values(s)
            | tariff_values(s)
            | {
                "1-0:5.8.0.255": s.reactive_energy_import,
                "1-0:6.8.0.255": 0,
                "1-0:7.8.0.255": 0,
                "1-0:8.8.0.255": s.reactive_energy_export,
                "1-0:13.7.0.255": quantized(s.power_factor, -3),
            }
            | phase_values(s, -2, -1)
            | phase_power_values(s)
        ),
        "Iskraemeco",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda _s: (None, None),
        read_while_physical=True,
        counted_in_both_tariffs=True,
    ),
    ListCase(
        "landis-gyr-object-list",
        encoder.landis_gyr_push,
        lambda s: (
            active_power_values(s)
            | {f"1-0:{31 + 20 * p}.7.0.255": quantized(s.currents[p], -2) for p in range(3)}
            | {
                "1-1:1.8.0.255": s.energy_import,
                "1-1:2.8.0.255": s.energy_export,
                "1-1:5.8.0.255": s.reactive_energy_import,
                "1-1:6.8.0.255": 0,
                "1-1:7.8.0.255": 0,
                "1-1:8.8.0.255": s.reactive_energy_export,
            }
        ),
        "Landis+Gyr",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda s: (s.meter_id, None),
    ),
    ListCase(
        "landis-gyr-burgenland",
        encoder.burgenland_list,
        lambda s: (
            active_power_values(s)
            | phase_values(s, -2, 0)
            | {"1-0:1.8.0.255": s.energy_import, "1-0:2.8.0.255": s.energy_export}
        ),
        "Landis+Gyr",
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda s: (s.meter_id, None),
        household_power_factor=True,
        read_while_physical=True,
        maker_title=LANDIS_GYR_TITLE,
    ),
    ListCase(
        "cez-xt211-descriptor-list",
        encoder.cez_list,
        lambda s: (
            active_power_values(s)
            | phase_power_values(s)
            | {
                "1-0:1.8.0.255": s.energy_import,
                "1-0:1.8.1.255": s.energy_import // 4,
                "1-0:1.8.2.255": s.energy_import - s.energy_import // 4,
                "1-0:1.8.3.255": 0,
                "1-0:1.8.4.255": 0,
                "1-0:2.8.0.255": s.energy_export,
            }
        ),
        None,
        # The list carries no clock: the notification's date-time is the telegram's.
        timestamp=lambda s: s.moment,
        three_phase_only=True,
        identity=lambda s: (s.meter_id, None),
    ),
]

# Up to the largest power a metered installation can draw: beyond it is damage.
u32 = st.integers(min_value=0, max_value=int(MAX_POWER))
currents = st.integers(min_value=0, max_value=63_000).map(lambda ma: ma / 1000)
voltages = st.integers(min_value=2000, max_value=2600).map(lambda dv: dv / 10)
factors = st.integers(min_value=0, max_value=100).map(lambda pct: pct / 100)

states = st.builds(
    MeterState,
    three_phase=st.booleans(),
    moment=st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2035, 12, 31)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
    meter_id=st.from_regex(r"\A[0-9]{16}\Z"),
    meter_type=st.just(NORWEGIAN_KAMSTRUP),
    power_import=u32,
    power_export=u32,
    reactive_import=u32,
    reactive_export=u32,
    currents=st.tuples(currents, currents, currents),
    voltages=st.tuples(voltages, voltages, voltages),
    energy_import=st.integers(min_value=0, max_value=4_000_000_000),
    energy_export=st.integers(min_value=0, max_value=4_000_000_000),
    reactive_energy_import=st.integers(min_value=0, max_value=4_000_000_000),
    reactive_energy_export=st.integers(min_value=0, max_value=4_000_000_000),
    phase_powers=st.tuples(u32, u32, u32),
    power_factors=st.tuples(factors, factors, factors),
    power_factor=factors,
)

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))
# A system title whose FLAG id names no maker: the list alone tells who sent it.
NO_MAKER = b"XXXXtest"


def consistent(state: MeterState) -> MeterState:
    """Make a drawn state obey physics: power is what the phases' U, I and cos φ carry.

    The decoder decides the resolution of lists without scalers from exactly
    that (see decoder/resolution.py); the direction of the flow stays as drawn.
    """
    phases = range(3 if state.three_phase else 1)
    apparent = [state.voltages[i] * state.currents[i] for i in range(3)]
    active = [s * factor for s, factor in zip(apparent, state.power_factors, strict=True)]
    reactive = [s * math.sqrt(1 - factor**2) for s, factor in zip(apparent, state.power_factors, strict=True)]
    power = round(sum(active[i] for i in phases))
    reactive_power = round(sum(reactive[i] for i in phases))
    total_apparent = sum(apparent[i] for i in phases)
    exporting = state.power_export > state.power_import
    return replace(
        state,
        power_import=0 if exporting else power,
        power_export=power if exporting else 0,
        reactive_import=0 if exporting else reactive_power,
        reactive_export=reactive_power if exporting else 0,
        phase_powers=(round(active[0]), round(active[1]), round(active[2])),
        # Whole watts over a few VA can exceed 1; no power factor does.
        power_factor=min(round(power / total_apparent, 2), 1.0) if total_apparent else 1.0,
    )


# A household under load: from a kettle's 1.0 down to a heat pump starting.
HOUSEHOLD_POWER_FACTOR = 0.5


def drawn(case: ListCase, state: MeterState) -> MeterState:
    """Make a drawn state one this list's meter can be in, obeying physics (see consistent)."""
    if case.three_phase_only:
        state = replace(state, three_phase=True)
    if case.name.startswith("kamstrup-list2-sweden"):
        state = replace(state, meter_type=SWEDISH_KAMSTRUP)
    if case.household_power_factor or case.read_while_physical:
        factors = tuple(max(factor, HOUSEHOLD_POWER_FACTOR) for factor in state.power_factors)
        state = replace(state, power_factors=(factors[0], factors[1], factors[2]))
    if case.counted_in_both_tariffs:
        state = replace(state, energy_import=max(state.energy_import, 2))
    if case.read_while_physical:
        # A grid's phases within a few per cent of one another (EN 50160 allows ±10 % of nominal).
        first = state.voltages[0]
        volts = tuple(min(max(volt, first * 0.95), first * 1.05) for volt in state.voltages)
        state = replace(state, voltages=(volts[0], volts[1], volts[2]))
    return consistent(state)


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """Split data at random points, as a serial port delivers it."""
    chunks = []
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 3, 7, 16, 64, 300))
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks


def build_apdu(case: ListCase, state: MeterState, *, security: int | None, counter: int = 1) -> bytes:
    """The list's push as an APDU, ciphered (under its maker's title, if it has one) when security is given."""
    moment = None if case.name.startswith("aidon") else state.moment
    apdu = encoder.data_notification(case.build(state), moment, case.date_style)
    if security is None:
        return apdu
    title = case.maker_title or NO_MAKER
    return encoder.glo_cipher(apdu, KEY, AUTH_KEY, security=security, system_title=title, counter=counter)


def build_frames(
    case: ListCase, state: MeterState, *, security: int | None, segment_size: int | None, counter: int = 1
) -> bytes:
    return encoder.hdlc_frames(build_apdu(case, state, security=security, counter=counter), segment_size)


def decoder_for(security: int | None) -> Decoder:
    """A decoder set up as the meter sending this security would be: keys only for ciphered meters."""
    if security is None:
        return Decoder()
    return Decoder(KEY, AUTH_KEY if security & 0x10 else None)


def assert_telegram(telegram: Telegram, case: ListCase, state: MeterState) -> None:
    expected = case.expected(state)
    assert {str(code): reading.value for code, reading in telegram.readings.items()} == pytest.approx(expected)
    assert telegram.manufacturer == case.manufacturer
    assert telegram.list_version == case.list_version
    assert telegram.format == "hdlc"
    if case.has_identity:
        assert (telegram.meter_id, telegram.meter_type) == case.identity(state)
    assert telegram.timestamp == case.timestamp(state)
    for code, reading in telegram.readings.items():
        if code.d == 8:
            assert reading.unit in (Unit.WATT_HOUR, Unit.VAR_HOUR)
        if code.c in (31, 51, 71):
            assert reading.unit is Unit.AMPERE


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=states,
    security=st.sampled_from([None, None, 0x30, 0x20, 0x10]),
    segment_size=st.sampled_from([None, None, 40, 128]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_list_round_trips(
    case: ListCase, state: MeterState, security: int | None, segment_size: int | None, seed: int
) -> None:
    state = drawn(case, state)
    security = case.sent_with(security)
    frames = build_frames(case, state, security=security, segment_size=segment_size)
    decoder = decoder_for(security)
    telegrams: list[Telegram] = []
    for chunk in chunked(frames, random.Random(seed)):
        telegrams += decoder.feed(chunk)
        # Emitted the moment the last byte arrives: nothing waits in between.
    assert len(telegrams) == 1
    assert_telegram(telegrams[0], case, state)
    assert telegrams[0].encrypted == (security is not None)
    assert not decoder.dropped


def test_telegram_is_emitted_by_the_call_that_delivers_its_last_byte() -> None:
    frame = build_frames(CASES[1], MeterState(), security=None, segment_size=None)
    decoder = Decoder()
    for byte_index in range(len(frame) - 1):
        assert decoder.feed(frame[byte_index : byte_index + 1]) == []
    assert len(decoder.feed(frame[-1:])) == 1


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    garbage=st.binary(min_size=0, max_size=400),
    damage_at=st.integers(min_value=1, max_value=10_000),
)
def test_damage_drops_only_the_damaged_frame(seed: int, garbage: bytes, damage_at: int) -> None:
    rng = random.Random(seed)
    good = [
        build_frames(case, MeterState(power_import=index), security=None, segment_size=None)
        for index, case in enumerate(CASES[1:4], start=1)
    ]
    damaged = bytearray(good[0])
    position = 1 + damage_at % (len(damaged) - 2)
    damaged[position] ^= 1 + rng.randrange(255)
    stream = garbage + good[0] + bytes(damaged) + garbage + good[1] + b"\x7e\xa0" + good[2]
    decoder = Decoder()
    telegrams = []
    for chunk in chunked(stream, rng):
        telegrams += decoder.feed(chunk)
    # Every good frame decodes with its own values; the damaged one never does.
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [1, 2, 3]


def test_bad_checksums_are_counted_and_the_next_frame_decodes() -> None:
    good = build_frames(CASES[2], MeterState(power_import=42), security=None, segment_size=None)
    bad_fcs = bytearray(good)
    bad_fcs[-2] ^= 0xFF
    decoder = Decoder()
    telegrams = decoder.feed(bytes(bad_fcs) + good)
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [42]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}
    assert decoder.telegrams == 1


def test_impossible_length_does_not_stall_the_stream() -> None:
    good = build_frames(CASES[2], MeterState(power_import=7), security=None, segment_size=None)
    # A truncated frame whose header claims far more than arrives.
    truncated = good[: len(good) // 2]
    decoder = Decoder()
    telegrams = decoder.feed(truncated + good + good)
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [7, 7]
    assert decoder.dropped[DropReason.BAD_CHECKSUM] == 1


def test_lost_segment_drops_the_message_not_the_stream() -> None:
    state = MeterState(power_import=99)
    segmented = build_frames(CASES[2], state, security=None, segment_size=40)
    frames = segmented.split(b"\x7e\x7e")
    assert len(frames) > 3
    without_middle = b"\x7e\x7e".join(frames[:1] + frames[2:])
    whole = build_frames(CASES[2], state, security=None, segment_size=None)
    decoder = Decoder()
    telegrams = decoder.feed(without_middle + whole)
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [99]
    assert decoder.dropped[DropReason.UNDECODABLE] >= 1


@pytest.mark.parametrize("security", [0x30, 0x20, 0x10])
def test_wrong_key_is_a_key_problem_not_noise(security: int) -> None:
    frame = build_frames(CASES[-1], MeterState(), security=security, segment_size=None)
    # Set up as such a meter would be: an authentication key only where it tags its frames.
    decoder = Decoder(bytes(16), AUTH_KEY if security & 0x10 else None)
    assert decoder.feed(frame) == []
    assert decoder.dropped == {DropReason.KEY_REJECTED: 1}


def test_wrong_authentication_key_is_rejected() -> None:
    frame = build_frames(CASES[-1], MeterState(), security=0x30, segment_size=None)
    decoder = Decoder(KEY, bytes(16))
    assert decoder.feed(frame) == []
    assert decoder.dropped == {DropReason.KEY_REJECTED: 1}


@pytest.mark.parametrize(("key", "auth_key", "security"), [(None, None, 0x30), (KEY, None, 0x30), (None, None, 0x20)])
def test_missing_key_is_reported_with_the_ciphering_header(
    key: bytes | None, auth_key: bytes | None, security: int
) -> None:
    frame = build_frames(CASES[-1], MeterState(), security=security, segment_size=None)
    decoder = Decoder(key, auth_key)
    events = decoder.feed_events(frame)
    assert len(events) == 1
    dropped = events[0]
    assert not isinstance(dropped, Telegram)
    assert dropped.reason is DropReason.KEY_MISSING
    assert dropped.ciphering is not None
    assert dropped.ciphering.system_title == NO_MAKER
    assert dropped.ciphering.authenticated == bool(security & 0x10)


def test_flag_shared_between_frames() -> None:
    first = build_frames(CASES[1], MeterState(power_import=1), security=None, segment_size=None)
    second = build_frames(CASES[1], MeterState(power_import=2), security=None, segment_size=None)
    decoder = Decoder()
    telegrams = decoder.feed(first + second[1:])
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [1, 2]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_garbage_never_crashes_and_never_yields_a_telegram(garbage: bytes) -> None:
    decoder = Decoder(KEY, AUTH_KEY)
    assert decoder.feed(garbage) == []


def test_p1_round_trip_in_any_chunking() -> None:
    telegram = encoder.p1_telegram(
        "KAM5",
        [
            "0-0:1.0.0(240407122854S)",
            "1-0:1.8.0(00009621.983*kWh)",
            "1-0:2.8.0(00000000.000*kWh)",
            "1-0:4.8.0(00002496.779*kVArh)",
            "1-0:1.7.0(0001.453*kW)",
            "1-0:32.7.0(237.4*V)",
            "1-0:31.7.0(005.1*A)",
            "1-0:4:24.7.0(0000.000*kVAr)",
        ],
    )
    for seed in range(20):
        decoder = Decoder()
        telegrams = []
        for chunk in chunked(b"noise\r\n" + telegram + telegram, random.Random(seed)):
            telegrams += decoder.feed(chunk)
        assert len(telegrams) == 2
        values = {str(code): (reading.value, reading.unit) for code, reading in telegrams[0].readings.items()}
        assert values == {
            "1-0:1.8.0.255": (9621983, Unit.WATT_HOUR),
            "1-0:2.8.0.255": (0, Unit.WATT_HOUR),
            "1-0:4.8.0.255": (2496779, Unit.VAR_HOUR),
            "1-0:1.7.0.255": (1453, Unit.WATT),
            "1-0:32.7.0.255": (237.4, Unit.VOLT),
            "1-0:31.7.0.255": (5.1, Unit.AMPERE),
        }
        assert telegrams[0].timestamp == datetime(2024, 4, 7, 12, 28, 54)
        assert telegrams[0].manufacturer == "Kamstrup"


def test_p1_bad_crc_is_dropped_and_the_next_decodes() -> None:
    good = encoder.p1_telegram("LGF5E360", ["1-0:1.7.0(0004.190*kW)"])
    bad = good.replace(b"4.190", b"4.191")
    decoder = Decoder()
    telegrams = decoder.feed(bad + good)
    assert [t.readings[ObisCode.parse("1-0:1.7.0")].value for t in telegrams] == [4190]
    assert decoder.dropped == {DropReason.BAD_CHECKSUM: 1}


def _alone(frame: bytes, keys: Keys, resolutions: ResolutionLearner) -> list[object]:
    """The telegrams of a frame decoded on its own, outside any decoder (resolutions learned alike)."""
    messages = [m for m in HdlcFramer().feed(frame) if isinstance(m, HdlcMessage)]
    return [decode_dlms_message(message, keys, resolutions) for message in messages]


@settings(max_examples=30, deadline=None)
@given(pushes=st.lists(states, min_size=2, max_size=6), seed=st.integers(min_value=0, max_value=2**32))
def test_a_meters_pushes_decode_as_each_alone(pushes: list[MeterState], seed: int) -> None:
    """A decoder keeps no state that changes what a push of the same meter decodes to."""
    security = random.Random(seed).choice([None, 0x30])
    keys = Keys(KEY, AUTH_KEY)
    decoder = decoder_for(security)
    counter = itertools.count(1)
    resolutions = ResolutionLearner()
    # A meter's totals only grow (a table known by a list's length alone is judged by that).
    grown = itertools.accumulate(
        pushes,
        lambda before, push: replace(
            push,
            energy_import=max(push.energy_import, before.energy_import),
            energy_export=max(push.energy_export, before.energy_export),
            reactive_energy_import=max(push.reactive_energy_import, before.reactive_energy_import),
            reactive_energy_export=max(push.reactive_energy_export, before.reactive_energy_export),
        ),
    )
    meter_pushes = list(grown)
    # A list read only under its maker's system title comes ciphered, or not at all.
    for case in [case for case in CASES if case.maker_title is None or security is not None]:
        for push in meter_pushes:
            # Same meter: the identity stays, the values move.
            state = drawn(case, replace(push, meter_id=pushes[0].meter_id, three_phase=pushes[0].three_phase))
            frame = build_frames(case, state, security=security, segment_size=None, counter=next(counter))
            assert decoder.feed(frame) == _alone(frame, keys, resolutions), case.name
