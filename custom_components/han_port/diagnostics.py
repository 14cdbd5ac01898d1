"""Diagnostics for HAN Port: what a maintainer needs, without the user's secrets.

The last telegrams are attached with the meter's id masked and their
checksums computed again, so `python -m custom_components.han_port.decoder`
decodes them as they are; a ciphered meter's telegrams come deciphered too,
framed as plain HDLC, since the ciphertext says nothing without the keys.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST

from .const import CONF_AUTHENTICATION_KEY, CONF_DEVICE, CONF_ENCRYPTION_KEY
from .decoder import hdlc, p1
from .simulator.frames import hdlc_frames

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import HanPortConfigEntry
    from .decoder import Telegram

TO_REDACT = {
    CONF_ENCRYPTION_KEY,
    CONF_AUTHENTICATION_KEY,
    CONF_HOST,
    CONF_DEVICE,
    "meter_id",
    "unique_id",
    "title",
    "url",
}
# A masked id keeps its length, so every offset in the frame stays where it was.
_MASK = ord("X")
_DOUBLE_LONG_UNSIGNED = 0x06


def _secrets(meter_id: str | None) -> list[tuple[bytes, bytes]]:
    """List the ways a frame can carry the meter id, each with what replaces it."""
    if not meter_id:
        return []
    text = meter_id.encode("ascii", "ignore")
    secrets = [(text, bytes([_MASK]) * len(text))]
    # P1 meters often write their id as the hex of its ASCII text.
    secrets += [(spelled, b"58" * len(text)) for spelled in (text.hex().upper().encode(), text.hex().encode())]
    if meter_id.isdigit() and int(meter_id) < 1 << 32:
        # The Danish list sends its meter number as a 32-bit integer.
        number = bytes([_DOUBLE_LONG_UNSIGNED]) + int(meter_id).to_bytes(4, "big")
        secrets.append((number, bytes([_DOUBLE_LONG_UNSIGNED, 0, 0, 0, 0])))
    return secrets


def masked(telegram: Telegram, meter_id: str | None) -> dict[str, str]:
    """Show a telegram with the household's identity blanked out, still checksum-valid."""

    def blank(data: bytes) -> bytes:
        for secret, replacement in _secrets(meter_id):
            data = data.replace(secret, replacement)
        return data

    reseal = p1.reseal if telegram.format == "p1" else hdlc.reseal
    shown = {"format": telegram.format, "raw": reseal(blank(telegram.raw)).hex(" ")}
    if telegram.plaintext is not None:
        shown["deciphered"] = hdlc_frames(blank(telegram.plaintext)).hex(" ")
    return shown


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 - the platform signature
    entry: HanPortConfigEntry,
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    reader = coordinator.reader
    data = coordinator.data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "meter": async_redact_data(
            {
                **{key: value for key, value in asdict(data).items() if key != "readings"},
                "readings": {
                    ".".join(map(str, register)): reading._asdict() for register, reading in data.readings.items()
                },
            },
            TO_REDACT,
        ),
        "connection": {
            "kind": "network bridge" if CONF_HOST in entry.data else "serial port",
            "line_settings": str(reader.line),
            "connects": reader.connects,
            "silence_timeout": reader.silence_timeout,
            # The error text names the device: only whether it opened.
            "port_opens": reader.open_error is None,
        },
        "decoder": {
            "telegrams": reader.decoder.telegrams,
            # Implausible, unauthenticated and replayed frames are counted here too.
            "dropped": {str(reason): count for reason, count in reader.decoder.dropped.items()},
            "noise_bytes": reader.decoder.noise_bytes,
            # What the meter's own physics decided for values sent without a scaler, and why.
            "resolutions": [
                {"quantity": d.quantity, "exponent": d.exponent, "evidence": d.evidence}
                for d in reader.decoder.resolutions
            ],
        },
        "energy_guard": {
            "held_totals": coordinator.held_totals,
            "holding": [".".join(map(str, register)) for register in coordinator.guard.held],
        },
        "last_telegrams": [masked(telegram, data.meter_id) for telegram in reader.last_telegrams],
    }
