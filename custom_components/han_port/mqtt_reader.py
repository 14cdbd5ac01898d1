"""Reading a meter through an MQTT topic, with Home Assistant's own MQTT integration.

HAN readers that publish to a broker (a Tibber Pulse on a local broker, an
AMS reader in raw mode, ESPHome or Tasmota bridges) put the meter's frames
in messages: each one goes to the decoder's feed_message, which finds the
payload's shape by itself. No MQTT client of our own: the subscription is
Home Assistant's, so its broker settings, reconnects and TLS serve us too.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback

from .connection import (
    BACKOFF_MAX,
    BACKOFF_START,
    QUIET_SECONDS,
    Listener,
    Loss,
    ProbeResult,
    TelegramWatch,
    wait_for_meter,
)
from .decoder import Decoder, DropReason, Telegram
from .open_errors import OpenError, PortFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.components.mqtt import ReceiveMessage
    from homeassistant.helpers.service_info.mqtt import ReceivePayloadType

    from .decoder import DroppedFrame

_WILDCARDS = ("+", "#")
_MAX_TOPIC_BYTES = 65535


MQTT_SCHEME = "mqtt:"


def topic_url(topic: str) -> str:
    """Name a topic where a serial port's path or a bridge's URL would be named (logs, messages, discovery)."""
    return f"{MQTT_SCHEME}{topic}"


def valid_topic(topic: str) -> bool:
    """Whether topic is an MQTT topic filter one can subscribe to (MQTT 3.1.1, 4.7).

    Not mqtt.valid_subscribe_topic: it raises voluptuous' Invalid on 2025.4
    and probatio's on the newest release, which no one except clause catches.
    """
    if not topic or "\0" in topic or len(topic.encode()) > _MAX_TOPIC_BYTES:
        return False
    levels = topic.split("/")
    for index, level in enumerate(levels):
        # A wildcard fills a whole level; '#' only the last one.
        if any(wildcard in level for wildcard in _WILDCARDS) and level not in _WILDCARDS:
            return False
        if level == "#" and index != len(levels) - 1:
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether a subscription to topic_filter receives what is published to topic (MQTT 3.1.1, 4.7)."""
    levels, wanted = topic.split("/"), topic_filter.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or level not in ("+", levels[index]):
            return False
    return len(levels) == len(wanted)


def holds_meter_data(payload: ReceivePayloadType) -> bool:
    """Whether one message holds a meter's telegram, or a ciphered one (its keys are asked for later)."""
    decoder = Decoder()
    # Alone, the message is followed by quiet: a P1 telegram whose line end was stripped ends with it.
    events = [*decoder.feed_message(_bytes(payload)), *decoder.quiet()]
    return any(isinstance(event, Telegram) or event.reason is DropReason.KEY_MISSING for event in events)


async def async_mqtt_ready(hass: HomeAssistant) -> bool:
    """Whether Home Assistant's MQTT integration is set up (waiting while it is being set up)."""
    return await mqtt.async_wait_for_mqtt_client(hass)


def mqtt_may_be_ready(hass: HomeAssistant) -> bool:
    """Whether Home Assistant's MQTT integration is set up, or being set up: no waiting, unlike async_mqtt_ready."""
    return any(
        entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
        for entry in hass.config_entries.async_entries(mqtt.DOMAIN)
        if entry.disabled_by is None
    )


def broker_connected(hass: HomeAssistant) -> bool:
    """Whether Home Assistant's MQTT client is connected to its broker now."""
    try:
        return mqtt.is_connected(hass)
    except KeyError:  # the MQTT integration was unloaded
        return False


def _payload(message: ReceiveMessage) -> bytes:
    """Return a message's payload as bytes (subscribed without an encoding, it is; the type allows text)."""
    return _bytes(message.payload)


def _bytes(payload: ReceivePayloadType) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)


class QuietWatch:
    """Tells a decoder when its topic fell quiet, as a line's silence does.

    A P1 telegram whose line end the reader stripped ends then, not a push
    later with the next one.
    """

    def __init__(self, decoder: Decoder, on_event: Callable[[Telegram | DroppedFrame], None]) -> None:
        """Watch for the decoder; what the quiet ends goes to on_event."""
        self._decoder = decoder
        self._on_event = on_event
        self._timer: asyncio.TimerHandle | None = None

    def heard(self) -> None:
        """Note a message: the quiet counts from now."""
        self.cancel()
        self._timer = asyncio.get_running_loop().call_later(QUIET_SECONDS, self._fell_quiet)

    def cancel(self) -> None:
        """Stop watching (the subscription ends)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fell_quiet(self) -> None:
        self._timer = None
        for event in self._decoder.quiet():
            self._on_event(event)


class MqttReader(TelegramWatch):
    """A meter's topic, subscribed for good: each message is decoded; silence makes the meter unavailable.

    Home Assistant's MQTT client keeps the subscription across broker
    restarts; the reader only watches that telegrams keep coming.
    """

    silent_issue = "topic_silent"
    unreachable_issue = "broker_unavailable"
    reconnects = "it is read again once Home Assistant's MQTT client is connected to the broker"

    def __init__(  # noqa: PLR0913 - each callback is one thing the reader reports
        self,
        hass: HomeAssistant,
        topic: str,
        decoder: Decoder,
        on_telegram: Callable[[Telegram], bool],
        on_available: Callable[[bool], None],
        *,
        on_drop: Callable[[DroppedFrame], None] | None = None,
    ) -> None:
        """Subscribe to topic when run, pushing telegrams to on_telegram."""
        super().__init__(topic_url(topic), decoder, on_telegram, on_available, on_drop=on_drop)
        self.topic = topic
        self.hass = hass
        self.messages = 0
        """Messages that arrived on the topic, valid or not."""
        self._mid_frame_on: str | None = None
        """The topic whose messages began a frame that waits for its rest (under a wildcard, one of several)."""
        self._quiet = QuietWatch(decoder, self._event)

    @callback
    def _message(self, message: ReceiveMessage) -> None:
        self.messages += 1
        if message.retain:
            # Kept by the broker and handed over as the subscription began (at every restart and reconnect):
            # the past, not the meter now. Live messages come unflagged, however they were published.
            return
        if self._mid_frame_on not in (None, message.topic):
            # A reader's status on a sibling topic, between the pieces of a frame split over messages, would
            # cut the frame: a frame's pieces join only with each other.
            return
        for event in self.decoder.feed_message(_payload(message)):
            self._event(event)
        self._mid_frame_on = message.topic if self.decoder.awaits_rest else None
        self._quiet.heard()

    async def run(self) -> None:
        """Subscribe, then watch for silence until cancelled."""
        backoff = BACKOFF_START
        while not await async_mqtt_ready(self.hass):
            self.open_error = OpenError(PortFailure.OTHER, "Home Assistant's MQTT integration is not set up")
            self.lost, self.loss = str(self.open_error), Loss.CANNOT_OPEN
            self._set_available(available=False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        unsubscribe = await mqtt.async_subscribe(self.hass, self.topic, self._message, qos=0, encoding=None)
        self.connects += 1
        self.open_error = None
        subscribed = time.monotonic()
        try:
            while True:
                remaining = max(self._last_telegram, subscribed) + self.silence_timeout - time.monotonic()
                if remaining > 0:
                    await asyncio.sleep(remaining)
                    continue
                # The repair issue says which: the broker is out of reach, or the topic is quiet.
                broker_out_of_reach = OpenError(PortFailure.OTHER, "not connected to the MQTT broker")
                self.open_error = None if broker_connected(self.hass) else broker_out_of_reach
                self.lost = str(self.open_error or f"no valid telegram on the topic for {self.silence_timeout:.0f} s")
                self.loss = Loss.SILENT if self.open_error is None else Loss.CANNOT_OPEN
                self._mid_frame_on = None  # the rest of that frame will not come now
                self._set_available(available=False)
                await asyncio.sleep(self.silence_timeout)
        finally:
            unsubscribe()
            self._quiet.cancel()


async def probe_topic(  # noqa: PLR0913 - where, how long, with which keys, and for what
    hass: HomeAssistant,
    topic: str,
    seconds: float,
    key: bytes | None = None,
    auth_key: bytes | None = None,
    *,
    after_first_push: float | None = None,
) -> ProbeResult:
    """Listen on topic until a telegram that names its meter, or a ciphered one, arrives, or seconds pass.

    after_first_push: listening for a meter that pushes seldom ends this long after its first push (see
    wait_for_meter).
    Not opened (opened=False) means the MQTT client is not connected to its
    broker, so nothing could have arrived.
    """
    listener = Listener(key, auth_key)
    quiet = QuietWatch(listener.decoder, listener.event)
    received = largest = 0

    @callback
    def message(message: ReceiveMessage) -> None:
        nonlocal received, largest
        if message.retain:
            return  # the past: a dead reader's last telegram is no meter heard (see MqttReader)
        payload = _payload(message)
        received += len(payload) or 1  # an empty message is something heard, too
        largest = max(largest, len(payload))
        for event in listener.decoder.feed_message(payload):
            listener.event(event)
        quiet.heard()

    unsubscribe = await mqtt.async_subscribe(hass, topic, message, qos=0, encoding=None)
    try:
        # A push is a message of its own: messages of a byte or none do not add up to one.
        await wait_for_meter(listener, seconds, lambda: largest, after_first_push=after_first_push)
    finally:
        unsubscribe()
        quiet.cancel()
    if not received and not broker_connected(hass):
        return ProbeResult(opened=False)
    return listener.result(received)
