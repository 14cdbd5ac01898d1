"""Render the README's pictures: setup, the meter's device page, the Energy dashboard and MQTT discovery.

A simulated Kamstrup meter feeds a real Home Assistant; headless Chromium
(from Debian's packages, installed by scripts/screenshots) takes the pictures.
The discovered pictures need a real MQTT broker, Mosquitto (scripts/setup
installs it with apt-get where it runs as root).

    scripts/screenshots                     every picture
    scripts/screenshots --only setup        setup, device and Energy pictures
    scripts/screenshots --only discovered   the discovered pictures alone
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.han_port.const import DOMAIN
from tests.broker import MOSQUITTO, Broker
from tests.live import HomeAssistant, Simulator, free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
# The simulated Danish meter's keys: made up for the pictures.
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AUTH_KEY = bytes.fromhex("101112131415161718191a1b1c1d1e1f")
ZONE = ZoneInfo("Europe/Oslo")
"""The instance's time zone (tests/live.py): the Norwegian meter keeps its time."""
TOPIC = "dsmr/raw"
"""The topic the manifest's MQTT discovery listens to: DSMR-reader's raw telegrams."""
STEPS = ("setup", "discovered")
NO_MOSQUITTO = (
    "scripts/screenshots: the discovered pictures need Mosquitto, a real MQTT broker: scripts/setup installs it"
    " with apt-get where it runs as root (or: sudo apt-get install mosquitto); --only setup leaves them out"
)


# Walks the frontend's shadow roots, which querySelector does not enter.
_DEEP = """
function deep(root, test, found = []) {
  if (test(root)) found.push(root);
  const children = [...(root.shadowRoot ? root.shadowRoot.children : []), ...root.children];
  for (const child of children) deep(child, test, found);
  return found;
}
function flowForm() { return deep(document.body, (n) => n.tagName === "STEP-FLOW-FORM")[0]; }
"""
_CLICK_BUTTON = (
    _DEEP
    + """
{
  const button = deep(document.body, (n) => ["HA-BUTTON", "MWC-BUTTON"].includes(n.tagName)
    && n.textContent.trim().toUpperCase() === LABEL.toUpperCase())[0];
  if (button) button.click(); !!button
}
"""
)
_CLICK_MENU = (
    _DEEP
    + """
{
  const item = deep(
    document.body, (n) => n.tagName && n.tagName.includes("LIST-ITEM") && n.textContent.includes(LABEL))[0];
  if (item) item.click(); !!item
}
"""
)
# Sets the form's fields as typing would: the form keeps what value-changed tells it.
_FILL = (
    _DEEP
    + """
deep(flowForm(), (n) => n.tagName === "HA-FORM")[0].dispatchEvent(
  new CustomEvent("value-changed", {detail: {value: DATA}, bubbles: true, composed: true})); true
"""
)
_TEXT = (
    _DEEP
    + """
function text(node) {
  let found = [...node.childNodes].filter((c) => c.nodeType === 3).map((c) => c.textContent).join(" ");
  const children = [...(node.shadowRoot ? node.shadowRoot.children : []), ...node.children];
  for (const child of children) found += " " + text(child);
  return found;
}
deep(document.body, (n) => n.tagName === TAG).map(text).join(" ")"""
)
# The Add button of the card that offers a discovered flow of the integration LABEL.
_CLICK_DISCOVERED = (
    _DEEP
    + """
{
  const card = deep(document.body, (n) => n.tagName === "HA-CONFIG-FLOW-CARD" && n.flow && n.flow.handler === LABEL)[0];
  const button = card && deep(card, (n) => ["HA-BUTTON", "MWC-BUTTON"].includes(n.tagName)
    && (n.label || n.textContent).trim().toUpperCase() === "ADD")[0];  // older releases: a label, no text
  if (button) button.click(); !!button
}
"""
)


class Browser:
    """Headless Chromium driven over the DevTools protocol.

    Home Assistant keeps a websocket open, so Chromium's own --screenshot,
    which waits for the page to go idle, never fires.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._number = 0

    async def call(self, method: str, **params: object) -> dict[str, Any]:
        self._number += 1
        await self._ws.send_json({"id": self._number, "method": method, "params": params})
        while True:
            reply: dict[str, Any] = await self._ws.receive_json()
            if reply.get("id") == self._number:
                return reply.get("result", {})

    async def evaluate(self, script: str) -> object:
        result = await self.call("Runtime.evaluate", expression=script, returnByValue=True)
        value: object = result.get("result", {}).get("value")
        return value

    async def open(self, url: str, settle: float = 12) -> None:
        await self.call("Page.navigate", url=url)
        await asyncio.sleep(settle)  # login redirect, frontend load, first data

    async def click(self, script: str, label: str, seconds: float = 60) -> None:
        """Click what script finds by label, once it is there: a busy machine renders late."""
        for _ in range(int(seconds * 2)):
            if await self.evaluate(script.replace("LABEL", json.dumps(label))) is True:
                return
            await asyncio.sleep(0.5)
        msg = f"nothing to click says {label!r}"
        raise RuntimeError(msg)

    async def keep_http_settings(self) -> None:
        """Home Assistant asks a new instance to confirm its HTTP settings (the test's own port): keep them."""
        with contextlib.suppress(RuntimeError):
            await self.click(_CLICK_BUTTON, "Confirm", seconds=5)

    async def shoot(self, target: Path) -> None:
        reply = await self.call("Page.captureScreenshot")
        await asyncio.to_thread(target.write_bytes, base64.b64decode(reply["data"]))
        print(f"wrote {target.relative_to(ROOT)}")

    async def wait_for_text(self, text: str, seconds: float = 60, within: str = "DIALOG-DATA-ENTRY-FLOW") -> None:
        """Wait until an element named within (the flow's dialog unless told) says text."""
        for _ in range(int(seconds * 2)):
            if text in str(await self.evaluate(_TEXT.replace("TAG", json.dumps(within))) or ""):
                return
            await asyncio.sleep(0.5)
        reply = await self.call("Page.captureScreenshot")
        seen = Path(tempfile.gettempdir()) / "han-port-screenshots-failed.png"
        await asyncio.to_thread(seen.write_bytes, base64.b64decode(reply["data"]))
        msg = f"{within.lower()} never said {text!r} (what the browser showed: {seen})"
        raise RuntimeError(msg)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, killed at the end
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
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                            targets = [t for t in await response.json() if t["type"] == "page"]
                    if targets:
                        break
                    await asyncio.sleep(0.2)
                async with session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    yield Browser(ws)
        finally:
            process.kill()
            process.wait()


async def pictures(hass: HomeAssistant, simulator_port: int) -> None:
    """Set a ciphered meter up through the real frontend, picturing each step, then its device and energy."""
    async with chromium() as browser:
        await browser.open(f"{hass.url}/config/integrations/dashboard/add?domain=han_port")
        # "Do you want to set up HAN Port?"
        await browser.keep_http_settings()
        await browser.click(_CLICK_BUTTON, "OK")
        await asyncio.sleep(3)
        await browser.click(_CLICK_MENU, "Network serial bridge")
        await asyncio.sleep(2)
        bridge = {"host": "127.0.0.1", "port": simulator_port}
        await browser.evaluate(_FILL.replace("DATA", json.dumps(bridge)))
        await asyncio.sleep(1)
        await browser.evaluate(_CLICK_BUTTON.replace("LABEL", json.dumps("Submit")))
        await browser.wait_for_text("Listening")
        await asyncio.sleep(1)
        await browser.shoot(IMAGES / "setup-listening.png")
        await browser.wait_for_text("Decryption keys")
        keys = {"encryption_key": KEY.hex(" "), "authentication_key": AUTH_KEY.hex(" ")}
        await browser.evaluate(_FILL.replace("DATA", json.dumps(keys)))
        await asyncio.sleep(1)
        await browser.shoot(IMAGES / "setup-keys.png")
        await browser.evaluate(_CLICK_BUTTON.replace("LABEL", json.dumps("Submit")))
        entity = hass.wait_for_entity("_energy_import", seconds=120)
        hass.wait_for_state(entity, lambda state: state not in ("unknown", "unavailable"), seconds=120)
        devices = (await hass.websocket({"type": "config/device_registry/list"}))[0]
        device = next(d for d in devices if d["manufacturer"] == "Kamstrup")
        await browser.open(f"{hass.url}/config/devices/device/{device['id']}")
        await browser.shoot(IMAGES / "device.png")
        async with norwegian_meter(hass) as statistic:
            print(f"the Energy dashboard's grid consumption: {statistic}")
            await browser.open(f"{hass.url}/config/energy")
            await browser.shoot(IMAGES / "energy-configuration.png")
            await browser.open(f"{hass.url}/energy")
            await browser.shoot(IMAGES / "energy.png")


def kaifa_with_a_backlog() -> Simulator:
    """Start a Norwegian Kaifa whose bridge kept its last hours' lists, its clock stating its UTC offset."""
    now = datetime.now(ZONE).replace(microsecond=0)
    offset = now.utcoffset() or timedelta(0)
    # HAN Port takes a clock that states its offset up to 6 h late: the oldest
    # list must still be, once the meter is set up.
    lists = 6 if now.minute < 45 else 5  # noqa: PLR2004
    return Simulator(
        free_port(),
        now.replace(tzinfo=None).isoformat(),
        2,
        speed=1,
        vendor="kaifa",
        options=(
            *("--deviation", str(-int(offset.total_seconds() // 60))),
            # Hours of 0.2 to 1.5 kWh: a burst's registers grow within what the energy guard allows.
            *("--load", "0.5"),
            *("--backlog", str(lists)),
            # The flow's listening is the first client; setting the entry up opens
            # the bridge once to check it, and its reader is the third.
            *("--backlog-at-client", "3"),
            # HAN Port writes hours once it has read back where its statistics
            # stand, soon after the entry starts: the bridge delivers after that.
            *("--backlog-delay", "10"),
        ),
    )


async def grid_consumption_from(hass: HomeAssistant, statistic: str) -> None:
    """Set the Energy dashboard's grid consumption to a statistic."""
    await hass.websocket(
        {
            "type": "energy/save_prefs",
            "energy_sources": [
                {
                    "type": "grid",
                    "stat_energy_from": statistic,
                    "stat_energy_to": None,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                    "stat_compensation": None,
                    "entity_energy_price_export": None,
                    "number_energy_price_export": None,
                    "cost_adjustment_day": 0,
                }
            ],
            "device_consumption": [],
        },
    )


@contextlib.asynccontextmanager
async def norwegian_meter(hass: HomeAssistant) -> AsyncIterator[str]:
    """Set a Norwegian Kaifa meter up whose bridge kept its last hours' lists; yield its meter hours' statistic.

    Its clock states its UTC offset, so HAN Port places each register the
    bridge delivers late in the hour it was read, and writes those hours
    itself. The Energy dashboard's grid consumption is set to them.
    """
    simulator = kaifa_with_a_backlog()
    try:
        flow = await asyncio.to_thread(hass.request, "POST", "/api/config/config_entries/flow", {"handler": DOMAIN})
        path = f"/api/config/config_entries/flow/{flow['flow_id']}"
        await asyncio.to_thread(hass.request, "POST", path, {"next_step_id": "network"})
        created = await asyncio.to_thread(
            hass.configure, flow["flow_id"], {"host": "127.0.0.1", "port": simulator.port}
        )
        if created["type"] != "create_entry":
            raise RuntimeError(created)
        meter_id = created["title"].split()[-1]
        statistic = f"{DOMAIN}:{meter_id}_energy_import"
        # The registers the bridge delivered late, by the meter's clock.
        registers = {
            datetime.fromisoformat(record["time"]).replace(tzinfo=ZONE): record["energy_import"]
            for record in simulator.sent
            if record["list"] == "hourly"
        }
        boundaries = sorted(registers)
        # The hour before the first register is written too, as not measured (0 kWh).
        first = boundaries[0].replace(minute=0, second=0) - timedelta(hours=1)
        hours = await written_hours(hass, statistic, first, len(boundaries))
        await grid_consumption_from(hass, statistic)
        verify(boundaries, registers, hours)
        yield statistic
    finally:
        simulator.stop()


async def written_hours(
    hass: HomeAssistant, statistic: str, start: datetime, count: int, seconds: float = 120
) -> dict[datetime, dict[str, Any]]:
    """Read the hours HAN Port wrote back from the recorder, once count of them are there; by their start."""
    hours: dict[datetime, dict[str, Any]] = {}
    for _ in range(int(seconds)):
        (found,) = await hass.websocket(
            {
                "type": "recorder/statistics_during_period",
                "start_time": start.isoformat(),
                "statistic_ids": [statistic],
                "period": "hour",
                "types": ["change", "state", "sum"],
                "units": {"energy": "kWh"},
            }
        )
        hours = {datetime.fromtimestamp(row["start"] / 1000, UTC): row for row in found.get(statistic, [])}
        if len(hours) >= count:
            return hours
        await asyncio.sleep(1)
    msg = f"{statistic} has {len(hours)} hours, not {count}"
    raise RuntimeError(msg)


def verify(boundaries: list[datetime], registers: dict[datetime, int], hours: dict[datetime, dict[str, Any]]) -> None:
    """Check each hour's change against the difference of the registers sent at its ends; print both."""
    print("hour (local)   register at start -> at end (Wh)   difference   statistic's change")
    for before, after in itertools.pairwise(boundaries):
        start = before.replace(minute=0, second=0).astimezone(UTC)
        difference = (registers[after] - registers[before]) / 1000
        change = hours[start]["change"]
        same = math.isclose(change, difference, abs_tol=1e-9)
        local = before.strftime("%H:00")
        print(
            f"{local}-{after.strftime('%H:00')}   {registers[before]} -> {registers[after]}"
            f"   {difference:.3f} kWh   {change:.3f} kWh   {'equal' if same else 'DIFFERENT'}"
        )
        if not same:
            msg = f"the hour from {local} changed {change} kWh, the registers {difference} kWh"
            raise RuntimeError(msg)


async def setup(hass: HomeAssistant) -> None:
    """Picture a Danish ciphered meter's setup, its device page, then the Energy dashboard."""
    # The Danish ciphered meter at the meter's own pace: its first list comes
    # up to 10 s after the flow connects, time to picture the listening; its
    # hourly list soon after setup.
    simulator = Simulator(
        free_port(), "2026-01-15T06:59:40", 1, speed=1, start_at_client=1, vendor="kamstrup-dk", keys=(KEY, AUTH_KEY)
    )
    try:
        await pictures(hass, simulator.port)
    finally:
        simulator.stop()


async def discovered(hass: HomeAssistant, directory: Path) -> None:
    """Picture HAN Port offered by MQTT discovery, then the first step of its flow.

    A real Mosquitto; Home Assistant's MQTT integration set up through its
    own config flow; a reader publishing a simulated Swedish P1 meter's
    telegrams (a Landis+Gyr E360, every 10 s, each unlike the one before) to
    dsmr/raw, as DSMR-reader's raw telegram option does.
    """
    with contextlib.ExitStack() as stop:
        broker = Broker(directory)
        stop.callback(broker.stop)
        await asyncio.to_thread(broker.start)
        address = f"127.0.0.1:{broker.port}"
        reader = Simulator(free_port(), "2026-01-15T06:59:40", 4, speed=1, vendor="p1", mqtt=(address, TOPIC, "raw"))
        stop.callback(reader.stop)
        mqtt = await asyncio.to_thread(hass.add_mqtt, broker.port)
        if mqtt["type"] != "create_entry":
            raise RuntimeError(mqtt)
        flow = await offer(hass)
        print(f"Home Assistant offers HAN Port for {flow['context']['title_placeholders']['name']}")
        entries = await asyncio.to_thread(hass.request, "GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
        async with chromium() as browser:
            await browser.open(f"{hass.url}/config/integrations/dashboard")
            await browser.keep_http_settings()
            await browser.wait_for_text(TOPIC, within="HA-CONFIG-FLOW-CARD")
            await asyncio.sleep(1)
            await browser.shoot(IMAGES / "discovered.png")
            await browser.click(_CLICK_DISCOVERED, DOMAIN)
            await browser.wait_for_text("HAN reader found on MQTT")
            await asyncio.sleep(1)
            await browser.shoot(IMAGES / "discovered-confirm.png")
            # Confirming listens on the topic: the meter heard there is set up.
            await browser.click(_CLICK_BUTTON, "Submit")
            title = await new_entry(hass, {entry["entry_id"] for entry in entries})
            print(f"confirming the offer set up {title}")


async def offer(hass: HomeAssistant, seconds: float = 60) -> dict[str, Any]:
    """Wait for MQTT discovery to start HAN Port's flow (it waits for the user to confirm); return it."""
    for _ in range(int(seconds)):
        (flows,) = await hass.websocket({"type": "config_entries/flow/progress"})
        for flow in flows:
            if flow["handler"] == DOMAIN and flow["context"]["source"] == "mqtt":
                return dict(flow)
        await asyncio.sleep(1)
    msg = f"no HAN Port flow was discovered on {TOPIC}"
    raise RuntimeError(msg)


async def new_entry(hass: HomeAssistant, known: set[str], seconds: float = 60) -> str:
    """Wait for a HAN Port entry that is not among known; return its title."""
    for _ in range(int(seconds)):
        entries = await asyncio.to_thread(hass.request, "GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
        for entry in entries:
            if entry["entry_id"] not in known:
                return str(entry["title"])
        await asyncio.sleep(1)
    msg = "confirming the discovered topic set no meter up"
    raise RuntimeError(msg)


def main(argv: Sequence[str] | None = None) -> None:
    """Render the pictures of the steps asked for (every one unless told) into docs/images/."""
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=STEPS, action="append", help="render only this step's pictures")
    steps = parser.parse_args(argv).only or STEPS
    if "discovered" in steps and MOSQUITTO is None:
        sys.exit(NO_MOSQUITTO)
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        hass = HomeAssistant(
            Path(directory) / "config", free_port(), "recorder:\nenergy:\nhistory:\n", trusted_local=True
        )
        try:
            hass.wait_until_up()
            hass.onboard()
            if "setup" in steps:
                asyncio.run(setup(hass))
            if "discovered" in steps:
                asyncio.run(discovered(hass, Path(directory)))
        finally:
            hass.stop()


if __name__ == "__main__":
    main()
