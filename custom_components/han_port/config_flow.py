"""Config flow for HAN Port: pick the port, detect the line, meet the meter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import serialx
import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    TextSelector,
)

from .compat import OptionsFlowBase, async_serial_port_selector, form_schema
from .connection import COMMON_LINE_SETTINGS, LineSettings, ProbeResult, network_url, probe
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CAPACITY_THRESHOLDS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_LIST_VERSION,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_PEAK_DAYS,
    CONF_STOPBITS,
    DEFAULT_CURRENT_TRANSFORMER_RATIO,
    DOMAIN,
    LOGGER,
)
from .decoder import parse_key
from .energy import DEFAULT_PEAK_DAYS, DEFAULT_THRESHOLDS, format_thresholds, parse_thresholds
from .entry import entry_keys, entry_line_settings, entry_url

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .coordinator import HanPortConfigEntry

# How long to listen for a telegram that names the meter, per line setting:
# the lists that carry the meter id come every 10 s.
PROBE_SECONDS = 12.0
BY_ID = "/dev/serial/by-id"


def _list_ports() -> list[SelectOptionDict]:
    """List serial ports for the picker, by their stable by-id path where there is one (blocking)."""
    options = []
    for port in serialx.list_serial_ports():
        stem = serialx.udev_serial_by_id_stem(port)
        path = f"{BY_ID}/{stem}" if stem and Path(BY_ID, stem).exists() else port.device
        details = ", ".join(part for part in (port.manufacturer, port.product, port.serial_number) if part)
        options.append(SelectOptionDict(value=path, label=f"{path} ({details})" if details else path))
    return options


class HanPortConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a meter's HAN port."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._connection: dict[str, Any] = {}
        self._line: LineSettings = LineSettings()
        self._authenticated = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: HanPortConfigEntry) -> HanPortOptionsFlow:  # noqa: ARG004
        """Options a user tunes after setup."""
        return HanPortOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:  # noqa: ARG002
        """Ask how the meter is connected."""
        return self.async_show_menu(step_id="user", menu_options=["serial", "network"])

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick a serial port (or type a path or URL); detect the line settings."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._connection = {CONF_DEVICE: user_input[CONF_DEVICE].strip()}
            result, errors = await self._detect(self._connection[CONF_DEVICE], COMMON_LINE_SETTINGS)
            if result is not None:
                return await self._async_meter_found(result)
        schema = form_schema(
            {
                vol.Required(
                    CONF_DEVICE, default=self._connection.get(CONF_DEVICE, vol.UNDEFINED)
                ): await async_serial_port_selector(self.hass, _list_ports)
            }
        )
        return self.async_show_form(step_id="serial", data_schema=schema, errors=errors)

    async def async_step_network(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect to a network serial bridge (raw TCP)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._connection = {CONF_HOST: user_input[CONF_HOST].strip(), CONF_PORT: int(user_input[CONF_PORT])}
            # The bridge owns the serial line: its settings are not ours to detect.
            url = network_url(self._connection[CONF_HOST], self._connection[CONF_PORT])
            result, errors = await self._detect(url, (LineSettings(),))
            if result is not None:
                return await self._async_meter_found(result)
        schema = form_schema(
            {
                vol.Required(CONF_HOST, default=self._connection.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
                vol.Required(CONF_PORT, default=self._connection.get(CONF_PORT, 3001)): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(step_id="network", data_schema=schema, errors=errors)

    async def _detect(
        self, url: str, candidates: tuple[LineSettings, ...]
    ) -> tuple[ProbeResult | None, dict[str, str]]:
        """Try each line setting until a checksum-valid telegram (or ciphered frame) arrives."""
        opened = False
        for line in candidates:
            try:
                result = await probe(url, line, PROBE_SECONDS)
            except (OSError, serialx.SerialException, ValueError) as err:
                LOGGER.debug("Cannot open %s: %s", url, err)
                continue
            opened = True
            if result.telegram is not None or result.key_problem is not None:
                self._line = line
                return result, {}
        return None, {"base": "no_telegram" if opened else "cannot_connect"}

    async def _async_meter_found(self, result: ProbeResult) -> ConfigFlowResult:
        if result.key_problem is not None:
            self._authenticated = bool(result.ciphering and result.ciphering.authenticated)
            return await self.async_step_keys()
        assert result.telegram is not None  # noqa: S101 - _detect returns one or the other
        return await self._async_create(result, {})

    async def async_step_keys(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the keys of a ciphered meter and prove them on a live telegram."""
        errors: dict[str, str] = {}
        if user_input is not None:
            keys: dict[str, str] = {}
            try:
                keys[CONF_ENCRYPTION_KEY] = parse_key(user_input[CONF_ENCRYPTION_KEY]).hex()
                if self._authenticated or user_input.get(CONF_AUTHENTICATION_KEY):
                    keys[CONF_AUTHENTICATION_KEY] = parse_key(user_input.get(CONF_AUTHENTICATION_KEY, "")).hex()
            except ValueError:
                errors["base"] = "invalid_key"
            else:
                result, errors = await self._check_keys(keys)
                if result is not None:
                    return await self._async_create(result, keys)
        fields: dict[vol.Marker, Any] = {vol.Required(CONF_ENCRYPTION_KEY): TextSelector()}
        auth_marker = vol.Required if self._authenticated else vol.Optional
        fields[auth_marker(CONF_AUTHENTICATION_KEY)] = TextSelector()
        return self.async_show_form(step_id="keys", data_schema=form_schema(fields), errors=errors)

    async def _check_keys(self, keys: dict[str, str]) -> tuple[ProbeResult | None, dict[str, str]]:
        key, auth_key = entry_keys(dict(keys))
        try:
            result = await probe(self._url(), self._line, PROBE_SECONDS, key, auth_key)
        except (OSError, serialx.SerialException, ValueError):
            return None, {"base": "cannot_connect"}
        if result.key_problem is not None:
            return None, {"base": "wrong_key"}
        if result.telegram is None:
            return None, {"base": "no_telegram"}
        return result, {}

    def _url(self) -> str:
        return entry_url(self._connection)

    async def _async_create(self, result: ProbeResult, keys: dict[str, str]) -> ConfigFlowResult:
        telegram = result.telegram
        assert telegram is not None  # noqa: S101 - callers pass a telegram
        # Meters that never send their id (the Swedish Aidon list) are known by their port.
        meter_id = telegram.meter_id or self._url()
        data = {
            **self._connection,
            **keys,
            CONF_BAUDRATE: self._line.baudrate,
            CONF_PARITY: self._line.parity,
            CONF_BYTESIZE: self._line.bytesize,
            CONF_STOPBITS: self._line.stopbits,
            CONF_MANUFACTURER: telegram.manufacturer,
            CONF_METER_TYPE: telegram.meter_type,
            CONF_LIST_VERSION: telegram.list_version,
        }
        await self.async_set_unique_id(meter_id)
        if self.source == "reconfigure":
            self._abort_if_unique_id_mismatch(reason="wrong_meter")
            return self.async_update_reload_and_abort(self._get_reconfigure_entry(), data=data)
        self._abort_if_unique_id_configured(updates=data)
        title = " ".join(part for part in (telegram.manufacturer, telegram.meter_type or "meter") if part)
        return self.async_create_entry(title=title, data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for new keys: the meter's telegrams stopped opening with the old ones."""
        self._connection = {key: entry_data[key] for key in (CONF_DEVICE, CONF_HOST, CONF_PORT) if key in entry_data}
        self._line = entry_line_settings(dict(entry_data))
        self._authenticated = True
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Take the new keys and prove them on a live telegram."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                keys = {CONF_ENCRYPTION_KEY: parse_key(user_input[CONF_ENCRYPTION_KEY]).hex()}
                if user_input.get(CONF_AUTHENTICATION_KEY):
                    keys[CONF_AUTHENTICATION_KEY] = parse_key(user_input[CONF_AUTHENTICATION_KEY]).hex()
            except ValueError:
                errors["base"] = "invalid_key"
            else:
                result, errors = await self._check_keys(keys)
                if result is not None and result.telegram is not None:
                    entry = self._get_reauth_entry()
                    await self.async_set_unique_id(result.telegram.meter_id or self._url())
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    return self.async_update_reload_and_abort(entry, data_updates=keys)
        schema = form_schema(
            {
                vol.Required(CONF_ENCRYPTION_KEY): TextSelector(),
                vol.Optional(CONF_AUTHENTICATION_KEY): TextSelector(),
            }
        )
        return self.async_show_form(step_id="reauth_confirm", data_schema=schema, errors=errors)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Move the meter to another port, bridge or keys."""
        entry = self._get_reconfigure_entry()
        network = CONF_HOST in entry.data
        errors: dict[str, str] = {}
        if user_input is not None:
            if network:
                self._connection = {CONF_HOST: user_input[CONF_HOST].strip(), CONF_PORT: int(user_input[CONF_PORT])}
                candidates: tuple[LineSettings, ...] = (LineSettings(),)
            else:
                self._connection = {CONF_DEVICE: user_input[CONF_DEVICE].strip()}
                # Keep the detected settings first: the meter has not changed.
                known = entry_line_settings(dict(entry.data))
                candidates = (known, *(line for line in COMMON_LINE_SETTINGS if line != known))
            result, errors = await self._detect(self._url(), candidates)
            if result is not None:
                if result.key_problem is not None:
                    self._authenticated = bool(result.ciphering and result.ciphering.authenticated)
                    return await self.async_step_keys()
                return await self._async_create(result, {})
        if network:
            fields = {
                vol.Required(CONF_HOST, default=entry.data[CONF_HOST]): TextSelector(),
                vol.Required(CONF_PORT, default=entry.data[CONF_PORT]): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
                ),
            }
        else:
            fields = {
                vol.Required(CONF_DEVICE, default=entry.data[CONF_DEVICE]): await async_serial_port_selector(
                    self.hass, _list_ports
                )
            }
        return self.async_show_form(step_id="reconfigure", data_schema=form_schema(fields), errors=errors)


class HanPortOptionsFlow(OptionsFlowBase):
    """Settings a user tunes: a current transformer ratio for CT meters."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                thresholds = parse_thresholds(user_input[CONF_CAPACITY_THRESHOLDS])
            except ValueError:
                errors[CONF_CAPACITY_THRESHOLDS] = "invalid_thresholds"
            else:
                user_input[CONF_CAPACITY_THRESHOLDS] = format_thresholds(thresholds)
                user_input[CONF_PEAK_DAYS] = int(user_input[CONF_PEAK_DAYS])
                return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        schema = form_schema(
            {
                vol.Required(
                    CONF_CURRENT_TRANSFORMER_RATIO,
                    default=options.get(CONF_CURRENT_TRANSFORMER_RATIO, DEFAULT_CURRENT_TRANSFORMER_RATIO),
                ): NumberSelector(NumberSelectorConfig(min=1, max=10000, step="any", mode=NumberSelectorMode.BOX)),
                vol.Required(
                    CONF_CAPACITY_THRESHOLDS,
                    default=options.get(CONF_CAPACITY_THRESHOLDS, format_thresholds(DEFAULT_THRESHOLDS)),
                ): TextSelector(),
                vol.Required(CONF_PEAK_DAYS, default=options.get(CONF_PEAK_DAYS, DEFAULT_PEAK_DAYS)): NumberSelector(
                    NumberSelectorConfig(min=1, max=10, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
