"""Live energy, hourly use and the capacity tariff, with exact numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.capacity import (
    CAPACITY_MODELS,
    DEFAULT_PEAK_DAYS,
    DEFAULT_THRESHOLDS,
    CapacityTariff,
    PeakRule,
    format_thresholds,
    parse_thresholds,
    step_label,
    step_labels,
    stored_thresholds,
)
from custom_components.han_port.energy import (
    NEW_SEQUENCE_TELEGRAMS,
    LiveEnergy,
    PowerEnvelope,
    TotalGuard,
    Verdict,
)
from custom_components.han_port.hours import LATE_DELIVERY

OSLO = ZoneInfo("Europe/Oslo")
GAP = timedelta(minutes=5)
"""The longest gap between power readings integrated: longer, the meter or the connection was away."""


def test_trapezoid_between_registers_and_never_backwards() -> None:
    live = LiveEnergy()
    start = datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC)
    live.add_register(1_000_000)
    live.add_power(1000, start, GAP)
    live.add_power(3000, start + timedelta(seconds=36), GAP)  # 36 s at 2 kW average: 20 Wh
    assert live.published == pytest.approx(1_000_020)
    live.add_power(3000, start + timedelta(seconds=72), GAP)  # 36 s at 3 kW: 30 Wh
    assert live.published == pytest.approx(1_000_050)
    # The register says less than the estimate: the total holds...
    live.add_register(1_000_040)
    assert live.published == pytest.approx(1_000_050)
    live.add_power(3000, start + timedelta(seconds=84), GAP)  # +10 Wh from the register: 1_000_050
    assert live.published == pytest.approx(1_000_050)
    live.add_power(3000, start + timedelta(seconds=96), GAP)  # +10 Wh more: the estimate is ahead again
    assert live.published == pytest.approx(1_000_060)
    # ...and a register ahead of the estimate moves it on.
    live.add_register(1_000_100)
    assert live.published == 1_000_100


def test_gaps_are_not_integrated() -> None:
    live = LiveEnergy()
    start = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
    live.add_register(500)
    live.add_power(1000, start, GAP)
    live.add_power(1000, start + timedelta(hours=2), GAP)
    assert live.published == 500


def test_storage_round_trip() -> None:
    live = LiveEnergy()
    live.add_register(10)
    live.add_power(5, datetime(2026, 1, 1, tzinfo=UTC), GAP)
    assert LiveEnergy.from_dict(live.as_dict()) == live
    tariff = CapacityTariff(OSLO)
    tariff.add_register(0, datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC))
    tariff.update(1400, datetime(2026, 1, 1, 0, 50, tzinfo=UTC))
    restored = CapacityTariff(OSLO)
    restored.restore(tariff.as_dict())
    assert restored == tariff
    # Restarted in the middle of the hour: the register after it still closes the hour exactly.
    restored.add_register(1500, datetime(2026, 1, 1, 1, 0, 5, tzinfo=UTC))
    assert restored.hours == {"2026-01-01T00:00:00+00:00": 1500}


# Norwegian meters push the hourly register a few seconds after the hour.
REGISTER_DELAY = timedelta(seconds=5)


def _day(tariff: CapacityTariff, day: datetime, hourly_wh: list[float], total: float = 0.0) -> float:
    """Feed a local day of hourly use, the import register pushed just after every hour's start."""
    moment = day
    tariff.add_register(total, moment + REGISTER_DELAY)
    for used in hourly_wh:
        total += used
        moment += timedelta(hours=1)
        tariff.add_register(total, moment + REGISTER_DELAY)
    return total


def test_a_day_with_known_hourly_use_gives_known_peaks() -> None:
    tariff = CapacityTariff(OSLO)
    midnight = datetime(2026, 1, 12, tzinfo=OSLO)
    uses = [1000.0] * 24
    uses[7], uses[18] = 4200.0, 6100.0
    total = _day(tariff, midnight, uses)
    day_two = [800.0] * 24
    day_two[19] = 7300.0
    total = _day(tariff, midnight + timedelta(days=1), day_two, total)
    day_three = [500.0] * 24
    day_three[8] = 2500.0
    total = _day(tariff, midnight + timedelta(days=2), day_three, total)
    day_four = [400.0] * 24
    day_four[6] = 9900.0
    _day(tariff, midnight + timedelta(days=3), day_four, total)
    now = midnight + timedelta(days=3, hours=23, minutes=30)
    peaks = tariff.daily_peaks(now)
    assert peaks[midnight.date()] == 6100.0
    assert peaks[(midnight + timedelta(days=1)).date()] == 7300.0
    assert tariff.peak_today(now) == 9900.0
    # The three highest days: 9.9, 7.3 and 6.1 kWh.
    assert tariff.monthly_average(now) == pytest.approx((9900 + 7300 + 6100) / 3)
    assert tariff.step(now) == "5-10 kWh"
    assert tariff.last_hour_use(now) == 400.0


def test_the_last_hours_use_is_never_an_earlier_hours_figure() -> None:
    """An hour no register closed (the register held, its list lost) leaves the last hour's use unknown."""
    tariff = CapacityTariff(OSLO)
    ten = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.add_register(10_000, ten + REGISTER_DELAY)
    tariff.add_register(12_000, ten + timedelta(hours=1) + REGISTER_DELAY)
    assert tariff.last_hour_use(ten + timedelta(hours=1, minutes=59)) == 2000
    # Until the 12:00 register is due, 10-11 is still the last hour told.
    assert tariff.last_hour_use(ten + timedelta(hours=2, seconds=30)) == 2000
    # Overdue (held, or its list lost): 11-12 is the last hour now, and unknown; 10-11 is not shown for it.
    assert tariff.last_hour_use(ten + timedelta(hours=2, minutes=2)) is None
    assert tariff.last_hour_use(ten + timedelta(hours=3, minutes=30)) is None


def test_current_and_projected_hour() -> None:
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.update(1000, start)
    now = start + timedelta(minutes=15)
    assert tariff.current_hour_use(1500) == 500
    # 45 minutes left at 4 kW: 3 kWh more.
    assert tariff.projected_hour_use(1500, 4000, now) == pytest.approx(3500)


def test_only_the_registers_close_an_hour_and_the_hour_in_progress_counts_from_its_register() -> None:
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.add_register(10_000, start + REGISTER_DELAY)
    tariff.update(12_100, start + timedelta(hours=1, seconds=2))  # the live estimate at 11:00:02
    assert tariff.last_hour_use(start + timedelta(hours=1, seconds=2)) is None  # an estimate closes no hour
    assert tariff.current_hour_use(12_100) == 0
    tariff.add_register(12_000, start + timedelta(hours=1) + REGISTER_DELAY)  # the meter: 12 000 at 11:00
    assert tariff.last_hour_use(start + timedelta(hours=1) + REGISTER_DELAY) == 2000
    assert tariff.current_hour_use(12_050) == 50


def test_a_partial_first_hour_and_hours_missed_are_never_peaks() -> None:
    """Set up at 10:59, the meter's first register at 11:00 closes nothing; a lost register loses its two hours."""
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 59, tzinfo=UTC)
    tariff.update(10_000, start)
    tariff.update(10_030, start + timedelta(minutes=1))
    tariff.add_register(10_040, datetime(2026, 1, 15, 11, 0, tzinfo=UTC) + REGISTER_DELAY)
    assert tariff.hours == {}
    assert tariff.peak_today(start) is None
    # 12:00's register never came (Home Assistant was down): 11-12 and 12-13 are not known exactly.
    tariff.add_register(19_040, datetime(2026, 1, 15, 13, 0, tzinfo=UTC) + REGISTER_DELAY)
    tariff.add_register(20_040, datetime(2026, 1, 15, 14, 0, tzinfo=UTC) + REGISTER_DELAY)
    assert tariff.hours == {"2026-01-15T13:00:00+00:00": 1000}
    # A list sent twice counts once.
    tariff.add_register(20_040, datetime(2026, 1, 15, 14, 0, tzinfo=UTC) + REGISTER_DELAY)
    tariff.add_register(21_040, datetime(2026, 1, 15, 15, 0, tzinfo=UTC) + REGISTER_DELAY)
    tariff.add_register(21_040, datetime(2026, 1, 15, 15, 0, 8, tzinfo=UTC))
    assert tariff.hours == {"2026-01-15T13:00:00+00:00": 1000, "2026-01-15T14:00:00+00:00": 1000}


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 29, tzinfo=OSLO), 23),  # spring forward
        (datetime(2026, 10, 25, tzinfo=OSLO), 25),  # fall back
        (datetime(2026, 1, 15, tzinfo=OSLO), 24),
    ],
)
def test_dst_nights_have_23_or_25_hours(day: datetime, hours: int) -> None:
    tariff = CapacityTariff(OSLO)
    start = day.astimezone(UTC)
    end = (day + timedelta(days=1)).replace(tzinfo=OSLO).astimezone(UTC)
    total = 0.0
    moment = start
    tariff.add_register(total, moment + REGISTER_DELAY)
    while moment < end:
        total += 100
        moment += timedelta(hours=1)
        tariff.add_register(total, moment + REGISTER_DELAY)
    counted = [key for key in tariff.hours if datetime.fromisoformat(key).astimezone(OSLO).date() == day.date()]
    assert len(counted) == hours


def test_month_rolls_over_at_local_midnight() -> None:
    tariff = CapacityTariff(OSLO)
    # The last hour of January, local time, is 22:00-23:00 UTC.
    last_hour = datetime(2026, 1, 31, 22, 0, tzinfo=UTC)
    tariff.add_register(0, last_hour + REGISTER_DELAY)
    tariff.add_register(5000, last_hour + timedelta(hours=1) + REGISTER_DELAY)
    january = last_hour + timedelta(minutes=30)
    assert tariff.peak_today(january) == 5000
    tariff.add_register(5500, last_hour + timedelta(hours=2) + REGISTER_DELAY)  # 00:00-01:00 on 1 February, local
    february = last_hour + timedelta(hours=2, minutes=5)
    assert tariff.daily_peaks(february) == {datetime(2026, 2, 1).date(): 500}
    assert tariff.monthly_average(february) == 500
    assert tariff.step(february) == "0-2 kWh"


def test_steps_and_thresholds() -> None:
    thresholds = parse_thresholds("2, 5; 10")
    assert thresholds == (2.0, 5.0, 10.0)
    assert step_labels(thresholds) == ["0-2 kWh", "2-5 kWh", "5-10 kWh", "10+ kWh"]
    assert step_label(1.99, thresholds) == "0-2 kWh"
    assert step_label(2.0, thresholds) == "2-5 kWh"
    assert step_label(12.0, thresholds) == "10+ kWh"
    # 1e306 kWh is a finite number, but not in Wh, as the tariff weighs it.
    for bad in ("", "5, 2", "0, 1", "two", "nan", "2, nan", "2, 5, inf", "2, 1e306"):
        with pytest.raises(ValueError, match=r"thresholds|could not convert"):
            parse_thresholds(bad)
    # Written back as typed, every digit kept: what the options keep must read back the same, and still rise.
    for typed in ("2.5, 2.5000001, 10", "1234567, 2345678", "2, 5, 10", "1, 1.0000000000000002", "1e-300, 1e+300"):
        assert format_thresholds(parse_thresholds(typed)) == typed


@pytest.mark.parametrize(
    ("stored", "thresholds"),
    [
        ("1, 1", (1.0,)),  # as an earlier version wrote "1, 1.0000000000000002"
        ("5, 2", (2.0, 5.0)),
        ("2;5;;10", (2.0, 5.0, 10.0)),
        # Where a part is no threshold, none of it is taken: the defaults, never part of what was meant.
        ("2, five", DEFAULT_THRESHOLDS),
        ("2, nan, 5", DEFAULT_THRESHOLDS),
        ("2, 1e306", DEFAULT_THRESHOLDS),
        ("-1", DEFAULT_THRESHOLDS),
        ("0", DEFAULT_THRESHOLDS),
        ("inf", DEFAULT_THRESHOLDS),
        ("", DEFAULT_THRESHOLDS),
    ],
)
def test_thresholds_stored_are_read_as_they_can_be_meant(stored: str, thresholds: tuple[float, ...]) -> None:
    assert stored_thresholds(stored) == thresholds
    # What the options form then offers, it accepts.
    assert parse_thresholds(format_thresholds(stored_thresholds(stored))) == thresholds


def test_gaps_longer_than_the_readers_silence_are_not_integrated() -> None:
    live = LiveEnergy()
    start = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
    live.add_register(500)
    live.add_power(3600, start, GAP)
    live.add_power(3600, start + timedelta(seconds=40), max_gap=timedelta(seconds=30))
    assert live.published == 500
    live.add_power(3600, start + timedelta(seconds=50), max_gap=timedelta(seconds=30))  # 10 s at 3.6 kW
    assert live.published == pytest.approx(510)


def test_live_energy_restarts_and_rescales() -> None:
    live = LiveEnergy()
    live.add_register(1_000_000)
    live.reset(2_000)
    assert (live.register, live.estimate, live.published) == (2_000, 2_000, 2_000)
    live.add_power(100, datetime(2026, 1, 1, tzinfo=UTC), GAP)
    live.scale(60)
    assert (live.register, live.published, live.power) == (120_000, 120_000, 6_000)


MOMENT = datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC)
IMPORT = (1, 8, 0)


def hourly(guard: TotalGuard, values: list[float], start: datetime = MOMENT) -> list[Verdict]:
    return [guard.check(IMPORT, value, start + timedelta(hours=index)) for index, value in enumerate(values)]


def test_the_guard_accepts_growth_power_allows() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    assert hourly(guard, [1_000_000, 1_001_500, 1_101_499]) == [Verdict.ACCEPTED] * 3
    assert guard.last(IMPORT) == 1_101_499


def test_a_lone_glitch_is_held_and_never_followed() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    verdicts = hourly(guard, [1_000_000, 10, 1_001_000, 5_000_000_000, 1_002_000])
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD_NEW, Verdict.ACCEPTED, Verdict.HELD_NEW, Verdict.ACCEPTED]
    assert guard.last(IMPORT) == 1_002_000
    assert guard.held == []


def test_a_reset_is_followed_once_it_proves_itself() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    new_sequence = [2_000, 2_900, 3_500]  # a new meter from zero, or a reset
    verdicts = hourly(guard, [1_000_000, *new_sequence])
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD_NEW, Verdict.HELD, Verdict.FOLLOWED]
    assert len(new_sequence) == NEW_SEQUENCE_TELEGRAMS
    assert guard.last(IMPORT) == new_sequence[-1]


def test_a_damaged_total_in_a_new_sequence_costs_itself_alone() -> None:
    """One total that follows on from nothing interrupts a reset's proof: the totals after it take it up again."""
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    verdicts = hourly(guard, [1_000_000, 2_000, 2_900, 5_000_000_000, 3_500])
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD_NEW, Verdict.HELD, Verdict.HELD_NEW, Verdict.FOLLOWED]
    assert guard.last(IMPORT) == 3_500
    assert guard.held == []


def test_a_held_jump_stays_held_however_long_it_grows_on() -> None:
    """In time, a jumped count grows within what power could carry since the last total: it is still the jump."""
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    # A P1 meter, one total a minute at 3.6 kW; its count jumps 5 kWh, which 11 kW carries in 27 minutes.
    totals = [1_000_000, *(1_005_060 + 60 * minute for minute in range(60))]
    verdicts = [guard.check(IMPORT, total, MOMENT + timedelta(minutes=n)) for n, total in enumerate(totals)]
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD_NEW, *[Verdict.HELD] * 59]
    assert guard.last(IMPORT) == 1_000_000
    assert guard.held == [IMPORT]


def test_a_small_fall_is_held_until_the_count_passes_it_never_followed() -> None:
    # Home Assistant books a fall of less than 10 % as negative use: it is never shown, however it grows on.
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    verdicts = hourly(guard, [1_000_000, 990_000, 995_000, 999_000, 999_999, 1_003_000])
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD_NEW, *[Verdict.HELD] * 3, Verdict.ACCEPTED]
    assert guard.last(IMPORT) == 1_003_000
    assert guard.held == []


def test_a_register_stuck_at_one_value_is_no_new_count() -> None:
    # A register that reads 0 hour after hour has not started again: it has stopped.
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    verdicts = hourly(guard, [1_000_000, 0, 0, 0, 0, 0])
    assert Verdict.FOLLOWED not in verdicts
    assert guard.last(IMPORT) == 1_000_000
    # Once it counts on from there, the new count has proved itself.
    assert hourly(guard, [700], start=MOMENT + timedelta(hours=6)) == [Verdict.FOLLOWED]
    assert guard.last(IMPORT) == 700


def test_a_total_that_jumped_up_is_never_followed_by_itself_however_plausibly_it_grows_on() -> None:
    # A register that now counts ten times finer, a swapped meter that sends no id, or forged telegrams:
    # the Energy dashboard would count the jump as use, so only the user may take it.
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    jumped = [10_020_000, 10_030_000, 10_045_000, 10_050_000]
    assert hourly(guard, [1_000_000, *jumped]) == [Verdict.ACCEPTED, Verdict.HELD_NEW, *[Verdict.HELD] * 3]
    assert guard.last(IMPORT) == 1_000_000
    assert guard.held == [IMPORT]
    held = guard.follow_held(IMPORT)
    assert held is not None
    assert held.value == 10_050_000
    assert guard.last(IMPORT) == 10_050_000


def test_the_meters_clock_never_widens_the_allowance_beyond_what_arrival_explains() -> None:
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    oslo = ZoneInfo("Europe/Oslo")
    start = datetime(2026, 3, 29, 1, 59, 55, tzinfo=oslo)
    assert guard.check(IMPORT, 1_000_000, MOMENT, start) is Verdict.ACCEPTED
    # A clock that jumped to another year, ten seconds later: 15 MWh may not pass on its word.
    years_on = start.replace(year=2036)
    assert guard.check(IMPORT, 16_000_000, MOMENT + timedelta(seconds=10), years_on) is Verdict.HELD_NEW
    # Spring forward: 01:59:55 to 03:00:05 on the wall is ten seconds; 10 kWh cannot come in them.
    spring = datetime(2026, 3, 29, 3, 0, 5, tzinfo=oslo)
    assert guard.check(IMPORT, 1_010_000, MOMENT + timedelta(seconds=10), spring) is Verdict.HELD_NEW
    assert guard.check(IMPORT, 1_000_010, MOMENT + timedelta(seconds=10), spring) is Verdict.ACCEPTED


def test_a_sequence_that_does_not_grow_plausibly_is_never_followed() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    verdicts = hourly(guard, [1_000_000, 2_000, 1_500, 900_000_000, 3_000])
    assert Verdict.FOLLOWED not in verdicts
    assert guard.last(IMPORT) == 1_000_000


def test_a_total_seeded_again_from_its_kvarh_state_keeps_the_time_it_came() -> None:
    """1 024 045 varh written as 1024.045 kvarh comes back a hair above itself: still the total the store kept.

    Taken as a higher total, it would be as young as the restart, and the next
    hour's growth would look too fast for the meter's power.
    """
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    guard.restore([{"register": list(IMPORT), "value": 1_024_045, "when": MOMENT.isoformat()}])
    guard.seed(IMPORT, float("1024.045") * 1000, MOMENT + timedelta(minutes=55))
    assert guard.check(IMPORT, 1_027_045, MOMENT + timedelta(hours=1)) is Verdict.ACCEPTED


def test_the_guard_never_takes_a_number_that_is_not_one() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    assert hourly(guard, [float("nan"), float("inf"), -5.0]) == [Verdict.HELD] * 3
    assert guard.last(IMPORT) is None


def test_the_guard_seeds_forgets_and_rescales() -> None:
    guard = TotalGuard(PowerEnvelope(floor=100_000))
    guard.seed(IMPORT, 500.0, MOMENT)
    guard.seed(IMPORT, 400.0, MOMENT)  # a lower seed never replaces a higher one
    guard.scale(2)
    assert guard.last(IMPORT) == 1_000
    guard.forget()
    assert hourly(guard, [10.0]) == [Verdict.ACCEPTED]


POWER = (1, 7, 0)


def test_a_total_may_grow_only_as_fast_as_this_meters_power_could_carry() -> None:
    envelope = PowerEnvelope()
    guard = TotalGuard(envelope)
    # The meter has drawn 3 kW at most (sustained over three readings).
    assert [envelope.admit(POWER, watts) for watts in (300, 3000, 2900, 3000)] == [True] * 4
    assert envelope.highest == 2900
    assert guard.check(IMPORT, 155_232_513, MOMENT) is Verdict.ACCEPTED
    # 15 kWh one minute on: thirty times what 3 kW carries, far within what a 1 MW household would.
    assert guard.check(IMPORT, 155_247_513, MOMENT + timedelta(minutes=1)) is Verdict.HELD_NEW
    assert guard.last(IMPORT) == 155_232_513
    # 50 Wh in that minute is what the meter's power allows.
    assert guard.check(IMPORT, 155_232_563, MOMENT + timedelta(minutes=1)) is Verdict.ACCEPTED
    assert guard.held == []


def test_a_lone_power_spike_is_not_the_meters_and_never_widens_the_envelope() -> None:
    envelope = PowerEnvelope()
    assert [envelope.admit(POWER, watts) for watts in (2000, 900_000, 2100, 10_900, 2000)] == [
        True,
        False,
        True,
        True,
        True,
    ]
    # 10.9 kW is inside the unproven envelope, but no readings after it sustained it.
    assert envelope.highest == 2000
    assert envelope.ceiling == 11_000
    assert not envelope.admit(POWER, float("nan"))


def test_two_readings_in_a_row_near_the_top_of_the_envelope_do_not_widen_it() -> None:
    """Two lies in a row just inside it widened it, and the next two twice as far, and so on (found by fuzzing)."""
    envelope = PowerEnvelope()
    assert [envelope.admit(POWER, watts) for watts in (2000, 10_900, 10_900, 2000)] == [True] * 4
    assert (envelope.highest, envelope.ceiling) == (2000, 11_000)
    assert [envelope.admit(POWER, watts) for watts in (21_000, 21_000, 2000)] == [False, False, True]
    # A load that draws 10.9 kW over three readings is the meter's own.
    assert [envelope.admit(POWER, 10_900) for _ in range(3)] == [True] * 3
    assert (envelope.highest, envelope.ceiling) == (10_900, 21_800)


def test_readings_before_a_changed_current_transformer_ratio_count_at_the_new_ratio() -> None:
    envelope = PowerEnvelope()
    assert [envelope.admit(POWER, watts) for watts in (500, 500)] == [True, True]
    envelope.scale(10)
    # The two before the change are 5 kW now, as the third is: together they sustain it.
    assert envelope.admit(POWER, 5000)
    assert envelope.highest == 5000


def test_power_confirmed_by_readings_in_a_row_widens_the_envelope() -> None:
    envelope = PowerEnvelope()
    # A car starts charging at 30 kW: held twice, taken at the third reading in a row.
    assert [envelope.admit(POWER, watts) for watts in (300, 30_000, 31_000, 30_500, 30_000)] == [
        True,
        False,
        False,
        True,
        True,
    ]
    assert envelope.highest == 30_000
    assert envelope.ceiling == 60_000
    # Readings above the envelope that disagree never confirm each other.
    assert [envelope.admit(POWER, watts) for watts in (500_000, 130_000, 900_000, 200_000)] == [False] * 4


def test_the_meters_own_clock_tells_the_time_between_totals_a_bridge_delivered_late() -> None:
    guard = TotalGuard(PowerEnvelope())
    clock = datetime(2026, 1, 15, 13, 0, 0, tzinfo=UTC)
    assert guard.check(IMPORT, 1_000_000, MOMENT, clock) is Verdict.ACCEPTED
    # Delivered an hour late but sent ten seconds after the last: 5 kWh cannot have been used.
    late = MOMENT + timedelta(hours=1)
    assert guard.check(IMPORT, 1_005_000, late, clock + timedelta(seconds=10)) is Verdict.HELD_NEW
    # A clock that went back (damaged) says nothing: arrival time decides (of a count not held as a jump).
    guard = TotalGuard(PowerEnvelope())
    assert guard.check(IMPORT, 1_000_000, MOMENT, clock) is Verdict.ACCEPTED
    assert guard.check(IMPORT, 1_005_000, late, clock - timedelta(days=1)) is Verdict.ACCEPTED


def test_a_clock_from_the_future_never_widens_the_allowance() -> None:
    """One telegram whose checksum held lies: its total 1.5 kWh up, its clock five hours on (found by fuzzing).

    Arrival said ten seconds; the clock's hours were trusted up to ten minutes more, and 1.8 kWh could pass. A clock
    that states its offset tells how late the last total came, by how far ahead it stamps one delivered at once:
    beyond that, its time is no delivery's.
    """
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    stamped = MOMENT.astimezone(UTC)
    assert guard.check(IMPORT, 1_000_000, MOMENT, stamped) is Verdict.ACCEPTED
    later = MOMENT + timedelta(seconds=10)
    assert guard.check(IMPORT, 1_001_500, later, stamped + timedelta(hours=5)) is Verdict.HELD_NEW
    assert guard.check(IMPORT, 1_000_006, later, stamped + timedelta(seconds=10)) is Verdict.ACCEPTED
    assert guard.last(IMPORT) == 1_000_006
    # A lie whose total is plausible is accepted, but its clock tells nothing of how far ahead the meter's runs:
    # the next lie is held as the first was.
    lied = later + timedelta(seconds=10)
    assert guard.check(IMPORT, 1_000_012, lied, lied + timedelta(hours=5)) is Verdict.ACCEPTED
    honest = lied + timedelta(seconds=10)
    assert guard.check(IMPORT, 1_000_018, honest, honest) is Verdict.ACCEPTED
    again = honest + timedelta(seconds=10)
    assert guard.check(IMPORT, 1_001_518, again, again + timedelta(hours=5)) is Verdict.HELD_NEW
    # Lists a bridge kept come in a burst, a second apart, stamped ten minutes apart: their clocks are believed.
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    kept = stamped - timedelta(minutes=30)
    assert guard.check(IMPORT, 1_000_000, MOMENT, kept) is Verdict.ACCEPTED
    burst = MOMENT + timedelta(seconds=1)
    assert guard.check(IMPORT, 1_001_500, burst, kept + timedelta(minutes=10)) is Verdict.ACCEPTED
    # A clock an hour ahead of Home Assistant's (daylight saving got wrong): hourly lists a bridge kept, handed over
    # a second apart, are believed as the clock tells them; a lie five hours on is not.
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    ahead = stamped + timedelta(hours=1)
    assert guard.check(IMPORT, 1_000_000, MOMENT, ahead) is Verdict.ACCEPTED
    burst = MOMENT + timedelta(hours=3)
    verdicts = [
        guard.check(IMPORT, 1_000_000 + 1500 * hour, burst + timedelta(seconds=hour), ahead + timedelta(hours=hour))
        for hour in (1, 2, 3)
    ]
    assert verdicts == [Verdict.ACCEPTED] * 3
    on_time = burst + timedelta(minutes=1)
    assert guard.check(IMPORT, 1_004_600, on_time, on_time + timedelta(hours=1)) is Verdict.ACCEPTED
    lie = on_time + timedelta(seconds=10)
    assert guard.check(IMPORT, 1_006_100, lie, lie + timedelta(hours=5)) is Verdict.HELD_NEW


def test_how_far_ahead_a_clock_runs_is_kept_over_a_restart() -> None:
    """Hourly lists from a clock an hour ahead; the last before a restart came 45 s late through a broker.

    After the restart no total since tells how far ahead the clock runs: learned before it, kept with the guard's
    totals, a bridge's burst of kept lists is believed, and not held until the user takes it.
    """
    hour = timedelta(hours=1)
    before = TotalGuard(PowerEnvelope(floor=11_000))
    assert before.check(IMPORT, 1_000_000, MOMENT - hour, MOMENT) is Verdict.ACCEPTED
    assert before.check(IMPORT, 1_001_500, MOMENT + timedelta(seconds=45), MOMENT + hour) is Verdict.ACCEPTED
    guard = TotalGuard(PowerEnvelope(floor=11_000))
    guard.restore(before.as_list())
    guard.lead.restore(before.lead.as_list())
    assert guard.check(IMPORT, 1_003_000, MOMENT + hour, MOMENT + 2 * hour) is Verdict.ACCEPTED
    burst = MOMENT + 4 * hour + timedelta(seconds=30)
    verdicts = [
        guard.check(IMPORT, 1_003_000 + 1500 * n, burst + timedelta(seconds=n), MOMENT + (2 + n) * hour)
        for n in (1, 2, 3)
    ]
    assert verdicts == [Verdict.ACCEPTED] * 3
    # Another meter takes over: the old one's clock says nothing of its clock.
    guard.forget()
    assert guard.lead.usual == timedelta(0)
    assert guard.check(IMPORT, 5_000_000, burst + hour, burst + hour) is Verdict.ACCEPTED
    lie = burst + hour + timedelta(seconds=10)
    assert guard.check(IMPORT, 5_001_500, lie, lie + hour) is Verdict.HELD_NEW


def test_an_earlier_total_told_late_is_told_before_as_far_back_as_a_bridge_keeps_lists() -> None:
    guard = TotalGuard(PowerEnvelope())
    clock = datetime(2026, 1, 15, 13, 0, 0, tzinfo=UTC)
    assert guard.check(IMPORT, 1_005_000, MOMENT, clock) is Verdict.ACCEPTED
    # Stamped an hour before the last, 4 kWh lower: what the meter counted since, sent again by a bridge.
    assert guard.told_before(IMPORT, 1_001_000, clock - timedelta(hours=1))
    # Lower than 11 kW could count in that hour, further back than a bridge or broker keeps lists, stamped
    # as late as the last or by a clock of another kind, or no lower: not an earlier total.
    assert not guard.told_before(IMPORT, 990_000, clock - timedelta(hours=1))
    assert not guard.told_before(IMPORT, 1_001_000, clock - LATE_DELIVERY - timedelta(minutes=1))
    assert not guard.told_before(IMPORT, 1_004_000, clock)
    assert not guard.told_before(IMPORT, 1_001_000, clock.replace(tzinfo=None) - timedelta(hours=1))
    assert not guard.told_before(IMPORT, 1_001_000, None)
    assert not guard.told_before(IMPORT, 1_005_000, clock - timedelta(hours=1))
    # A rounding below, a second earlier: the same count (two lists at two resolutions), current.
    assert not guard.told_before(IMPORT, 1_004_995, clock - timedelta(seconds=1))
    assert not guard.told_before((2, 8, 0), 0, clock - timedelta(hours=1))


def test_a_count_begun_anew_behind_a_clock_set_back_is_no_earlier_total() -> None:
    """A young meter reset to 0, its clock set back a few hours: 50 kWh down is what 11 kW could count in 5 h."""
    guard = TotalGuard(PowerEnvelope())
    clock = datetime(2026, 1, 15, 13, 0, 0, tzinfo=UTC)
    assert guard.check(IMPORT, 50_000, MOMENT, clock) is Verdict.ACCEPTED
    assert not guard.told_before(IMPORT, 10, clock - timedelta(hours=5))
    verdicts = [
        guard.check(IMPORT, total, MOMENT + timedelta(hours=hour), clock - timedelta(hours=5 - hour))
        for hour, total in enumerate((10, 900, 1_800), start=1)
    ]
    assert verdicts == [Verdict.HELD_NEW, Verdict.HELD, Verdict.FOLLOWED]


def test_the_hours_first_telegram_being_its_register_closes_the_last_hour_exactly() -> None:
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.add_register(10_000, start + REGISTER_DELAY)
    tariff.update(10_000, start + timedelta(minutes=10))
    tariff.update(11_900, start + timedelta(minutes=59))
    # No telegram between 10:59 and the hourly register at 11:00:05.
    tariff.add_register(12_000, start + timedelta(hours=1) + REGISTER_DELAY)
    assert tariff.last_hour_use(start + timedelta(hours=1) + REGISTER_DELAY) == 2000
    assert tariff.hour_start == start + timedelta(hours=1)
    assert tariff.current_hour_use(12_010) == 10


def test_projection_never_goes_below_the_hours_use() -> None:
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.update(1000, start)
    assert tariff.projected_hour_use(1500, -4000, start + timedelta(minutes=15)) == 500


def test_a_reset_is_not_use() -> None:
    tariff = CapacityTariff(OSLO)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tariff.add_register(1_000_000, start + REGISTER_DELAY)
    tariff.rebase(2_000 - 1_000_400, 2_000)  # the live total and the register went from 1 000 400 to 2 000
    assert tariff.current_hour_use(2_100) == 500
    # What the hour of the reset used is not known exactly: it is no peak. The next hour counts from the new count.
    tariff.add_register(3_000, start + timedelta(hours=1) + REGISTER_DELAY)
    assert tariff.hours == {}
    tariff.add_register(4_500, start + timedelta(hours=2) + REGISTER_DELAY)
    assert tariff.hours == {(start + timedelta(hours=1)).isoformat(): 1_500}
    tariff.scale_total(2)
    assert tariff.hour_start_total == pytest.approx(2 * 4_500)


def test_headroom_is_what_this_hour_may_still_use_before_the_next_step() -> None:
    """Days peaking at 4.0, 3.0 and 1.0 kWh average 2.67 kWh (step 2-5); the next step starts at 5 kWh.

    Today (the third day, 1.0 kWh so far) could peak at up to 8.0 kWh before
    the three-day average reaches 5: with 0.5 kWh used this hour, 7.5 kWh more.
    """
    tariff = CapacityTariff(OSLO)
    midnight = datetime(2026, 1, 12, tzinfo=OSLO)
    total = _day(tariff, midnight, [4000.0] + [100.0] * 23)
    total = _day(tariff, midnight + timedelta(days=1), [3000.0] + [100.0] * 23, total)
    total = _day(tariff, midnight + timedelta(days=2), [1000.0] * 10, total)
    now = midnight + timedelta(days=2, hours=10, minutes=20)
    assert tariff.monthly_average(now) == pytest.approx((4000 + 3000 + 1000) / 3)
    assert tariff.headroom(total + 500, now) == pytest.approx(7500, abs=0.01)
    # Used already: no headroom left.
    assert tariff.headroom(total + 9000, now) == 0
    # At the top step nothing raises it.
    tariff.thresholds = (2.0,)
    assert tariff.headroom(total + 500, now) is None


def _hours(tariff: CapacityTariff, uses: dict[datetime, float]) -> None:
    """Close every hour from the first given to the last: those given used that much, the others nothing."""
    by_start = {start.astimezone(UTC): used for start, used in uses.items()}
    hour, last = min(by_start), max(by_start)
    total = 1_000_000.0
    tariff.add_register(total, hour + REGISTER_DELAY)
    while hour <= last:
        total += by_start.get(hour, 0.0)
        hour += timedelta(hours=1)
        tariff.add_register(total, hour + REGISTER_DELAY)


def test_a_swedish_charge_with_night_hours_at_half_on_different_days() -> None:
    """Ellevio's rule: the three highest hours on different days, an hour between 22 and 06 counting half."""
    tariff = CapacityTariff(OSLO, rule=CAPACITY_MODELS["half_nights"])
    day = datetime(2026, 1, 12, tzinfo=OSLO)
    _hours(
        tariff,
        {
            day.replace(hour=14): 5000,  # day 1: 5 kWh at 14, and 8 kWh at 23 that counts 4
            day.replace(hour=23): 8000,
            day.replace(day=13, hour=10): 3000,
            day.replace(day=14, hour=2): 10_000,  # counts 5: the day's peak, beside 4 kWh at 18
            day.replace(day=14, hour=18): 4000,
            day.replace(day=15, hour=9): 6000,
        },
    )
    now = day.replace(day=15, hour=20)
    assert tariff.daily_peaks(now) == {
        date(2026, 1, 12): 5000,
        date(2026, 1, 13): 3000,
        date(2026, 1, 14): 5000,
        date(2026, 1, 15): 6000,
    }
    assert tariff.monthly_average(now) == pytest.approx((6000 + 5000 + 5000) / 3)


def test_a_swedish_charge_on_weekday_daytime_hours_whatever_their_days() -> None:
    """The three highest hours on weekdays from 07 to 19: evenings and weekends are free, two peaks may share a day."""
    tariff = CapacityTariff(OSLO, rule=CAPACITY_MODELS["weekday_daytime"])
    monday = datetime(2026, 1, 12, tzinfo=OSLO)
    _hours(
        tariff,
        {
            monday.replace(hour=8): 4000,
            monday.replace(hour=9): 4500,
            monday.replace(hour=20): 9000,  # evening: free
            monday.replace(day=13, hour=18): 3000,
            monday.replace(day=13, hour=19): 7000,  # 19-20: free
            monday.replace(day=17, hour=10): 10_000,  # Saturday: free
        },
    )
    now = monday.replace(day=17, hour=12)
    assert tariff.monthly_average(now) == pytest.approx((4500 + 4000 + 3000) / 3)
    # A Saturday hour never raises it: no headroom to speak of.
    assert tariff.headroom(tariff.hour_start_total, now) is None


def test_a_held_total_kept_among_the_accepted_ones_is_never_taken_as_accepted() -> None:
    """Stores written for a while kept held totals among the accepted, marked "held": never the meter's count."""
    guard = TotalGuard(PowerEnvelope(floor=11_000.0))
    when = datetime(2026, 1, 12, 10, 0, tzinfo=UTC).isoformat()
    guard.restore(
        [
            {"register": [1, 8, 0], "value": 155_232_510.0, "when": when},
            {"register": [1, 8, 0], "value": 999_999_999.0, "when": when, "held": True},  # a jump, held
        ]
    )
    assert guard.last((1, 8, 0)) == 155_232_510.0


@pytest.mark.parametrize("rule", ["norway", "weekday_daytime"])
def test_the_capacity_figures_of_a_telegram_weigh_each_hour_of_the_month_at_most_once(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every telegram asks for the headroom, today's peak, the month's average and step: late in a month, with
    740 hours kept, that work must not be the month's hours parsed and weighed over and over (50 times a telegram).

    The figures themselves stay those of the month's hours, weighed once each, and each new hour once more.
    """
    weighed: list[datetime] = []
    weight = PeakRule.weight

    def counted_weight(self: PeakRule, start: datetime) -> float:
        weighed.append(start)
        return weight(self, start)

    monkeypatch.setattr(PeakRule, "weight", counted_weight)
    tariff = CapacityTariff(OSLO, rule=CAPACITY_MODELS[rule])
    start = datetime(2026, 1, 1, tzinfo=OSLO).astimezone(UTC)
    tariff.restore({"hours": {(start + timedelta(hours=n)).isoformat(): 500.0 + (n * 37) % 4000 for n in range(740)}})
    now = start + timedelta(hours=740, minutes=20)
    tariff.update(0.0, now - timedelta(minutes=20))

    def one_telegram() -> tuple[float | None, ...]:
        return (tariff.headroom(900.0, now), tariff.peak_today(now), tariff.monthly_average(now), tariff.step(now))

    first = one_telegram()
    weighed.clear()
    assert one_telegram() == first
    assert len(weighed) <= 2  # the hour in progress's, for the headroom
    monkeypatch.setattr(PeakRule, "weight", weight)
    # The figures, worked out plainly: each counted hour weighed, the month's average of its highest peaks.
    model = CAPACITY_MODELS[rule]

    def average(extra: float | None) -> float:
        counted = [
            (local.date(), used * model.weight(local))
            for key, used in tariff.hours.items()
            if model.weight(local := datetime.fromisoformat(key).astimezone(OSLO))
        ]
        if extra is not None:
            counted.append((now.astimezone(OSLO).date(), extra * model.weight(now.astimezone(OSLO))))
        candidates = [used for _, used in counted]
        if model.one_per_day:
            peaks: dict[date, float] = {}
            for day, used in counted:
                peaks[day] = max(peaks.get(day, 0.0), used)
            candidates = list(peaks.values())
        top = sorted(candidates, reverse=True)[:DEFAULT_PEAK_DAYS]
        return sum(top) / len(top)

    headroom, _, monthly, _ = first
    assert monthly == pytest.approx(average(None))
    if headroom is not None:
        ceiling = next(threshold * 1000 for threshold in DEFAULT_THRESHOLDS if threshold * 1000 > monthly)
        assert average(900.0 + headroom) == pytest.approx(ceiling, abs=0.01)
