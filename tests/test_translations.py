"""The texts a user reads: every language complete, every key the code uses present."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest

from custom_components.han_port.open_errors import PortFailure
from custom_components.han_port.sensor import DERIVED_SENSORS, INFO_SENSORS, SENSORS

PACKAGE = Path(__file__).resolve().parents[1] / "custom_components" / "han_port"
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
LANGUAGES = sorted(path.stem for path in (PACKAGE / "translations").glob("*.json"))


def leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= leaves(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_english_is_the_strings_file() -> None:
    assert json.loads((PACKAGE / "translations" / "en.json").read_text()) == STRINGS


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_says_everything_with_the_same_placeholders(language: str) -> None:
    english = leaves(STRINGS)
    translated = leaves(json.loads((PACKAGE / "translations" / f"{language}.json").read_text()))
    assert translated.keys() == english.keys()
    for key, text in english.items():
        assert placeholders(translated[key]) == placeholders(text), key
    if language != "en":
        # Translated, not copied (names of things such as "Port" may stay).
        same = [key for key, text in english.items() if translated[key] == text and len(text) > 12]
        assert not same, same


def test_norwegian_writes_compounds_as_one_word() -> None:
    names = leaves(json.loads((PACKAGE / "translations" / "nb.json").read_text())["entity"])
    assert names["sensor.active_power_import.name"] == "Effektforbruk"
    assert names["sensor.active_energy_import.name"] == "Energiforbruk"
    assert names["sensor.live_energy_import.name"] == "Løpende energiforbruk"
    assert not [text for text in names.values() if re.search(r"\b(Effekt|Energi) forbruk", text)]


def test_every_sensor_has_a_name_and_its_placeholders() -> None:
    sensors = STRINGS["entity"]["sensor"]
    for description in (*SENSORS, *DERIVED_SENSORS, *INFO_SENSORS):
        assert description.translation_key in sensors, description.key
        name = sensors[description.translation_key]["name"]
        assert placeholders(name) == set(description.translation_placeholders or {}), description.key
    # One name for the three phases of a quantity.
    assert sensors["voltage_phase"]["name"] == "Voltage {phase}"
    icons = json.loads((PACKAGE / "icons.json").read_text())["entity"]["sensor"]
    assert icons.keys() <= sensors.keys()
    for key, icon in icons.items():
        assert icon.get("state", {}).keys() <= sensors[key].get("state", {}).keys(), key
    # What the device page shows first has an icon of its own: how the meter is read, and the hour's headroom.
    assert {"connection", "line_check", "capacity_headroom"} <= icons.keys()


def test_every_message_the_code_can_show_is_written() -> None:
    flow = (PACKAGE / "config_flow.py").read_text() + (PACKAGE / "listening.py").read_text()
    config = STRINGS["config"]
    assert {
        "listen_serial",
        "listen_bridge",
        "listen_mqtt",
        "listen_serial_patiently",
        "listen_bridge_patiently",
        "listen_mqtt_patiently",
    } == config["progress"].keys()
    # A silence offers to wait for the next push, or to go back to the form listened from.
    assert set(config["step"]["silent"]["menu_options"]) == {
        "listen_patiently",
        "serial",
        "network",
        "mqtt_topic",
        "keys",
        "reauth_confirm",
    }
    # Returned names are errors, but for the field an error belongs to and the progress shown.
    returned = set(re.findall(r'return "(\w+)"', flow)) - {"base"} - config["progress"].keys()
    assert returned <= config["error"].keys()
    assert {"invalid_encryption_key", "invalid_authentication_key", "wrong_key", "address_in_use"} <= config[
        "error"
    ].keys()
    assert {"invalid_topic", "topic_silent", "topic_garbled", "broker_unreachable"} <= config["error"].keys()
    assert set(re.findall(r'reason="(\w+)"', flow)) <= config["abort"].keys()
    assert "mqtt_not_set_up" in config["abort"]
    issues = (PACKAGE / "issues.py").read_text()
    raised = set(re.findall(r'\.create\(\s*"(\w+)"', issues))
    raised |= set(re.findall(r'^\w+_ISSUE = "(\w+)"', issues, re.MULTILINE))
    # The silence and outage issues are the reader's: a port's, or an MQTT topic's.
    readers = (PACKAGE / "connection.py").read_text() + (PACKAGE / "mqtt_reader.py").read_text()
    raised |= set(re.findall(r'(?:silent|unreachable)_issue = "(\w+)"', readers))
    assert raised == {
        "energy_register_held",
        "meter_replaced",
        "meter_read_elsewhere",
        "list_not_learned",
        "bridge_closes",
        "meter_unreadable",
        "meter_silent",
        "port_unavailable",
        "topic_silent",
        "broker_unavailable",
    }
    assert raised <= STRINGS["issues"].keys()
    # The held register's fix flow: a menu, and a confirmation for each choice.
    flow = STRINGS["issues"]["energy_register_held"]["fix_flow"]
    assert flow["step"].keys() == {"init", "accept", "keep_holding"}
    assert flow["step"]["init"]["menu_options"].keys() == {"accept", "keep_holding"}
    repairs = (PACKAGE / "repairs.py").read_text()
    assert set(re.findall(r'reason="(\w+)"', repairs)) == flow["abort"].keys()
    # A port that does not open is told by its kind of failure: in the flow, its repair and its setup error.
    failures = {str(failure) for failure in PortFailure}
    assert failures <= config["error"].keys()
    told_apart = failures - {str(PortFailure.OTHER)}
    assert told_apart <= STRINGS["issues"].keys()
    for failure in told_apart:
        assert placeholders(STRINGS["issues"][failure]["description"]) <= {"meter", "minutes", "error"}, failure
        assert placeholders(STRINGS["exceptions"][failure]["message"]) <= {"url", "error"}, failure
    raising = (PACKAGE / "entry.py").read_text() + (PACKAGE / "coordinator.py").read_text()
    raising_keys = set(re.findall(r'translation_key=(?:[\w.]+ or )?"(\w+)"', raising))
    assert "cannot_open" in raising_keys
    assert raising_keys | told_apart == STRINGS["exceptions"].keys()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_menu_title_has_no_placeholders(language: str) -> None:
    # The 2026.11 frontend gives a menu's title no placeholders ("MISSING_VALUE"): they go in its description.
    steps = json.loads((PACKAGE / "translations" / f"{language}.json").read_text())["config"]["step"]
    menus = {name: step for name, step in steps.items() if "menu_options" in step}
    assert {"user", "reconfigure"} <= menus.keys()
    assert [name for name, step in menus.items() if placeholders(step["title"])] == []
    assert placeholders(menus["reconfigure"]["description"]) == {"meter"}
