"""The meter's clock as the decoder really hands it over (naive local time, fold 0), placing each hour.

A Kaifa hourly list states no UTC offset (deviation 0x8000): the
decoder gives a naive datetime, and a naive datetime built from bytes always
has fold=0. These tests feed such real decoded telegrams (built by the
simulator's encoder, decoded by the integration's own decoder) to the
coordinator with time frozen and a real recorder, and read the meter hours
(han_port:* statistics) and the capacity figures back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.util import dt as dt_util

from custom_components.han_port.bookkeeping import meter_time
from custom_components.han_port.decoder import Decoder, Telegram
from simulator import frames as encoder
from simulator.frames import HOURLY, MeterState

from .test_energy_guard import push, set_up
from .test_meter_hours import IMPORT_HOURS, METER_ID, estimated, hours, used

if TYPE_CHECKING:
    from collections.abc import Callable

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter

OSLO = "Europe/Oslo"


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceGenerator) -> None:
    """Set the recorder up before Home Assistant, as a real installation has it."""


@pytest.fixture(autouse=True)
async def in_oslo(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone(OSLO)


def kaifa_hourly(register: int, wall_clock: datetime) -> Telegram:
    """A real Norwegian Kaifa list 3, its clock the naive wall-clock time the meter keeps, decoded by our decoder."""
    state = MeterState(
        meter_id=METER_ID,
        meter_type="MA304H3E",
        moment=wall_clock,
        energy_import=register,
        power_import=1000,
    )
    frame = encoder.hdlc_frames(encoder.data_notification(encoder.kaifa_list(state, HOURLY), None))
    telegrams = Decoder().feed(frame)
    assert len(telegrams) == 1
    return telegrams[0]


def wall(moment: datetime) -> datetime:
    """The naive local wall-clock reading a meter's display shows at a UTC moment (as its bytes carry it)."""
    local = dt_util.as_local(moment)
    return datetime(local.year, local.month, local.day, local.hour, local.minute, local.second)


def test_the_decoder_hands_over_naive_fold_0_clocks() -> None:
    """What the tests below rely on: the decoded clock is naive and, like every datetime made from bytes, fold 0."""
    second_two_oclock = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 02:00 CET, the second 02:00 of the night
    telegram = kaifa_hourly(50_000_000, wall(second_two_oclock))
    assert telegram.timestamp == datetime(2026, 10, 25, 2, 0)
    assert telegram.timestamp is not None
    assert telegram.timestamp.tzinfo is None
    assert telegram.timestamp.fold == 0
    assert not telegram.standard_time
    assert kamstrup_hourly(50_000_000, datetime(2026, 7, 1, 13, 0)).standard_time  # its clock keeps no summer time


@pytest.mark.parametrize("first", [True, False], ids=["first 02:30", "second 02:30"])
def test_the_meter_clock_shown_in_the_hour_summer_time_ends_twice_is_the_one_nearer_its_arrival(*, first: bool) -> None:
    """A Kaifa's 10 s list at 02:30:10 on the night summer time ends: that reading comes twice, an hour apart."""
    sent = datetime(2026, 10, 25, 0 if first else 1, 30, 10, tzinfo=UTC)
    state = MeterState(meter_id=METER_ID, meter_type="MA304H3E", moment=wall(sent))
    apdu = encoder.data_notification(encoder.kaifa_list(state, 2), wall(sent), "typed")  # its clock in the header
    [telegram] = Decoder().feed(encoder.hdlc_frames(apdu))
    assert meter_time(telegram, sent + timedelta(seconds=2)) == sent


@pytest.mark.usefixtures("recorder_mock")
async def test_the_night_summer_time_ends_every_hour_is_exact_with_real_decoded_clocks(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """25 local hours on 25 October 2026: each closed by the register the meter read at its end.

    test_meter_hours' own version passes only because its telegrams carry
    fold=1 from datetime.astimezone; the decoder never produces fold=1.
    """
    midnight = datetime(2026, 10, 25, tzinfo=dt_util.get_default_time_zone()).astimezone(UTC)
    freezer.move_to(midnight - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    register = 50_000_000
    boundary = midnight
    while boundary <= midnight + timedelta(hours=25):
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), kaifa_hourly(register, wall(boundary)))
        register += 1000 + 10 * round((boundary - midnight) / timedelta(hours=1))
        boundary += timedelta(hours=1)
    day_hours = {
        start: energy
        for start, energy in used(await hours(hass)).items()
        if dt_util.as_local(start).date() == midnight.astimezone(dt_util.get_default_time_zone()).date()
    }
    # The night's two hours 02:00-03:00 (CEST, then CET) must each be exact, with their own energy.
    assert list(day_hours.values()) == [round(1 + 0.01 * hour, 3) for hour in range(25)]
    # Only the hour before the first list is estimated, for each of the list's four registers.
    assert set(estimated(entry)) == {(midnight - timedelta(hours=1)).isoformat()}
    # And both are hours the capacity tariff may count (exact hours only).
    counted = entry.runtime_data.energy.counts.tariff.hours
    assert (midnight + timedelta(hours=2)).isoformat() in counted  # 02:00 CEST = 00:00 UTC
    assert (midnight + timedelta(hours=3)).isoformat() in counted  # 02:00 CET = 01:00 UTC
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_naive_clock_an_hour_behind_never_moves_every_hour_back_by_one(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A meter whose clock keeps UTC (or never switched to summer time): its naive stamps lie an hour behind Oslo.

    hours.py says such a clock "would look like a late delivery and move every
    hour by one", so a clock without an offset is taken only within 10 minutes
    of the arrival. Each list arrives 10 s after the real local hour.
    """
    eleven = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)  # 11:00 in Oslo
    freezer.move_to(eleven - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    registers = (44_707_972, 44_708_863, 44_710_194)
    for step, register in enumerate(registers):
        boundary = eleven + timedelta(hours=step)
        behind = wall(boundary) - timedelta(hours=1)  # the meter's clock reads 10:00 at 11:00 local
        await push(hass, freezer, entry, boundary + timedelta(seconds=10), kaifa_hourly(register, behind))
    rows = await hours(hass, IMPORT_HOURS)
    # The 11:00-12:00 (local) hour used 891 Wh: it belongs to the bar starting 10:00 UTC, not 09:00 UTC.
    assert used(rows) == {eleven: 0.891, eleven + timedelta(hours=1): 1.331}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_naive_clock_three_hours_behind_is_not_a_late_delivery(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A meter clock far off (three hours behind, no offset stated): the lists arrive live, at each real hour."""
    eleven = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    freezer.move_to(eleven - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    registers = (44_707_972, 44_708_863, 44_710_194)
    for step, register in enumerate(registers):
        boundary = eleven + timedelta(hours=step)
        await push(
            hass,
            freezer,
            entry,
            boundary + timedelta(seconds=10),
            kaifa_hourly(register, wall(boundary) - timedelta(hours=3)),
        )
    assert used(await hours(hass, IMPORT_HOURS)) == {eleven: 0.891, eleven + timedelta(hours=1): 1.331}
    # The capacity tariff's hours too: by arrival, 11:00 and 12:00 local.
    assert set(entry.runtime_data.energy.counts.tariff.hours) == {
        eleven.isoformat(),
        (eleven + timedelta(hours=1)).isoformat(),
    }
    await hass.config_entries.async_unload(entry.entry_id)


def kamstrup_hourly(register: int, standard_clock: datetime) -> Telegram:
    """A real Kamstrup hourly list, its clock in the zone's standard time all year (as Kamstrup's keeps it)."""
    state = MeterState(
        meter_id=METER_ID, meter_type="6841131BN243101040", moment=standard_clock, energy_import=register
    )
    telegrams = Decoder().feed(
        encoder.hdlc_frames(encoder.data_notification(encoder.kamstrup_list(state, hourly=True), None))
    )
    assert len(telegrams) == 1
    return telegrams[0]


def aidon_hourly(register: int, standard_clock: datetime) -> Telegram:
    """A real Norwegian Aidon list 3: its clock in standard time all year, its deviation written as 0, not unsaid."""
    state = MeterState(meter_id=METER_ID, meter_type="6525", moment=standard_clock, energy_import=register)
    telegrams = Decoder().feed(encoder.hdlc_frames(encoder.data_notification(encoder.aidon_list(state, HOURLY), None)))
    assert len(telegrams) == 1
    return telegrams[0]


@pytest.mark.parametrize(
    ("hourly", "clock", "arrival", "told"),
    [
        # The list at the second 02:00 repeats the last hour's (an Aidon's, amsreader-firmware#1119): 01:00 standard
        # time is midnight UTC, never an hour younger, however near the arrival its wall time lies.
        (aidon_hourly, datetime(2026, 10, 25, 1, 0), datetime(2026, 10, 25, 1, 0, 11, tzinfo=UTC), (0, 0)),
        (kamstrup_hourly, datetime(2026, 10, 25, 1, 0), datetime(2026, 10, 25, 1, 0, 11, tzinfo=UTC), (0, 0)),
        # A Kamstrup's clock 40 minutes slow in that hour.
        (kamstrup_hourly, datetime(2026, 10, 25, 1, 30), datetime(2026, 10, 25, 1, 10, tzinfo=UTC), (0, 30)),
    ],
    ids=["Aidon repeated", "Kamstrup repeated", "Kamstrup slow"],
)
def test_a_clock_that_keeps_standard_time_is_shown_as_it_reads_in_the_hour_summer_time_ends_twice(
    hourly: Callable[[int, datetime], Telegram], clock: datetime, arrival: datetime, told: tuple[int, int]
) -> None:
    telegram = hourly(50_000_000, clock)
    assert telegram.standard_time
    assert meter_time(telegram, arrival) == datetime(2026, 10, 25, *told, tzinfo=UTC)


@pytest.mark.usefixtures("recorder_mock")
@pytest.mark.parametrize("hourly", [kamstrup_hourly, aidon_hourly], ids=["Kamstrup", "Aidon"])
async def test_a_clock_that_keeps_standard_time_in_summer_places_a_late_list_in_its_hour(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
    hourly: Callable[[int, datetime], Telegram],
) -> None:
    """At 14:00 summer time a Kamstrup's or an Aidon's clock reads 13:00: its standard time. Lists come 4 minutes late.

    Read as summer time, the clock would lie an hour behind each list (an Aidon's read as UTC, an hour ahead), be
    taken for a damaged one, and the arrival (4 minutes past the hour) would place each register: every hour
    would close with an estimate.
    """
    two_pm = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 14:00 CEST
    freezer.move_to(two_pm - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    registers = (44_707_970, 44_708_860, 44_710_190)  # Kamstrup counts tens of Wh
    for step, register in enumerate(registers):
        boundary = two_pm + timedelta(hours=step)
        standard = wall(boundary) - timedelta(hours=1)  # CET all year: 13:00 at 14:00 CEST
        await push(hass, freezer, entry, boundary + timedelta(minutes=4), hourly(register, standard))
        assert entry.runtime_data.data.clock == boundary
    assert used(await hours(hass, IMPORT_HOURS)) == {two_pm: 0.89, two_pm + timedelta(hours=1): 1.33}
    assert two_pm.isoformat() not in estimated(entry)
    await hass.config_entries.async_unload(entry.entry_id)
