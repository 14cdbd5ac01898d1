"""A publisher for the simulator: just enough MQTT 3.1.1 to put telegrams on a broker.

The integration reads topics through Home Assistant's own MQTT client; the
simulator stands where a HAN reader would (a Tibber Pulse, an AMS reader in
raw mode), so it needs only CONNECT, PUBLISH at QoS 0 and DISCONNECT, and no
dependency for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os

from custom_components.han_port.decoder import strip_llc

_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH = 0x30
_DISCONNECT = 0xE0
_PROTOCOL = b"\x00\x04MQTT\x04"  # protocol name and level 4 (3.1.1)
_CLEAN_SESSION = 0x02
_CONNACK_LENGTH = 2
_LENGTH_DIGIT_BITS = 7
_CONNECT_SECONDS = 5.0
# Client ids apart for every connection of this process: a broker drops the older of two clients with one id.
_CLIENT_IDS = itertools.count(1)

PAYLOAD_SHAPES = ("raw", "hex", "apdu")
"""raw: the frames as the meter sends them; hex: the same as hex text; apdu: the APDU without HDLC framing."""


def _remaining_length(size: int) -> bytes:
    """Encode a packet's remaining length (MQTT's variable-length integer)."""
    out = bytearray()
    while True:
        digit, size = size & 0x7F, size >> _LENGTH_DIGIT_BITS
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


def packet(kind: int, body: bytes) -> bytes:
    """Build an MQTT control packet: fixed header, then body."""
    return bytes([kind]) + _remaining_length(len(body)) + body


def payload(frame: bytes, apdu: bytes | None, shape: str) -> bytes:
    """Shape one telegram as a bridge publishes it; a P1 telegram (no APDU) is always its text."""
    if apdu is None or shape == "raw":
        return frame
    if shape == "hex":
        return frame.hex(" ").encode()
    return strip_llc(apdu)


class MqttPublisher:
    """One connection to a broker, publishing at QoS 0 (a meter's next telegram replaces a lost one)."""

    def __init__(self, topic: str) -> None:
        """Publish to topic once connected."""
        self.topic = topic
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int) -> None:
        """Connect (again) and wait for the broker's CONNACK; raise ConnectionError when it refuses."""
        await self.close()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), _CONNECT_SECONDS)
        client_id = f"han-port-simulator-{os.getpid()}-{next(_CLIENT_IDS)}".encode()
        # Keep-alive 0: the broker never times the simulator out between telegrams.
        writer.write(packet(_CONNECT, _PROTOCOL + bytes([_CLEAN_SESSION]) + b"\x00\x00" + _string(client_id)))
        try:
            header = await asyncio.wait_for(reader.readexactly(2 + _CONNACK_LENGTH), _CONNECT_SECONDS)
        except BaseException:
            writer.close()  # a broker still starting may hang up, or stay silent, before its CONNACK
            raise
        if header[0] != _CONNACK or header[3] != 0:
            writer.close()
            msg = f"the broker at {host}:{port} refused the connection (CONNACK {header.hex(' ')})"
            raise ConnectionError(msg)
        self._writer = writer

    def publish(self, data: bytes) -> None:
        """Publish one message to the topic (dropped when not connected, as a bridge's is)."""
        if self._writer is None or self._writer.is_closing():
            return
        self._writer.write(packet(_PUBLISH, _string(self.topic.encode()) + data))

    async def close(self) -> None:
        """Say goodbye to the broker and close the connection."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        # A broker that went away has closed the connection already: nothing to say goodbye to.
        with contextlib.suppress(OSError):
            try:
                if not writer.is_closing():
                    writer.write(packet(_DISCONNECT, b""))
                    await writer.drain()
            finally:
                writer.close()
            await writer.wait_closed()
