"""Reading a meter: serial port or network bridge, bytes into the decoder.

Nothing here imports Home Assistant: the reader takes callbacks, so the
coordinator decides what a telegram or an outage means for entities.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from serialx import Parity, SerialException, StopBits, create_serial_connection

from .const import LOGGER
from .decoder import Decoder, DroppedFrame, DropReason, Telegram

if TYPE_CHECKING:
    from collections.abc import Callable

    from .decoder import Ciphering

# Reconnect backoff after an open error, a disconnect or silence.
BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
# No valid telegram for three push intervals, but never less than this, means
# the meter, the cable or the network bridge is gone.
MIN_SILENCE = 30.0
SILENCE_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Serial line settings: baud rate, parity, byte size, stop bits."""

    baudrate: int = 2400
    parity: str = "N"
    bytesize: int = 8
    stopbits: int = 1

    def __str__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


# Line settings tried when a serial port is configured, most common first:
# Aidon and Kaifa in Norway (8E1), Kamstrup (8N1), then P1 speeds.
COMMON_LINE_SETTINGS = (
    LineSettings(2400, "E"),
    LineSettings(2400, "N"),
    LineSettings(9600, "N"),
    LineSettings(115200, "N"),
)


def network_url(host: str, port: int) -> str:
    """Return the serialx URL of a raw TCP serial bridge."""
    return f"socket://[{host}]:{port}" if ":" in host else f"socket://{host}:{port}"


async def open_connection(
    url: str, line: LineSettings, protocol_factory: Callable[[], asyncio.Protocol]
) -> asyncio.BaseTransport:
    """Open a device path or URL with serialx; network URLs ignore line settings."""
    transport, _ = await create_serial_connection(
        asyncio.get_running_loop(),
        protocol_factory,
        url,
        baudrate=line.baudrate,
        parity=Parity(line.parity),
        stopbits=StopBits(line.stopbits),
        byte_size=line.bytesize,
    )
    return transport


def _factory(protocol: asyncio.Protocol) -> Callable[[], asyncio.Protocol]:
    return lambda: protocol


class _DecoderProtocol(asyncio.Protocol):
    """Feeds every chunk straight into the decoder; reports each event at once."""

    def __init__(self, decoder: Decoder, on_event: Callable[[Telegram | DroppedFrame], None]) -> None:
        self._decoder = decoder
        self._on_event = on_event
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        for event in self._decoder.feed_events(data):
            self._on_event(event)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - any loss counts
        if not self.closed.done():
            self.closed.set_result(None)


class MeterReader:
    """One meter connection, kept open forever: reconnects with backoff, notices silence."""

    def __init__(  # noqa: PLR0913 - each callback is one thing the reader reports
        self,
        url: str,
        line: LineSettings,
        decoder: Decoder,
        on_telegram: Callable[[Telegram], None],
        on_available: Callable[[bool], None],
        *,
        on_key_problem: Callable[[DroppedFrame], None] | None = None,
    ) -> None:
        """Read url with the given line settings, pushing telegrams to on_telegram."""
        self.url = url
        self.line = line
        self.decoder = decoder
        self._on_telegram = on_telegram
        self._on_available = on_available
        self._on_key_problem = on_key_problem
        self._available: bool | None = None
        self._last_telegram = 0.0
        self._intervals: deque[float] = deque(maxlen=10)
        self.last_raw: deque[bytes] = deque(maxlen=5)
        """The last few raw telegrams, for diagnostics."""
        self.connects = 0
        """How many times the connection was opened."""

    @property
    def silence_timeout(self) -> float:
        """How long without a valid telegram before the meter counts as gone."""
        longest = max(self._intervals, default=0.0)
        return max(MIN_SILENCE, SILENCE_INTERVALS * longest)

    def _event(self, event: Telegram | DroppedFrame) -> None:
        if isinstance(event, DroppedFrame):
            LOGGER.debug("Dropped a frame (%s): %s", event.reason, event.detail)
            if event.reason in (DropReason.KEY_MISSING, DropReason.KEY_REJECTED) and self._on_key_problem:
                self._on_key_problem(event)
            return
        now = time.monotonic()
        if self._last_telegram:
            self._intervals.append(now - self._last_telegram)
        self._last_telegram = now
        self.last_raw.append(event.raw)
        self._set_available(available=True)
        self._on_telegram(event)

    def _set_available(self, *, available: bool) -> None:
        # Report changes only: the coordinator logs each one once.
        if available != self._available:
            self._available = available
            self._on_available(available)

    async def run(self) -> None:
        """Read until cancelled, reconnecting after any failure."""
        backoff = BACKOFF_START
        while True:
            try:
                protocol = _DecoderProtocol(self.decoder, self._event)
                transport = await open_connection(self.url, self.line, _factory(protocol))
            except (OSError, SerialException, ValueError) as err:
                LOGGER.debug("Cannot open %s: %s", self.url, err)
                self._set_available(available=False)
            else:
                self.connects += 1
                got_telegram = await self._watch(protocol, transport)
                if got_telegram:
                    backoff = BACKOFF_START
                self._set_available(available=False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _watch(self, protocol: _DecoderProtocol, transport: asyncio.BaseTransport) -> bool:
        """Wait until the connection closes or goes silent; close it; say if it delivered."""
        opened = time.monotonic()
        try:
            while True:
                last = max(self._last_telegram, opened)
                remaining = last + self.silence_timeout - time.monotonic()
                if remaining <= 0:
                    LOGGER.debug("No valid telegram on %s for %.0f s", self.url, self.silence_timeout)
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(protocol.closed), remaining)
                if protocol.closed.done():
                    LOGGER.debug("Connection to %s closed", self.url)
                    break
        finally:
            transport.close()
        return self._last_telegram > opened


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What listening to a port for a while told us."""

    telegram: Telegram | None = None
    """The first telegram that names its meter (or, failing that, any telegram)."""
    key_problem: DropReason | None = None
    ciphering: Ciphering | None = None


async def probe(
    url: str,
    line: LineSettings,
    seconds: float,
    key: bytes | None = None,
    auth_key: bytes | None = None,
) -> ProbeResult:
    """Listen on url until a checksum-valid telegram, or a ciphered frame, arrives.

    Waits for a telegram that carries the meter id (the short lists do not)
    until `seconds` pass; a telegram without one is returned if nothing better came.
    Raises OSError or SerialException when the port cannot be opened.
    """
    loop = asyncio.get_running_loop()
    result: asyncio.Future[ProbeResult] = loop.create_future()
    best: list[Telegram] = []

    def on_event(event: Telegram | DroppedFrame) -> None:
        if result.done():
            return
        if isinstance(event, Telegram):
            if event.meter_id is not None:
                result.set_result(ProbeResult(event))
            elif not best:
                best.append(event)
        elif event.reason in (DropReason.KEY_MISSING, DropReason.KEY_REJECTED):
            result.set_result(ProbeResult(key_problem=event.reason, ciphering=event.ciphering))

    protocol = _DecoderProtocol(Decoder(key, auth_key), on_event)
    transport = await open_connection(url, line, _factory(protocol))
    try:
        return await asyncio.wait_for(asyncio.shield(result), seconds)
    except TimeoutError:
        return ProbeResult(best[0] if best else None)
    finally:
        transport.close()
