"""Meters behind MQTT: a real Mosquitto broker, Home Assistant's own MQTT integration, every payload shape.

The publisher stands where a HAN reader would (a Tibber Pulse on a local
broker, an AMS reader in raw mode): the simulator's MQTT client, sending
frames the tests' encoder built. Skipped, saying why, where Mosquitto is not
installed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components import mqtt
from homeassistant.components.mqtt import client as mqtt_client
from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_MQTT, SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.discovery_flow import DiscoveryKey
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry

from custom_components.han_port import config_flow, connection, listening, mqtt_reader
from custom_components.han_port import issues as issues_module
from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_ENCRYPTION_KEY,
    CONF_GENERATED_ID,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_TOPIC,
    DOMAIN,
)
from custom_components.han_port.decoder import Decoder, DropReason, ObisCode, Telegram
from custom_components.han_port.mqtt_reader import holds_meter_data, topic_matches, valid_topic
from simulator import frames as encoder
from simulator.frames import LLC

from .broker import Broker, running_broker
from .meter import (
    AUTH_KEY,
    KEY,
    METER_ID,
    NORWEGIAN_KAMSTRUP,
    MqttMeter,
    default_state,
    sensor,
    set_up,
    wait_for,
)
from .test_config_flow import Flow, start, suggested

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

pytestmark = pytest.mark.usefixtures("fast_timing")


@pytest.fixture
def broker(tmp_path: Path, socket_enabled: None) -> Iterator[Broker]:  # noqa: ARG001 - enables sockets
    with running_broker(tmp_path) as broker:
        yield broker


@pytest.fixture
async def mqtt_set_up(
    hass: HomeAssistant,
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[MockConfigEntry]:
    """Home Assistant's own MQTT integration, connected to the broker; nothing of ours may be reported as misused."""
    # MQTT reads configuration.yaml as it sets up: an empty one of the test's own.
    (tmp_path / "configuration.yaml").write_text("")
    hass.config.config_dir = str(tmp_path)
    # A broker that comes back is found again in a second, not ten.
    monkeypatch.setattr(mqtt_client, "RECONNECT_INTERVAL_SECONDS", 1)
    # Home Assistant's client sends new subscriptions in batches, half a second
    # apart or more under load: listening lasts long enough to include that.
    monkeypatch.setattr(listening, "PROBE_SECONDS", 5.0)
    entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1", "port": broker.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: mqtt.is_connected(hass))
    await _subscriptions_flow(hass)
    yield entry
    for meter_entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(meter_entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # Home Assistant reports a deprecated or blocking call by the integration that made it.
    misused = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and "han_port" in record.getMessage()
        and "not been tested" not in record.getMessage()
    ]
    assert not misused, misused


async def _subscriptions_flow(hass: HomeAssistant) -> None:
    """Wait until a new subscription gets its messages.

    Just after it connects, Home Assistant's client holds new subscriptions
    back while it subscribes again to everything and sends its birth message.
    """
    received: list[object] = []
    unsubscribe = await mqtt.async_subscribe(hass, "test/ready", received.append)
    try:
        for _ in range(300):
            await mqtt.async_publish(hass, "test/ready", "ready")
            await asyncio.sleep(0.1)
            if received:
                return
        msg = "a subscription got nothing in 30 s"
        raise AssertionError(msg)
    finally:
        unsubscribe()


@pytest.fixture
async def publisher(broker: Broker) -> AsyncIterator[MqttMeter]:
    """A HAN reader publishing to a topic of its own (a digit in it, as a reader's serial number would be)."""
    # Eight random hex digits are all letters once in about 2 500 runs: a digit of its own makes it certain.
    meter = MqttMeter(f"han/{uuid.uuid4().hex[:7]}0/raw")
    await meter.connect(broker.port)
    yield meter
    await meter.stop()


def kamstrup_apdu(**changes: object) -> bytes:
    state = default_state(**changes)
    return encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)


P1_TELEGRAM = encoder.p1_telegram(
    "LGF5E360", ["0-0:1.0.0(240115130010W)", "1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(0001.453*kW)"]
)


def shaped(shape: str) -> list[bytes]:
    """The messages a bridge publishes, push after push, in the given shape (a Kamstrup drawing 1703 W)."""
    apdu = kamstrup_apdu(power_import=1703)
    frame = encoder.hdlc_frames(apdu)
    return {
        "raw frame": [frame],
        "two frames a message": [frame + frame],
        "a frame over two messages": [frame[:40], frame[40:]],
        "bare apdu": [apdu],
        "llc pdu": [LLC + apdu],
        "hex text": [frame.hex(" ").encode()],
        "hex compact": [frame.hex().upper().encode()],
        # Tasmota's serial bridge (SerialDelimiter 254): what it reads, as hex in its JSON.
        "hex in json": [json.dumps({"SSerialReceived": frame.hex().upper()}).encode()],
        "p1 text": [P1_TELEGRAM],
    }[shape]


async def add_meter(hass: HomeAssistant, topic: str) -> Flow:
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: topic})
    return flow


@pytest.mark.parametrize(
    "shape",
    [
        "raw frame",
        "two frames a message",
        "a frame over two messages",
        "bare apdu",
        "llc pdu",
        "hex text",
        "hex compact",
        "hex in json",
        "p1 text",
    ],
)
@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_topic_becomes_a_meter_whatever_the_payload_shape(
    hass: HomeAssistant, publisher: MqttMeter, shape: str
) -> None:
    publisher.start_pushing(shaped(shape), interval=0.05)
    flow = await add_meter(hass, publisher.topic)
    assert flow.progress == [{"address": publisher.topic, "line": "2400 8N1", "attempt": "1", "attempts": "1"}]
    result = flow.result
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    data = result["data"]
    assert data[CONF_TOPIC] == publisher.topic
    assert "baudrate" not in data  # a topic has no line
    entry = result["result"]
    if shape == "p1 text":
        assert data[CONF_GENERATED_ID] is True
        power = "1453"
    else:
        assert entry.unique_id == METER_ID
        assert result["title"] == f"Kamstrup {METER_ID}"
        power = "1703"
    await wait_for(lambda: (state := sensor(hass, "power_import")) is not None and state.state == power)
    assert entry.runtime_data.reader.connects == 1


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_ciphered_meter_on_a_topic_asks_for_its_keys(hass: HomeAssistant, publisher: MqttMeter) -> None:
    state = default_state()
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(state), state.moment)
    counter = iter(range(1, 10_000))
    # A bridge that strips the framing publishes the ciphered APDU as it is.
    publisher.start_pushing([lambda: encoder.glo_cipher(apdu, KEY, AUTH_KEY, counter=next(counter))], interval=0.05)
    flow = await add_meter(hass, publisher.topic)
    assert flow.result["type"] is FlowResultType.FORM
    assert flow.result["step_id"] == "keys"
    await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex(" ")})
    assert flow.result["type"] is FlowResultType.CREATE_ENTRY, flow.result
    assert flow.result["data"][CONF_ENCRYPTION_KEY] == KEY.hex()
    assert flow.result["data"][CONF_TOPIC] == publisher.topic
    await wait_for(lambda: (state := sensor(hass, "power_import")) is not None and state.state == "1703")


@pytest.mark.usefixtures("mqtt_set_up")
async def test_topic_errors_are_told_apart_and_keep_what_was_typed(hass: HomeAssistant, publisher: MqttMeter) -> None:
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: "han/meter#"})
    assert flow.result["errors"] == {CONF_TOPIC: "invalid_topic"}
    assert suggested(flow.result, CONF_TOPIC) == "han/meter#"
    # Nothing on the topic.
    await flow.submit({CONF_TOPIC: publisher.topic})
    await flow.past_silence()
    assert flow.result["errors"] == {CONF_TOPIC: "topic_silent"}
    assert suggested(flow.result, CONF_TOPIC) == publisher.topic
    # Something on the topic, but no telegram: a reader that publishes its own JSON.
    publisher.start_pushing([json.dumps({"power": 1703, "topic": "tibber/pulse"}).encode()], interval=0.05)
    await flow.submit({CONF_TOPIC: publisher.topic})
    assert flow.result["errors"] == {CONF_TOPIC: "topic_garbled"}
    # The reader switched to raw mode: the same flow goes on to the meter.
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu())], interval=0.05)
    await flow.submit({CONF_TOPIC: publisher.topic})
    assert flow.result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_topic_of_a_meter_that_pushes_every_15_minutes_is_waited_on(
    hass: HomeAssistant, publisher: MqttMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silent while listened to as usual, the topic is listened to again on request: the next push ends the wait."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: publisher.topic})
    assert flow.result["type"] is FlowResultType.MENU
    state = encoder.MeterState(energy_import=52_837, energy_export=177_927)
    push = encoder.hdlc_frames(encoder.data_notification(encoder.iskraemeco_quarter_hour_list(state), state.moment))

    async def push_later() -> None:
        # An empty message and one of a byte first (a reader's heartbeat, say): no push, nor both together.
        await asyncio.sleep(0.5)
        await mqtt.async_publish(hass, publisher.topic, b"")
        await mqtt.async_publish(hass, publisher.topic, b"\x00")
        await asyncio.sleep(listening.PROBE_SECONDS + 1)  # after a usual listening's length
        await mqtt.async_publish(hass, publisher.topic, push)

    started = asyncio.get_running_loop().time()
    pushing = hass.async_create_task(push_later())
    await flow.submit({"next_step_id": "listen_patiently"})
    await pushing
    assert flow.result["type"] is FlowResultType.CREATE_ENTRY, flow.result
    assert flow.result["data"][CONF_TOPIC] == publisher.topic
    assert flow.progress[-1]["minutes"] == "1"
    assert asyncio.get_running_loop().time() - started < 30


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_telegram_the_broker_retained_is_no_meter_heard_at_setup(
    hass: HomeAssistant, publisher: MqttMeter
) -> None:
    """A dead reader's last telegram, kept by the broker: setup must not make an entry that goes silent at once."""
    await mqtt.async_publish(hass, publisher.topic, encoder.hdlc_frames(kamstrup_apdu(power_import=500)), retain=True)
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: publisher.topic})
    await flow.past_silence()
    assert flow.result["errors"] == {CONF_TOPIC: "topic_silent"}
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu())], interval=0.05)
    await flow.submit({CONF_TOPIC: publisher.topic})
    assert flow.result["type"] is FlowResultType.CREATE_ENTRY


async def test_a_p1_telegram_whose_line_end_the_reader_stripped_is_heard_alone() -> None:
    """A DSMR 2.2 telegram (no CRC) published as text with its trailing line end stripped, one push in a while.

    Nothing after its '!' tells it ended: the quiet after the message does, as the next telegram would.
    """
    lines = ["0-0:1.0.0(240115130010W)", "1-0:1.8.0(00006678.394*kWh)", "1-0:1.7.0(0001.453*kW)"]
    stripped = encoder.p1_telegram("KFM5KAIFA-METER", lines, crc=False).rstrip()
    assert holds_meter_data(stripped)  # what discovery offers
    # What the reader and the setup's listening do with each message.
    decoder, heard = Decoder(), []
    quiet = mqtt_reader.QuietWatch(decoder, heard.append)
    assert decoder.feed_message(stripped) == []
    quiet.heard()
    await wait_for(lambda: heard)
    assert [type(event) for event in heard] == [Telegram]


async def test_without_mqtt_the_flow_says_where_to_set_it_up(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt_topic"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_set_up"


async def test_a_meter_on_a_topic_whose_mqtt_failed_is_offered_its_other_ways_at_once(hass: HomeAssistant) -> None:
    """Home Assistant's MQTT entry failed to set up (a broken broker setting): its client never comes.

    The user opens Reconfigure to move the meter to a serial port: the menu shows at once, without the topic (the
    wait for MQTT's client, 50 s, is the topic step's alone).
    """
    MockConfigEntry(
        domain=mqtt.DOMAIN, data={"broker": "mqtt.invalid"}, state=ConfigEntryState.SETUP_ERROR
    ).add_to_hass(hass)
    entry = topic_entry("han/meter")
    entry.add_to_hass(hass)
    result = await asyncio.wait_for(entry.start_reconfigure_flow(hass), timeout=5)
    assert result["menu_options"] == ["serial", "network"]


async def test_a_reconfigure_whose_mqtt_set_up_fails_meanwhile_shows_its_menu_again(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MQTT was being set up when the menu offered the topic; its set-up failed before the user picked it.

    The flow shows the menu again, without the topic: the advice to set MQTT up and add the meter again is for a
    meter not set up yet.
    """
    mqtt_entry = MockConfigEntry(domain=mqtt.DOMAIN, data={"broker": "mqtt.invalid"})
    mqtt_entry.add_to_hass(hass)
    mqtt_entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    entry = topic_entry("han/meter")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["menu_options"] == ["serial", "network", "mqtt_topic"]
    mqtt_entry.mock_state(hass, ConfigEntryState.SETUP_ERROR)

    async def failed(_hass: HomeAssistant) -> bool:
        return False  # what waiting for MQTT's client says once its set-up failed (after up to 50 s)

    monkeypatch.setattr(config_flow, "async_mqtt_ready", failed)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mqtt_topic"})
    assert (result["type"], result["step_id"], result["menu_options"]) == (
        FlowResultType.MENU,
        "reconfigure",
        ["serial", "network"],
    )


async def test_an_entry_waits_for_mqtt_to_be_set_up(hass: HomeAssistant) -> None:
    entry = topic_entry("han/meter")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.reason == "Home Assistant's MQTT integration is not set up: the meter's topic cannot be read"


@pytest.mark.parametrize(
    ("topic", "valid"),
    [
        ("han/meter", True),
        ("han/+/raw", True),
        ("han/#", True),
        ("#", True),
        ("", False),
        ("han/\0/raw", False),
        ("h" * 65536, False),
        ("han/meter#", False),
        ("han/#/raw", False),
        ("han/me+ter", False),
    ],
)
def test_a_topic_is_valid_as_mqtt_allows_a_subscription_to_it(topic: str, *, valid: bool) -> None:
    """What the form refuses at once: an empty topic, a NUL, over 65535 bytes, or a wildcard that fills no level."""
    assert valid_topic(topic) is valid


async def test_a_reader_started_before_mqtt_waits_for_it_then_reads_its_topic(
    hass: HomeAssistant,
    broker: Broker,
    publisher: MqttMeter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Until Home Assistant's MQTT integration is set up the topic cannot be read: the meter is unavailable, saying why.

    Once MQTT is unloaded the reader's silence tells the broker out of reach, not a silent meter.
    """
    monkeypatch.setattr(mqtt_reader, "BACKOFF_START", 0.05)
    telegrams: list[Telegram] = []
    available: list[bool] = []

    def take(telegram: Telegram) -> bool:
        telegrams.append(telegram)
        return True

    reader = mqtt_reader.MqttReader(hass, publisher.topic, Decoder(), take, available.append)
    task = hass.async_create_background_task(reader.run(), "reader")
    await wait_for(lambda: available == [False])
    assert (reader.loss, reader.lost) == (
        connection.Loss.CANNOT_OPEN,
        "Home Assistant's MQTT integration is not set up",
    )
    assert reader.connects == 0
    assert not mqtt_reader.broker_connected(hass)  # no MQTT integration: no broker, and no error either
    (tmp_path / "configuration.yaml").write_text("")
    hass.config.config_dir = str(tmp_path)
    entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1", "port": broker.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: reader.connects == 1)
    assert reader.open_error is None
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1400))], interval=0.05)
    await wait_for(lambda: telegrams, seconds=10)
    assert telegrams[-1].readings[ObisCode.parse("1-1:1.7.0")].value == 1400
    publisher.stop_pushing()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert not mqtt_reader.broker_connected(hass)
    await wait_for(lambda: reader.loss is connection.Loss.CANNOT_OPEN and reader.open_error is not None)
    assert reader.lost == "not connected to the MQTT broker"
    task.cancel()


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_topic_typed_while_the_broker_is_out_of_reach_says_so(
    hass: HomeAssistant, broker: Broker, publisher: MqttMeter
) -> None:
    """Nothing could have come on the topic: the form says the broker is out of reach, not that the topic is silent."""
    broker.stop()
    await wait_for(lambda: not mqtt.is_connected(hass), seconds=10)
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: publisher.topic})
    assert flow.result["errors"] == {CONF_TOPIC: "broker_unreachable"}
    assert suggested(flow.result, CONF_TOPIC) == publisher.topic
    broker.start()
    await wait_for(lambda: mqtt.is_connected(hass), seconds=20)


def topic_entry(topic: str, **data: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=METER_ID,
        title=f"Kamstrup {METER_ID}",
        data={CONF_TOPIC: topic, CONF_MANUFACTURER: "Kamstrup", CONF_METER_TYPE: NORWEGIAN_KAMSTRUP, **data},
    )


def meter_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    return {issue_id: issue for (domain, issue_id), issue in ir.async_get(hass).issues.items() if domain == DOMAIN}


def power_state(hass: HomeAssistant) -> Callable[[], str | None]:
    return lambda: getattr(sensor(hass, "power_import"), "state", None)


@pytest.mark.usefixtures("mqtt_set_up")
async def test_silence_on_the_topic_makes_the_meter_unavailable_until_the_next_message(
    hass: HomeAssistant,
    publisher: MqttMeter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=0.5))
    entry = topic_entry(publisher.topic)
    await set_up(hass, entry)
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1200))], interval=0.05)
    power = power_state(hass)
    await wait_for(lambda: power() == "1200")
    caplog.clear()
    caplog.set_level(logging.INFO)
    publisher.stop_pushing()
    await wait_for(lambda: power() == STATE_UNAVAILABLE)
    issue_id = f"topic_silent_{entry.entry_id}"
    await wait_for(lambda: issue_id in meter_issues(hass))
    assert meter_issues(hass)[issue_id].translation_placeholders == {"meter": f"Kamstrup {METER_ID}", "minutes": "0"}
    await asyncio.sleep(1.5)  # two more silence timeouts: still logged once
    unavailable = [
        record for record in caplog.records if "is unavailable: no valid telegram on the topic" in record.getMessage()
    ]
    assert len(unavailable) == 1, [record.getMessage() for record in caplog.records]
    # Back with the next message; the repair goes with it.
    publisher.send(kamstrup_apdu(power_import=900))
    await wait_for(lambda: power() == "900")
    await wait_for(lambda: issue_id not in meter_issues(hass))


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_readers_status_on_a_sibling_topic_never_cuts_a_frame_split_over_messages(
    hass: HomeAssistant, publisher: MqttMeter
) -> None:
    """Subscribed as han/<id>/#: the reader splits each frame over two messages, and its status comes between."""
    base = publisher.topic.rsplit("/", 1)[0]
    entry = topic_entry(f"{base}/#")
    await set_up(hass, entry)
    power = power_state(hass)

    async def publish(payload: bytes | str, topic: str = publisher.topic) -> None:
        # One client for all: the broker keeps their order.
        await mqtt.async_publish(hass, topic, payload)

    frame = encoder.hdlc_frames(kamstrup_apdu(power_import=999))
    while power() != "999":  # Home Assistant subscribes in batches
        await publish(frame)
        await asyncio.sleep(0.05)
    for watts in (1001, 1002, 1003):
        frame = encoder.hdlc_frames(kamstrup_apdu(power_import=watts))
        await publish(frame[:40])
        await publish(json.dumps({"rssi": -61, "uptime": watts}), f"{base}/status")
        await publish(frame[40:])
        await wait_for(lambda watts=watts: power() == str(watts))
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_telegram_a_broker_retained_is_the_past_and_never_shown_as_the_meter_now(
    hass: HomeAssistant, publisher: MqttMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subscribed as han/<id>/#, an old telegram retained on han/<id>/last comes first: the live ones follow.

    Handed over as the subscription begins (at every restart and reconnect), it would show a dead meter's last
    value as fresh, withdraw its silence repair, and hand an hour-old register to the meter hours.
    """
    monkeypatch.setattr(connection, "MIN_SILENCE", 30.0)  # as shipped: no silence in between lets go of anything
    base = publisher.topic.rsplit("/", 1)[0]
    await mqtt.async_publish(hass, f"{base}/last", encoder.hdlc_frames(kamstrup_apdu(power_import=500)), retain=True)
    entry = topic_entry(f"{base}/#")
    await set_up(hass, entry)
    power = power_state(hass)
    await wait_for(lambda: entry.runtime_data.reader.messages == 1)
    await hass.async_block_till_done()
    assert power() != "500"
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1200))], interval=0.05)
    await wait_for(lambda: power() == "1200")
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_broker_that_goes_down_and_comes_back(
    hass: HomeAssistant,
    broker: Broker,
    publisher: MqttMeter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=0.5))
    entry = topic_entry(publisher.topic)
    await set_up(hass, entry)
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1500))], interval=0.05)
    power = power_state(hass)
    await wait_for(lambda: power() == "1500")
    publisher.stop_pushing()
    broker.stop()
    await wait_for(lambda: power() == STATE_UNAVAILABLE)
    issue_id = f"broker_unavailable_{entry.entry_id}"
    await wait_for(lambda: issue_id in meter_issues(hass), seconds=10)
    assert meter_issues(hass)[issue_id].translation_placeholders["error"] == "not connected to the MQTT broker"
    # Home Assistant's MQTT client connects again, not this integration: the log says so.
    told = (
        f"{entry.title} is unavailable: not connected to the MQTT broker;"
        " it is read again once Home Assistant's MQTT client is connected to the broker"
    )
    assert [record.getMessage() for record in caplog.records if "is unavailable" in record.getMessage()] == [told]
    broker.start()
    await wait_for(lambda: mqtt.is_connected(hass), seconds=20)
    # Home Assistant's client subscribes again by itself; the reader did nothing to come back.
    await publisher.connect(broker.port)
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1600))], interval=0.05)
    await wait_for(lambda: power() == "1600", seconds=10)
    await wait_for(lambda: issue_id not in meter_issues(hass))
    assert entry.runtime_data.reader.connects == 1


@pytest.mark.usefixtures("mqtt_set_up")
async def test_reconfigure_moves_the_meter_to_another_topic(
    hass: HomeAssistant, broker: Broker, publisher: MqttMeter
) -> None:
    entry = topic_entry(publisher.topic)
    await set_up(hass, entry)
    publisher.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1100))], interval=0.05)
    await wait_for(lambda: power_state(hass)() == "1100")
    # The reader got a new firmware, and a new topic.
    moved = MqttMeter(f"{publisher.topic}/v2")
    await moved.connect(broker.port)
    publisher.stop_pushing()
    moved.start_pushing([encoder.hdlc_frames(kamstrup_apdu(power_import=1300))], interval=0.05)
    try:
        result = await entry.start_reconfigure_flow(hass)
        assert result["menu_options"] == ["serial", "network", "mqtt_topic"]
        flow = Flow(hass, result)
        await flow.submit({"next_step_id": "mqtt_topic"})
        assert suggested(flow.result, CONF_TOPIC) == publisher.topic
        await flow.submit({CONF_TOPIC: moved.topic})
        assert flow.result["type"] is FlowResultType.ABORT
        assert flow.result["reason"] == "reconfigure_successful"
        assert entry.data[CONF_TOPIC] == moved.topic
        await wait_for(lambda: power_state(hass)() == "1300")
    finally:
        await moved.stop()


@pytest.mark.usefixtures("mqtt_set_up")
async def test_reconfigure_refuses_a_topic_another_meter_reads(hass: HomeAssistant, publisher: MqttMeter) -> None:
    entry = topic_entry(publisher.topic)
    other = MockConfigEntry(
        domain=DOMAIN, unique_id="other", title="Aidon 7359992890941742", data={CONF_TOPIC: "han/other"}
    )
    other.add_to_hass(hass)
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    flow = Flow(hass, result)
    await flow.submit({"next_step_id": "mqtt_topic"})
    await flow.submit({CONF_TOPIC: "han/other"})
    assert flow.result["errors"] == {CONF_TOPIC: "address_in_use"}
    assert flow.result["description_placeholders"]["other_meter"] == "Aidon 7359992890941742"
    # A new meter on a topic already read is the one already configured.
    flow = await start(hass, "mqtt_topic")
    await flow.submit({CONF_TOPIC: "han/other"})
    assert flow.result["type"] is FlowResultType.ABORT
    assert flow.result["reason"] == "already_configured"


@pytest.mark.usefixtures("mqtt_set_up")
async def test_what_is_not_a_telegram_is_counted_and_diagnostics_mask_the_topic(
    hass: HomeAssistant, publisher: MqttMeter, hass_client: ClientSessionGenerator
) -> None:
    entry = topic_entry(publisher.topic)
    await set_up(hass, entry)
    status = json.dumps({"status": "online", "rssi": -61}).encode()
    publisher.start_pushing([status, kamstrup_apdu(power_import=800), b"\x00\x01garbage"], interval=0.05)
    reader = entry.runtime_data.reader
    await wait_for(lambda: reader.decoder.dropped[DropReason.UNRECOGNISED] >= 4)
    assert power_state(hass)() == "800"
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    masked_topic = "han/**REDACTED**/raw"  # the level with digits tells one household's reader from another's
    assert diagnostics["entry"]["data"][CONF_TOPIC] == masked_topic
    assert diagnostics["connection"]["kind"] == "mqtt topic"
    assert diagnostics["connection"]["topic"] == masked_topic
    assert publisher.topic not in str(diagnostics)
    assert diagnostics["decoder"]["dropped"]["unrecognised"] >= 4
    assert diagnostics["connection"]["messages"] >= 6
    last = diagnostics["last_telegrams"][-1]
    assert last["format"] == "apdu"
    # The bare APDU, framed, decodes with our own command; the meter id is masked.
    [telegram] = Decoder().feed(bytes.fromhex(last["framed"]))
    assert telegram.readings[ObisCode.parse("1-1:1.7.0")].value == 800
    assert telegram.meter_id != METER_ID


@pytest.mark.parametrize(("vendor", "shape"), [("aidon", "raw"), ("kamstrup", "hex"), ("kamstrup-dk", "apdu")])
@pytest.mark.usefixtures("mqtt_set_up")
async def test_the_simulator_publishes_what_the_decoder_reads(
    hass: HomeAssistant, broker: Broker, vendor: str, shape: str
) -> None:
    """`--mqtt HOST:PORT --topic T --payload SHAPE`: what scripts/develop demonstrates."""
    topic = f"sim/{vendor}"
    received: list[bytes] = []
    live: list[bytes] = []

    def take(message: Any) -> None:
        (live if message.payload == b"subscribed" else received).append(message.payload)

    unsubscribe = await mqtt.async_subscribe(hass, topic, take, 0, None)
    # Home Assistant's client batches new subscriptions: a message of our own tells when this one is live.
    while not live:
        await mqtt.async_publish(hass, topic, b"subscribed")
        await asyncio.sleep(0.2)
    command = [
        sys.executable,
        "-m",
        "simulator",
        *("--vendor", vendor, "--no-tcp", "--speed", "20", "--seconds", "2"),
        *("--mqtt", f"127.0.0.1:{broker.port}", "--topic", topic, "--payload", shape),
        *("--key", KEY.hex(), "--auth-key", AUTH_KEY.hex()),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[0] == f"MQTT: 127.0.0.1:{broker.port} {topic} ({shape})"
    sent = [json.loads(line)["power_import"] for line in lines if line.startswith("{")]
    await wait_for(lambda: len(received) >= len(sent))
    unsubscribe()
    decoder = Decoder(KEY, AUTH_KEY) if vendor == "kamstrup-dk" else Decoder()
    telegrams = [event for message in received for event in decoder.feed_message(message)]
    assert all(isinstance(event, Telegram) for event in telegrams), decoder.dropped
    assert len(sent) >= 2
    decoded = [t.readings[code].value for t in telegrams for code in t.readings if code.c == 1 and code.d == 7]
    assert decoded == sent
    assert {t.format for t in telegrams} == {"apdu" if shape == "apdu" else "hdlc"}


# Discovery: a reader publishing to a topic the manifest names is offered.

MANIFEST = json.loads((Path(config_flow.__file__).parent / "manifest.json").read_text())
DISCOVERY_TOPIC = MANIFEST["mqtt"][0]
DSMR_METER_ID = "4530303434303037"


def dsmr_telegram(pushes: Iterator[int]) -> bytes:
    """A DSMR meter's P1 telegram, as DSMR-reader forwards it; each push draws another power (real ones differ)."""
    watts = 1000 + next(pushes)
    lines = ["0-0:1.0.0(240115130010W)", f"0-0:96.1.1({DSMR_METER_ID})", f"1-0:1.7.0({watts / 1000:07.3f}*kW)"]
    return encoder.p1_telegram("XMX5LGBBFG1012345678", lines)


@pytest.fixture
async def dsmr_reader(broker: Broker) -> AsyncIterator[MqttMeter]:
    """DSMR-reader forwarding each raw telegram to its default topic, the one the manifest names."""
    meter = MqttMeter(DISCOVERY_TOPIC)
    await meter.connect(broker.port)
    yield meter
    await meter.stop()


@pytest.fixture
def discovery_results(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> list[ConfigFlowResult]:
    """What each flow Home Assistant's MQTT discovery starts for HAN Port returns at once."""
    results: list[ConfigFlowResult] = []
    flows = hass.config_entries.flow
    start_flow = flows.async_init

    async def recording(handler: str, **kwargs: Any) -> ConfigFlowResult:
        result = await start_flow(handler, **kwargs)
        if handler == DOMAIN and (kwargs.get("context") or {}).get("source") == SOURCE_MQTT:
            results.append(result)
        return result

    monkeypatch.setattr(flows, "async_init", recording)
    return results


def offered(hass: HomeAssistant) -> list[tuple[str, str, str]]:
    """The HAN Port flows waiting for the user: their source, step and title."""
    return [
        (flow["context"]["source"], flow["step_id"], flow["context"].get("title_placeholders", {}).get("name", ""))
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    ]


def test_the_manifest_names_topics_known_readers_publish_text_to() -> None:
    # Home Assistant reads a discovery topic's payloads as UTF-8: a reader of raw binary frames (a
    # Tibber Pulse) would get a warning a push, never an offer. DSMR-reader's raw telegrams are text.
    assert MANIFEST["mqtt"] == ["dsmr/raw"]
    assert all(valid_topic(topic) and topic not in ("#", "+") for topic in MANIFEST["mqtt"])


@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_reader_on_a_known_topic_is_offered_and_confirming_it_reads_the_topic(
    hass: HomeAssistant, dsmr_reader: MqttMeter, discovery_results: list[ConfigFlowResult]
) -> None:
    pushes = itertools.count()
    dsmr_reader.start_pushing([lambda: dsmr_telegram(pushes)], interval=0.05)
    await wait_for(lambda: offered(hass), seconds=15)
    # Every push starts a flow of its own; while one waits for the user, the others end at once.
    await wait_for(lambda: len(discovery_results) >= 3)
    assert offered(hass) == [(SOURCE_MQTT, "mqtt_confirm", DISCOVERY_TOPIC)]
    waiting = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    assert waiting["context"]["unique_id"] == f"mqtt:{DISCOVERY_TOPIC}"
    assert {result.get("reason") for result in discovery_results[1:]} == {"already_in_progress"}
    flow = Flow(hass, waiting)
    result = await flow.submit({})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"][CONF_TOPIC] == DISCOVERY_TOPIC
    assert flow.progress == [{"address": DISCOVERY_TOPIC, "line": "2400 8N1", "attempt": "1", "attempts": "1"}]
    entry = result["result"]
    assert entry.unique_id == DSMR_METER_ID
    # Removing the entry offers the topic again: Home Assistant keeps where it was found.
    assert entry.discovery_keys == {"mqtt": (DiscoveryKey(domain="mqtt", key=DISCOVERY_TOPIC, version=1),)}
    await wait_for(lambda: (state := sensor(hass, "power_import")) is not None and state.state != "unknown")
    # The pushes go on, and so do the flows Home Assistant starts: none is offered again.
    started = len(discovery_results)
    await wait_for(lambda: len(discovery_results) >= started + 3)
    assert {result.get("reason") for result in discovery_results[started:]} == {"already_configured"}
    assert offered(hass) == []


@pytest.mark.parametrize("read", [DISCOVERY_TOPIC, f"{DISCOVERY_TOPIC.split('/')[0]}/#"], ids=["topic", "wildcard"])
@pytest.mark.usefixtures("mqtt_set_up")
async def test_a_topic_an_entry_reads_is_not_offered(
    hass: HomeAssistant, dsmr_reader: MqttMeter, discovery_results: list[ConfigFlowResult], read: str
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DSMR_METER_ID, data={CONF_TOPIC: read, CONF_GENERATED_ID: False})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    pushes = itertools.count()
    dsmr_reader.start_pushing([lambda: dsmr_telegram(pushes)], interval=0.05)
    await wait_for(lambda: len(discovery_results) >= 5, seconds=15)
    assert [result.get("reason") for result in discovery_results] == ["already_configured"] * len(discovery_results)
    assert offered(hass) == []
    # The entry reads its meter all the while.
    await wait_for(lambda: (state := sensor(hass, "power_import")) is not None and state.state != "unknown")


@pytest.mark.usefixtures("mqtt_set_up")
async def test_an_ignored_offer_stays_ignored(
    hass: HomeAssistant, dsmr_reader: MqttMeter, discovery_results: list[ConfigFlowResult]
) -> None:
    # What Home Assistant keeps when the user ignores the offer: an entry with the offer's unique id.
    MockConfigEntry(domain=DOMAIN, source=SOURCE_IGNORE, unique_id=f"mqtt:{DISCOVERY_TOPIC}").add_to_hass(hass)
    pushes = itertools.count()
    dsmr_reader.start_pushing([lambda: dsmr_telegram(pushes)], interval=0.05)
    await wait_for(lambda: len(discovery_results) >= 3, seconds=15)
    assert {result.get("reason") for result in discovery_results} == {"already_configured"}
    assert offered(hass) == []


@pytest.mark.usefixtures("mqtt_set_up")
async def test_what_is_no_meter_data_on_a_known_topic_is_not_offered(
    hass: HomeAssistant, dsmr_reader: MqttMeter, discovery_results: list[ConfigFlowResult]
) -> None:
    # Another program's values on the topic, and a telegram whose checksum broke on the way.
    pushes = itertools.count()
    broken = dsmr_telegram(pushes).replace(b"1-0:1.7.0", b"1-0:1.7.1")
    dsmr_reader.start_pushing(
        [lambda: json.dumps({"electricity_currently_delivered": next(pushes)}).encode(), b"online", broken],
        interval=0.05,
    )
    await wait_for(lambda: len(discovery_results) >= 4, seconds=15)
    assert {result.get("reason") for result in discovery_results} == {"not_han_port_data"}
    assert offered(hass) == []
    # A telegram on the same topic later is offered: nothing was held against it.
    dsmr_reader.start_pushing([lambda: dsmr_telegram(pushes)], interval=0.05)
    await wait_for(lambda: offered(hass))
    assert offered(hass) == [(SOURCE_MQTT, "mqtt_confirm", DISCOVERY_TOPIC)]


@pytest.mark.usefixtures("mqtt_set_up")
async def test_raw_binary_frames_on_a_discovery_topic_reach_no_flow(
    hass: HomeAssistant,
    dsmr_reader: MqttMeter,
    discovery_results: list[ConfigFlowResult],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Why the manifest names no topic of a raw-binary reader (a Tibber Pulse's "tibber"): Home Assistant
    # decodes what it discovers with as UTF-8, and an HDLC frame is not; each push is a warning, not an offer.
    pushes = itertools.count(1000)
    dsmr_reader.start_pushing([lambda: encoder.hdlc_frames(kamstrup_apdu(power_import=next(pushes)))], interval=0.05)
    await wait_for(lambda: sum("Can't decode payload" in record.getMessage() for record in caplog.records) >= 3)
    assert discovery_results == []
    assert offered(hass) == []
    # The same frames as hex text (an AMS reader's raw mode) would be offered.
    dsmr_reader.start_pushing([lambda: encoder.hdlc_frames(kamstrup_apdu(power_import=next(pushes))).hex().encode()])
    await wait_for(lambda: offered(hass))
    assert offered(hass) == [(SOURCE_MQTT, "mqtt_confirm", DISCOVERY_TOPIC)]
    caplog.clear()  # the warnings were Home Assistant's, about the test's own binary pushes


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("dsmr/raw", "dsmr/raw", True),
        ("dsmr/#", "dsmr/raw", True),
        ("dsmr/#", "dsmr", True),
        ("dsmr/+", "dsmr/raw", True),
        ("+/raw", "dsmr/raw", True),
        ("dsmr/+", "dsmr/raw/telegram", False),
        ("dsmr/raw", "dsmr/raw/telegram", False),
        ("dsmr/raw/telegram", "dsmr/raw", False),
        ("dsmr/json", "dsmr/raw", False),
    ],
)
def test_a_topic_filter_matches_as_a_broker_matches_it(topic_filter: str, topic: str, *, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches
