"""Energy statistics that heal, in Home Assistant: held totals, new sequences, CT ratios, saving.

Telegrams go straight to the coordinator, as the reader hands them over, with
time frozen (freezer), so every number is exact.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.const import CONF_HOST, CONF_PORT, EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.han_port import async_remove_config_entry_device, connection
from custom_components.han_port import issues as issues_module
from custom_components.han_port.const import CONF_CURRENT_TRANSFORMER_RATIO, CONF_MANUFACTURER, DOMAIN
from custom_components.han_port.decoder import ObisCode, Reading, Telegram, Unit

from .meter import add_entry_set_aside, default_state, kamstrup_frame, meter_hours_read_back, sensor

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from .meter import TcpMeter

METER_ID = "5706567274389702"
NEW_METER = "5706567000000042"
POWER = ObisCode.parse("1-1:1.7.0")
ENERGY = ObisCode.parse("1-1:1.8.0")
START = datetime(2026, 1, 12, 10, 0, 5, tzinfo=UTC)


# Time is frozen and moved on by hours while the bridge sends nothing: the reader must not call the meter gone.
pytestmark = pytest.mark.usefixtures("patient_reader")


def telegram(
    power: float | None = None, energy: float | None = None, meter_id: str = METER_ID, *, clock: datetime | None = None
) -> Telegram:
    """A Kamstrup telegram of these values, stamped by the meter's clock where one is given."""
    readings = {}
    if power is not None:
        readings[POWER] = Reading(power, Unit.WATT)
    if energy is not None:
        readings[ENERGY] = Reading(energy, Unit.WATT_HOUR)
    return Telegram("hdlc", "Kamstrup", "Kamstrup_V0001", meter_id, None, clock, readings, b"")


def state(hass: HomeAssistant, key: str) -> str:
    found = sensor(hass, key)
    assert found is not None, key
    return found.state


async def set_up(hass: HomeAssistant, port: int, **options: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=METER_ID,
        title="Kamstrup 6841131BN243101040",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_MANUFACTURER: "Kamstrup"},
        options=options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await meter_hours_read_back(hass, entry)
    await reader_connected(entry)
    return entry


async def reader_connected(entry: MockConfigEntry) -> None:
    """Let the reader connect in the background before the frozen clock jumps hours (a connect in flight would time out).

    Time stands still: the loop only polls for I/O, which is all a connect needs.
    """
    for _ in range(100_000):
        if entry.runtime_data.reader.connects:
            return
        await asyncio.sleep(0)
    msg = "the reader never connected"
    raise AssertionError(msg)


async def push(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, at: datetime, sent: Telegram
) -> None:
    freezer.move_to(at)
    entry.runtime_data.telegram_received(sent)
    await hass.async_block_till_done()


async def push_and_let_writes_happen(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, at: datetime, sent: Telegram
) -> None:
    await push(hass, freezer, entry, at, sent)
    # Fires the timers due by now: the store's pending write among them.
    async_fire_time_changed(hass, at)
    await hass.async_block_till_done()


async def test_lists_a_bridge_sends_again_on_connecting_are_passed_over_neither_held_nor_shown(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A bridge that hands over the lists it kept on every connection: those read before come again, stamped earlier.

    Their totals are below the last, by what the meter counted since: not a fall, nothing to hold, warn or ask about.
    """
    entry = await set_up(hass, tcp_meter.port)
    hourly = {START + timedelta(hours=hour): 155_232_510 + 1_000 * hour for hour in range(4)}
    for clock, total in hourly.items():
        await push(hass, freezer, entry, clock, telegram(1000, total, clock=clock))
    assert state(hass, "energy_import") == "155235.51"
    caplog.set_level(logging.WARNING)
    resent = START + timedelta(hours=3, minutes=5)
    for clock, total in list(hourly.items())[:3]:
        await push(hass, freezer, entry, resent, telegram(7777, total, clock=clock))
    # Nothing in them is the meter's present: not their totals, nor their power, nor their clock.
    assert state(hass, "energy_import") == "155235.51"
    assert state(hass, "power_import") == "1000"
    assert entry.runtime_data.data.clock == START + timedelta(hours=3)
    assert not [r for r in caplog.records if "energy register" in r.getMessage()]
    assert entry.runtime_data.energy.held.count == 0
    # A fall its clock does not explain (more than the meter's power could count in the hour back) is held.
    await push(hass, freezer, entry, resent, telegram(1000, 155_135_510, clock=START + timedelta(hours=2)))
    assert entry.runtime_data.energy.held.count == 1
    following = START + timedelta(hours=4)
    await push(hass, freezer, entry, following, telegram(1000, 155_236_510, clock=following))
    assert state(hass, "energy_import") == "155236.51"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_list_stamped_a_little_earlier_whose_total_is_the_same_count_is_current(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Two lists of one meter at two resolutions, the coarse one stamped a second earlier: it is no earlier list."""
    entry = await set_up(hass, tcp_meter.port)
    clock = START + timedelta(minutes=1)
    await push(hass, freezer, entry, clock, telegram(1000, 155_232_515, clock=clock))
    later = clock + timedelta(seconds=2)
    await push(hass, freezer, entry, later, telegram(2000, 155_232_510, clock=clock - timedelta(seconds=1)))
    assert state(hass, "power_import") == "2000"
    assert entry.runtime_data.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_earlier_lists_that_go_on_coming_are_no_bridge_handing_over_and_are_held(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A count and a clock set back together, lists coming at the meter's pace: held and told, its power shown.

    Between them come lists of powers alone, as most meters send between their hourly lists: they say nothing
    of the lists with totals, and never make the earlier ones look as if they had just begun to come.
    """
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510, clock=START))
    caplog.set_level(logging.WARNING)
    for minute in range(5):
        clock = START - timedelta(hours=5) + timedelta(minutes=minute)
        arrival = START + timedelta(minutes=1 + minute)
        await push(hass, freezer, entry, arrival, telegram(3000, 155_200_000 + 50 * minute, clock=clock))
        await push(hass, freezer, entry, arrival + timedelta(seconds=10), telegram(3100))
    # Passed over while a bridge could be handing over what it kept (the first three, two minutes from the first);
    # after that, held as any fall, and told.
    assert state(hass, "power_import") == "3100"
    assert state(hass, "energy_import") == "155232.51"
    assert entry.runtime_data.energy.held.count == 2
    assert [r for r in caplog.records if "Held energy register" in r.getMessage()]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_earlier_lists_that_go_on_coming_over_connections_the_reader_made_again_are_held(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Every list carries totals, every one earlier: they end no silence, and the reader connects again and again.

    Connections made while only such lists came hand nothing over afresh: after two minutes they are held.
    """
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510, clock=START))
    reader = entry.runtime_data.reader
    for step in range(15):
        reader.connects += 1  # as the reader does after each silence these lists do not end
        clock = START - timedelta(hours=5) + timedelta(seconds=20 * step)
        sent = telegram(3000, 155_200_000 + 10 * step, clock=clock)
        await push(hass, freezer, entry, START + timedelta(seconds=20 * (step + 1)), sent)
    # Seven in the two minutes from the first, the eight after them held.
    assert entry.runtime_data.energy.held.count == 8
    assert state(hass, "power_import") == "3000"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_earlier_list_handed_over_again_never_tells_that_a_silent_meter_sends(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A bridge whose meter side is dead, handing over what it kept on every connection: the silence stays one."""
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510, clock=START))
    coordinator = entry.runtime_data
    coordinator.availability_changed(False)
    await hass.async_block_till_done()
    assert state(hass, "power_import") == STATE_UNAVAILABLE
    earlier = START - timedelta(hours=1)
    await push(hass, freezer, entry, START + timedelta(minutes=1), telegram(900, 155_231_510, clock=earlier))
    assert state(hass, "power_import") == STATE_UNAVAILABLE
    # The repair about a silent meter still comes when its time is up.
    freezer.move_to(START + timedelta(minutes=1) + issues_module.SILENCE_REPAIR_AFTER + timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"meter_silent_{entry.entry_id}") is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_register_that_starts_again_is_followed(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    assert state(hass, "energy_import") == "155232.51"
    caplog.set_level(logging.WARNING)
    # The grid company swaps the meter: the new one counts from 12 kWh on.
    for hour, total in enumerate((12_000, 12_900, 13_700), start=1):
        await push(hass, freezer, entry, START + timedelta(hours=hour), telegram(900, total))
        if hour < 3:
            assert state(hass, "energy_import") == "155232.51", "held until the new sequence proves itself"
    assert state(hass, "energy_import") == "13.7"
    # Logged once when held, once when followed: never on every telegram.
    held = [r.getMessage() for r in caplog.records if "Held energy register" in r.getMessage()]
    followed = [r for r in caplog.records if "following it" in r.getMessage()]
    assert (len(held), len(followed)) == (1, 1)
    assert held[0].endswith("it is followed if the next 2 grow on from there")
    # Followed by itself: a log line and a diagnostics entry, nothing for the user to decide.
    assert not [issue for domain, issue in ir.async_get(hass).issues if domain == DOMAIN]
    assert [(event["event"], event["value"]) for event in entry.runtime_data.energy.events] == [
        ("register_held", "12.000"),
        ("register_followed", "13.700"),
    ]
    # Live energy starts again with the register; the hour's use is not thrown by the swap.
    assert float(state(hass, "live_energy_import")) == pytest.approx(13.7)
    # Ten seconds on at 900 W rising to 1800 W: 3.75 Wh on top of the new register.
    await push(hass, freezer, entry, START + timedelta(hours=3, seconds=10), telegram(1800))
    coordinator = entry.runtime_data
    assert coordinator.energy.counts.live_import.published == pytest.approx(13_703.75)
    assert coordinator.energy.counts.tariff.current_hour_use(
        coordinator.energy.counts.live_import.published
    ) == pytest.approx(3.75)
    assert entry.runtime_data.energy.held.count == 2
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_register_that_jumped_up_is_never_followed_by_itself_and_the_log_says_so(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    caplog.set_level(logging.WARNING)
    # 100 MWh more in an hour, then counting on from there at the pace of the home's kilowatt.
    for hour, total in enumerate((255_232_510, 255_233_510, 255_234_510), start=1):
        await push(hass, freezer, entry, START + timedelta(hours=hour), telegram(1000, total))
    assert state(hass, "energy_import") == "155232.51"
    held = [r.getMessage() for r in caplog.records if "Held energy register" in r.getMessage()]
    assert held == [
        (
            f"Held energy register 1.8.0 of {entry.title} at 155232510 Wh: it came as 255232510 Wh, and a total may only "
            "grow, as fast as power allows; if the next 2 grow on from there, you are asked whether to take it"
        )
    ]
    assert not [r for r in caplog.records if "following it" in r.getMessage()]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"energy_register_held_{entry.entry_id}_1.8.0") is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_jump_the_user_keeps_holding_is_asked_about_again_a_day_later(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A jumped count is only the user's to take: one that never leaves it would be held for good, unasked."""
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    for hour, total in enumerate((255_232_510, 255_233_510, 255_234_510), start=1):
        await push(hass, freezer, entry, START + timedelta(hours=hour), telegram(1000, total))
    issue_id = f"energy_register_held_{entry.entry_id}_1.8.0"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert entry.runtime_data.energy.held.keep(ENERGY.register)
    asked = []
    for hour, total in enumerate(range(255_235_510, 255_262_510, 1000), start=4):
        await push(hass, freezer, entry, START + timedelta(hours=hour), telegram(1000, total))
        asked.append(ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None)
    # Kept at 03:00:05 and asked again with the total a day after it, the count still the jumped one.
    assert asked == [False] * 23 + [True] * 4
    assert state(hass, "energy_import") == "155232.51"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_connection_waits_for_the_first_telegram_before_it_says_receiving(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START - timedelta(seconds=10))  # the clock runs forward from the setup on
    entry = await set_up(hass, tcp_meter.port)
    # Connected, with totals restored from the last run at most: nothing has been received yet.
    assert state(hass, "connection") == "waiting"
    await push(hass, freezer, entry, START, telegram(1000))
    assert state(hass, "connection") == "receiving"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_lone_bad_total_is_held_and_the_statistics_never_move(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    shown = []
    for hour, total in enumerate((0, 155_233_500, 9_999_999_999, 155_234_400), start=1):
        await push(hass, freezer, entry, START + timedelta(hours=hour), telegram(1000, total))
        shown.append(state(hass, "energy_import"))
    assert shown == ["155232.51", "155233.5", "155233.5", "155234.4"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"energy_register_reset_{entry.entry_id}_1.8.0") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_one_telegram_naming_another_meter_moves_nothing(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    coordinator = entry.runtime_data
    await push(hass, freezer, entry, START, telegram(1000, 155_232_513))
    await push(hass, freezer, entry, START + timedelta(seconds=10), telegram(1000))
    live = coordinator.energy.counts.live_import.published
    # One flipped bit in the meter id, in a stream without a checksum: another meter, at 5 Wh and 3 kW.
    await push(hass, freezer, entry, START + timedelta(seconds=20), telegram(3000, 5, meter_id="5706567274389703"))
    assert state(hass, "energy_import") == "155232.513"
    assert state(hass, "power_import") == "1000"
    assert coordinator.energy.counts.live_import.published == live
    assert not [issue for domain, issue in ir.async_get(hass).issues if domain == DOMAIN]
    # The meter's next telegram carries on from its own count, with nothing held.
    await push(hass, freezer, entry, START + timedelta(seconds=30), telegram(1000, 155_232_519))
    assert state(hass, "energy_import") == "155232.519"
    assert coordinator.energy.counts.live_import.published == pytest.approx(155_232_519)
    assert (coordinator.energy.held.count, entry.unique_id) == (0, METER_ID)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_new_meter_gets_sensors_of_its_own_and_no_total_jumps(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    entities = er.async_get(hass)
    written: list[tuple[str, str]] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if (new_state := event.data["new_state"]) is not None:
            written.append((event.data["entity_id"], new_state.state))

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    old_energy = entities.async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_active_energy_import")
    assert old_energy is not None
    # The grid company swaps the meter: the new one counts from 12 kWh, and says so in every telegram.
    for step, total in enumerate((12_000, 12_003, 12_006), start=1):
        await push(
            hass, freezer, entry, START + timedelta(seconds=10 * step), telegram(1000, total, meter_id=NEW_METER)
        )
    await hass.async_block_till_done()
    await reader_connected(entry)
    assert (entry.unique_id, entry.title) == (NEW_METER, f"Kamstrup {NEW_METER}")
    await push(hass, freezer, entry, START + timedelta(seconds=40), telegram(1000, 12_009, meter_id=NEW_METER))
    new_energy = entities.async_get_entity_id("sensor", DOMAIN, f"{NEW_METER}_active_energy_import")
    assert new_energy is not None
    assert new_energy != old_energy
    assert hass.states.get(new_energy).state == "12.009"  # type: ignore[union-attr]
    assert entry.runtime_data.energy.counts.live_import.published == 12_009
    # The replacement is kept for diagnostics over the reload.
    assert [event["event"] for event in entry.runtime_data.energy.events] == ["meter_replaced"]
    # The old meter's Energy import never showed anything but its own count.
    shown = {value for entity, value in written if entity == old_energy}
    assert shown <= {"155232.51", STATE_UNAVAILABLE}
    assert "155232.51" in shown
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"meter_replaced_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "meter": "Kamstrup 6841131BN243101040",
        "old": METER_ID,
        "new": NEW_METER,
    }
    # The old meter's device may be deleted; the new one's may not.
    devices = {
        next(iter(device.identifiers))[1]: device
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    }
    assert devices.keys() == {METER_ID, NEW_METER}
    assert not await async_remove_config_entry_device(hass, entry, devices[NEW_METER])
    assert await async_remove_config_entry_device(hass, entry, devices[METER_ID])
    # With the old meter's device gone, the notice has done its work.
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"meter_replaced_{entry.entry_id}") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_spike_one_minute_on_is_never_shown_and_the_total_never_goes_down(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    # A P1 meter: power and the register in every telegram, once a minute; it never draws more than 3 kW.
    totals = [155_232_513, 155_232_560, 155_247_560, 155_232_610, 155_232_660, 155_232_700]
    shown = []
    for minute, total in enumerate(totals):
        await push(hass, freezer, entry, START + timedelta(minutes=minute), telegram(3000, total))
        shown.append(float(state(hass, "energy_import")))
    # 15 kWh in a minute is thirty times what 3 kW carries: held, never shown, and nothing goes back.
    assert shown == [155_232.513, 155_232.56, 155_232.56, 155_232.61, 155_232.66, 155_232.7]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"energy_register_reset_{entry.entry_id}_1.8.0") is None
    assert entry.runtime_data.energy.held.count == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_power_reading_far_above_the_meters_never_moves_live_energy(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    coordinator = entry.runtime_data
    await push(hass, freezer, entry, START, telegram(2000, 1_000_000))
    powers = []
    for step, watts in enumerate((2000, 900_000, 2000, 2000), start=1):
        await push(hass, freezer, entry, START + timedelta(seconds=10 * step), telegram(watts))
        powers.append(state(hass, "power_import"))
    # 40 s at 2 kW: 22.2 Wh, with the 900 kW reading neither shown nor integrated (it would add 2.5 kWh).
    assert coordinator.energy.counts.live_import.published == pytest.approx(1_000_000 + 2000 * 40 / 3600)
    assert coordinator.energy.counts.tariff.current_hour_use(
        coordinator.energy.counts.live_import.published
    ) == pytest.approx(2000 * 40 / 3600)
    assert powers == ["2000", "2000", "2000", "2000"]
    assert coordinator.energy.held_powers == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_no_power_far_above_the_meters_is_shown_whole_or_per_phase(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """A push that passes its checks with one phase's power, reactive or apparent power at 900 kW on a 2 kW home.

    Or its demand: the average of the quarter hour in progress, or the month's peak (found by fuzzing: shown as is).
    """
    entry = await set_up(hass, tcp_meter.port)
    powers = {
        "power_import_l1": ObisCode.parse("1-0:21.7.0"),
        "reactive_power_import": ObisCode.parse("1-0:3.7.0"),
        "apparent_power_import": ObisCode.parse("1-0:9.7.0"),
        "average_demand": ObisCode.parse("1-0:1.4.0"),
        "maximum_demand": ObisCode.parse("1-0:1.6.0"),
        # A phase's current carries its apparent power: 1 999 A is 460 kVA.
        "current_l2": ObisCode.parse("1-0:51.7.0"),
    }

    honest = {key: Reading(7, Unit.AMPERE) if key == "current_l2" else Reading(700, Unit.WATT) for key in powers}
    lies = {key: Reading(1999 if key == "current_l2" else 900_000, reading.unit) for key, reading in honest.items()}

    def lying(liar: str | None) -> Telegram:
        readings = {code: (lies if key == liar else honest)[key] for key, code in powers.items()}
        return replace(telegram(2000), readings={**telegram(2000).readings, **readings})

    moment = START
    for liar in (None, None, *powers):
        moment += timedelta(seconds=10)
        await push(hass, freezer, entry, moment, lying(liar))
        shown = {key: entry.runtime_data.data.readings[code.register] for key, code in powers.items()}
        assert shown == honest, liar
    assert entry.runtime_data.energy.held_powers == len(powers)
    # A maximum demand is no power measured now: summed over the months it may lie far above any.
    cumulative_demand = ObisCode.parse("1-0:1.2.0")
    demand = replace(
        telegram(2000), readings={**telegram(2000).readings, cumulative_demand: Reading(150_000, Unit.WATT)}
    )
    await push(hass, freezer, entry, moment + timedelta(seconds=10), demand)
    assert entry.runtime_data.data.readings[cumulative_demand.register].value == 150_000
    assert entry.runtime_data.energy.held_powers == len(powers)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_genuine_rise_in_power_is_followed(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    coordinator = entry.runtime_data
    await push(hass, freezer, entry, START, telegram(300, 1_000_000))
    moment = START
    for watts in (300, 300, 3000, 3000, 3000):
        moment += timedelta(seconds=10)
        await push(hass, freezer, entry, moment, telegram(watts))
    assert state(hass, "power_import") == "3000"
    # 20 s at 300 W, 10 s rising to 3 kW, 20 s at 3 kW.
    used = (300 * 20 + 1650 * 10 + 3000 * 20) / 3600
    assert coordinator.energy.counts.live_import.published == pytest.approx(1_000_000 + used)
    # An hour on at 3 kW the register is followed too, though 3 kWh is ten times what the night's 300 W carries.
    await push(hass, freezer, entry, moment + timedelta(hours=1), telegram(3000, 1_003_000))
    assert state(hass, "energy_import") == "1003.0"
    assert coordinator.energy.held.count == 0
    # A load of 30 kW is more than a household shows without proof: it is taken at its third reading in a row.
    moment += timedelta(hours=1)
    for watts in (30_000, 30_000, 30_000):
        moment += timedelta(seconds=10)
        await push(hass, freezer, entry, moment, telegram(watts))
    assert state(hass, "power_import") == "30000"
    # What the meter has shown is kept over a restart.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)
    assert entry.runtime_data.energy.envelope.highest == 30_000
    await hass.config_entries.async_unload(entry.entry_id)


async def test_billing_period_values_never_replace_the_present_total(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    sent = telegram(1000, 155_232_510)
    # 1-0:1.8.0*101: the total at the end of last month's billing period.
    last_month = ObisCode(1, 0, 1, 8, 0, 101)
    sent = replace(sent, readings={**sent.readings, last_month: Reading(150_000_000, Unit.WATT_HOUR)})
    await push(hass, freezer, entry, START, sent)
    assert state(hass, "energy_import") == "155232.51"
    assert entry.runtime_data.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_changed_current_transformer_ratio_rescales_what_is_kept(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 1_000_000))
    assert state(hass, "energy_import") == "1000.0"
    assert await hass.config_entries.async_unload(entry.entry_id)
    # The installer set the ratio: the meter's raw totals now count 50 times as much.
    hass.config_entries.async_update_entry(entry, options={CONF_CURRENT_TRANSFORMER_RATIO: 50})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)
    # The kept total and live energy were measured through the old ratio: rescaled at once.
    assert state(hass, "energy_import") == "50000.0"
    assert float(state(hass, "live_energy_import")) == pytest.approx(50_000)
    await push(hass, freezer, entry, START + timedelta(hours=1), telegram(1000, 1_001_000))
    assert state(hass, "energy_import") == "50050.0"
    assert entry.runtime_data.energy.held.count == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_energy_state_is_saved_while_telegrams_flow(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    key = f"{DOMAIN}.{entry.entry_id}"

    def saved_total() -> float | None:
        return hass_storage[key]["data"]["import"]["register"] if key in hass_storage else None

    moment = START
    await push_and_let_writes_happen(hass, freezer, entry, moment, telegram(1000, 1_000_000))
    assert saved_total() == 1_000_000
    # Telegrams every 10 s: not written again until five minutes have passed...
    total = 1_000_000
    for _ in range(29):
        moment += timedelta(seconds=10)
        total += 3
        await push_and_let_writes_happen(hass, freezer, entry, moment, telegram(1000, total))
    assert saved_total() == 1_000_000
    moment += timedelta(seconds=10)
    total += 3
    await push_and_let_writes_happen(hass, freezer, entry, moment, telegram(1000, total))
    assert saved_total() == total
    # ...and at the first telegram of every hour, whatever the interval.
    moment = START.replace(minute=59, second=58)
    await push_and_let_writes_happen(hass, freezer, entry, moment, telegram(1000, total + 1))
    moment = START.replace(minute=0, second=2) + timedelta(hours=1)
    await push_and_let_writes_happen(hass, freezer, entry, moment, telegram(1000, total + 2))
    assert saved_total() == total + 2
    await hass.config_entries.async_unload(entry.entry_id)


async def test_energy_state_written_since_the_last_save_is_kept_when_home_assistant_stops(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await set_up(hass, tcp_meter.port)
    key = f"{DOMAIN}.{entry.entry_id}"
    # The hour's first telegram is written at once; a total three minutes later is not (yet)...
    await push_and_let_writes_happen(hass, freezer, entry, START.replace(second=2), telegram(1000, 999_990))
    await push_and_let_writes_happen(hass, freezer, entry, START.replace(minute=3), telegram(1000, 1_000_000))
    assert hass_storage[key]["data"]["import"]["register"] == 999_990
    # ...and Home Assistant does not unload its entries when it stops: the stop itself must write it.
    await hass.async_stop()
    assert hass_storage[key]["data"]["import"]["register"] == 1_000_000


async def test_a_new_meter_another_entry_reads_makes_this_entry_unavailable_and_says_why(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    # Two bridges swapped addresses: this entry's port now carries the meter another entry reads.
    add_entry_set_aside(hass, NEW_METER, "Kamstrup")
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, START, telegram(1000, 155_232_510))
    energy = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_active_energy_import")
    assert energy is not None
    for step, total in enumerate((12_000, 12_003, 12_006, 12_009), start=1):
        await push(
            hass, freezer, entry, START + timedelta(seconds=10 * step), telegram(1000, total, meter_id=NEW_METER)
        )
    await hass.async_block_till_done()
    assert entry.unique_id == METER_ID  # nothing of the other entry's meter is taken over
    assert hass.states.get(energy).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"meter_read_elsewhere_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "meter": entry.title,
        "new": NEW_METER,
        "other": f"Kamstrup {NEW_METER}",
    }
    # The bridges are set right: this entry's own meter is shown again at its first telegram, the issue withdrawn.
    await push(hass, freezer, entry, START + timedelta(seconds=50), telegram(1000, 155_232_520))
    await hass.async_block_till_done()
    assert hass.states.get(energy).state == "155232.52"  # type: ignore[union-attr]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"meter_read_elsewhere_{entry.entry_id}") is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def deliver(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    tcp_meter: TcpMeter,
    at: datetime,
    *,
    frame: bytes,
) -> None:
    """Send a frame over the bridge at a moment of the frozen clock: the reader hears it then, as it would the meter."""
    freezer.move_to(at)
    decoder = entry.runtime_data.reader.decoder
    expected = decoder.telegrams + 1
    tcp_meter.send(frame)
    for _ in range(100_000):
        if decoder.telegrams >= expected:
            break
        await asyncio.sleep(0)
    await hass.async_block_till_done()


async def test_an_outage_the_meter_comes_back_from_is_never_integrated_nor_its_next_silence_stretched(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three silent hours are one gap, no interval of the meter's: no power is integrated across them."""
    monkeypatch.setattr(connection, "MIN_SILENCE", 30.0)
    entry = await set_up(hass, tcp_meter.port)
    moment = START
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state(), hourly=True))
    for _ in range(12):
        moment += timedelta(seconds=10)
        await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    before = float(state(hass, "live_energy_import"))
    assert before == pytest.approx(155_232.51 + 1.703 * 120 / 3600)
    moment += timedelta(hours=3)
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    assert float(state(hass, "live_energy_import")) == before
    # The meter's interval is still its usual 10 s: the next outage is told after 30 s, not nine hours.
    assert entry.runtime_data.reader.silence_timeout == pytest.approx(30.0)
    moment += timedelta(seconds=10)
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    assert float(state(hass, "live_energy_import")) == pytest.approx(before + 1.703 * 10 / 3600)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_interval_kept_from_before_a_restart_gives_way_to_the_meters_own(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept interval judges the silence only until the meter's telegrams tell theirs.

    Before, the kept 15 minutes stayed among the meter's intervals: after one outage it was the longest but one,
    and the next outage was told after 45 minutes, with power integrated across it.
    """
    monkeypatch.setattr(connection, "MIN_SILENCE", 30.0)
    entry = await set_up(hass, tcp_meter.port)
    reader = entry.runtime_data.reader
    reader.recall_interval(900.0)  # as the store gives it back: the meter was moved from a 15-minute list
    assert reader.silence_timeout == pytest.approx(2700.0)
    moment = START
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state(), hourly=True))
    moment += timedelta(seconds=10)
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    # One interval of the meter's: the shorter of it and the kept one counts; one alone (an outage, maybe) is not
    # kept for the next start.
    assert reader.silence_timeout == pytest.approx(30.0)
    assert reader.kept_interval == pytest.approx(900.0)
    moment += timedelta(seconds=10)
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    assert reader.kept_interval == pytest.approx(10.0)
    moment += timedelta(hours=3)
    await deliver(hass, freezer, entry, tcp_meter, moment, frame=kamstrup_frame(default_state()))
    # The outage is the longest interval: the meter's own 10 s judge the next silence.
    assert reader.silence_timeout == pytest.approx(30.0)
    # A kept interval longer than the slowest meter's push is none.
    reader.recall_interval(3600.0)
    assert reader.kept_interval == pytest.approx(10.0)
    await hass.config_entries.async_unload(entry.entry_id)
