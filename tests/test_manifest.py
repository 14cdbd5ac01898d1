"""What Home Assistant's validation reads of the integration: its manifest and its quality scale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import homeassistant.components

PACKAGE = Path(__file__).resolve().parents[1] / "custom_components" / "han_port"
_RULE = re.compile(r"^  ([a-z-]+):", re.MULTILINE)


def rules(quality_scale: Path) -> set[str]:
    """The rules a quality_scale.yaml answers (each a two-space-indented key under `rules:`)."""
    return set(_RULE.findall(quality_scale.read_text()))


def test_the_manifest_keys_come_in_the_order_hassfest_requires() -> None:
    """Domain and name first, then the rest alphabetically: hassfest refuses a manifest otherwise."""
    keys = list(json.loads((PACKAGE / "manifest.json").read_text()))
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_the_quality_scale_answers_every_rule_home_assistant_knows() -> None:
    """Every rule Home Assistant's own integrations answer (their quality_scale.yaml files), this one answers too."""
    known: set[str] = set()
    for path in Path(homeassistant.components.__file__).parent.glob("*/quality_scale.yaml"):
        known |= rules(path)
    assert known
    assert known - rules(PACKAGE / "quality_scale.yaml") == set()
