"""Where a simulated meter's telegrams go.

TCP clients, as a network bridge has them, a pseudo-terminal that stands
in for a USB adapter, and an MQTT broker, as a HAN reader publishes to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty

from .mqtt import MqttPublisher, payload


class Outlets:
    """Every TCP client, the pseudo-terminal, and an MQTT topic."""

    def __init__(self) -> None:
        """Start with no listener."""
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0
        """Clients accepted so far."""
        self.pty_master: int | None = None
        self.pty_slave: int | None = None
        self.server: asyncio.Server | None = None
        self._connected = asyncio.Condition()
        self.publisher: MqttPublisher | None = None
        self.payload_shape = "raw"
        """How telegrams are published (see simulator.mqtt.PAYLOAD_SHAPES)."""
        self.backlogs: dict[int, bytes] = {}
        """What a TCP client gets on its own, by its number (1: the first to connect), as a bridge that kept it."""
        self.backlog_delay = 0.0
        """How long after it connects a client gets its backlog (s)."""

    async def publish_to(self, host: str, port: int, topic: str, shape: str = "raw") -> None:
        """Publish every telegram to topic on the broker at host:port, shaped as shape."""
        if self.publisher is not None:
            await self.publisher.close()  # publishing again (a broker back): the old connection is done with
        publisher = MqttPublisher(topic)
        await publisher.connect(host, port)
        self.publisher, self.payload_shape = publisher, shape

    async def listen(self, host: str, port: int, *, single_client: bool = False) -> int:
        """Accept bridge clients (the integration) on host:port; return the port.

        A single-client bridge (most ser2net and ESP bridges) closes every
        connection that comes while it already serves one.
        """

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if single_client and any(not other.is_closing() for other in self.writers):
                writer.close()
                return
            self.connections += 1
            backlog = self.backlogs.pop(self.connections, None)
            if backlog is not None:
                asyncio.get_running_loop().call_later(self.backlog_delay, _write, writer, backlog)
            self.writers.append(writer)
            async with self._connected:
                self._connected.notify_all()
            # A client that hangs up frees the bridge at once, as a real one notices.
            with contextlib.suppress(OSError):
                await reader.read()
            writer.close()

        self.server = await asyncio.start_server(client, host, port)
        port_number: int = self.server.sockets[0].getsockname()[1]
        return port_number

    async def wait_for_connections(self, count: int) -> None:
        """Return once count clients have connected, in all."""
        async with self._connected:
            await self._connected.wait_for(lambda: self.connections >= count)

    def open_pty(self) -> str:
        """Open a pseudo-terminal that stands in for a USB adapter; return its path."""
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline: bytes pass as they are
        os.set_blocking(master, False)
        # The slave stays open here too, so writes do not fail while nobody reads.
        self.pty_master, self.pty_slave = master, slave
        return os.ttyname(slave)

    def send(self, data: bytes, apdu: bytes | None = None) -> None:
        """Send to everyone listening; a closed client is dropped, a full pty loses bytes like a wire.

        The MQTT topic gets the telegram in the publisher's shape: apdu, if
        given, is the APDU inside the frames, for the shape that strips them.
        """
        if self.publisher is not None:
            self.publisher.publish(payload(data, apdu, self.payload_shape))
        for writer in list(self.writers):
            if writer.is_closing():
                self.writers.remove(writer)
            else:
                writer.write(data)
        if self.pty_master is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self.pty_master, data)

    async def drop_clients(self) -> None:
        """Close every connection, as a bridge that reboots does."""
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self.writers.clear()

    def close_pty(self) -> None:
        """Close the pseudo-terminal, as an adapter that is pulled out."""
        for fd in (self.pty_master, self.pty_slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pty_master = self.pty_slave = None

    async def close(self) -> None:
        """Stop listening and close everything.

        The server stops accepting first: a client that reconnects while the
        others are dropped would otherwise keep wait_closed() waiting.
        """
        server, self.server = self.server, None
        if server is not None:
            server.close()
            server.close_clients()
        await self.drop_clients()
        if server is not None:
            await server.wait_closed()
        self.close_pty()
        publisher, self.publisher = self.publisher, None
        if publisher is not None:
            await publisher.close()


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)
