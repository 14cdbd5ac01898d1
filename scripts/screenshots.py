"""Render the README's pictures: the meter's device page and the Energy dashboard.

A simulated Kamstrup meter feeds a real Home Assistant; headless Chromium
(from Debian's packages, installed by scripts/screenshots) takes the pictures.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.han_port.simulator.meter import SimulatedMeter
from tests.live import HomeAssistant, Simulator, free_port

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
ENERGY = "sensor.kamstrup_meter_energy_import"


def todays_statistics(now: datetime) -> list[dict[str, Any]]:
    """Hourly energy statistics for today so far, from the simulated household's power."""
    local = now.astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    meter = SimulatedMeter("kamstrup", start=start.replace(tzinfo=None))
    statistics = []
    total = 0.0
    hour = start
    while hour + timedelta(hours=1) <= local:
        meter.advance((hour + timedelta(hours=1)).replace(tzinfo=None))
        total = (meter.energy_import - SimulatedMeter("kamstrup").energy_import) / 1000
        statistics.append({"start": hour.astimezone(UTC).isoformat(), "sum": total, "state": total})
        hour += timedelta(hours=1)
    return statistics


async def screenshots(pages: dict[str, Path]) -> None:
    """Open each page in headless Chromium, give the frontend time to render, save a PNG.

    Driven over the DevTools protocol: Home Assistant keeps a websocket open,
    so Chromium's own --screenshot, which waits for the page to go idle, never fires.
    """
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(  # noqa: ASYNC220 - started once, killed at the end
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "--hide-scrollbars",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as session:
                targets: list[dict[str, Any]] = []
                for _ in range(100):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                            targets = [t for t in await response.json() if t["type"] == "page"]
                        if targets:
                            break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
                async with session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    for number, (url, target) in enumerate(pages.items(), start=1):
                        await ws.send_json({"id": number * 2, "method": "Page.navigate", "params": {"url": url}})
                        await asyncio.sleep(15)  # login redirect, frontend load, first data
                        await ws.send_json({"id": number * 2 + 1, "method": "Page.captureScreenshot"})
                        while True:
                            reply = await ws.receive_json()
                            if reply.get("id") == number * 2 + 1:
                                break
                        target.write_bytes(base64.b64decode(reply["result"]["data"]))
                        print(f"wrote {target.relative_to(ROOT)}")
        finally:
            browser.kill()
            browser.wait()


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    simulator_port = free_port()
    simulator = None
    with tempfile.TemporaryDirectory() as config:
        hass = HomeAssistant(Path(config) / "config", free_port(), "recorder:\nenergy:\nhistory:\n", trusted_local=True)
        try:
            hass.wait_until_up()
            hass.onboard()
            # Started now, the meter's hourly list arrives seconds after setup.
            simulator = Simulator(simulator_port, "2026-01-15T06:59:20", 1, speed=10)
            flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "han_port"})
            flow = hass.request(
                "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "network"}
            )
            hass.request(
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {"host": "127.0.0.1", "port": simulator_port},
            )
            hass.wait_for_state(ENERGY, lambda state: state not in ("unknown", "unavailable"), seconds=120)
            time.sleep(5)
            devices, _, _ = asyncio.run(
                hass.websocket(
                    hass,
                    {"type": "config/device_registry/list"},
                    {
                        "type": "recorder/import_statistics",
                        "metadata": {
                            "has_mean": False,
                            "has_sum": True,
                            "name": None,
                            "source": "recorder",
                            "statistic_id": ENERGY,
                            "unit_of_measurement": "kWh",
                        },
                        "stats": todays_statistics(datetime.now(UTC)),
                    },
                    {
                        "type": "energy/save_prefs",
                        "energy_sources": [
                            {
                                "type": "grid",
                                "flow_from": [
                                    {
                                        "stat_energy_from": ENERGY,
                                        "stat_cost": None,
                                        "entity_energy_price": None,
                                        "number_energy_price": None,
                                    }
                                ],
                                "flow_to": [],
                                "cost_adjustment_day": 0,
                            }
                        ],
                        "device_consumption": [],
                    },
                )
            )
            device = next(d for d in devices if d["manufacturer"] == "Kamstrup")
            asyncio.run(
                screenshots(
                    {
                        f"{hass.url}/config/devices/device/{device['id']}": IMAGES / "device.png",
                        f"{hass.url}/energy": IMAGES / "energy.png",
                    }
                )
            )
        finally:
            if simulator is not None:
                simulator.stop()
            hass.stop()


if __name__ == "__main__":
    main()
