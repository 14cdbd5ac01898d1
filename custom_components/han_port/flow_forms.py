"""The config flow's forms: the ports to pick from, a bridge's fields, and the keys of a ciphered meter."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import serialx
import voluptuous as vol
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY
from .decoder import hex_digit_count, non_hex_characters, parse_key

BY_ID = "/dev/serial/by-id"
DEFAULT_BRIDGE_PORT = 3001
KEY_FIELDS = (CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY)
# A host name: dot-separated labels of letters, digits, hyphens (and the underscores some home networks use).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
# A label that is a number (decimal, or hex as 0x...): what the resolver reads as part of an IPv4 address.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_IPV4_PARTS = 4


def stable_path(device: str) -> str:
    """Name a port by its /dev/serial/by-id link, which survives replugging, where it has one (blocking)."""
    real = os.path.realpath(device)
    by_id = Path(BY_ID)
    links = sorted(by_id.iterdir()) if by_id.is_dir() else []
    return next((str(link) for link in links if os.path.realpath(link) == real), device)


def list_ports() -> list[SelectOptionDict]:
    """List serial ports for the picker, USB adapters first, by their stable by-id path (blocking).

    The first option is what the form shows selected: an on-board UART
    (/dev/ttyS0) is seldom where a HAN adapter sits.
    """
    options = []
    for port in serialx.list_serial_ports():
        stem = serialx.udev_serial_by_id_stem(port)
        path = f"{BY_ID}/{stem}" if stem and Path(BY_ID, stem).exists() else port.device
        details = ", ".join(part for part in (port.manufacturer, port.product, port.serial_number) if part)
        label = f"{path} ({details})" if details else path
        options.append((not details, path, SelectOptionDict(value=path, label=label)))
    return [option for *_, option in sorted(options, key=lambda item: item[:2])]


def bridge_fields(host: str | None, port: int) -> dict[vol.Marker, Any]:
    """Ask for a network bridge's host and port."""
    return {
        vol.Required(CONF_HOST, default=host or vol.UNDEFINED): TextSelector(),
        vol.Required(CONF_PORT, default=port): NumberSelector(
            NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
        ),
    }


def bridge_host(typed: str) -> str | None:
    """Read a bridge's host as typed: a host name or an IP address (an IPv6 one with or without brackets).

    None for anything else: most often the port typed after the host, or a
    scheme such as tcp:// before it, which the form's own fields take.
    """
    host = typed.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if all(_NUMERIC_LABEL.fullmatch(label) for label in host.removesuffix(".").split(".")):
        # Numbers alone write an IPv4 address, and the system's resolver would read zero-led parts as octal
        # ("192.168.001.020" is 192.168.1.16) and "127.1" as 127.0.0.1: read as meant, or not at all.
        return _dotted_decimal(host.removesuffix("."))
    try:
        # A name in the user's own letters ("måler.local") is looked up by its ASCII form.
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _HOST_NAME.fullmatch(ascii_name) else None


def _dotted_decimal(host: str) -> str | None:
    """Read four decimal parts, zero-led or not, as the IPv4 address they write; None for any other shape."""
    parts = host.split(".")
    if len(parts) != _IPV4_PARTS or not all(part.isdigit() and part.isascii() for part in parts):
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(str(int(part)) for part in parts)))
    except ValueError:
        return None


def keys_fields(authenticates: bool) -> dict[vol.Marker, Any]:
    """Ask for a ciphered meter's keys; the authentication key only where the meter is known to need one."""
    auth_marker = vol.Required if authenticates else vol.Optional
    # Keys are secrets: masked as passwords are, on the screen and in screenshots.
    secret = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
    return {vol.Required(CONF_ENCRYPTION_KEY): secret, auth_marker(CONF_AUTHENTICATION_KEY): secret}


def parse_keys(
    user_input: dict[str, Any], authenticates: bool
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Read the typed keys; name each field that is not a key, and say what it holds besides digits, or how many.

    Return the keys in hex, the errors by field, and the placeholders that count the digits.
    """
    keys: dict[str, str] = {}
    errors: dict[str, str] = {}
    digits: dict[str, str] = {}
    for field in KEY_FIELDS:
        text = str(user_input.get(field) or "")
        if field == CONF_AUTHENTICATION_KEY and not text and not authenticates:
            continue
        try:
            keys[field] = parse_key(text).hex()
        except ValueError:
            if others := non_hex_characters(text):
                errors[field] = f"invalid_{field}_characters"
                digits[f"{field}_others"] = others
            else:
                errors[field] = f"invalid_{field}"
                digits[f"{field}_digits"] = str(hex_digit_count(text))
    return keys, errors, digits
