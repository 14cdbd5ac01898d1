"""Config flow for HAN Port: pick the port, listen for the meter, meet it.

Every way in (a new meter, new keys, a move to another port, bridge or MQTT
topic) ends in the same listening step, shown as progress: the flow tries
the likely line settings one by one (listening.py), and then says what it
heard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    TextSelector,
)
from homeassistant.helpers.typing import UNDEFINED, UndefinedType

from .compat import (
    async_serial_port_selector,
    form_schema,
    form_schema_with_values,
)
from .connection import (
    COMMON_LINE_SETTINGS,
    LineSettings,
    is_pseudo_terminal,
)
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_DEVICE,
    CONF_GENERATED_ID,
    CONF_MANUFACTURER,
    CONF_TOPIC,
    DOMAIN,
)
from .decoder import DropReason
from .entry import async_entry_reading, entry_address, entry_line_settings, line_settings_data
from .flow_forms import (
    DEFAULT_BRIDGE_PORT,
    KEY_FIELDS,
    bridge_fields,
    bridge_host,
    keys_fields,
    list_ports,
    parse_keys,
    stable_path,
)
from .identity import Claim, address_id, contradict, made_up_id, meter_title
from .listening import Listening, patient_minutes
from .mqtt_reader import (
    MQTT_SCHEME,
    async_mqtt_ready,
    holds_meter_data,
    mqtt_may_be_ready,
    topic_matches,
    topic_url,
    valid_topic,
)
from .options_flow import HanPortOptionsFlow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
    from homeassistant.helpers.service_info.usb import UsbServiceInfo

    from .compat import FormSchema
    from .coordinator import HanPortConfigEntry
    from .decoder import Telegram

_CONNECTION_KEYS = (CONF_DEVICE, CONF_HOST, CONF_PORT, CONF_TOPIC)
# "mqtt" would be Home Assistant's MQTT discovery step: the topic step is named apart.
_CONNECTION_KINDS = ["serial", "network", "mqtt_topic"]
# Everything in an entry's data that says where and how it reads: a move replaces all of it.
_CONNECTION_DATA = frozenset((*_CONNECTION_KEYS, *line_settings_data(LineSettings())))
# The field an error about the address belongs to, on each form ("base" on the keys forms).
_ADDRESS_FIELDS = {"serial": CONF_DEVICE, "network": CONF_HOST, "mqtt_topic": CONF_TOPIC}


class _MeterFlow(ConfigFlow):
    """Listen for the meter where a flow points; show a form with what was typed and what went wrong.

    The steps that say where the meter is, and what to do with what was
    heard, are HanPortConfigFlow's.
    """

    def __init__(self) -> None:
        """Start with nothing known."""
        self._listening = Listening()
        self._keys: dict[str, str] = {}
        self._typed: dict[str, Any] = {}
        """What the user typed in the form being shown again, so nothing they wrote is lost."""
        self._form = "serial"
        """The form the listening started from, shown again with what went wrong."""
        self._errors: dict[str, str] = {}
        self._placeholders: dict[str, str] = {}
        self._line = LineSettings()
        """The line settings the entry's meter is known to use."""
        self._authenticates = False
        self._exchange: HanPortConfigEntry | None = None
        """The entry whose address the reconfigured one takes, giving it its own: two bridges swapped."""

    async def _async_entry_reading(self, connection: dict[str, Any]) -> HanPortConfigEntry | None:
        """Return the entry, other than this flow's own, that reads where connection points, if one does."""
        entries = [
            entry for entry in self._async_current_entries(include_ignore=False) if not self._is_flow_entry(entry)
        ]
        return await async_entry_reading(self.hass, connection, entries)

    def _is_flow_entry(self, entry: HanPortConfigEntry) -> bool:
        """Whether entry is the one this flow reauthenticates or reconfigures."""
        return self.source in (SOURCE_REAUTH, SOURCE_RECONFIGURE) and entry.entry_id == self._flow_entry().entry_id

    def _flow_entry(self) -> HanPortConfigEntry:
        if self.source == SOURCE_REAUTH:
            return self._get_reauth_entry()
        return self._get_reconfigure_entry()

    # The keys of a ciphered meter.

    async def async_step_keys(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the keys of a ciphered meter and prove them on a live telegram."""
        if self.source == SOURCE_RECONFIGURE and not self._listening.candidates:
            # New keys for the same port: listen where the meter is.
            self._listening.candidates = (self._line,)
        return await self._async_keys_form("keys", user_input)

    async def _async_keys_form(self, step_id: str, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        if user_input is None:
            return self._show_keys_form(step_id)
        keys, errors, digits = parse_keys(user_input, self._authenticates)
        self._placeholders.update(digits)
        if errors:
            self._typed, self._errors = user_input, errors
            return self._show_keys_form(step_id)
        self._keys = keys
        return await self._async_start_listening(step_id, user_input)

    def _take_entry(self, data: Mapping[str, Any]) -> None:
        """Start from where the entry reads, and how: its port or bridge, line settings and keys' kind."""
        self._listening.connection = {key: data[key] for key in _CONNECTION_KEYS if key in data}
        self._line = entry_line_settings(dict(data))
        # A meter that authenticated its frames with a key still does.
        self._authenticates = CONF_AUTHENTICATION_KEY in data

    def _show_keys_form(self, step_id: str) -> ConfigFlowResult:
        fields = keys_fields(self._authenticates)
        # What was typed stays (a typo is fixed, not retyped); known keys are offered when reconfiguring.
        suggested = {**self._keys, **{key: value for key, value in self._typed.items() if value}}
        return self._show_form(step_id, form_schema_with_values(self, fields, suggested))

    # Listening, shown as progress.

    async def _async_start_listening(self, form: str, user_input: dict[str, Any]) -> ConfigFlowResult:
        self._form = form
        self._typed = user_input
        self._listening.attempt = 0
        return await self.async_step_listen()

    async def _async_listen_at(
        self,
        connection: dict[str, Any],
        candidates: tuple[LineSettings, ...],
        form: str,
        user_input: dict[str, Any],
    ) -> ConfigFlowResult:
        """Listen at a new address, unless another entry already reads it."""
        field = _address_kind(connection) or CONF_DEVICE
        other = await self._async_entry_reading(connection)
        if other is not None and not self._swapped_with(other):
            if self.source == SOURCE_RECONFIGURE:
                self._typed = user_input
                self._errors = {field: "address_in_use"}
                self._placeholders["other_meter"] = other.title
                return await self._async_show_origin(form)
            return self.async_abort(reason="already_configured")
        self._exchange = other
        self._listening.connection = connection
        self._listening.candidates = candidates
        return await self._async_start_listening(form, user_input)

    def _swapped_with(self, other: HanPortConfigEntry) -> bool:
        """Whether the reconfigured entry and other each receive the other's meter: two bridges swapped.

        Only addresses of one kind swap: a meter's line settings are known
        where it is read from a serial port alone.
        """
        if self.source != SOURCE_RECONFIGURE:
            return False
        entry = self._flow_entry()
        return _address_kind(entry.data) == _address_kind(other.data) and all(
            one.state is ConfigEntryState.LOADED and one.runtime_data.carries_meter_of == two.entry_id
            for one, two in ((entry, other), (other, entry))
        )

    def _give_address_left(self, entry: HanPortConfigEntry, other_id: str) -> None:
        """Move the other entry to the address entry leaves for its own (its line settings are its meter's)."""
        other = self.hass.config_entries.async_get_entry(other_id)
        if other is None:
            return  # deleted while the flow listened
        left = {key: value for key, value in entry.data.items() if key in _CONNECTION_KEYS}
        kept = {key: value for key, value in other.data.items() if key not in _CONNECTION_KEYS}
        self.hass.config_entries.async_update_entry(other, data={**kept, **left})
        self.hass.config_entries.async_schedule_reload(other.entry_id)

    async def _async_show_origin(self, form: str) -> ConfigFlowResult:
        """Show the form the listening started from again, with what went wrong."""
        if form in ("keys", "reauth_confirm"):
            return self._show_keys_form(form)
        # The serial, network or mqtt_topic step, which shows its form with what was typed.
        step: Callable[[], Awaitable[ConfigFlowResult]] = getattr(self, f"async_step_{form}")
        return await step()

    async def async_step_listen(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Listen with one line setting after another until the meter is heard."""
        paused: tuple[HanPortConfigEntry, ...] = ()
        if self.source in (SOURCE_REAUTH, SOURCE_RECONFIGURE):
            paused = (self._flow_entry(),) if self._exchange is None else (self._flow_entry(), self._exchange)
        task = self._listening.listen(self.hass, self._keys, paused)
        if not task.done():
            action, placeholders = self._listening.progress()
            return self.async_show_progress(
                step_id="listen", progress_action=action, description_placeholders=placeholders, progress_task=task
            )
        if self._listening.next_attempt():
            return await self.async_step_listen()
        return self.async_show_progress_done(next_step_id="heard")

    def _update_and_reload(
        self, entry: HanPortConfigEntry, data: Mapping[str, Any], reason: str | UndefinedType = UNDEFINED
    ) -> ConfigFlowResult:
        """Store the entry's new data and set it up again, its paused reader with it.

        The paused reader is not resumed: it would open the port again just
        as the reload closes it.
        """
        self._listening.hand_over()
        return self.async_update_reload_and_abort(entry, data=data, reason=reason)

    @callback
    def async_remove(self) -> None:
        """Stop listening and give the port back: the flow ended, or the user closed it."""
        self._listening.stop()

    def _show_form(self, step_id: str, schema: FormSchema) -> ConfigFlowResult:
        errors, self._errors = self._errors, {}
        placeholders = {
            "address": self._listening.address(),
            "meter": "",
            "other_meter": "",
            "error": self._listening.error.words,
            **self._placeholders,
        }
        if self.source in (SOURCE_REAUTH, SOURCE_RECONFIGURE):
            placeholders["meter"] = self._flow_entry().title
        self._typed = {}
        return self.async_show_form(
            step_id=step_id, data_schema=schema, errors=errors, description_placeholders=placeholders
        )


class _SilenceFlow(_MeterFlow):
    """After a silence, offer to wait for the meter's next push: a few meters push only every 15 minutes."""

    async def _async_show_error(self, field: str) -> ConfigFlowResult:
        """Show what went wrong on the form listened from; after a silence, the offer to wait for a push first.

        The offer is made once: the form chosen instead, or a wait that heard nothing, shows the silence as its
        error.
        """
        self._errors = {field: self._listening.error_kind()}
        if self._listening.waited or not self._listening.silent():
            return await self._async_show_origin(self._form)
        return await self.async_step_silent()

    async def async_step_silent(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Offer to wait for the meter's next push, or to go back to the form listened from."""
        placeholders = {"address": self._listening.address(), "minutes": patient_minutes()}
        return self.async_show_menu(
            step_id="silent", menu_options=["listen_patiently", self._form], description_placeholders=placeholders
        )

    async def async_step_listen_patiently(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Listen again where the meter was silent, until its next push."""
        self._errors = {}
        self._listening.patient = True
        self._listening.attempt = 0
        return await self.async_step_listen()


class _DiscoveredFlow(_SilenceFlow):
    """Offer what Home Assistant found: a HAN adapter plugged in, a HAN reader publishing to a known topic.

    Confirmed, each is listened to as a port picked, or a topic typed, by hand.
    """

    # An adapter plugged in.

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """Offer a HAN adapter just plugged in; an entry that already reads it only learns its stable path."""
        device = await self.hass.async_add_executor_job(stable_path, discovery_info.device)
        await self.async_set_unique_id(_adapter_unique_id(device))
        self._abort_if_unique_id_configured()
        known = await self._async_entry_reading({CONF_DEVICE: device})
        if known is not None:
            if known.data.get(CONF_DEVICE) == device:
                return self.async_abort(reason="already_configured")
            # The entry reads this adapter by a name that changes when it is replugged: it learns the stable one.
            data = {**known.data, CONF_DEVICE: device}
            return self.async_update_reload_and_abort(known, data=data, reason="already_configured")
        self._listening.connection = {CONF_DEVICE: device}
        self._placeholders["adapter"] = ", ".join(
            part for part in (discovery_info.manufacturer, discovery_info.description) if part
        )
        self.context["title_placeholders"] = {"name": self._placeholders["adapter"] or device}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm the discovered adapter, then listen on it as on a port picked by hand."""
        if user_input is None:
            return self._show_form("usb_confirm", form_schema({}))
        connection = self._listening.connection
        return await self._async_listen_at(dict(connection), COMMON_LINE_SETTINGS, "serial", connection)

    # A HAN reader publishing to a topic known readers publish to (the manifest's "mqtt").

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """Offer a topic a HAN reader publishes a meter's telegrams to, unless an entry reads it.

        Home Assistant starts this flow for every message whose payload
        differs from the last one on the topic, that is for every push, and
        goes on after an abort: each must end before anything is decoded
        when an entry reads the topic, or an offer for it waits already.
        """
        topic = discovery_info.topic
        await self.async_set_unique_id(topic_url(topic))
        self._abort_if_unique_id_configured()
        entries = self._async_current_entries(include_ignore=False)
        if any(topic_matches(str(entry.data.get(CONF_TOPIC)), topic) for entry in entries if CONF_TOPIC in entry.data):
            return self.async_abort(reason="already_configured")
        # Anything else on a matching topic (a reader's status, another program's JSON) offers nothing.
        if not holds_meter_data(discovery_info.payload):
            return self.async_abort(reason="not_han_port_data")
        self._listening.connection = {CONF_TOPIC: topic}
        self.context["title_placeholders"] = {"name": topic}
        return await self.async_step_mqtt_confirm()

    async def async_step_mqtt_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm the discovered topic, then listen on it as on a topic typed by hand."""
        if user_input is None:
            return self._show_form("mqtt_confirm", form_schema({}))
        connection = self._listening.connection
        return await self._async_listen_at(dict(connection), (LineSettings(),), "mqtt_topic", connection)


class HanPortConfigFlow(_DiscoveredFlow, domain=DOMAIN):
    """Set up a meter's HAN port."""

    VERSION = 1
    MINOR_VERSION = 2

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: HanPortConfigEntry) -> HanPortOptionsFlow:  # noqa: ARG004
        """Options a user tunes after setup."""
        return HanPortOptionsFlow()

    # Where the meter is.

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Ask how the meter is connected."""
        return self.async_show_menu(step_id="user", menu_options=_CONNECTION_KINDS)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Move the meter to another port or bridge, or give it new keys."""
        entry = self._get_reconfigure_entry()
        self._take_entry(entry.data)
        self._keys = {key: entry.data[key] for key in KEY_FIELDS if key in entry.data}
        # A new meter is told where to set MQTT up (async_step_mqtt_topic); a meter set up already is only offered
        # what it can move to now: that advice ends the flow, and is no way on for an entry that exists. The menu
        # waits for nothing (a failed MQTT set-up would keep it for 50 s): the topic's step waits where it must.
        options = [kind for kind in _CONNECTION_KINDS if kind != "mqtt_topic" or mqtt_may_be_ready(self.hass)]
        if self._keys:
            options.append("keys")
        return self.async_show_menu(
            step_id="reconfigure", menu_options=options, description_placeholders={"meter": entry.title}
        )

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick a serial port (or type a path or URL); the line settings are found by listening."""
        if user_input is not None:
            device = user_input[CONF_DEVICE].strip()
            connection = {CONF_DEVICE: device}
            if await self.hass.async_add_executor_job(is_pseudo_terminal, device):
                candidates: tuple[LineSettings, ...] = (LineSettings(),)
            elif self.source == SOURCE_RECONFIGURE and CONF_DEVICE in self._listening.connection:
                # The meter has not changed: its known settings first.
                candidates = (self._line, *(line for line in COMMON_LINE_SETTINGS if line != self._line))
            else:
                candidates = COMMON_LINE_SETTINGS
            return await self._async_listen_at(connection, candidates, "serial", user_input)
        device = self._typed.get(CONF_DEVICE, self._listening.connection.get(CONF_DEVICE, vol.UNDEFINED))
        return self._show_form(
            "serial",
            form_schema(
                {vol.Required(CONF_DEVICE, default=device): await async_serial_port_selector(self.hass, list_ports)}
            ),
        )

    async def async_step_network(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect to a network serial bridge (raw TCP); the bridge owns the line settings."""
        if user_input is not None:
            host = bridge_host(user_input[CONF_HOST])
            if host is not None:
                connection = {CONF_HOST: host, CONF_PORT: int(user_input[CONF_PORT])}
                return await self._async_listen_at(connection, (LineSettings(),), "network", user_input)
            self._typed, self._errors = user_input, {CONF_HOST: "invalid_host"}
        host = self._typed.get(CONF_HOST, self._listening.connection.get(CONF_HOST))
        port = int(self._typed.get(CONF_PORT, self._listening.connection.get(CONF_PORT, DEFAULT_BRIDGE_PORT)))
        return self._show_form("network", form_schema(bridge_fields(host, port)))

    async def async_step_mqtt_topic(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Listen on an MQTT topic a HAN reader publishes to, through Home Assistant's MQTT integration."""
        if not await async_mqtt_ready(self.hass):
            if self.source == SOURCE_RECONFIGURE:
                # Its set-up failed since the menu offered it: the menu again, without it (no entry to add again).
                return await self.async_step_reconfigure()
            return self.async_abort(reason="mqtt_not_set_up")
        if user_input is not None:
            topic = user_input[CONF_TOPIC].strip()
            if valid_topic(topic):
                return await self._async_listen_at({CONF_TOPIC: topic}, (LineSettings(),), "mqtt_topic", user_input)
            self._typed, self._errors = user_input, {CONF_TOPIC: "invalid_topic"}
        topic = self._typed.get(CONF_TOPIC, self._listening.connection.get(CONF_TOPIC, vol.UNDEFINED))
        return self._show_form("mqtt_topic", form_schema({vol.Required(CONF_TOPIC, default=topic): TextSelector()}))

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for new keys: the meter's telegrams stopped opening with the old ones."""
        self._take_entry(entry_data)
        self._listening.candidates = (self._line,)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Take the new keys and prove them on a live telegram (the keys form, naming the meter)."""
        return await self._async_keys_form("reauth_confirm", user_input)

    async def async_step_heard(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Act on what listening told: a meter, a ciphered meter, or what went wrong."""
        heard = self._listening.heard
        if heard.telegram is not None or heard.learning:
            # A list no table knows is learned once set up: the meter is heard, though no telegram is yet.
            return await self._async_meter_heard(heard.telegram)
        self._listening.resume_reader()
        if heard.key_problem is not None:
            # The line is found: the keys are proven on it alone.
            self._line = self._listening.line
            self._listening.candidates = (self._line,)
            if self._form in ("keys", "reauth_confirm"):
                # Without an authentication key the published one was tried: the meter has its own.
                needed = heard.key_problem is DropReason.KEY_MISSING and CONF_AUTHENTICATION_KEY not in self._keys
                field = CONF_AUTHENTICATION_KEY if needed else "base"
                self._errors = {field: "authentication_key_needed" if needed else "wrong_key"}
                return await self._async_show_origin(self._form)
            # A moved meter whose stored keys do not open it, or a new ciphered meter. One
            # that tags bare APDUs (a P1 port) may use the published authentication key.
            self._authenticates = bool(heard.ciphering and heard.ciphering.authenticated and not heard.p1_port)
            self._typed, self._errors = {}, {}
            return self._show_keys_form("keys")
        return await self._async_show_error(_ADDRESS_FIELDS.get(self._form, "base"))

    # The meter, heard.

    def _reauthenticated(self, entry: HanPortConfigEntry, telegram: Telegram | None) -> ConfigFlowResult:
        """Keep the keys the meter on the entry's own port was heard with.

        Keys that open another meter's telegrams there are that meter's: the
        grid company replaced the meter, and the keys with it. The reader then
        follows it as any replaced meter: a device and sensors of its own,
        after a few pushes. A meter another entry reads is never this one's
        to take (two bridges swapped, say).
        """
        data = {**entry.data, **self._keys}
        if telegram is None or not _replaced_by(entry, telegram):
            return self._update_and_reload(entry, data)
        entries = self.hass.config_entries
        # The id, where named, is not the entry's (see _replaced_by): an entry found by it is another.
        other = telegram.meter_id and entries.async_entry_for_domain_unique_id(DOMAIN, telegram.meter_id)
        if other:
            heard = " ".join(part for part in (telegram.manufacturer, telegram.meter_id) if part)
            placeholders = {"meter": entry.title, "heard": heard, "other": other.title}
            return self.async_abort(reason="reauth_read_elsewhere", description_placeholders=placeholders)
        return self._update_and_reload(entry, data, "reauth_meter_replaced")

    async def _async_meter_heard(self, telegram: Telegram | None) -> ConfigFlowResult:
        if self.source == SOURCE_REAUTH:
            return self._reauthenticated(self._flow_entry(), telegram)
        data = self._listening.meter_data(telegram, self._keys, self._line)
        if self.source == SOURCE_RECONFIGURE:
            entry = self._flow_entry()
            if not _same_meter(entry, telegram):
                return _refuse_other_meter(self, entry, telegram)
            data[CONF_GENERATED_ID] = entry.data.get(CONF_GENERATED_ID, False)
            if self._exchange is not None:
                self._give_address_left(entry, self._exchange.entry_id)
            return self._update_and_reload(entry, data)
        await self._async_withdraw_offers(data)
        if telegram is None or telegram.meter_id is None:
            # A meter that never says who it is (the Swedish Aidon list, most P1
            # meters) gets an identity of its own, kept wherever it moves.
            await self.async_set_unique_id(await self._async_id_made_up(data))
            data[CONF_GENERATED_ID] = True
        else:
            await self.async_set_unique_id(telegram.meter_id)
            data[CONF_GENERATED_ID] = False
            known = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, telegram.meter_id)
            if known is not None and known.source != SOURCE_IGNORE:
                return self._async_move(known, data)
        title = meter_title(data[CONF_MANUFACTURER], telegram.meter_id if telegram else None, self.unique_id)
        return self.async_create_entry(title=title, data=data)

    async def _async_id_made_up(self, connection: Mapping[str, Any]) -> str:
        """Return the identity of a meter that names none, by where it is read and its make (see address_id).

        A meter set up here before, and moved elsewhere since, holds it: this one takes one made up at random.
        """
        address = await self.hass.async_add_executor_job(_lasting_address, connection)
        made = address_id(address, connection.get(CONF_MANUFACTURER))
        held = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, made)
        # Set up here, then moved elsewhere: this is another meter, which takes an identity of its own.
        return made if held is None or held.source == SOURCE_IGNORE else made_up_id()

    async def _async_withdraw_offers(self, connection: Mapping[str, Any]) -> None:
        """Abort what discovery offers for where the meter was heard: an adapter or topic about to be read."""
        device = connection.get(CONF_DEVICE)
        stable = None if device is None else await self.hass.async_add_executor_job(stable_path, device)
        topic = connection.get(CONF_TOPIC)
        for flow in self._async_in_progress(include_uninitialized=True):
            offered = str(flow["context"].get("unique_id") or "")
            adapter = stable is not None and offered == _adapter_unique_id(stable)
            published = (
                topic is not None
                and offered.startswith(MQTT_SCHEME)
                and topic_matches(topic, offered.removeprefix(MQTT_SCHEME))
            )
            if flow["flow_id"] != self.flow_id and (adapter or published):
                self.hass.config_entries.flow.async_abort(flow["flow_id"])

    def _async_move(self, entry: HanPortConfigEntry, data: dict[str, Any]) -> ConfigFlowResult:
        """Move a known meter's entry to where it was heard now, keeping nothing of the old connection."""
        kept = {key: value for key, value in entry.data.items() if key not in _CONNECTION_DATA}
        # Its stored keys still open it: only keys typed now replace them.
        return self.async_update_reload_and_abort(entry, data={**kept, **data}, reason="meter_moved")


def _adapter_unique_id(device: str) -> str:
    """Return the unique id a flow for a discovered USB adapter is known by: its stable path."""
    return f"usb:{device}"


def _lasting_address(connection: Mapping[str, Any]) -> str:
    """Name where a meter is read as it stays named: a serial adapter by its by-id link, not its kernel name (blocking).

    The same adapter may be ttyUSB1 after a reboot, and another take its ttyUSB0.
    """
    device = connection.get(CONF_DEVICE)
    if device is not None and "://" not in str(device):
        return f"serial:{stable_path(str(device))}"
    return entry_address(dict(connection))


def _address_kind(data: Mapping[str, Any]) -> str | None:
    """Say what an entry reads from: a serial port, a network bridge or an MQTT topic."""
    return next((key for key in (CONF_DEVICE, CONF_HOST, CONF_TOPIC) if key in data), None)


def _refuse_other_meter(flow: ConfigFlow, entry: HanPortConfigEntry, telegram: Telegram | None) -> ConfigFlowResult:
    """Refuse to read another meter as the entry's: name the meter heard, as far as it tells who it is."""
    heard = " ".join(part for part in (telegram.manufacturer, telegram.meter_id) if part) if telegram else ""
    if not heard:
        return flow.async_abort(reason="wrong_meter_unnamed", description_placeholders={"meter": entry.title})
    return flow.async_abort(reason="wrong_meter", description_placeholders={"meter": entry.title, "heard": heard})


def _replaced_by(entry: HanPortConfigEntry, telegram: Telegram) -> bool:
    """Whether the telegram names another meter than the entry's: a maker or an id that contradicts the entry's.

    Its own id proves the meter, whatever maker a list is read as; a telegram that names less (no id, or an id
    where the entry made one up) contradicts nothing.
    """
    known_id = None if entry.data.get(CONF_GENERATED_ID) else entry.unique_id
    if telegram.meter_id is not None and telegram.meter_id == known_id:
        return False
    known = Claim(entry.data.get(CONF_MANUFACTURER), known_id)
    return contradict(Claim(telegram.manufacturer, telegram.meter_id), known)


def _same_meter(entry: HanPortConfigEntry, telegram: Telegram | None) -> bool:
    """Whether the telegram comes from the entry's meter, as far as the meter tells (a list being learned: nothing)."""
    if telegram is None:
        return bool(entry.data.get(CONF_GENERATED_ID))
    manufacturer = entry.data.get(CONF_MANUFACTURER)
    if manufacturer and telegram.manufacturer and manufacturer != telegram.manufacturer:
        return False
    if entry.data.get(CONF_GENERATED_ID):
        return telegram.meter_id is None
    return telegram.meter_id == entry.unique_id
