"""Diagnostics for HAN Port: what a maintainer needs, without the user's secrets."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data

from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import HanPortConfigEntry

TO_REDACT = {CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY, "meter_id", "unique_id", "title"}


def _masked(raw: bytes, meter_id: str | None) -> str:
    """Hex of a raw telegram with the meter id (the household's identity) blanked out."""
    if meter_id:
        encoded = meter_id.encode("ascii", "ignore")
        raw = raw.replace(encoded, b"X" * len(encoded))
    return raw.hex(" ")


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
            "line_settings": str(reader.line),
            "connects": reader.connects,
            "silence_timeout": reader.silence_timeout,
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
        "last_telegrams": [_masked(raw, data.meter_id) for raw in reader.last_raw],
    }
