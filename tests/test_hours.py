"""The meter's hours without Home Assistant: where a register is placed, and what an hour gets from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from custom_components.han_port.hours import DISPUTE_LIMIT, Boundary, HourBook, MeterHour

OSLO = ZoneInfo("Europe/Oslo")
NOON = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def placed(arrival: datetime, clock: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Where a book with nothing in it yet places a register."""
    return HourBook().place(arrival, clock, zone)


def test_a_clock_far_from_the_arrival_is_damage_and_the_arrival_tells_the_time() -> None:
    arrival = NOON + timedelta(seconds=10)
    assert placed(arrival, NOON, OSLO) == NOON
    # Kept by a bridge for two hours: still the meter's hour.
    assert placed(arrival + 2 * HOUR, NOON, OSLO) == NOON
    # Ahead of the arrival, or days behind it: not a clock to place energy by.
    assert placed(arrival, NOON + HOUR, OSLO) == arrival
    assert placed(arrival, NOON - timedelta(days=3), OSLO) == arrival
    assert placed(arrival, None, OSLO) == arrival


def test_a_local_clock_read_twice_when_summer_time_ends_is_the_one_nearer_the_arrival() -> None:
    # 02:00 local happens at 00:00 and at 01:00 UTC on 25 October 2026.
    naive = datetime(2026, 10, 25, 2, 0)
    first, second = datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert placed(first + timedelta(seconds=10), naive, OSLO) == first
    assert placed(second + timedelta(seconds=10), naive, OSLO) == second


def test_a_push_older_than_the_last_moves_nothing() -> None:
    book = HourBook(Boundary(NOON, 1_000, 50))
    assert book.add(1_600, NOON + timedelta(minutes=30)) == []
    # Delivered late and out of order: it must not become the point later boundaries are interpolated from.
    assert book.add(1_050, NOON + timedelta(minutes=5)) == []
    assert book.add(2_800, NOON + timedelta(minutes=90)) == [MeterHour(NOON, 1_200, 2_200, 1_250, estimated=True)]


def test_a_new_sequence_counts_on_from_its_first_register() -> None:
    book = HourBook(Boundary(NOON, 155_232_510, 0))
    book.add(155_233_010, NOON + timedelta(minutes=30))
    # The meter was swapped: the new one counts from 12 kWh, and 300 Wh more by the hour's end.
    book.rebase(12_000)
    assert book.add(12_300, NOON + HOUR + timedelta(seconds=5)) == [MeterHour(NOON, 800, 12_300, 800, estimated=True)]


def test_a_clock_without_an_offset_is_taken_only_near_the_arrival() -> None:
    # A meter that keeps UTC without saying so, read in Oslo: its 11:00 reads as 11:00 local, an hour early.
    arrival = NOON + timedelta(seconds=10)
    assert placed(arrival, NOON.replace(tzinfo=None), OSLO) == arrival
    # Its own local time, a few seconds off, is the meter's.
    local = (NOON + timedelta(hours=1)).replace(tzinfo=None)
    assert placed(arrival, local, OSLO) == NOON


def test_a_clock_that_stands_still_or_goes_back_while_the_count_moves_still_closes_hours() -> None:
    """A meter's clock reset to 2000 after a power cut, or stuck: damage, told by the arrival; its registers count."""
    book = HourBook(Boundary(NOON, 1_000, 0))
    stuck = datetime(2000, 1, 1, tzinfo=UTC)
    closed = [book.add(1_000 + 500 * hour, NOON + hour * HOUR + timedelta(seconds=10), stuck) for hour in (1, 2, 3)]
    assert [[hour.used for hour in hours] for hours in closed] == [[500], [500], [500]]
    # A count that does not move (an export register at night) by that clock: each hour closes, at nothing.
    closed = [book.add(2_500, NOON + hour * HOUR + timedelta(seconds=10), stuck) for hour in (4, 5, 6)]
    assert [[(hour.used, hour.estimated) for hour in hours] for hours in closed] == [[(0, False)]] * 3


def test_the_last_register_told_again_by_a_clock_that_did_not_tick_closes_nothing() -> None:
    """A list a broker kept, handed over again just after the next hour: by its arrival it would close that hour."""
    book = HourBook(Boundary(NOON, 1_000, 0))
    # Placed by their clocks, as placed() does with clocks it takes; the one told again, by its arrival.
    assert book.add(1_500, NOON + HOUR, NOON + HOUR)[0].used == 500
    assert book.add(1_500, NOON + 2 * HOUR + timedelta(seconds=4), NOON + HOUR) == []
    assert [hour.used for hour in book.add(2_100, NOON + 2 * HOUR, NOON + 2 * HOUR)] == [600]


def test_a_register_waits_while_the_clock_that_placed_the_last_one_stands_hours_from_the_hosts() -> None:
    def wall(moment: datetime) -> datetime:
        """A clock without an offset, as a Kaifa's: Oslo's wall time."""
        return moment.astimezone(OSLO).replace(tzinfo=None)

    book = HourBook(Boundary(NOON - HOUR, 1_000, 0))
    book.add(2_000, NOON, NOON)  # placed by the meter's clock
    # The host started again at the time it stopped, 12:30, while the meter's clock says 15:00.
    assert book.place(NOON + timedelta(minutes=30), wall(NOON + 3 * HOUR), OSLO) is None
    # Its clock an hour ahead: the meter's hour behind it is as far.
    assert book.place(NOON + 2 * HOUR, wall(NOON + HOUR), OSLO) is None
    # A clock a little past agreement drifted, and was not stepped: its arrival places it.
    drifted = NOON + timedelta(minutes=30)
    assert book.place(drifted, wall(drifted + timedelta(minutes=3)), OSLO) == drifted
    # A list handed over again, its clock no later than the last's: no step either.
    again = NOON + HOUR + timedelta(seconds=4)
    assert book.place(again, wall(NOON), OSLO) == again
    # A host that stands at its shutdown waits however far the meter's clock has gone on.
    assert book.place(drifted, wall(NOON + DISPUTE_LIMIT + HOUR), OSLO) is None
    # Both clocks past DISPUTE_LIMIT since the last register: the meter's clock is the wrong one.
    late = NOON + DISPUTE_LIMIT + timedelta(minutes=30)
    assert book.place(late, wall(late + HOUR), OSLO) == late
    # A last register its arrival placed: no agreement to have lost.
    by_arrival = HourBook(Boundary(NOON - HOUR, 1_000, 0))
    by_arrival.add(2_000, NOON + timedelta(seconds=10))
    assert by_arrival.place(drifted, wall(NOON + 3 * HOUR), OSLO) == drifted


def test_a_last_read_taken_back_hours_past_the_anchor_closes_each_hour_between_on_its_own() -> None:
    """The hours up to the last read were closed before a restart, and never written: they are closed again."""
    book = HourBook(Boundary(NOON, 1_000, 50))
    book.resume(NOON + 2 * HOUR, 3_000)
    assert book.add(3_500, NOON + 3 * HOUR + timedelta(seconds=10)) == [
        MeterHour(NOON, 1_000, 2_000, 1_050, estimated=True),
        MeterHour(NOON + HOUR, 1_000, 3_000, 2_050, estimated=True),
        MeterHour(NOON + 2 * HOUR, 500, 3_500, 2_550, estimated=True),
    ]
