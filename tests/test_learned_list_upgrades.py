"""A learned list kept by an earlier version, whose import register is learned anew: the bookkeeping follows."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.const import CONF_HOST, CONF_PORT
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import DOMAIN
from custom_components.han_port.decoder import Decoder, ObisCode, Telegram
from custom_components.han_port.decoder.learned import _NOTHING_MORE

from .meter import sensor
from .test_energy_guard import push, reader_connected
from .test_learned_lists import feed, tariff_pushes

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from .meter import TcpMeter

pytestmark = pytest.mark.usefixtures("patient_reader")
ENERGY, T1, T2 = ObisCode(1, 0, 1, 8, 0), ObisCode(1, 0, 1, 8, 1), ObisCode(1, 0, 1, 8, 2)
NOTHING = {"register": None, "estimate": None, "published": None, "power": None, "power_at": None}


def old_store(pushes: list[bytes], tariff_1: int) -> list[dict[str, Any]]:
    """What a version before the tariffs were told apart kept: the running tariff proven as 1.8.0, no rules."""
    before = Decoder()
    feed(before, pushes[:90])
    (shape,) = before.learned_lists
    kept: dict[str, Any] = {name: value for name, value in shape.items() if name not in ("rules", "still")}
    kept["positions"] = [
        *shape["positions"],
        {"index": tariff_1, "obis": "1-0:1.8.0.255", "exponent": 0, "evidence": "only grows, and grew ..."},
    ]
    kept["waiting"] = _NOTHING_MORE
    return [kept]


@pytest.mark.parametrize("sent", [["1.8.0"], []], ids=["kept-as-sent-by-the-old-proof", "none-kept"])
async def test_an_import_register_learned_anew_as_tariffs_is_summed_into_the_total_and_its_jump_held(
    sent: list[str],
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    tcp_meter: TcpMeter,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An earlier version proved a list's running tariff as its import total 1.8.0, and kept it as sent.

    Learned anew as the two tariffs, the list sends no total: the total kept as sent kept the tariffs from being
    summed into it, and the import total never moved again. Summed, it jumps from the running tariff to both
    tariffs' sum, a jump the energy guard holds for the user to answer.
    """
    pushes, by_moment, _ = tariff_pushes(0, other_size=20_000_000)
    proven = Decoder()
    telegrams = [event for event in feed(proven, pushes) if isinstance(event, Telegram)]
    tariff_1 = next(p["index"] for p in proven.learned_lists[0]["positions"] if p["obis"] == str(T1))
    first = telegrams[0]
    assert first.timestamp is not None
    stored_total = by_moment[first.timestamp][0]  # what 1.8.0 showed: tariff 1's register
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="78012345",
        title="Iskraemeco",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port},
    )
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "import": NOTHING,
            "export": NOTHING,
            "tariff": {},
            "current_transformer_ratio": 1.0,
            "replay_counters": {},
            "sent_totals": sent,  # the old decoder showed the running tariff as 1.8.0
            "totals": [
                {"register": [1, 8, 0], "value": stored_total, "when": first.timestamp.replace(tzinfo=UTC).isoformat()}
            ],
            "learned_lists": old_store(pushes, tariff_1),
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await reader_connected(entry)
    # The decoder drops the old proof (as efce5e4 intends)...
    kept = entry.runtime_data.reader.decoder.learned_lists[0]
    assert str(ENERGY) not in {position["obis"] for position in kept["positions"]}
    # ...and, learned anew, the list shows the two tariffs and no total.
    restored = Decoder()
    restored.restore_learned_lists(hass_storage[key]["data"]["learned_lists"])
    relearned = [event for event in feed(restored, pushes) if isinstance(event, Telegram)]
    with_tariffs = [telegram for telegram in relearned if T1 in telegram.readings]
    assert with_tariffs
    assert all(ENERGY not in telegram.readings for telegram in relearned)
    for telegram in with_tariffs[:5]:
        assert telegram.timestamp is not None
        await push(hass, freezer, entry, telegram.timestamp.replace(tzinfo=UTC), telegram)
    energy = entry.runtime_data.energy
    # The import total is the tariffs' sum again, not a total the meter sends and the old proof left standing...
    assert energy.sent_totals == set()
    # ...and its jump from tariff 1 alone to both tariffs is held for the user to answer, not shown.
    assert energy.held.count > 0
    assert sensor(hass, "energy_import") is None
    assert await hass.config_entries.async_unload(entry.entry_id)
