"""Diagnostics for HAN Port: what a maintainer needs, without the user's secrets.

The last telegrams are attached with the meter's serials masked and their
checksums computed again, so `python -m custom_components.han_port.decoder`
decodes them as they are; a ciphered meter's telegrams come deciphered too,
framed as plain HDLC (or as a P1 telegram, where they hold one), since the
ciphertext says nothing without the keys.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST

from .connection import MeterReader
from .const import CONF_AUTHENTICATION_KEY, CONF_DEVICE, CONF_ENCRYPTION_KEY, CONF_TOPIC
from .decoder import (
    capture_ciphering,
    capture_format,
    carried,
    frame_apdu,
    mask_serials,
    mask_texts,
    reseal,
    serial_masks,
    system_title_masks,
)
from .mqtt_reader import MqttReader
from .registers import code_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .bookkeeping import EnergyBookkeeping
    from .connection import TelegramWatch
    from .coordinator import HanPortConfigEntry
    from .decoder import Ciphering, Decoder, FrameFormat, Telegram

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


def masked(telegram: Telegram, meter_id: str | None) -> dict[str, str]:
    """Show a telegram with every serial it carries masked (see decoder.serial_masks), still checksum-valid.

    A list without OBIS codes names nothing of its texts: each may be a serial, and each is masked too.
    """
    masks = serial_masks(telegram, meter_id)
    unnamed = not telegram.carries_p1 and telegram.list_version is None
    # Ciphertext holds no text: only its header's system title, which the serials' masks cover.
    shown = _shown_frames(telegram.raw, telegram.format, masks, texts=unnamed and _readable(telegram.ciphering))
    if telegram.plaintext is not None and shown["raw"] != _WITHHELD:
        # A ciphered P1 telegram deciphers to text; DLMS data is framed as a plain meter's would be.
        plaintext = mask_serials(telegram.plaintext, masks)
        plaintext = mask_texts(plaintext) if unnamed else plaintext
        deciphered = reseal(plaintext, "p1") if telegram.carries_p1 else frame_apdu(plaintext)
        shown["deciphered"] = deciphered.hex(" ")
    return shown


def masked_capture(raw: bytes) -> dict[str, str]:
    """Show a push whose list nothing names yet with every run of letters and digits masked, still checksum-valid."""
    frame_format = capture_format(raw)
    ciphering = capture_ciphering(raw, frame_format)
    titles = [] if ciphering is None else system_title_masks(ciphering.system_title)
    return _shown_frames(raw, frame_format, titles, texts=_readable(ciphering))


# Frames whose segment boundary split a serial: neither half matched its mask, and what they carry would tell it.
_WITHHELD = "withheld: a serial of the meter spans two of its frames"


def _readable(ciphering: Ciphering | None) -> bool:
    """Whether frames carry their data in clear: plain, or only authenticated."""
    return ciphering is None or not ciphering.encrypted


def _shown_frames(
    raw: bytes, frame_format: FrameFormat, masks: list[tuple[bytes, bytes]], *, texts: bool
) -> dict[str, str]:
    """Show frames with their serials masked (texts: every run of letters and digits too), resealed.

    Withheld where what they carry, joined, still holds a serial: a boundary split it, and no mask matched a half.
    """
    blanked = mask_serials(raw, masks)
    if texts:
        blanked = mask_texts(blanked)
    resealed = reseal(blanked, frame_format)
    content = carried(resealed, frame_format)
    if any(serial in content for serial, _ in masks) or (texts and mask_texts(content) != content):
        return {"format": frame_format, "raw": _WITHHELD}
    shown = {"format": frame_format, "raw": resealed.hex(" ")}
    if frame_format == "apdu":
        # A bare APDU, framed as the meter's HDLC would have it: the command decodes frames.
        shown["framed"] = frame_apdu(blanked).hex(" ")
    return shown


def masked_topic(topic: str) -> str:
    """Show a topic with every level that holds a digit masked: serial numbers, MAC addresses, ids, house numbers.

    The levels a reader's maker chose ("tibber", "ams", "raw") say what
    bridge it is, which a maintainer needs; the ones that hold digits tell
    one household's from another's.
    """
    return "/".join(
        "**REDACTED**" if any(character.isdigit() for character in level) else level for level in topic.split("/")
    )


def _entry(entry: HanPortConfigEntry) -> dict[str, Any]:
    """Show the entry with its secrets redacted, and its topic masked where it tells the household."""
    shown: dict[str, Any] = async_redact_data(entry.as_dict(), TO_REDACT)
    if CONF_TOPIC in entry.data:
        shown["data"] = {**shown["data"], CONF_TOPIC: masked_topic(str(entry.data[CONF_TOPIC]))}
    return shown


def _connection(data: Mapping[str, Any], reader: TelegramWatch) -> dict[str, Any]:
    """Say how the meter is connected, without where, and how the connection fared."""
    if CONF_TOPIC in data:
        kind = {"kind": "mqtt topic", "topic": masked_topic(str(data[CONF_TOPIC]))}
    else:
        kind = {"kind": "network bridge" if CONF_HOST in data else "serial port"}
    return {
        **kind,
        **({"line_settings": str(reader.line)} if isinstance(reader, MeterReader) else {}),
        **({"messages": reader.messages} if isinstance(reader, MqttReader) else {}),
        "connects": reader.connects,
        "silence_timeout": reader.silence_timeout,
        # The error's words name the device: only whether it opened, and the kind of failure when not.
        "port_opens": reader.open_error is None,
        "open_failure": None if reader.open_error is None else str(reader.open_error.failure),
    }


def _decoding(decoder: Decoder) -> dict[str, Any]:
    """Say what the decoder made of the bytes: telegrams, drops and why, and what physics decided."""
    return {
        "telegrams": decoder.telegrams,
        # Implausible, unauthenticated and replayed frames are counted here too.
        "dropped": {str(reason): count for reason, count in decoder.dropped.items()},
        "noise_bytes": decoder.noise_bytes,
        # Values left out of telegrams, by code: nothing here reads what their codes mean, the meter worked
        # them out beyond their bounds (a power factor of 4.6), or powers, currents and voltages contradicted
        # each other three telegrams in a row.
        "left_out": {str(code): count for code, count in decoder.left_out.items()},
        # Telegrams whose powers contradict their currents (a power beyond what they carry, or powers that make them
        # come at another resolution than proven): their powers, currents and voltages were not shown.
        "powers_beyond_currents": decoder.contradicted,
        # What the meter's own physics decided for values sent without a scaler, and why.
        "resolutions": [
            {"quantity": d.quantity, "exponent": d.exponent, "evidence": d.evidence} for d in decoder.resolutions
        ],
    }


def _energy_guard(energy: EnergyBookkeeping) -> dict[str, Any]:
    """Say what the energy guard held, and the power envelope it judges totals by."""
    return {
        "held_totals": energy.held.count,
        "holding": [code_name(register) for register in energy.guard.held],
        "held_powers": energy.held_powers,
        "highest_power": energy.envelope.highest,
        "power_ceiling": energy.envelope.ceiling,
        "events": list(energy.events),
        # Energy sensors whose statistics still count a step in their total (a new ratio, a register counted anew).
        "total_steps_left": energy.total_steps.left,
        # Totals the meter sends itself; the others, where it sends their tariffs, are the tariffs' sums.
        "sent_totals": sorted(code_name(code) for code in energy.sent_totals),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 - the platform signature
    entry: HanPortConfigEntry,
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    reader = coordinator.reader
    data = coordinator.data
    return {
        "entry": _entry(entry),
        "meter": async_redact_data(
            {
                **{key: value for key, value in asdict(data).items() if key != "readings"},
                "readings": {code_name(register): reading._asdict() for register, reading in data.readings.items()},
            },
            TO_REDACT,
        ),
        "connection": _connection(entry.data, reader),
        "decoder": _decoding(reader.decoder),
        "energy_guard": _energy_guard(coordinator.energy),
        # Who sends: telegrams not shown as another meter's, and a meter taking over, counted in a row.
        "identity": {
            "other_meter_telegrams": coordinator.unread.other_meter_telegrams,
            "newcomer_telegrams": coordinator.identity.newcomer_telegrams,
            "nameless_telegrams": coordinator.identity.nameless_telegrams,
            "maker_doubt_telegrams": coordinator.identity.doubt_telegrams,
            "rival_maker_telegrams": coordinator.identity.rival_telegrams,
        },
        "meter_hours": coordinator.energy.counts.meter_hours.diagnostics(),
        "last_telegrams": [masked(telegram, data.meter_id) for telegram in reader.last_telegrams],
        # A list no table knows: what is proven of it, and pushes to attach to a bug report, every text masked.
        # Without the digest that keys them: a meter number alone in a list's texts is found from it in seconds.
        "learned_lists": [
            {name: value for name, value in learned.items() if name != "identity"}
            for learned in reader.decoder.learned_lists
        ],
        "refuted_tables": reader.decoder.refuted_tables,
        "learning": coordinator.learning.progress,
        "last_unlearned_pushes": [masked_capture(drop.raw) for drop in reader.last_learning],
    }
