"""Fake meters on real transports: a pseudo-terminal and a loopback TCP server.

They stand where the meter's HAN adapter would: the integration opens them
with serialx exactly as it opens /dev/ttyUSB0 or a network bridge.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers import device_registry as dr
from homeassistant.util import slugify
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done

from custom_components.han_port.const import CONF_MANUFACTURER, CONF_METER_TYPE, DOMAIN
from simulator import frames as encoder
from simulator.frames import MeterState
from simulator.outlets import Outlets

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant, State

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))
NORWEGIAN_KAMSTRUP = "6841131BN243101040"
METER_ID = "5706567274389702"


def bridge_entry(
    port: int, unique_id: str = METER_ID, options: dict[str, Any] | None = None, **data: Any
) -> MockConfigEntry:
    """The entry of a Norwegian Kamstrup meter behind a network bridge on loopback, as setup makes it."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        title=f"Kamstrup {unique_id}",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_MANUFACTURER: "Kamstrup",
            CONF_METER_TYPE: NORWEGIAN_KAMSTRUP,
            **data,
        },
        options=options or {},
    )


def add_entry_set_aside(hass: HomeAssistant, unique_id: str, maker: str) -> None:
    """Add another entry, of this meter, that its user set aside (disabled): known by its id, never set up here."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=unique_id, title=f"{maker} {unique_id}", data={}, disabled_by=ConfigEntryDisabler.USER
    ).add_to_hass(hass)


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait until its reader has the port open (bytes sent before are lost, as on a wire)."""
    if entry.state is ConfigEntryState.NOT_LOADED and not hass.config_entries.async_get_entry(entry.entry_id):
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await meter_hours_read_back(hass, entry)
    await wait_for(lambda: entry.runtime_data.reader.connects >= 1)


async def meter_hours_read_back(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until the entry has read its meter hours back from the recorder, which it does in the background.

    Only the recorder's own work is waited on: the clock may be frozen.
    """
    if "recorder" not in hass.config.components:
        return
    hours = entry.runtime_data.energy.counts.meter_hours
    for _ in range(100):
        if hours.diagnostics()["loaded"]:
            return
        await async_wait_recording_done(hass)
    msg = "the meter hours were never read back"
    raise AssertionError(msg)


def kamstrup_frame(state: MeterState, *, hourly: bool = False) -> bytes:
    """A Norwegian Kamstrup HAN-NVE list."""
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=hourly), state.moment)
    return encoder.hdlc_frames(apdu)


def ciphered_kamstrup(state: MeterState, key: bytes = KEY, auth_key: bytes = AUTH_KEY) -> Callable[[], bytes]:
    """The Danish ciphered push list, ciphered anew at every push with a rising invocation counter, as the meter does."""
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(state), state.moment)
    counter = itertools.count(1)
    return lambda: encoder.hdlc_frames(encoder.glo_cipher(apdu, key, auth_key, counter=next(counter)))


def default_state(**changes: object) -> MeterState:
    state = MeterState(meter_id=METER_ID, meter_type=NORWEGIAN_KAMSTRUP, moment=datetime(2024, 1, 15, 13, 0, 5))
    for name, value in changes.items():
        setattr(state, name, value)
    return state


class Meter:
    """What both fake meters share: the simulator's outlets, and a push loop."""

    def __init__(self) -> None:
        self.outlets = Outlets()
        self.frames: list[bytes | Callable[[], bytes]] = []
        self._task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        self.outlets.send(data)

    def start_pushing(self, frames: list[bytes | Callable[[], bytes]], interval: float = 0.1) -> None:
        """Send frames round and round, as a meter pushes its lists (a callable builds each push anew)."""
        self.frames = frames
        self.stop_pushing()

        async def push() -> None:
            while True:
                for frame in list(self.frames):
                    self.send(frame() if callable(frame) else frame)
                    await asyncio.sleep(interval)

        self._task = asyncio.get_running_loop().create_task(push())

    def stop_pushing(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class PtyMeter(Meter):
    """A meter behind a USB adapter: the integration opens the pty's slave side."""

    def __init__(self) -> None:
        super().__init__()
        self.path = self.outlets.open_pty()

    def unplug(self) -> None:
        """Pull the adapter out: the port closes under whoever reads it, and its device is gone."""
        self.outlets.close_pty()

    def plug_in(self) -> str:
        """Plug an adapter back in; return the path of its new device."""
        self.path = self.outlets.open_pty()
        return self.path

    def close(self) -> None:
        self.stop_pushing()
        self.outlets.close_pty()


class TcpMeter(Meter):
    """A meter behind a network serial bridge on loopback."""

    port = 0

    @property
    def connections(self) -> int:
        return self.outlets.connections

    @property
    def writers(self) -> list[asyncio.StreamWriter]:
        return self.outlets.writers

    async def start(self, port: int = 0, *, single_client: bool = False) -> None:
        self.port = await self.outlets.listen("127.0.0.1", port, single_client=single_client)

    async def drop_clients(self) -> None:
        """Close every connection, as a bridge that reboots does."""
        await self.outlets.drop_clients()

    async def stop(self) -> None:
        self.stop_pushing()
        await self.outlets.close()


class MqttMeter(Meter):
    """A HAN reader that publishes the meter's frames to a topic on a real broker, each send one message."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    async def connect(self, broker_port: int) -> None:
        await self.outlets.publish_to("127.0.0.1", broker_port, self.topic)

    async def stop(self) -> None:
        self.stop_pushing()
        await self.outlets.close()


async def wait_for(predicate: object, seconds: float = 5.0) -> None:
    """Let real I/O happen until predicate() holds."""
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            msg = "condition not met in time"
            raise AssertionError(msg)
        await asyncio.sleep(0.02)


def entity_id(hass: HomeAssistant, name: str) -> str:
    """The id Home Assistant gives a meter's sensor: the device's name, then the sensor's ("power_import").

    Device names carry the meter number, so tests name sensors by what follows it.
    """
    if name.startswith("sensor."):
        return name
    registry = dr.async_get(hass)
    devices = [
        device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
    ]
    if not devices:
        return f"sensor.no_meter_yet_{name}"
    assert len(devices) == 1, [device.name for device in devices]
    return f"sensor.{slugify(devices[0].name)}_{name}"


def sensor(hass: HomeAssistant, name: str) -> State | None:
    """A meter sensor's state, by the sensor's own name."""
    return hass.states.get(entity_id(hass, name))
