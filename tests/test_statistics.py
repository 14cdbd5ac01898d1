"""What the Energy dashboard sees: the recorder's long-term statistics, compiled by Home Assistant itself.

Telegrams go straight to the coordinator with time frozen, as in
test_energy_guard; a real recorder (in-memory SQLite) records the states and
compiles the five-minute statistics the Energy dashboard sums.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    statistics_during_period,
)

from custom_components.han_port.compat import REACTIVE_ENERGY_CONVERTER
from custom_components.han_port.const import CONF_CURRENT_TRANSFORMER_RATIO, DOMAIN
from custom_components.han_port.decoder import ObisCode, Reading, Telegram, Unit
from custom_components.han_port.total_steps import STEP_KEPT

from .meter import entity_id
from .test_energy_guard import ENERGY, METER_ID, NEW_METER, push, reader_connected, set_up, state, telegram
from .test_meter_hours import start_behind_transformers, totals_read_back

if TYPE_CHECKING:
    from datetime import datetime

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceGenerator) -> None:
    """Set the recorder up before Home Assistant, as a real installation has it."""


pytestmark = pytest.mark.usefixtures("patient_reader")
REACTIVE = ObisCode.parse("1-1:3.8.0")


async def five_minute_sums(hass: HomeAssistant, start: Any, *entity_ids: str) -> dict[str, list[float]]:
    """Compile the five minutes from start as Home Assistant does, and read each statistic's running sum (kWh)."""
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)
    found = await hass.async_add_executor_job(
        statistics_during_period, hass, start, None, set(entity_ids), "5minute", None, {"sum", "state"}
    )
    return {entity_id: [row["sum"] for row in found.get(entity_id, [])] for entity_id in entity_ids}


@pytest.mark.usefixtures("recorder_mock")
async def test_a_meter_swap_never_counts_the_new_meters_register_as_use(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port)
    entities = er.async_get(hass)
    await push(hass, freezer, entry, period + timedelta(seconds=5), telegram(1000, 155_232_510))
    # The total shows its first count once it has read its recorded state back: not before the next, unwaited.
    await totals_read_back(hass, entry)
    await push(hass, freezer, entry, period + timedelta(minutes=1), telegram(1000, 155_232_520))
    old_energy = entities.async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_active_energy_import")
    # One intruding telegram, then the old meter again: nothing to count.
    await push(hass, freezer, entry, period + timedelta(minutes=1, seconds=10), telegram(1000, 5, meter_id=NEW_METER))
    await push(hass, freezer, entry, period + timedelta(minutes=1, seconds=20), telegram(1000, 155_232_522))
    # The grid company swaps the meter: the new one counts from 12 kWh.
    for step, total in enumerate((12_000, 12_003, 12_006), start=1):
        moment = period + timedelta(minutes=2, seconds=10 * step)
        await push(hass, freezer, entry, moment, telegram(1000, total, meter_id=NEW_METER))
    await hass.async_block_till_done()
    await reader_connected(entry)
    # The new meter's totals have no recorded state to read back; shown once the recorder has said so.
    await totals_read_back(hass, entry)
    for step, total in enumerate((12_010, 12_030), start=1):
        moment = period + timedelta(minutes=3, seconds=10 * step)
        await push(hass, freezer, entry, moment, telegram(1000, total, meter_id=NEW_METER))
    assert old_energy is not None
    new_energy = entities.async_get_entity_id("sensor", DOMAIN, f"{NEW_METER}_active_energy_import") or old_energy
    freezer.move_to(period + timedelta(minutes=10))
    sums = await five_minute_sums(hass, period, old_energy, new_energy)
    # The old meter used 12 Wh; the new one 20 Wh since its first count. No register is counted as use.
    assert sums[old_energy] == [pytest.approx(0.012)]
    assert new_energy != old_energy
    assert sums[new_energy] == [pytest.approx(0.020)]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_spike_never_reaches_the_statistics(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port)
    # A P1 meter drawing 3 kW, once a minute; the third register is 15 kWh above the meter's.
    for minute, total in enumerate((155_232_513, 155_232_563, 155_247_563, 155_232_613, 155_232_663)):
        await push(hass, freezer, entry, period + timedelta(minutes=minute, seconds=5), telegram(3000, total))
        # The total shows its first count once it has read its recorded state back: not before the next.
        await totals_read_back(hass, entry)
    energy = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_active_energy_import")
    assert energy is not None
    freezer.move_to(period + timedelta(minutes=10))
    sums = await five_minute_sums(hass, period, energy)
    assert sums[energy] == [pytest.approx(0.150)]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_register_that_falls_a_little_is_never_negative_use(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A register reads 40 Wh less once and counts on from there: Home Assistant would book the fall as negative use."""
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port)
    totals = (155_232_510, 155_232_520, 155_232_480, 155_232_483, 155_232_486, 155_232_490, 155_232_530)
    shown = []
    asked = []
    for step, total in enumerate(totals):
        await push(hass, freezer, entry, period + timedelta(seconds=5 + 10 * step), telegram(1000, total))
        shown.append(state(hass, "energy_import"))
        asked.append(ir.async_get(hass).async_get_issue(DOMAIN, f"energy_register_held_{entry.entry_id}_1.8.0"))
    energy = entity_id(hass, "energy_import")
    freezer.move_to(period + timedelta(minutes=10))
    sums = await five_minute_sums(hass, period, energy)
    await hass.config_entries.async_unload(entry.entry_id)
    assert shown == ["155232.51", *["155232.52"] * 5, "155232.53"]
    assert sums[energy] == [pytest.approx(0.02)]
    # It settles by itself within a minute: nothing to ask the user.
    assert asked == [None] * len(totals)
    assert (
        "came as 155232480 Wh, and a total may only grow, as fast as power allows; it is shown again once the meter's count passes the total shown"
        in caplog.text
    )


async def look_at_the_statistics(hass: HomeAssistant, entry: MockConfigEntry, at: datetime) -> int:
    """Let the entry look at its steps after the recorder's five-minute compile, as it does at hh:m5:30.

    Return how many it leaves.
    """
    async_fire_time_changed(hass, at)
    await hass.async_block_till_done()
    steps = entry.runtime_data.energy.total_steps
    for _ in range(100_000):
        if not steps._looking:
            break
        await asyncio.sleep(0)
    await async_wait_recording_done(hass)
    return steps.left


class RatioChange(NamedTuple):
    """A change of the current-transformer ratio: from before to after, the last total sent before it (Wh)."""

    before: float
    after: float
    last: int = 1_000_020
    silent: timedelta = timedelta(0)
    """How long the meter was unavailable before the change."""
    renamed: bool = False
    """Whether the user renames the sensor before its statistics are looked at."""
    sent_in_its_five_minutes: bool = False
    """Whether the meter sent a total in the five minutes of the change, before it (as a P1 meter does)."""
    shown_in_wh: bool = False
    """Whether the user shows the register in Wh from just before the change (its statistics stay in kWh)."""
    reactive_in_varh: bool = False
    """Whether the user shows the reactive register in varh from just before the change (where releases convert it)."""


def metered(energy: int) -> Telegram:
    """A Kamstrup telegram with its import register, and a reactive one counting half as much (varh)."""
    sent = telegram(1000, energy)
    return replace(sent, readings={**sent.readings, REACTIVE: Reading(energy // 2, Unit.VAR_HOUR)})


@pytest.mark.parametrize(
    "change",
    [
        # Up: the step would be counted as use.
        RatioChange(1, 50),
        # Down below 90 %: a new cycle, the whole new total counted as use.
        RatioChange(50, 1),
        # A tenth down, to 90 % of the last total to the Wh: a new cycle as the statistics tell it, in kWh.
        RatioChange(100, 90, last=1_000_035),
        # The meter unavailable for 90 minutes before the change (the transformers being fitted).
        RatioChange(1, 50, silent=timedelta(minutes=90)),
        RatioChange(1, 50, renamed=True),
        RatioChange(1, 50, sent_in_its_five_minutes=True),
        RatioChange(50, 1, sent_in_its_five_minutes=True),
        RatioChange(1, 50, shown_in_wh=True),
        RatioChange(1, 50, reactive_in_varh=True),
    ],
    ids=[
        "up",
        "down",
        "a-tenth-down",
        "after-a-silence",
        "renamed",
        "up-just-after-a-total",
        "down-just-after",
        "shown-in-wh",
        "reactive-in-varh",
    ],
)
@pytest.mark.usefixtures("recorder_mock")
async def test_a_new_current_transformer_ratio_never_counts_its_step_as_use(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, change: RatioChange
) -> None:
    """The totals step to the new ratio: up, Home Assistant would count the step; down, the whole new total."""
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port, **{CONF_CURRENT_TRANSFORMER_RATIO: change.before})
    # The reactive register's sensor, off by default, enabled by the user.
    entities = er.async_get(hass)
    reactive = entities.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_reactive_energy_import")
    assert reactive is not None
    entities.async_update_entity(reactive, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)
    await push(hass, freezer, entry, period + timedelta(seconds=5), metered(1_000_000))
    await totals_read_back(hass, entry)
    await push(hass, freezer, entry, period + timedelta(minutes=1), metered(change.last))
    energy, live = entity_id(hass, "energy_import"), entity_id(hass, "live_energy_import")
    # Live energy is written at most once a minute: its last total before the change, in the first five minutes.
    freezer.move_to(period + timedelta(minutes=2))
    async_fire_time_changed(hass, period + timedelta(minutes=2))
    await hass.async_block_till_done()
    if change.silent:
        entry.runtime_data.availability_changed(False)
        await hass.async_block_till_done()
        assert state(hass, "energy_import") == "unavailable"
    used_before = (change.last - 1_000_000) / 1000 * change.before
    freezer.move_to(period + timedelta(minutes=5))
    assert (await five_minute_sums(hass, period, energy))[energy] == [pytest.approx(used_before)]
    shown_per_kwh = reactive_per_kvarh = 1.0
    if change.reactive_in_varh:
        if REACTIVE_ENERGY_CONVERTER is None:
            pytest.skip("this release shows reactive energy in kvarh only")
        entities.async_update_entity_options(reactive, "sensor", {"unit_of_measurement": "varh"})
        await hass.async_block_till_done()
        reactive_per_kvarh = 1000.0
    if change.shown_in_wh:
        entities.async_update_entity_options(energy, "sensor", {"unit_of_measurement": "Wh"})
        await hass.async_block_till_done()
        shown_per_kwh = 1000.0
    # The installer sets the ratio the meter is really behind.
    changed = period + timedelta(minutes=5) + change.silent
    sent_before = change.last
    if change.sent_in_its_five_minutes:
        sent_before += 5
        await push(hass, freezer, entry, changed + timedelta(seconds=30), metered(sent_before))
    freezer.move_to(changed + timedelta(minutes=1))
    await start_behind_transformers(hass, entry, change.after)
    await totals_read_back(hass, entry)
    live_stepped = float(state(hass, "live_energy_import"))
    await push(hass, freezer, entry, changed + timedelta(minutes=2), metered(change.last + 10))
    assert float(state(hass, "energy_import")) == pytest.approx(
        (change.last + 10) / 1000 * change.after * shown_per_kwh
    )
    live_grown = float(state(hass, "live_energy_import")) - live_stepped
    if change.renamed:
        er.async_get(hass).async_update_entity(energy, new_entity_id=f"{energy}_renamed")
        # The recorder moves the sensor's states and statistics to the new id.
        await async_wait_recording_done(hass)
        energy = f"{energy}_renamed"
    later = changed + timedelta(minutes=5, seconds=30)
    freezer.move_to(later)
    # Before the recorder has compiled the five minutes, nothing is taken out: there is nothing to take it from.
    assert await look_at_the_statistics(hass, entry, later) == 3
    await five_minute_sums(hass, changed, energy, live, reactive)
    # After it, the step is taken out of them and every sum after it.
    freezer.move_to(later + timedelta(minutes=5))
    assert await look_at_the_statistics(hass, entry, later + timedelta(minutes=5)) == 0
    sums = await five_minute_sums(hass, period, energy, live, reactive)
    # The use before the change, then what was used after it (10 Wh in all) through the new ratio.
    used = used_before + (sent_before - change.last) / 1000 * change.before
    used += (change.last + 10 - sent_before) / 1000 * change.after
    assert sums[energy][-1] == pytest.approx(used * shown_per_kwh)  # read back in the unit it is shown in
    assert sums[reactive][-1] == pytest.approx(
        used / 2 * reactive_per_kvarh, abs=0.001 * max(change.before, change.after) * reactive_per_kvarh
    )
    if change in {RatioChange(1, 50), RatioChange(50, 1)}:
        # Live energy steps as the register does: counted is only what it grew from its first total through the
        # new ratio (its power over the minutes before the push, as this test's reader never calls the meter silent).
        assert sums[live][1] - sums[live][0] == pytest.approx(live_grown)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("recorder_mock")
async def test_a_step_whose_sensor_was_deleted_or_whose_total_never_came_is_let_go_after_a_week(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The meter fell silent as the transformers were fitted, and the user deleted one sensor meanwhile.

    Nothing is taken out of either: the deleted one took its statistics with it; the other's step is left
    to be counted whenever its total comes, and the log says so.
    """
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, period + timedelta(seconds=5), telegram(1000, 1_000_000))
    await totals_read_back(hass, entry)
    await push(hass, freezer, entry, period + timedelta(minutes=1), telegram(1000, 1_000_020))
    energy, live = entity_id(hass, "energy_import"), entity_id(hass, "live_energy_import")
    freezer.move_to(period + timedelta(minutes=5))
    assert (await five_minute_sums(hass, period, energy))[energy] == [pytest.approx(0.020)]
    changed = period + timedelta(minutes=5)
    freezer.move_to(changed + timedelta(minutes=1))
    await start_behind_transformers(hass, entry, 50)
    await totals_read_back(hass, entry)
    assert entry.runtime_data.energy.total_steps.left >= 2  # the import's, and live energy's among them
    er.async_get(hass).async_remove(energy)
    await hass.async_block_till_done()
    later = changed + STEP_KEPT + timedelta(minutes=5, seconds=30)
    freezer.move_to(later)
    caplog.set_level(logging.INFO)
    assert await look_at_the_statistics(hass, entry, later) == 0
    assert (
        f"Statistics of {live}: no total after its step in {STEP_KEPT}; they count the step whenever one comes"
    ) in caplog.text
    assert f"Statistics of {energy}" not in caplog.text
    await hass.config_entries.async_unload(entry.entry_id)


# A register sent without its unit is shown in its quantity's, and so is what its new count grew by while held.
@pytest.mark.parametrize("unit", [Unit.WATT_HOUR, None], ids=["in-wh", "without-unit"])
@pytest.mark.usefixtures("recorder_mock")
async def test_a_register_counted_anew_never_counts_its_new_total_as_use(
    hass: HomeAssistant, tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory, unit: Unit | None
) -> None:
    """A meter that names no other number falls to a new count (refurbished, at 3 000 kWh) and the guard follows it.

    Home Assistant's statistics take the fall below 90 % for a new meter cycle and count its whole new total as
    use: 3 000 kWh in five minutes, for the register's sensor and live energy alike. The meter hours never count it.
    """
    now = dt_util.utcnow()
    period = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)
    freezer.move_to(period)
    entry = await set_up(hass, tcp_meter.port)
    energy, live = entity_id(hass, "energy_import"), entity_id(hass, "live_energy_import")
    # 3.6 kW, a total every ten seconds: 10 Wh each.
    totals = [155_232_510 + 10 * step for step in range(5)] + [3_000_000 + 10 * step for step in range(6)]
    for step, total in enumerate(totals):
        sent = telegram(3600, total)
        sent = replace(sent, readings={**sent.readings, ENERGY: Reading(total, unit)})
        await push(hass, freezer, entry, period + timedelta(seconds=5 + 10 * step), sent)
        await totals_read_back(hass, entry)
    assert [event["event"] for event in entry.runtime_data.energy.events] == ["register_held", "register_followed"]
    # Followed at its third total: the register's sensor showed none of the 20 Wh the new count grew by until then.
    steps = entry.runtime_data.energy.total_steps
    kept = steps.as_list()
    assert [(step["grown"], step["unit"]) for step in kept if "grown" in step] == [(20.0, "Wh")]
    assert len(kept) == 2
    steps.restore(kept)  # as a restart takes them back
    assert steps.as_list() == kept
    # Live energy is written at most once a minute: its total now, in these five minutes.
    freezer.move_to(period + timedelta(minutes=2))
    async_fire_time_changed(hass, period + timedelta(minutes=2))
    await hass.async_block_till_done()
    later = period + timedelta(minutes=5, seconds=30)
    freezer.move_to(later)
    await five_minute_sums(hass, period, energy, live)
    await look_at_the_statistics(hass, entry, later)
    # Live energy's first total after the step is written as its minute comes: in the next five minutes.
    freezer.move_to(later + timedelta(minutes=5))
    await five_minute_sums(hass, period + timedelta(minutes=5), energy, live)
    assert await look_at_the_statistics(hass, entry, later + timedelta(minutes=5)) == 0
    sums = await five_minute_sums(hass, period, energy, live)
    # 40 Wh on the old count, then 50 Wh on the new one (held at first, and used all the same); live energy, what
    # the power carried (never the 3 000 kWh of a new cycle).
    assert sums[energy] == [pytest.approx(0.090, abs=1e-6)] * 2
    assert all(0 < total < 0.1 for total in sums[live]), sums
    assert await hass.config_entries.async_unload(entry.entry_id)
