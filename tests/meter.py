"""Fake meters on real transports: a pseudo-terminal and a loopback TCP server.

They stand where the meter's HAN adapter would: the integration opens them
with serialx exactly as it opens /dev/ttyUSB0 or a network bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from datetime import datetime

from custom_components.han_port.simulator import frames as encoder
from custom_components.han_port.simulator.frames import MeterState

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))
NORWEGIAN_KAMSTRUP = "6841131BN243101040"


def kamstrup_frame(state: MeterState, *, hourly: bool = False, ciphered: bool = False) -> bytes:
    """A Norwegian Kamstrup HAN-NVE list (or the Danish ciphered push list)."""
    if ciphered:
        apdu = encoder.data_notification(encoder.kamstrup_push1_list(state), state.moment)
        return encoder.hdlc_frames(encoder.glo_cipher(apdu, KEY, AUTH_KEY))
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=hourly), state.moment)
    return encoder.hdlc_frames(apdu)


def default_state(**changes: object) -> MeterState:
    state = MeterState(
        meter_id="5706567274389702", meter_type=NORWEGIAN_KAMSTRUP, moment=datetime(2024, 1, 15, 13, 0, 5)
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


class Meter:
    """What both fake meters share: a frame source that repeats until stopped."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self._task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def start_pushing(self, frames: list[bytes], interval: float = 0.1) -> None:
        """Send frames round and round, as a meter pushes its lists."""
        self.frames = frames
        self.stop_pushing()

        async def push() -> None:
            while True:
                for frame in list(self.frames):
                    self.send(frame)
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
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no line discipline: bytes pass as they are
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def send(self, data: bytes) -> None:
        # Nobody reading yet means the bytes are lost, as on a real wire.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.master, data)

    def close(self) -> None:
        self.stop_pushing()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpMeter(Meter):
    """A meter behind a network serial bridge on loopback."""

    def __init__(self) -> None:
        super().__init__()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0
        self.port = 0

    async def start(self, port: int = 0) -> None:
        async def client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.writers.append(writer)

        self.server = await asyncio.start_server(client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    def send(self, data: bytes) -> None:
        for writer in list(self.writers):
            if writer.is_closing():
                self.writers.remove(writer)
            else:
                writer.write(data)

    async def drop_clients(self) -> None:
        """Close every connection, as a bridge that reboots does."""
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self.writers.clear()

    async def stop(self) -> None:
        self.stop_pushing()
        await self.drop_clients()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


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
