"""A meter whose list no table knows, as a user meets it: set up at once, its list learned, a repair while it is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry

from custom_components.han_port import issues as issues_module
from custom_components.han_port.const import CONF_GENERATED_ID, DOMAIN
from custom_components.han_port.decoder import Decoder, ObisCode, Telegram
from simulator.frames import AM550_FIELDS

from .meter import sensor, wait_for
from .test_config_flow import Flow, start
from .test_learned_lists import NAME, push, states

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from .meter import TcpMeter

pytestmark = pytest.mark.usefixtures("fast_timing")

# A list no table knows: the AM550's, without its export powers (a 1-way company's push, say).
FIELDS = (*AM550_FIELDS[:3], AM550_FIELDS[4], *AM550_FIELDS[6:15])


async def test_a_meter_with_an_unknown_list_is_set_up_and_its_list_learned(
    hass: HomeAssistant,
    tcp_meter: TcpMeter,
    hass_client: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(issues_module, "LEARNING_PUSHES_BEFORE_ISSUE", 2)
    truth = list(states(40))
    frames = [push(state, FIELDS) for state in truth]
    # Nothing is shown before physics proves it: how many pushes that takes, our own decoder says.
    learner = Decoder()
    proven_after = next(
        n for n, frame in enumerate(frames) if any(isinstance(e, Telegram) for e in learner.feed(frame))
    )
    assert proven_after > 2
    tcp_meter.start_pushing([frames[0]])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    # Heard, though no telegram decoded yet: the entry is made, named by nothing the meter sent.
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    tcp_meter.start_pushing(list(frames[:proven_after]), interval=0.05)
    await wait_for(lambda: sensor(hass, "connection") is not None and sensor(hass, "connection").state == "learning")
    issue_id = f"list_not_learned_{entry.entry_id}"
    await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["issue_tracker"].startswith("https://github.com/")
    assert "positions proven" in issue.translation_placeholders["progress"]
    # It says how far the learning is as it goes on, not how far it was when raised.
    learning = entry.runtime_data.learning
    await wait_for(lambda: learning.pushes > 2 and learning.progress != issue.translation_placeholders["progress"])
    told = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert told is not None
    assert told.translation_placeholders is not None
    assert told.translation_placeholders["progress"] == learning.progress
    # The diagnostics hold its pushes, every serial masked, still checksum-valid.
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    captures = diagnostics["last_unlearned_pushes"]
    assert captures
    assert diagnostics["refuted_tables"] == []  # no table's opening and length: learned from the start
    assert all(NAME.encode().hex(" ") not in capture["raw"] for capture in captures)
    assert Decoder().feed_events(bytes.fromhex(captures[-1]["raw"]))[0].reason == "learning"  # type: ignore[union-attr]

    # The rest of the pushes prove the list: values shown, the issue withdrawn, what was proven kept.
    tcp_meter.start_pushing(list(frames[proven_after:]), interval=0.05)
    await wait_for(lambda: sensor(hass, "connection").state == "receiving")  # type: ignore[union-attr]
    await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None)
    voltage = sensor(hass, "voltage_l1")
    assert voltage is not None
    assert float(voltage.state) in {state.voltages[0] for state in truth}
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (learned,) = diagnostics["learned_lists"]
    assert learned["shown"] is True
    # The digest a list is kept under is no part of it: from a meter number alone it is found in seconds.
    assert "identity" not in learned
    assert {position["obis"] for position in learned["positions"]} >= {str(ObisCode(1, 0, 32, 7, 0, 255))}
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("generated", [True, False])
async def test_a_meter_whose_list_is_being_learned_is_reconfigured_only_if_it_named_no_meter(
    hass: HomeAssistant, tcp_meter: TcpMeter, generated: bool
) -> None:
    """Heard while its list is learned, a meter says nothing of who it is: only an entry that knew no id may take it."""
    unique_id = "made-up-id" if generated else "78012345"
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        data={CONF_HOST: "127.0.0.1", CONF_PORT: 1, CONF_GENERATED_ID: generated},
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([push(state, FIELDS) for state in states(3)])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == ("reconfigure_successful" if generated else "wrong_meter_unnamed")
    if not generated:
        assert result["description_placeholders"] == {"meter": entry.title}
    assert (entry.data[CONF_PORT] == tcp_meter.port) is generated
    await hass.async_block_till_done()
    if generated:
        assert await hass.config_entries.async_unload(entry.entry_id)
