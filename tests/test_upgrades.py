"""An entry and its kept state as an earlier version wrote them load, and count on from where they stood.

Each test puts an entry (its version, data and options) and its store into
Home Assistant as the version that wrote them left them, plain data as that
code wrote it, then starts the entry of today and reads the meter on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_ENCRYPTION_KEY,
    CONF_GENERATED_ID,
    CONF_LIST_VERSION,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_STOPBITS,
    DOMAIN,
)
from custom_components.han_port.decoder import Decoder, DropReason

from .meter import wait_for
from .test_energy_guard import METER_ID, push, reader_connected, set_up, state, telegram
from .test_init import AUTH_KEY, KEY, danish_push
from .test_meter_hours import hourly_list, hours, used
from .test_meter_hours import start as restart_after_unload

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

    from .meter import TcpMeter

ELEVEN = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
IMPORT = [1, 8, 0]


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceGenerator) -> None:
    """Set the recorder up before Home Assistant, as a real installation has it."""


pytestmark = pytest.mark.usefixtures("patient_reader")


def first_entry(port: int, unique_id: str = METER_ID, minor_version: int = 1, **data: Any) -> MockConfigEntry:
    """An entry as the first release wrote it: version 1.1, the line settings detected, no generated_id."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        title="Kamstrup meter",
        version=1,
        minor_version=minor_version,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "N",
            CONF_BYTESIZE: 8,
            CONF_STOPBITS: 1,
            CONF_MANUFACTURER: "Kamstrup",
            CONF_METER_TYPE: None,
            CONF_LIST_VERSION: "Kamstrup_V0001",
            **data,
        },
    )


def keep(hass_storage: dict[str, Any], entry: MockConfigEntry, data: dict[str, Any]) -> None:
    """Put the entry's store on disk as an earlier version left it."""
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": data}


async def start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await reader_connected(entry)


def live(register: float, published: float, power_at: datetime) -> dict[str, Any]:
    """Live energy as every version wrote it."""
    return {
        "register": register,
        "estimate": published,
        "published": published,
        "power": 1000.0,
        "power_at": power_at.isoformat(),
    }


NOTHING = {"register": None, "estimate": None, "published": None, "power": None, "power_at": None}


async def test_the_first_store_and_a_first_entry_load_and_count_on(
    hass: HomeAssistant, hass_storage: dict[str, Any], tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The store of the first release with one (live energy and the tariff's hours, nothing else), entry 1.1."""
    freezer.move_to(ELEVEN + timedelta(minutes=30))
    entry = first_entry(tcp_meter.port)
    entry.add_to_hass(hass)
    entities = er.async_get(hass)
    kept = entities.async_get_or_create(
        "sensor", DOMAIN, f"{METER_ID}_live_energy_import", config_entry=entry, suggested_object_id="kept_live"
    )
    hours = {
        (ELEVEN - timedelta(hours=2)).isoformat(): 4000.0,
        (ELEVEN - timedelta(hours=1)).isoformat(): 2500.0,
    }
    keep(
        hass_storage,
        entry,
        {
            "import": live(155_232_510, 155_233_000, ELEVEN + timedelta(minutes=29)),
            "export": NOTHING,
            "tariff": {
                "hour_start": ELEVEN.isoformat(),
                "hour_start_total": 155_232_510,
                "last_hour_use": 2500.0,
                "hours": hours,
            },
        },
    )
    await start(hass, entry)
    assert (entry.minor_version, entry.unique_id, entry.data[CONF_GENERATED_ID]) == (2, METER_ID, False)
    energy = entry.runtime_data.energy
    assert energy.counts.live_import.published == 155_233_000
    assert energy.counts.tariff.hours == hours
    assert energy.counts.tariff.last_hour_use(dt_util.utcnow()) == 2500
    await push(hass, freezer, entry, ELEVEN + timedelta(minutes=31), telegram(1000, 155_233_100))
    assert state(hass, "energy_import") == "155233.1"
    assert energy.held.count == 0
    assert energy.counts.live_import.published is not None
    assert energy.counts.live_import.published >= 155_233_000
    # The hour in progress counts from the total kept at its start.
    assert energy.counts.tariff.current_hour_use(energy.counts.live_import.published) == pytest.approx(590)
    # The entity kept its id: no second live energy import sensor.
    assert [
        e.entity_id
        for e in er.async_entries_for_config_entry(entities, entry.entry_id)
        if e.unique_id.endswith("live_energy_import")
    ] == [kept.entity_id]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_totals_kept_before_they_carried_their_clock_guard_the_next(
    hass: HomeAssistant, hass_storage: dict[str, Any], tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The guard's totals as first kept (register, value, when): a fall after them is held, growth accepted."""
    freezer.move_to(ELEVEN + timedelta(minutes=5))
    entry = first_entry(tcp_meter.port, minor_version=2, generated_id=False)
    keep(
        hass_storage,
        entry,
        {
            "import": live(155_232_510, 155_232_510, ELEVEN),
            "export": NOTHING,
            "tariff": {"hour_start": None, "hour_start_total": None, "last_hour_use": None, "hours": {}},
            "highest_power": 6000.0,
            "events": [{"at": ELEVEN.isoformat(), "event": "register_held", "register": "1.8.0", "value": "1.000"}],
            "current_transformer_ratio": 1.0,
            "replay_counters": {},
            "learned_lists": [],
            "totals": [{"register": IMPORT, "value": 155_232_510, "when": ELEVEN.isoformat()}],
        },
    )
    await start(hass, entry)
    energy = entry.runtime_data.energy
    assert energy.guard.last((1, 8, 0)) == 155_232_510
    assert energy.envelope.highest == 6000
    assert [event["event"] for event in energy.events] == ["register_held"]
    await push(hass, freezer, entry, ELEVEN + timedelta(minutes=6), telegram(1000, 155_000_000))
    assert energy.held.count == 1
    await push(hass, freezer, entry, ELEVEN + timedelta(minutes=7), telegram(1000, 155_232_700))
    assert state(hass, "energy_import") == "155232.7"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_replay_counters_kept_without_the_keys_digest_still_refuse_a_captured_frame(
    hass: HomeAssistant, hass_storage: dict[str, Any], tcp_meter: TcpMeter
) -> None:
    """Counters as first kept, before the digest of their keys was kept beside them."""
    entry = first_entry(
        tcp_meter.port,
        unique_id="74389702",
        minor_version=2,
        **{CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex(), CONF_GENERATED_ID: False},
    )
    captured = danish_push(2100, 500)
    counted = Decoder(KEY, AUTH_KEY)
    counted.feed(captured)
    [title] = counted.replay_counters
    keep(
        hass_storage,
        entry,
        {
            "import": NOTHING,
            "export": NOTHING,
            "tariff": {},
            "current_transformer_ratio": 1.0,
            "replay_counters": {title.hex(): 501},
        },
    )
    await start(hass, entry)
    decoder = entry.runtime_data.reader.decoder
    assert decoder.replay_counters == {title: 501}
    tcp_meter.send(captured)
    await wait_for(lambda: decoder.dropped.get(DropReason.REPLAYED) == 1)
    tcp_meter.send(danish_push(2300, 502))
    await wait_for(lambda: decoder.telegrams == 1)
    assert await hass.config_entries.async_unload(entry.entry_id)
    # Written back with the digest of the keys they are counted under now.
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert stored["replay_counters"] == {title.hex(): 502}
    assert stored["replay_keys"] == decoder.keys_fingerprint


@pytest.mark.usefixtures("recorder_mock")
async def test_last_reads_kept_before_they_carried_the_meters_clock_close_the_next_hour(
    hass: HomeAssistant, hass_storage: dict[str, Any], tcp_meter: TcpMeter, freezer: FrozenDateTimeFactory
) -> None:
    """The hours' last reads as first kept (when and the register, no clock): the next list closes its hour once."""
    await hass.config.async_set_time_zone("Europe/Oslo")
    first, second = 44_707_972, 44_708_863
    freezer.move_to(ELEVEN - timedelta(minutes=5))
    entry = await set_up(hass, tcp_meter.port)
    await push(hass, freezer, entry, ELEVEN + timedelta(seconds=10), hourly_list(first, ELEVEN, offset=True))
    freezer.move_to(ELEVEN + timedelta(minutes=30))
    assert await hass.config_entries.async_unload(entry.entry_id)
    read = {"at": (ELEVEN + timedelta(seconds=10)).isoformat(), "register": first}
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    keep(
        hass_storage,
        entry,
        {
            **{name: stored[name] for name in ("import", "export", "highest_power", "events")},
            "current_transformer_ratio": 1.0,
            "tariff": {
                "hour_start": ELEVEN.isoformat(),
                "hour_start_total": first,
                "last_hour_use": None,
                "hours": {},
                "boundary": {"at": ELEVEN.isoformat(), "register": first, "estimated": False},
                "last_read": read,
            },
            "totals": [{"register": IMPORT, "value": first, "when": read["at"], "telegrams": 1, "grew": False}],
            "held": {},
            "meter_hours_scales": {},
            "meter_hours_last_reads": {"energy_import": read},
            "replay_counters": {},
            "replay_keys": stored["replay_keys"],
            "learned_lists": [],
        },
    )
    await restart_after_unload(hass, entry)
    twelve = ELEVEN + timedelta(hours=1)
    await push(hass, freezer, entry, twelve + timedelta(seconds=10), hourly_list(second, twelve, offset=True))
    assert used(await hours(hass)) == {ELEVEN: (second - first) / 1000}
    assert entry.runtime_data.energy.counts.tariff.last_hour_use(dt_util.utcnow()) == second - first
    assert entry.runtime_data.energy.held.count == 0
    assert await hass.config_entries.async_unload(entry.entry_id)
