"""A real Home Assistant process, onboarded and configured over its REST API, fed by the simulator."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from .broker import running_broker
from .live import HomeAssistant, Simulator, free_port

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.timeout(400)]


def test_real_home_assistant_with_the_simulator(tmp_path: Path) -> None:
    simulator_port = free_port()
    # The meter's clock starts when the config flow first listens, not when the
    # process starts, however slowly Home Assistant comes up: its hourly list
    # (07:00:05, 13 s later at 5x) comes well after the entry is set up.
    simulator = Simulator(simulator_port, "2026-01-15T06:59:00", seed=1, start_at_client=1)
    config, port = tmp_path / "config", free_port()
    # The recorder of every real instance: the meter hours are read back from it.
    hass = HomeAssistant(config, port, "recorder:\n")
    try:
        hass.wait_until_up()
        hass.onboard()

        flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "han_port"})
        assert flow["type"] == "menu"
        assert flow["menu_options"] == ["serial", "network", "mqtt_topic"]
        flow = hass.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "network"})
        assert flow["type"] == "form"
        assert flow["step_id"] == "network"
        created = hass.configure(flow["flow_id"], {"host": "127.0.0.1", "port": simulator_port})
        assert created["type"] == "create_entry", created
        maker, meter_id = created["title"].split()
        assert maker == "Kamstrup"
        assert meter_id.isdigit()
        # The device is named for the meter's number: two meters never share a name.
        device = f"sensor.kamstrup_meter_{meter_id}"

        power = hass.wait_for_state(f"{device}_power_import", lambda s: s in simulator.powers())
        assert power["attributes"]["device_class"] == "power"
        assert power["attributes"]["state_class"] == "measurement"
        assert power["attributes"]["unit_of_measurement"] == "W"
        # The hourly list comes at 07:00:05 meter time: its total is what the meter counted.
        energy = hass.wait_for_state(f"{device}_energy_import", lambda s: s not in ("unknown", "unavailable"))
        sent_totals = {record["energy_import"] / 1000 for record in simulator.sent if record["energy_import"]}
        assert float(energy["state"]) in sent_totals
        assert energy["attributes"]["device_class"] == "energy"
        assert energy["attributes"]["state_class"] == "total_increasing"
        assert energy["attributes"]["unit_of_measurement"] == "kWh"

        # The bridge goes away and comes back: the integration reconnects by itself.
        first_powers = simulator.powers()
        simulator.stop()
        simulator = Simulator(simulator_port, "2026-01-15T03:00:00", seed=2)
        hass.wait_for_state(
            f"{device}_power_import",
            lambda s: s in simulator.powers() and s not in first_powers,
            seconds=90,
        )

        # A restart with the meter set up: the start wraps up at once (the meter hours, read back from a
        # recorder that waits for the start, once held it up for five minutes), and the readings go on.
        [token] = asyncio.run(
            hass.websocket({"type": "auth/long_lived_access_token", "client_name": "e2e", "lifespan": 1})
        )
        shown = hass.state(f"{device}_energy_import")
        assert shown is not None
        hass.stop()
        # Home Assistant unloads no entry to stop: the stop itself kept the hourly list's total, come since the
        # last periodic save, for the live energy and the capacity tariff to go on from.
        store = config / ".storage" / f"han_port.{created['result']['entry_id']}"
        kept = json.loads(store.read_text())["data"]["import"]["register"]
        assert kept == pytest.approx(float(shown["state"]) * 1000)
        hass = HomeAssistant(config, port, "recorder:\n")
        hass.token = token
        hass.wait_until_up()
        hass.wait_until_running(seconds=120)
        before = simulator.powers()
        hass.wait_for_state(f"{device}_power_import", lambda s: s in simulator.powers() and s not in before)
    finally:
        simulator.stop()
        hass.stop()
    log = (config / "home-assistant.log").read_text()
    # Home Assistant logs its own missing extras (ffmpeg, turbojpeg); ours must be clean.
    ours = [line for line in log.splitlines() if "han_port" in line and (" ERROR " in line or "Exception" in line)]
    # The one error is the single line logged while the bridge was away.
    assert all("no valid telegram from socket://127.0.0.1" in line for line in ours), ours
    assert len(ours) <= 2, ours
    assert not [line for line in log.splitlines() if "Error setting up entry" in line and "Kamstrup" in line]
    # Nothing deprecated, blocking or failing in our name, on either end of the supported releases.
    warned = [
        line
        for line in log.splitlines()
        if "han_port" in line and any(word in line for word in ("deprecated", "blocking call", "Traceback", "Detected"))
    ]
    assert not warned, warned
    assert (config / ".storage" / "core.config_entries").exists()


def test_real_home_assistant_reads_a_topic_and_keeps_it_over_a_restart(tmp_path: Path) -> None:
    """A HAN reader on a real broker, Home Assistant's MQTT integration set up as a user does, then a restart.

    Other integrations' users lost their MQTT meter's entities after a restart
    (the meter's entry came up before MQTT): here the entity keeps its id and
    its readings come back.
    """
    with running_broker(tmp_path) as broker:
        broker_address = f"127.0.0.1:{broker.port}"
        simulator = Simulator(free_port(), "2026-01-15T06:59:00", seed=3, mqtt=(broker_address, "han/ab12/raw", "hex"))
        config, port = tmp_path / "config", free_port()
        hass = HomeAssistant(config, port)
        try:
            hass.wait_until_up()
            hass.onboard()
            mqtt_entry = hass.add_mqtt(broker.port)
            assert mqtt_entry["type"] == "create_entry", mqtt_entry
            flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "han_port"})
            flow = hass.request(
                "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "mqtt_topic"}
            )
            assert flow["step_id"] == "mqtt_topic", flow
            created = hass.configure(flow["flow_id"], {"topic": "han/ab12/raw"})
            assert created["type"] == "create_entry", created
            assert created["title"].startswith("Kamstrup ")
            device = f"sensor.kamstrup_meter_{created['title'].split()[1]}"
            hass.wait_for_state(f"{device}_power_import", lambda s: s in simulator.powers())

            # A token that outlives the restart (the login's own expires with its session).
            [token] = asyncio.run(
                hass.websocket({"type": "auth/long_lived_access_token", "client_name": "e2e", "lifespan": 1})
            )
            hass.stop()
            hass = HomeAssistant(config, port)
            hass.token = token
            hass.wait_until_up()
            before = set(simulator.powers())
            # The same entity, not a new one beside it, gets the readings that come after the restart.
            hass.wait_for_state(
                f"{device}_power_import", lambda s: s in simulator.powers() and s not in before, seconds=90
            )
        finally:
            simulator.stop()
            hass.stop()
    log = (config / "home-assistant.log").read_text()
    assert not [line for line in log.splitlines() if "han_port" in line and (" ERROR " in line or "Traceback" in line)]
    assert not [
        line
        for line in log.splitlines()
        if "han_port" in line and any(word in line for word in ("deprecated", "blocking call", "Detected"))
    ]
