"""The configuration of the development instance that scripts/develop starts.

Kept apart so that a test can start Home Assistant with exactly this
configuration and prove that it comes up without an error notification and
keeps its location, currency and units through onboarding.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What default_config brings that a reading of the meter uses, and nothing
# more: default_config also loads go2rtc, whose binary is missing here and
# whose absence raises an "Invalid config" notification.
CONFIGURATION = """\
homeassistant:
  name: HAN Port development
  latitude: 59.91
  longitude: 10.75
  elevation: 10
  time_zone: Europe/Oslo
  # Quoted: unquoted, YAML reads Norway's country code as false.
  country: "NO"
  currency: NOK
  unit_system: metric

frontend:
config:
energy:
history:
logbook:
recorder:
repairs:
diagnostics:
system_health:

logger:
  default: info
  logs:
    custom_components.han_port: debug
"""
# Onboarding asks for a location, currency and units, and its answers would
# replace the ones above until a restart: the configuration gives them, so
# onboarding only asks for the user.
ONBOARDING_DONE = ["core_config", "analytics"]


def write_config(config: Path) -> None:
    """Write a fresh development configuration into config (kept as it is when it exists)."""
    (config / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config / "custom_components" / "han_port"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "han_port")
    configuration = config / "configuration.yaml"
    if not configuration.exists():
        configuration.write_text(CONFIGURATION)
    onboarding = config / ".storage" / "onboarding"
    if not onboarding.exists():
        onboarding.parent.mkdir(exist_ok=True)
        onboarding.write_text(
            json.dumps({"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": ONBOARDING_DONE}})
        )


if __name__ == "__main__":
    import sys

    write_config(Path(sys.argv[1]))
