"""scripts/develop's instance, as a newcomer meets it: no error notification, and Norway kept through onboarding."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TYPE_CHECKING

import pytest
from homeassistant.const import __version__ as home_assistant_version

from custom_components.han_port.const import DOMAIN

from .live import ROOT, HomeAssistant, free_port

sys.path.insert(0, str(ROOT / "scripts"))

from develop_config import CONFIGURATION, write_config

# The integrations the development configuration names.
CONFIGURED = {line[:-1] for line in CONFIGURATION.splitlines() if re.fullmatch(r"[a-z_]+:", line)} - {"homeassistant"}

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.timeout(300)]


def test_the_development_instance_starts_clean_and_keeps_its_location(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_config(config)
    hass = HomeAssistant(config, free_port(), configuration=CONFIGURATION)
    try:
        hass.wait_until_up()
        steps = {step["step"]: step["done"] for step in hass.request("GET", "/api/onboarding")}
        # Only the user is asked for: the location, currency and units come from the configuration.
        assert steps == {"user": False, "core_config": True, "analytics": True, "integration": False}
        hass.create_user()
        core = hass.request("GET", "/api/config")
        assert (core["country"], core["currency"], core["time_zone"]) == ("NO", "NOK", "Europe/Oslo")
        assert core["unit_system"]["length"] == "km"
        [notifications] = asyncio.run(hass.websocket({"type": "persistent_notification/get"}))
        # Discoveries on the machine's network are news, not errors.
        errors = [note for note in notifications if note["notification_id"] != "config_entry_discovery"]
        if home_assistant_version.startswith("2025.4."):
            # The release scripts/develop runs (.venv is the oldest leg): nothing at all.
            assert errors == [], errors
        else:
            # Newer releases set up every entity integration at start; with
            # --skip-pip some lack their packages (and two have no wheels for
            # Python 3.14 here). Nothing we configure may be among them.
            failed = {name for note in errors for name in re.findall(r"\[(\w+)\]\(", note["message"])}
            assert not failed & {*CONFIGURED, DOMAIN}, failed
        [components] = asyncio.run(hass.websocket({"type": "get_config"}))
        assert {"energy", "recorder", "repairs", "diagnostics"} <= set(components["components"])
    finally:
        hass.stop()
    log = (config / "home-assistant.log").read_text()
    failed = set(re.findall(r"Setup failed for '(\w+)'", log))
    assert not failed & {*CONFIGURED, DOMAIN}, failed
    assert "Invalid config for" not in log
