"""Listening for a meter where the config flow points: one line setting after another, shown as progress.

The entry being reconfigured or reauthenticated lets go of its port while
the flow listens (serial ports are locked by whoever opens them, and most
network bridges serve one client), and gets it back when the flow is done.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import serialx
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT

from .connection import HANG_UP_WITHIN, LineSettings, ProbeResult, probe
from .const import CONF_DEVICE, CONF_LIST_VERSION, CONF_MANUFACTURER, CONF_METER_TYPE, CONF_TOPIC, DOMAIN, LOGGER
from .entry import entry_keys, entry_url, line_settings_data
from .mqtt_reader import probe_topic
from .open_errors import OpenError, PortFailure

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import HanPortConfigEntry
    from .decoder import Telegram

# How long to listen per line setting for a telegram that names the meter:
# the lists that carry the meter id come every 10 s.
PROBE_SECONDS = 12.0
# How long to listen, when asked, for a meter that pushes only every 15 minutes (a Slovenian AM550's energy list).
PATIENT_PROBE_SECONDS = 16 * 60.0
# How long a listening lasts at least. The frontend hears that a progress
# ended only once it has subscribed to hear it, a moment after it shows the
# progress: one that ended before (a bridge that refuses at once, a serial
# port that is not there) would be shown as listening for good.
SHORTEST_LISTENING_SECONDS = 2.0


def patient_minutes() -> str:
    """Say how many minutes a patient listening lasts at most, as the texts that offer and show it do."""
    return str(round(PATIENT_PROBE_SECONDS / 60))


class Listening:
    """Where the flow listens, with which line settings, and what it heard."""

    def __init__(self) -> None:
        """Start with nowhere to listen."""
        self.connection: dict[str, Any] = {}
        """Where the meter is: its port, bridge or topic, as the entry stores it."""
        self.candidates: tuple[LineSettings, ...] = ()
        self.attempt = 0
        self.patient = False
        """Whether to listen for a meter that pushes seldom: up to PATIENT_PROBE_SECONDS a line setting (see probe)."""
        self.waited = False
        """Whether the finished listening was a patient one: a silence after it is told, and no wait offered again."""
        self.heard = ProbeResult()
        self.error = OpenError(PortFailure.OTHER, "")
        """Why the port or bridge did not open, the last time it was tried."""
        self._task: asyncio.Task[ProbeResult] | None = None
        self._paused: list[HanPortConfigEntry] = []

    @property
    def line(self) -> LineSettings:
        """The line settings listened with now."""
        return self.candidates[self.attempt]

    def address(self) -> str:
        """Say where the flow listens, as the user wrote it."""
        if CONF_TOPIC in self.connection:
            return str(self.connection[CONF_TOPIC])
        if CONF_HOST in self.connection:
            return f"{self.connection[CONF_HOST]}:{self.connection[CONF_PORT]}"
        return str(self.connection.get(CONF_DEVICE, ""))

    def listen(
        self, hass: HomeAssistant, keys: dict[str, str], entries: tuple[HanPortConfigEntry, ...]
    ) -> asyncio.Task[ProbeResult]:
        """Return the listening in progress, started with the current line settings if none is.

        entries are those whose readers let go of their ports meanwhile: the
        flow's own, and the one whose address it takes in exchange for its own.
        """
        if self._task is None:
            self._task = hass.async_create_task(
                self._listen(hass, self.line, keys, entries), f"{DOMAIN} config flow listening"
            )
        return self._task

    def progress(self) -> tuple[str, dict[str, str]]:
        """Name the progress shown, and what it says: where, with which line settings, which attempt."""
        if CONF_TOPIC in self.connection:
            action = "listen_mqtt"
        else:
            action = "listen_bridge" if CONF_HOST in self.connection else "listen_serial"
        action = f"{action}_patiently" if self.patient else action
        placeholders = {
            "address": self.address(),
            "line": str(self.line),
            "attempt": str(self.attempt + 1),
            "attempts": str(len(self.candidates)),
        }
        return action, placeholders | ({"minutes": patient_minutes()} if self.patient else {})

    def next_attempt(self) -> bool:
        """Take what the finished listening heard; True when the next line settings are worth a try."""
        if self._task is None:
            return False
        heard = self._task.result()
        self._task = None
        garbled = (
            heard.pushed
            and heard.telegram is None
            and heard.key_problem is None
            and not (heard.learning or heard.implausible)
        )
        if garbled and not heard.closed and self.attempt + 1 < len(self.candidates):
            # Bytes that make no frame: the line settings may be wrong, try the next.
            self.attempt += 1
            return True
        self.heard = heard
        # Whatever comes next (keys asked for, a form shown again) listens as usual, unless asked again.
        self.waited, self.patient = self.patient, False
        return False

    async def _listen(
        self, hass: HomeAssistant, line: LineSettings, keys: dict[str, str], entries: tuple[HanPortConfigEntry, ...]
    ) -> ProbeResult:
        """Listen once, for SHORTEST_LISTENING_SECONDS at least."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + SHORTEST_LISTENING_SECONDS
        heard = await self._listen_once(hass, line, keys, entries)
        await asyncio.sleep(max(0.0, ends - loop.time()))
        return heard

    async def _listen_once(
        self, hass: HomeAssistant, line: LineSettings, keys: dict[str, str], entries: tuple[HanPortConfigEntry, ...]
    ) -> ProbeResult:
        """Listen once; a port that does not open is a result too, not an exception."""
        for entry in entries:
            if entry not in self._paused and entry.state is ConfigEntryState.LOADED:
                # Noted first: a flow closed while the port is being let go still gives it back.
                self._paused.append(entry)
                await entry.runtime_data.reader.pause()
        key, auth_key = entry_keys(dict(keys))
        # A patient listening ends as a usual one does once the meter's first push began.
        seconds, after_first_push = (PATIENT_PROBE_SECONDS, PROBE_SECONDS) if self.patient else (PROBE_SECONDS, None)
        if CONF_TOPIC in self.connection:
            topic = self.connection[CONF_TOPIC]
            return await probe_topic(hass, topic, seconds, key, auth_key, after_first_push=after_first_push)
        loop = asyncio.get_running_loop()
        ends = loop.time() + seconds
        try:
            while True:
                opened = loop.time()
                heard = await probe(
                    entry_url(self.connection), line, ends - opened, key, auth_key, after_first_push=after_first_push
                )
                # A bridge with an idle timer closes a connection the meter is silent on: opened again, the wait
                # goes on (one that closes at once serves another client).
                idle_closed = heard.closed and not heard.pushed and loop.time() - opened > HANG_UP_WITHIN
                if not (self.patient and idle_closed and loop.time() < ends):
                    return heard
        except (OSError, serialx.SerialException, ValueError) as err:
            LOGGER.debug("Cannot open %s: %s", self.address(), err)
            self.error = OpenError.of(err, entry_url(self.connection))
            return ProbeResult(opened=False)

    def meter_data(self, telegram: Telegram | None, keys: dict[str, str], known_line: LineSettings) -> dict[str, Any]:
        """Say what an entry stores of the meter heard: where and how it was heard, its keys, and its name.

        A meter whose list is still to be learned (no telegram yet) is named by nothing it sent.
        """
        line = self.line if self.candidates else known_line
        return {
            **self.connection,
            **keys,
            # A topic has no line: the reader on the meter's side owns it.
            **({} if CONF_TOPIC in self.connection else line_settings_data(line)),
            CONF_MANUFACTURER: telegram.manufacturer if telegram else None,
            CONF_METER_TYPE: telegram.meter_type if telegram else None,
            CONF_LIST_VERSION: telegram.list_version if telegram else None,
        }

    def silent(self) -> bool:
        """Whether the port, bridge or topic opened and nothing that could be a push came (see PUSH_BYTES)."""
        return self.heard.opened and not self.heard.pushed and not self.heard.closed

    def error_kind(self) -> str:  # noqa: PLR0911 - one answer for each thing the user does differently about
        """Name what went wrong, as the user does something different about each."""
        heard = self.heard
        bridge = CONF_HOST in self.connection
        if heard.implausible:
            return "implausible_values"
        if CONF_TOPIC in self.connection:
            if not heard.opened:
                return "broker_unreachable"
            return "topic_garbled" if heard.pushed else "topic_silent"
        if not heard.opened:
            return str(self.error.failure)
        if heard.closed and not heard.pushed:
            return "bridge_closed"
        if not heard.pushed:
            return "bridge_silent" if bridge else "nothing_received"
        return "bridge_garbled" if bridge else "no_valid_telegram"

    def resume_reader(self) -> None:
        """Give the ports back to the paused entries' readers (unless unloaded meanwhile)."""
        for entry in self._paused:
            if entry.state is ConfigEntryState.LOADED:
                entry.runtime_data.reader.resume()
        self._paused = []

    def hand_over(self) -> None:
        """Leave the paused readers to their entries' reloads.

        Resumed, they would open the ports again just as the reloads close them.
        """
        self._paused = []

    def stop(self) -> None:
        """Stop listening and give the port back: the flow ended, or the user closed it."""
        if self._task is not None:
            self._task.cancel()
        self.resume_reader()
