"""Constants for HAN Port."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

DOMAIN: Final = "han_port"
LOGGER = logging.getLogger(__package__)

# A network bridge's URL: serialx opens it as a raw TCP socket.
BRIDGE_SCHEME: Final = "socket://"

CONF_DEVICE: Final = "device"
# The MQTT topic a HAN reader publishes the meter's frames to (the third way to connect).
CONF_TOPIC: Final = "topic"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_BYTESIZE: Final = "bytesize"
CONF_STOPBITS: Final = "stopbits"
CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"
CONF_MANUFACTURER: Final = "manufacturer"
CONF_METER_TYPE: Final = "meter_type"
CONF_LIST_VERSION: Final = "list_version"
# The entry's unique id was made up at setup: the meter never sends its id.
CONF_GENERATED_ID: Final = "generated_id"

# Options.
CONF_CURRENT_TRANSFORMER_RATIO: Final = "current_transformer_ratio"
DEFAULT_CURRENT_TRANSFORMER_RATIO: Final = 1.0
CONF_CAPACITY_THRESHOLDS: Final = "capacity_thresholds"
CONF_PEAK_DAYS: Final = "peak_days"
# Which hours the capacity charge counts: a named model, or "custom" with the four after it.
CONF_CAPACITY_MODEL: Final = "capacity_model"
CONF_ONE_PEAK_PER_DAY: Final = "one_peak_per_day"
CONF_COUNTED_HOURS: Final = "counted_hours"
CONF_WEEKDAYS_ONLY: Final = "weekdays_only"
CONF_NIGHT_WEIGHT: Final = "night_weight"
# Measurement sensors (power, current, voltage, power factor, frequency) are
# written at most this often, in seconds; 0 writes every telegram. Energy
# registers, the energy guard, live energy and the capacity figures still see
# every telegram.
CONF_UPDATE_INTERVAL: Final = "update_interval"
DEFAULT_UPDATE_INTERVAL: Final = 0.0


def meter_key(entry: ConfigEntry[Any]) -> str:
    """Return what names a meter's device and statistics: its entry's unique id, or the entry's id without one."""
    return entry.unique_id or entry.entry_id


def meter_identifier(entry: ConfigEntry[Any]) -> tuple[str, str]:
    """Return the identifier of a meter's device in the device registry."""
    return (DOMAIN, meter_key(entry))


def sensor_unique_id(entry: ConfigEntry[Any], key: str) -> str:
    """Return the unique id of a meter's sensor: the entry's unique id and the sensor's key."""
    return f"{entry.unique_id}_{key}"
