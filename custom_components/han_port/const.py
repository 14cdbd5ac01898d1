"""Constants for HAN Port."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "han_port"
LOGGER = logging.getLogger(__package__)

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
