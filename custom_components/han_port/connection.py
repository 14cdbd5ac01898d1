"""Reading a meter: serial port or network bridge, bytes into the decoder.

Nothing here imports Home Assistant: the reader takes callbacks, so the
coordinator decides what a telegram or an outage means for entities.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serialx import Parity, SerialException, StopBits, create_serial_connection

from .const import BRIDGE_SCHEME, LOGGER
from .decoder import Decoder, DroppedFrame, DropReason, Telegram, is_bare_ciphered
from .open_errors import OpenError, PortFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from .decoder import Ciphering

# A pause this long ends a push: a meter sends each push's bytes without one (at 2400 baud, one every 4 ms),
# and its pushes seconds apart.
QUIET_SECONDS = 0.5
# What opening a port raises when it cannot be opened (ValueError: a malformed URL).
OPEN_FAILURES = (OSError, SerialException, ValueError)
# Reconnect backoff after an open error or a disconnect (after silence the port opens again at once).
BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
# No valid telegram for three push intervals, but never less than this, means
# the meter, the cable or the network bridge is gone.
MIN_SILENCE = 30.0
SILENCE_INTERVALS = 3
# The longest usual interval kept over a restart: a meter's slowest push comes every 15 minutes (a minute's slack).
MAX_RECALLED_INTERVAL = 16 * 60.0
# A bridge serving another client hangs up at once; one that closes a connection held longer without a telegram
# has an idle timer, and the meter is what is silent.
HANG_UP_WITHIN = 5.0
# A bridge that kept the meter's last list hands it over as a connection opens: a telegram later than this
# was sent by the meter, while the connection held (one kept, a dead meter's, is no sign of it).
REPLAY_WITHIN = 1.0
# How long closing a port may take before it is taken as closed.
CLOSE_SECONDS = 2.0
# Bytes that begin a push, at any line settings (a 115200-baud push read at 2400 baud makes about two): one byte
# alone is a glitch, as a cable plugged in or an adapter powering up makes.
PUSH_BYTES = 2


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
# Aidon and Kaifa in Norway (8E1), Kamstrup (8N1), then P1 speeds; last the
# oldest P1 ports (DSMR 2.2 and 3), which send seven-bit ASCII at 9600 7E1.
COMMON_LINE_SETTINGS = (
    LineSettings(2400, "E"),
    LineSettings(2400, "N"),
    LineSettings(9600, "N"),
    LineSettings(115200, "N"),
    LineSettings(9600, "E", 7),
)


def network_url(host: str, port: int) -> str:
    """Return the serialx URL of a raw TCP serial bridge."""
    return f"{BRIDGE_SCHEME}[{host}]:{port}" if ":" in host else f"{BRIDGE_SCHEME}{host}:{port}"


# Linux gives pseudo-terminal slaves (/dev/pts/N) these device majors.
_PTY_MAJORS = range(136, 144)


def is_pseudo_terminal(path: str) -> bool:
    """Whether path is a pseudo-terminal (a simulator, socat, ser2net's local end), not a UART.

    A pty has no line: it passes bytes whatever the parity, and refuses to
    be set to even parity a second time, so it is opened as 8N1.
    """
    try:
        mode = Path(path).stat()
    except OSError:
        return False
    return stat.S_ISCHR(mode.st_mode) and os.major(mode.st_rdev) in _PTY_MAJORS


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


def _character_bits(line: LineSettings) -> bytes | None:
    """Return a table that keeps a character's own bits on a line of fewer than eight; None on a line of eight.

    A seven-bit line's eighth bit is no data: where an adapter hands over the parity bit in its place, it goes.
    """
    mask = (1 << line.bytesize) - 1
    every_byte = range(256)
    return None if mask >= every_byte[-1] else bytes(byte & mask for byte in every_byte)


def _factory(protocol: asyncio.Protocol) -> Callable[[], asyncio.Protocol]:
    return lambda: protocol


class _DecoderProtocol(asyncio.Protocol):
    """Feeds every chunk straight into the decoder; reports each event at once."""

    def __init__(
        self, decoder: Decoder, on_event: Callable[[Telegram | DroppedFrame], None], line: LineSettings
    ) -> None:
        self._decoder = decoder
        self._on_event = on_event
        self._character_bits = _character_bits(line)
        self.received = 0
        """Bytes that arrived, valid or not."""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._quiet: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self._character_bits is not None:
            data = data.translate(self._character_bits)
        for event in self._decoder.feed_events(data):
            self._on_event(event)
        if self._quiet is not None:
            self._quiet.cancel()
        self._quiet = asyncio.get_running_loop().call_later(QUIET_SECONDS, self._fell_quiet)

    def _fell_quiet(self) -> None:
        self._quiet = None
        for event in self._decoder.quiet():
            self._on_event(event)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - any loss counts
        if self._quiet is not None:
            self._quiet.cancel()
        # A frame cut by the loss is never finished by bytes of the next connection.
        for event in self._decoder.finish():
            self._on_event(event)
        if not self.closed.done():
            self.closed.set_result(None)


# The drops the coordinator acts on: keys that do not open the frames, a list still being learned, values
# no household has, and frames sent again (which tell why a meter that sends shows nothing).
# Drops of bytes no frame's checksum vouched for: what a line at the wrong settings, or noise, carries.
_LINE_DAMAGE = frozenset({DropReason.BAD_CHECKSUM, DropReason.UNDECODABLE})
_REPORTED_DROPS = frozenset(
    {DropReason.KEY_MISSING, DropReason.KEY_REJECTED, DropReason.LEARNING, DropReason.IMPLAUSIBLE, DropReason.REPLAYED}
)


class Loss(StrEnum):
    """Why a meter counts as gone, as the connection sensor names it."""

    CANNOT_OPEN = "cannot_open"
    CLOSED = "closed"
    SILENT = "silent"
    WRONG_KEYS = "wrong_keys"
    """Its telegrams come and pass their checksums, but the keys do not open them (the coordinator tells)."""
    IMPLAUSIBLE = "implausible"
    """Its telegrams come and pass their checksums, but carry values no household has (the coordinator tells)."""
    REPLAYED = "replayed"
    """Its frames open and are authentic, but repeat counters already taken: sent again (the coordinator tells)."""
    READ_ELSEWHERE = "read_elsewhere"
    """Its port carries a meter another entry reads (the coordinator tells)."""
    OTHER_METER = "other_meter"
    """The last telegrams on its port were another meter's, not (yet) taken for its successor (the coordinator says)."""


class TelegramWatch:
    """What every reader shares: events in, telegrams out, availability from silence."""

    silent_issue = "meter_silent"
    """The repair issue raised when the source opens but no valid telegram comes."""
    unreachable_issue = "port_unavailable"
    """The repair issue raised when the source does not open (open_error says why)."""
    reconnects = f"the connection is tried again at least every {BACKOFF_MAX:.0f} s"
    """How the source comes back once it could not be opened, or closed (for the log)."""

    def __init__(
        self,
        url: str,
        decoder: Decoder,
        on_telegram: Callable[[Telegram], bool],
        on_available: Callable[[bool], None],
        *,
        on_drop: Callable[[DroppedFrame], None] | None = None,
    ) -> None:
        """Decode what arrives at url, pushing telegrams to on_telegram, which says whether one was the meter's."""
        self.url = url
        self.decoder = decoder
        self._on_telegram = on_telegram
        self._on_available = on_available
        self._on_drop = on_drop
        self._available: bool | None = None
        self._last_telegram = 0.0
        self._intervals: deque[float] = deque(maxlen=10)
        self._recalled = 0.0
        self.last_telegrams: deque[Telegram] = deque(maxlen=5)
        """The last few telegrams, for diagnostics."""
        self.last_learning: deque[DroppedFrame] = deque(maxlen=3)
        """The last few pushes of a list still being learned: a masked capture for a bug report."""
        self.connects = 0
        """How many times the connection was opened (or the topic subscribed)."""
        self.open_error: OpenError | None = None
        """Why the connection did not open the last time it was tried (None: it opened)."""
        self.lost = ""
        """Why the meter last counted as gone: the connection refused or closed, or silence."""
        self.loss: Loss | None = None
        """The kind of that reason, for the connection sensor (None: the meter was never lost)."""
        self.hung_up = 0
        """Connections in a row the far end closed before any telegram: a bridge that serves another client."""
        self.unread_bytes = 0
        """Bytes the last connection to end carried, silent and without a frame: a line not at the meter's settings."""
        self._framed = False
        """Whether a frame that passed its checksum came on this connection (a telegram, or one refused)."""
        self._reported_cause: tuple[Loss | None, PortFailure | None] | None = None

    @property
    def usual_interval(self) -> float:
        """The meter's usual time between telegrams, in seconds (0: none known yet).

        The longest of the last intervals but one: an outage the meter came
        back from is one gap, no interval of the meter's, and must neither
        stretch the next silence nor let power be integrated across it. Until
        two are seen, the one kept from before a restart stands in for the
        other (the shorter of the two counts).
        """
        intervals = sorted(self._intervals)
        if len(intervals) > 1:
            return intervals[-2]
        return min((*intervals, self._recalled), default=0.0) if self._recalled else max(intervals, default=0.0)

    @property
    def kept_interval(self) -> float:
        """The interval a restart recalls: the usual one once two intervals were seen, else the one recalled."""
        return self.usual_interval if len(self._intervals) > 1 else self._recalled

    @property
    def silence_timeout(self) -> float:
        """How long without a valid telegram before the meter counts as gone."""
        return max(MIN_SILENCE, SILENCE_INTERVALS * self.usual_interval)

    def recall_interval(self, seconds: float) -> None:
        """Take the meter's usual interval kept from before a restart (see usual_interval).

        A meter that pushes only every 15 minutes is not taken for gone between its first two pushes.
        """
        if 0 < seconds <= MAX_RECALLED_INTERVAL:
            self._recalled = seconds

    def _event(self, event: Telegram | DroppedFrame) -> None:
        self._framed = self._framed or not isinstance(event, DroppedFrame) or event.reason not in _LINE_DAMAGE
        if isinstance(event, DroppedFrame):
            LOGGER.debug("Dropped a frame (%s): %s", event.reason, event.detail)
            if event.reason is DropReason.LEARNING:
                # The meter sends, and its list is being learned: it is heard, not silent.
                self.last_learning.append(event)
                self._heard()
            if event.reason in _REPORTED_DROPS and self._on_drop:
                self._on_drop(event)
            return
        self.last_telegrams.append(event)
        # Another meter's telegrams (a stray frame, a second meter on the topic) keep no silence of this one's.
        if self._on_telegram(event):
            self._heard()

    def _heard(self) -> None:
        """Note that the meter sent something it owns: the silence watch counts from now."""
        now = time.monotonic()
        if self._last_telegram:
            self._intervals.append(now - self._last_telegram)
        self._last_telegram = now
        self._set_available(available=True)

    def _set_available(self, *, available: bool) -> None:
        # Report changes only, of availability or of the cause of its loss (down to the kind of failure to open,
        # which its repair tells): the coordinator logs each loss once.
        failure = None if self.open_error is None else self.open_error.failure
        cause = None if available else (self.loss, failure)
        if available != self._available or cause != self._reported_cause:
            self._available, self._reported_cause = available, cause
            self._on_available(available)

    async def run(self) -> None:
        """Read until cancelled."""
        raise NotImplementedError

    async def pause(self) -> None:
        """Let go of the source until resume(), so a config flow can listen to it.

        A source that serves every listener (an MQTT topic) has nothing to let go.
        """

    def resume(self) -> None:
        """Take the source back after pause()."""

    @property
    def paused(self) -> bool:
        """Whether a flow holds the source."""
        return False


@dataclass(frozen=True, slots=True)
class _Held:
    """What one connection did, for what comes next."""

    delivered: bool
    """A telegram came on it."""
    hung_up: bool
    """The far end closed it within seconds, before any telegram: a bridge that serves another client."""
    heard_while_held: bool
    """A telegram came after it opened and before it ended, not only as it opened (a bridge's kept list)."""


class MeterReader(TelegramWatch):
    """One meter connection, kept open forever: reconnects with backoff, notices silence."""

    def __init__(  # noqa: PLR0913 - each callback is one thing the reader reports
        self,
        url: str,
        line: LineSettings,
        decoder: Decoder,
        on_telegram: Callable[[Telegram], bool],
        on_available: Callable[[bool], None],
        *,
        on_drop: Callable[[DroppedFrame], None] | None = None,
    ) -> None:
        """Read url with the given line settings, pushing telegrams to on_telegram."""
        super().__init__(url, decoder, on_telegram, on_available, on_drop=on_drop)
        self.line = line
        self._transport: asyncio.BaseTransport | None = None
        # Held while the port is open; set while the reader may open it.
        self._port = asyncio.Lock()
        self._may_open = asyncio.Event()
        self._may_open.set()

    async def pause(self) -> None:
        """Let go of the port until resume(), so a config flow can listen on it.

        Serial ports are locked by whoever opens them, and most network
        bridges serve one client: the flow would find the port busy otherwise.
        The meter does not count as gone meanwhile.
        """
        self._may_open.clear()
        if self._transport is not None:
            self._transport.close()
        async with self._port:
            pass

    def resume(self) -> None:
        """Take the port back after pause()."""
        self._may_open.set()

    @property
    def paused(self) -> bool:
        """Whether a flow holds the port."""
        return not self._may_open.is_set()

    async def run(self) -> None:
        """Read until cancelled, reconnecting after any failure."""
        backoff = BACKOFF_START
        while True:
            await self._may_open.wait()
            async with self._port:
                if not self._may_open.is_set():
                    continue  # paused between the wait and the lock: the port is the flow's
                held = await self._hold_once()
            if self.paused:
                backoff = BACKOFF_START
                continue
            if held.delivered:
                backoff = BACKOFF_START
            if self.loss is not Loss.CANNOT_OPEN:  # a port that did not open is no connection hung up
                self.hung_up = self.hung_up + 1 if held.hung_up else 0
            if self.loss is Loss.CLOSED and held.heard_while_held:
                # A bridge that drops its connection while the meter sends (a Wi-Fi reader, ser2net restarting):
                # opened again a second later, the meter counts as gone only if that fails, or the port stays
                # silent. A list only handed over as the connection opened may be a dead meter's, kept.
                await asyncio.sleep(BACKOFF_START)
                continue
            self._set_available(available=False)
            if self.loss is Loss.SILENT:
                # The port opened, and the silence itself was the wait: opened again at once, it hears the
                # meter the moment it speaks again (an hourly list may be the first thing it says).
                backoff = BACKOFF_START
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _hold_once(self) -> _Held:
        """Open the port and read it until it closes, goes silent or is paused; say what the connection did."""
        try:
            protocol = _DecoderProtocol(self.decoder, self._event, self.line)
            transport = await open_connection(self.url, self.line, _factory(protocol))
        except OPEN_FAILURES as err:
            LOGGER.debug("Cannot open %s: %s", self.url, err)
            self.open_error = OpenError.of(err, self.url)
            self.lost, self.loss = f"cannot open it ({self.open_error})", Loss.CANNOT_OPEN
            self.unread_bytes = 0
            return _Held(delivered=False, hung_up=False, heard_while_held=False)
        self.open_error = None
        self.connects += 1
        opened = time.monotonic()
        self._framed = False
        delivered = await self._watch(protocol, transport, opened)
        if self.loss is not Loss.SILENT:
            self.unread_bytes = 0  # the last connection to end tells: one closed is no noise
        return _Held(
            delivered=delivered,
            hung_up=self.loss is Loss.CLOSED and not delivered and time.monotonic() - opened < HANG_UP_WITHIN,
            heard_while_held=self._last_telegram > opened + REPLAY_WITHIN,
        )

    async def _watch(self, protocol: _DecoderProtocol, transport: asyncio.BaseTransport, opened: float) -> bool:
        """Wait until the connection closes, goes silent or is paused; close it; say if it delivered."""
        self._transport = transport
        try:
            while not self.paused:
                last = max(self._last_telegram, opened)
                remaining = last + self.silence_timeout - time.monotonic()
                if remaining <= 0:
                    self.unread_bytes = 0 if self._framed else protocol.received
                    came = f", though {self.unread_bytes} bytes came" if self.unread_bytes else ""
                    self.lost = f"no valid telegram for {self.silence_timeout:.0f} s{came}"
                    self.loss = Loss.SILENT
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(protocol.closed), remaining)
                if protocol.closed.done():
                    self.lost, self.loss = "the connection was closed", Loss.CLOSED
                    break
        finally:
            self._transport = None
            await _close(transport, protocol.closed)
        return self._last_telegram > opened


async def _close(transport: asyncio.BaseTransport, closed: asyncio.Future[None]) -> None:
    """Close a connection and wait until the port is let go (a serial port's lock with it): closed tells."""
    transport.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(closed), CLOSE_SECONDS)


class _Closing(asyncio.Protocol):
    """Tells when a connection opened only to be checked is let go: serialx lets a port's lock go after close."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - any loss counts
        if not self.closed.done():
            self.closed.set_result(None)


async def check_opens(url: str, line: LineSettings) -> None:
    """Open a port once and close it, raising what opening raised; return once it is let go, to be opened again."""
    protocol = _Closing()
    transport = await open_connection(url, line, _factory(protocol))
    await _close(transport, protocol.closed)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What listening to a port for a while told us."""

    telegram: Telegram | None = None
    """The first telegram that names its meter (or, failing that, any telegram)."""
    key_problem: DropReason | None = None
    ciphering: Ciphering | None = None
    p1_port: bool = False
    """The ciphered APDUs came bare, as DSMR 5 P1 ports send them: their authentication key may be the published one."""
    received: int = 0
    """Bytes that arrived: none (or one, see PUSH_BYTES) means a silent line, more without a telegram a garbled one."""
    closed: bool = False
    """The other end closed the connection (a bridge that already serves a client does)."""
    opened: bool = True
    """False when the port would not open or the bridge could not be reached."""
    learning: bool = False
    """The meter sends a list of bare values no table knows: it is learned from its physics once set up."""
    implausible: bool = False
    """Telegrams that passed their checksums came, each with a value no household has: the line is right."""

    @property
    def pushed(self) -> bool:
        """Whether something pushed: bytes enough for a push at any line settings, not a glitch (see PUSH_BYTES)."""
        return self.received >= PUSH_BYTES


class Listener:
    """What listening for a meter heard: the first telegram that names it, or a key problem."""

    def __init__(self, key: bytes | None = None, auth_key: bytes | None = None) -> None:
        """Listen with the keys to try (none for a meter in plain)."""
        self.decoder = Decoder(key, auth_key)
        self.heard: asyncio.Future[ProbeResult] = asyncio.get_running_loop().create_future()
        """Done when listening may stop: a telegram with the meter id, or a key problem."""
        self._best: Telegram | None = None
        self._implausible = False

    def event(self, event: Telegram | DroppedFrame) -> None:
        """Take one decoded event."""
        if self.heard.done():
            return
        if isinstance(event, Telegram):
            if event.meter_id is not None:
                self.heard.set_result(ProbeResult(event))
            elif self._best is None:
                self._best = event
        elif event.reason in (DropReason.KEY_MISSING, DropReason.KEY_REJECTED):
            p1_port = is_bare_ciphered(event.raw)
            self.heard.set_result(ProbeResult(key_problem=event.reason, ciphering=event.ciphering, p1_port=p1_port))
        elif event.reason is DropReason.LEARNING:
            self.heard.set_result(ProbeResult(learning=True))
        elif event.reason is DropReason.IMPLAUSIBLE:
            self._implausible = True  # a telegram that holds together may still come

    def result(self, received: int, *, closed: bool = False) -> ProbeResult:
        """Say what was heard in all, once listening stopped: a telegram without an id if nothing better came."""
        if self.heard.done():
            return replace(self.heard.result(), received=received)
        implausible = self._best is None and self._implausible
        return ProbeResult(self._best, received=received, closed=closed, implausible=implausible)


async def probe(  # noqa: PLR0913 - where, how, how long, with which keys, and for what
    url: str,
    line: LineSettings,
    seconds: float,
    key: bytes | None = None,
    auth_key: bytes | None = None,
    *,
    after_first_push: float | None = None,
) -> ProbeResult:
    """Listen on url until a checksum-valid telegram, or a ciphered frame, arrives.

    Waits for a telegram that carries the meter id (the short lists do not)
    until `seconds` pass; a telegram without one is returned if nothing better came.
    after_first_push: listening for a meter that pushes seldom ends this long after its first push (see
    wait_for_meter).
    Returns early when the other end closes the connection.
    Raises one of OPEN_FAILURES when the port cannot be opened.
    """
    listener = Listener(key, auth_key)
    protocol = _DecoderProtocol(listener.decoder, listener.event, line)
    transport = await open_connection(url, line, _factory(protocol))
    try:
        await wait_for_meter(listener, seconds, lambda: protocol.received, protocol.closed, after_first_push)
        closed_by_peer = protocol.closed.done()
    finally:
        await _close(transport, protocol.closed)
    return listener.result(protocol.received, closed=closed_by_peer)


async def wait_for_meter(
    listener: Listener,
    seconds: float,
    received: Callable[[], int],
    closed: asyncio.Future[None] | None = None,
    after_first_push: float | None = None,
) -> None:
    """Wait until the listener heard enough, the other end closed, or seconds passed.

    after_first_push: the meter may push seldom (every 15 minutes): the waiting ends this long after its first
    push began (PUSH_BYTES), as a listening for a meter that pushes every few seconds would, with the best it
    heard: the telegram that names the meter, one that names none, or bytes at other line settings.
    """
    loop = asyncio.get_running_loop()
    ends = loop.time() + seconds
    ended: set[asyncio.Future[Any]] = {listener.heard} if closed is None else {listener.heard, closed}
    pushed = False
    while (left := ends - loop.time()) > 0:
        # Until a push began, its bytes are looked for every second (they make no event of their own).
        step = left if after_first_push is None or pushed else min(left, 1.0)
        done, _ = await asyncio.wait(ended, timeout=step, return_when=asyncio.FIRST_COMPLETED)
        if done or after_first_push is None or pushed:
            return
        if received() >= PUSH_BYTES:
            pushed = True
            ends = loop.time() + after_first_push  # a push begun near the end is heard out
