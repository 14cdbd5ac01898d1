"""The config flow, driven against real transports: a pty, loopback TCP meters and bridges."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import voluptuous as vol
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import Event, callback
from homeassistant.data_entry_flow import EVENT_DATA_ENTRY_FLOW_PROGRESSED, FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port import config_flow as config_flow_module
from custom_components.han_port import entry as entry_module
from custom_components.han_port import flow_forms, listening
from custom_components.han_port.capacity import CAPACITY_MODELS, PeakRule
from custom_components.han_port.connection import LineSettings, open_connection
from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CAPACITY_MODEL,
    CONF_CAPACITY_THRESHOLDS,
    CONF_COUNTED_HOURS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_DEVICE,
    CONF_ENCRYPTION_KEY,
    CONF_GENERATED_ID,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_NIGHT_WEIGHT,
    CONF_ONE_PEAK_PER_DAY,
    CONF_PARITY,
    CONF_PEAK_DAYS,
    CONF_UPDATE_INTERVAL,
    CONF_WEEKDAYS_ONLY,
    DOMAIN,
)
from custom_components.han_port.decoder import mbus_frames
from custom_components.han_port.decoder.ciphering import P1_AUTHENTICATION_KEY
from simulator import frames as encoder
from simulator.meter import SimulatedMeter

from .live import free_port
from .meter import (
    AUTH_KEY,
    KEY,
    METER_ID,
    PtyMeter,
    TcpMeter,
    bridge_entry,
    ciphered_kamstrup,
    default_state,
    kamstrup_frame,
    sensor,
    set_up,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from homeassistant.config_entries import ConfigEntry, ConfigFlowResult
    from homeassistant.core import HomeAssistant

    from simulator.frames import MeterState

pytestmark = pytest.mark.usefixtures("fast_timing")

DANISH_METER_NUMBER = "74389702"  # the Danish list carries the short meter number


class Flow:
    """A config flow driven as the frontend drives it: progress steps are waited through.

    Like the frontend, it asks the flow again during progress only when Home
    Assistant says the flow progressed: Home Assistant itself moves the flow on
    when the listening task ends, and a second caller at that moment would
    move it on twice (and find it gone).
    """

    def __init__(self, hass: HomeAssistant, result: ConfigFlowResult) -> None:
        self.hass = hass
        self.flow_id = result["flow_id"]
        self.result = result
        self.progress: list[dict[str, str]] = []
        """The placeholders of every progress step shown on the way."""

    async def submit(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        progressed = asyncio.Event()

        @callback
        def on_progress(event: Event[Any]) -> None:
            if event.data["flow_id"] == self.flow_id:
                progressed.set()

        unsubscribe = self.hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESSED, on_progress)
        try:
            result = await self.hass.config_entries.flow.async_configure(self.flow_id, user_input)
            while result["type"] in (FlowResultType.SHOW_PROGRESS, FlowResultType.SHOW_PROGRESS_DONE):
                if result["type"] is FlowResultType.SHOW_PROGRESS:
                    placeholders = dict(result.get("description_placeholders") or {})
                    if placeholders not in self.progress:
                        self.progress.append(placeholders)
                    # What our own call fired is ours; wait for Home Assistant's word.
                    progressed.clear()
                    await asyncio.wait_for(progressed.wait(), timeout=60)
                result = await self.hass.config_entries.flow.async_configure(self.flow_id)
        finally:
            unsubscribe()
        self.result = result
        return result

    async def past_silence(self) -> ConfigFlowResult:
        """Decline, as most users of a silent port do, to wait for a push: back to the form, the silence its error."""
        assert self.result["type"] is FlowResultType.MENU, self.result
        assert self.result["step_id"] == "silent"
        waiting, form = self.result["menu_options"]
        assert waiting == "listen_patiently"
        return await self.submit({"next_step_id": form})


async def start(hass: HomeAssistant, menu_option: str) -> Flow:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["serial", "network", "mqtt_topic"]
    flow = Flow(hass, result)
    result = await flow.submit({"next_step_id": menu_option})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == menu_option
    return flow


async def load(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set an entry up, as a running Home Assistant has it: its reader holding the port."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def counted_setups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the entries' setups from now on (each still the real one): the ids of the entries set up, in order."""
    setups: list[str] = []
    real_setup = entry_module.async_setup_entry

    async def counted(hass: HomeAssistant, entry: Any) -> bool:
        setups.append(entry.entry_id)
        return await real_setup(hass, entry)

    monkeypatch.setattr(entry_module, "async_setup_entry", counted)
    return setups


def suggested(result: ConfigFlowResult, field: str) -> object:
    """What a form shows in a field: its suggested value, or else its default."""
    for marker in result["data_schema"].schema:
        if marker == field:
            description = marker.description or {}
            if "suggested_value" in description:
                return description["suggested_value"]
            return marker.default() if callable(marker.default) else None
    raise AssertionError(field)


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep a client connected and send it nothing, until it hangs up."""
    await reader.read()
    writer.close()


@contextlib.asynccontextmanager
async def bridge(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> AsyncIterator[int]:
    """A loopback TCP server that does what handler does with each client."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


# A new meter.


async def test_serial_port_detects_the_meter_with_progress(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Kamstrup {METER_ID}"
    assert result["result"].unique_id == METER_ID
    data = result["data"]
    assert data[CONF_DEVICE] == pty_meter.path
    assert (data[CONF_MANUFACTURER], data[CONF_METER_TYPE], data[CONF_GENERATED_ID]) == (
        "Kamstrup",
        "6841131BN243101040",
        False,
    )
    # A pty has no line to detect (and refuses even parity when opened again): 8N1, one try.
    assert (data[CONF_BAUDRATE], data[CONF_PARITY]) == (2400, "N")
    assert flow.progress == [{"address": pty_meter.path, "line": "2400 8N1", "attempt": "1", "attempts": "1"}]
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: entry.runtime_data.data.readings)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_without_an_id_gets_one_of_its_own(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    # The Swedish Aidon list never names the meter: the port must not become its identity.
    apdu = encoder.data_notification(encoder.aidon_swedish_list(default_state()), None)
    pty_meter.start_pushing([encoder.hdlc_frames(apdu)])
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id is not None
    assert pty_meter.path not in entry.unique_id
    assert len(entry.unique_id) == 32
    assert entry.data[CONF_GENERATED_ID] is True
    # Nothing in this list names the maker either: the title says only what is known.
    assert result["title"] == f"Meter {entry.unique_id[:6]}"
    await hass.async_block_till_done()

    # The same meter moves to another adapter: its made-up identity goes with it.
    other = PtyMeter()
    try:
        other.start_pushing([encoder.hdlc_frames(apdu)])
        flow = Flow(
            hass,
            await hass.config_entries.flow.async_init(
                DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
            ),
        )
        assert flow.result["type"] is FlowResultType.MENU
        await flow.submit({"next_step_id": "serial"})
        result = await flow.submit({CONF_DEVICE: other.path})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.data[CONF_DEVICE] == other.path
        assert entry.data[CONF_GENERATED_ID] is True
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        # A meter then set up on the adapter left is another: the identity made from that address went along.
        flow = await start(hass, "serial")
        result = await flow.submit({CONF_DEVICE: pty_meter.path})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["result"].unique_id not in (None, entry.unique_id)
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    finally:
        other.close()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_without_an_id_deleted_and_set_up_again_where_it_was_is_the_same_meter(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    """Deleting and adding again is what users try first: its sensors keep their entity ids, history and hours."""
    apdu = encoder.data_notification(encoder.aidon_swedish_list(default_state()), None)
    pty_meter.start_pushing([encoder.hdlc_frames(apdu)])
    identities, power_sensors = [], []
    registry = er.async_get(hass)
    for _ in range(2):
        flow = await start(hass, "serial")
        result = await flow.submit({CONF_DEVICE: pty_meter.path})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await wait_for(lambda: any(item.unique_id.endswith("_power_import") for item in registry.entities.values()))
        registered = er.async_entries_for_config_entry(registry, entry.entry_id)
        identities.append(entry.unique_id)
        power_sensors.append([item.entity_id for item in registered if item.unique_id.endswith("_power_import")])
        assert await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()
    assert identities[0] is not None
    assert identities[0] == identities[1]
    assert power_sensors[0] == power_sensors[1] != []


def _swedish_aidon() -> bytes:
    """The Swedish Aidon list, which names neither the meter nor its maker."""
    return encoder.hdlc_frames(encoder.data_notification(encoder.aidon_swedish_list(default_state()), None))


async def _set_up_and_delete(hass: HomeAssistant, device: str) -> ConfigEntry:
    """Set a serial meter up through the flow, and delete its entry again; return the entry it had."""
    result = await (await start(hass, "serial")).submit({CONF_DEVICE: device})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: ConfigEntry = result["result"]
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    return entry


_ADAPTERS_AT_MOST = 32


async def test_a_meter_without_an_id_keeps_its_identity_when_its_adapter_enumerates_anew(
    hass: HomeAssistant, pty_meter: PtyMeter, tmp_path: Path
) -> None:
    """Known by its adapter's lasting link (a by-id one), not by the kernel name that link pointed to that day."""
    link = tmp_path / "usb-Silicon_Labs_CP2102_HAN-if00-port0"
    link.symlink_to(pty_meter.path)
    pty_meter.start_pushing([_swedish_aidon()])
    first = await _set_up_and_delete(hass, str(link))
    pty_meter.stop_pushing()
    old = pty_meter.path
    pty_meter.unplug()
    # Other adapters enumerate first, one of them taking the old kernel name (while another test's ports come
    # and go, the lowest free name may be another for a moment: they enumerate until one has it).
    others = [PtyMeter()]
    while others[-1].path != old and len(others) < _ADAPTERS_AT_MOST:
        others.append(PtyMeter())
    if others[-1].path != old:
        for other in others:
            other.close()
        pytest.skip("another process holds the old kernel name: no adapter can take it")
    try:
        link.unlink()
        link.symlink_to(pty_meter.plug_in())
        assert pty_meter.path != old
        pty_meter.start_pushing([_swedish_aidon()])
        second = await _set_up_and_delete(hass, str(link))
    finally:
        for other in others:
            other.close()
    assert second.unique_id == first.unique_id


async def test_a_meter_of_another_make_set_up_where_a_deleted_one_was_is_another_meter(
    hass: HomeAssistant, pty_meter: PtyMeter
) -> None:
    """It must not take the old meter's meter hours, whose last register would make its first hour's use."""
    pty_meter.start_pushing([_swedish_aidon()])
    aidon = await _set_up_and_delete(hass, pty_meter.path)
    pty_meter.stop_pushing()
    p1 = SimulatedMeter("p1")
    pty_meter.start_pushing([push.frame for push in p1.advance(p1.start + timedelta(seconds=10))])
    landis = await _set_up_and_delete(hass, pty_meter.path)
    assert (aidon.data[CONF_MANUFACTURER], landis.data[CONF_MANUFACTURER]) == (None, "Landis+Gyr")
    assert landis.unique_id != aidon.unique_id


# An IPv6 host may come in brackets, as in a URL; these stand for any host.
@pytest.mark.parametrize("typed", ["127.0.0.1", " [127.0.0.1] "])
async def test_network_bridge(hass: HomeAssistant, tcp_meter: TcpMeter, typed: str) -> None:
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: typed, CONF_PORT: tcp_meter.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (result["data"][CONF_HOST], result["data"][CONF_PORT]) == ("127.0.0.1", tcp_meter.port)
    assert result["result"].unique_id == METER_ID
    assert flow.progress[0]["address"] == f"127.0.0.1:{tcp_meter.port}"
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_a_meter_another_setup_of_which_is_under_way_is_not_added_twice_and_says_why(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """A second window's setup holds the meter as this one hears it: Home Assistant aborts this one (a reviewer
    found its reason had no words of ours, which Home Assistant 2025.4 does not supply)."""
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER, "unique_id": METER_ID})
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_in_progress")
    english = Path(config_flow_module.__file__).parent / "translations" / "en.json"
    assert "already under way" in json.loads(english.read_text())["config"]["abort"]["already_in_progress"]


# What went wrong, told apart.


async def test_port_that_does_not_open_keeps_what_was_typed(hass: HomeAssistant) -> None:
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: "/dev/serial/by-id/no-such-adapter"})
    assert result["type"] is FlowResultType.FORM
    # Told in the user's language as what it is, the operating system's own words kept beside.
    assert result["errors"] == {CONF_DEVICE: "port_not_found"}
    assert suggested(result, CONF_DEVICE) == "/dev/serial/by-id/no-such-adapter"
    assert "no-such-adapter" in result["description_placeholders"]["error"]
    # A bridge's URL typed half (its bracket left open) is a port that does not open too, never a crash.
    result = await flow.submit({CONF_DEVICE: "socket://[::1"})
    assert (result["errors"], suggested(result, CONF_DEVICE)) == ({CONF_DEVICE: "cannot_connect"}, "socket://[::1")


@pytest.mark.parametrize("host", ["127.0.0.1:3001", "tcp://127.0.0.1", "han bridge", "[::1"])
async def test_a_host_that_is_no_host_is_said_on_its_field_and_stays(hass: HomeAssistant, host: str) -> None:
    """The port typed after the host, or a scheme before it: the commonest slips in the bridge's form."""
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: host, CONF_PORT: 3001})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    assert suggested(result, CONF_HOST) == host


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        (" han-bridge.local ", "han-bridge.local"),
        ("måler.local", "måler.local"),
        ("[::1]", "::1"),
        ("fe80::1", "fe80::1"),
        ("192.168.1.20", "192.168.1.20"),
        ("192.168.1.20:3001", None),
        ("socket://192.168.1.20", None),
        ("a..b", None),
        # As routers and labels print addresses: read as meant, never as the octal the resolver reads.
        ("192.168.001.020", "192.168.1.20"),
        ("127.1", None),
        ("0x7f000001", None),
        ("10.0.0.256", None),
        ("192.168.1.20.", "192.168.1.20"),
        # A name whose last label is a number is still a name, looked up in the search domain.
        ("han.1", "han.1"),
        ("bridge.01", "bridge.01"),
    ],
)
def test_a_bridge_host_is_a_name_or_an_address(typed: str, host: str | None) -> None:
    assert flow_forms.bridge_host(typed) == host


async def test_a_url_whose_port_is_out_of_range_does_not_open(hass: HomeAssistant) -> None:
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: "socket://127.0.0.1:99999"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE: "cannot_connect"}
    assert suggested(result, CONF_DEVICE) == "socket://127.0.0.1:99999"


async def test_silent_port_stops_after_one_setting(hass: HomeAssistant, socket_enabled: None) -> None:  # noqa: ARG001
    # A URL typed in the serial field is no pty: every line setting is a candidate.
    async with bridge(_hold) as port:
        flow = await start(hass, "serial")
        await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{port}"})
    result = await flow.past_silence()
    assert result["errors"] == {CONF_DEVICE: "nothing_received"}
    # Not one byte came: other line settings would hear nothing either.
    assert [(p["attempt"], p["attempts"]) for p in flow.progress] == [("1", "5")]


def quarter_hour_frame() -> bytes:
    """The Slovenian AM550's 15-minute energy list: all such a meter pushes, every 15 minutes, naming no meter."""
    state = default_state(energy_import=52_837, energy_export=177_927)
    return encoder.hdlc_frames(encoder.data_notification(encoder.iskraemeco_quarter_hour_list(state), state.moment))


def pushing_late(
    push: bytes,
    after: float,
    connections: list[int],
    *,
    again: float | None = None,
    cycle: list[bytes] | None = None,
    first: bytes = b"",
) -> Callable[..., Any]:
    """A bridge whose meter pushes this long after each connection but the first (counted in connections).

    again: the meter pushes again and again, this far apart (the pushes of cycle in turn, or push). first: bytes
    sent as each connection opens.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        with contextlib.closing(writer), contextlib.suppress(ConnectionError):  # the flow hangs up when it heard enough
            if len(connections) > 1:
                writer.write(first)
                if await _hung_up_within(reader, after):
                    return
                for later in itertools.cycle(cycle or [push]):
                    writer.write(later)
                    await writer.drain()
                    if again is None or await _hung_up_within(reader, again):
                        break
            await _hold(reader, writer)

    return handle


async def _hung_up_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Wait this long, unless the client hangs up first (then True): no push outlives its connection."""
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except TimeoutError:
        return False
    return True


async def set_up_after_a_wait(hass: HomeAssistant, port: int) -> ConfigFlowResult:
    """Set up the meter behind a bridge silent at first, waited for on request; unloaded while the bridge serves."""
    flow = await start(hass, "network")
    await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
    result = await flow.submit({"next_step_id": "listen_patiently"})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)
    return result


def aidon_lists(state: MeterState) -> list[bytes]:
    """An Aidon's lists as it pushes them: four of list 1, which names no meter, then list 2, which does."""
    return [
        encoder.hdlc_frames(encoder.data_notification(encoder.aidon_list(state, kind), None))
        for kind in (1, 1, 1, 1, 2)
    ]


async def test_a_wait_that_hears_a_meter_pushing_every_few_seconds_names_it(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """A meter plugged in while the flow waits: its list that names no meter does not end the wait before one does.

    Before, the wait ended seconds after the first push, which named no meter: the entry got an identity made up.
    """
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    # As a meter does, a tenth as slow: list 1 every 0.25 s, list 2 every 1.25 s; a usual listening, 1.5 s.
    monkeypatch.setattr(listening, "PROBE_SECONDS", 1.5)
    lists = aidon_lists(default_state())
    connections: list[int] = []
    async with bridge(pushing_late(lists[0], 0.5, connections, again=0.25, cycle=lists)) as port:
        result = await set_up_after_a_wait(hass, port)
    assert (result["data"][CONF_GENERATED_ID], result["result"].unique_id) == (False, default_state().meter_id)


async def test_a_stray_byte_while_waiting_is_no_push(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """One byte as the connection opens (an adapter powering up) does not end the wait before the meter's push."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    connections: list[int] = []
    async with bridge(pushing_late(quarter_hour_frame(), 7.0, connections, first=b"\x00")) as port:
        await set_up_after_a_wait(hass, port)


async def test_one_stray_byte_on_a_silent_port_is_no_push(
    hass: HomeAssistant,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """The port is silent but for one byte: no line setting is worth another try, and the wait is offered.

    Before, the byte counted as a push at other line settings: every setting was tried, and after a wait, each
    for its whole length.
    """

    async def one_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00")
        with contextlib.suppress(ConnectionError):
            await _hold(reader, writer)

    async with bridge(one_byte) as port:
        flow = await start(hass, "serial")
        result = await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{port}"})
    assert (result["type"], result["step_id"]) == (FlowResultType.MENU, "silent")
    assert [progress["attempt"] for progress in flow.progress] == ["1"]


async def test_a_push_begun_just_before_the_wait_ends_is_heard_out(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """A push whose first bytes come a moment before the wait's end, its last ones after it, is heard whole."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 3.0)
    push = quarter_hour_frame()
    connections: list[int] = []

    async def slow_push(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        with contextlib.suppress(ConnectionError):
            if len(connections) == 2:
                await asyncio.sleep(2.6)
                writer.write(push[:10])
                await asyncio.sleep(0.8)  # past the wait's 3 s
                writer.write(push[10:])
            await _hold(reader, writer)

    async with bridge(slow_push) as port:
        await set_up_after_a_wait(hass, port)


async def test_a_bridge_that_closes_an_idle_connection_is_waited_on_again(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """A bridge's idle timer (ser2net's) closes the connection before the meter's push: it is opened again."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    monkeypatch.setattr(listening, "HANG_UP_WITHIN", 0.5)
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        if len(connections) == 2:  # the wait's first connection: closed after a second idle
            await asyncio.sleep(1.0)
            writer.close()
            return
        if len(connections) == 3:
            await asyncio.sleep(0.5)
            writer.write(quarter_hour_frame())
        await _hold(reader, writer)

    async with bridge(handle) as port:
        await set_up_after_a_wait(hass, port)
    assert connections[:3] == [1, 2, 3]


async def test_after_a_wait_heard_a_ciphered_meter_its_keys_are_proven_by_a_usual_listening(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    connections: list[int] = []
    pushes = ciphered_kamstrup(default_state())
    frames = b"".join(pushes() for _ in range(40))
    async with bridge(pushing_late(frames, 0.3, connections)) as port:
        flow = await start(hass, "network")
        await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
        result = await flow.submit({"next_step_id": "listen_patiently"})
        assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "keys")
        flow.progress.clear()
        result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    assert flow.progress
    assert not [progress for progress in flow.progress if "minutes" in progress]


async def test_a_meter_that_pushes_every_15_minutes_is_waited_for(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """Silent for the usual listening, the port is listened to again on request until the meter's next push."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 60.0)
    connections: list[int] = []
    async with bridge(pushing_late(quarter_hour_frame(), 2.0, connections)) as port:
        flow = await start(hass, "network")
        result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
        assert result["type"] is FlowResultType.MENU
        assert (result["step_id"], result["menu_options"]) == ("silent", ["listen_patiently", "network"])
        assert result["description_placeholders"] == {"address": f"127.0.0.1:{port}", "minutes": "1"}
        started = asyncio.get_running_loop().time()
        result = await flow.submit({"next_step_id": "listen_patiently"})
        waited = asyncio.get_running_loop().time() - started
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
        # The entry's reader connects too: unloaded while the bridge still serves it.
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    # The push names no meter: it ends the wait all the same (the next is 15 minutes away).
    assert waited < 30
    assert (result["data"][CONF_MANUFACTURER], result["data"][CONF_GENERATED_ID]) == ("Iskraemeco", True)
    assert flow.progress[-1] == {
        "address": f"127.0.0.1:{port}",
        "line": "2400 8N1",
        "attempt": "1",
        "attempts": "1",
        "minutes": "1",
    }


async def test_waiting_for_a_push_moves_on_at_bytes_that_make_no_telegram(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """A push at other line settings ends that setting's wait: the next push is heard at the next setting."""
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 20.0)
    connections: list[int] = []
    async with bridge(pushing_late(b"\x00\xff\x13" * 30, 0.2, connections)) as port:
        flow = await start(hass, "serial")
        await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{port}"})
        started = asyncio.get_running_loop().time()
        result = await flow.submit({"next_step_id": "listen_patiently"})
        waited = asyncio.get_running_loop().time() - started
    # Every setting heard bytes and no telegram, and waited after them as long as a usual listening (fast_timing:
    # 1 s), none its 20 seconds.
    assert result["errors"] == {CONF_DEVICE: "no_valid_telegram"}
    assert [p["attempt"] for p in flow.progress if "minutes" in p] == ["1", "2", "3", "4", "5"]
    assert waited < 5 * 20 / 2


async def test_a_wait_that_hears_nothing_says_so_and_offers_no_second_wait(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    monkeypatch.setattr(listening, "PATIENT_PROBE_SECONDS", 1.5)
    async with bridge(_hold) as port:
        flow = await start(hass, "network")
        await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
        result = await flow.submit({"next_step_id": "listen_patiently"})
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_HOST: "bridge_silent"}
        # Submitted again, the port is listened to as usual, and its silence offers the wait again.
        result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
        assert result["type"] is FlowResultType.MENU


async def test_garbled_port_tries_every_setting(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([b"\x00\xff\x13" * 30])
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{tcp_meter.port}"})
    assert result["errors"] == {CONF_DEVICE: "no_valid_telegram"}
    assert [p["line"] for p in flow.progress] == ["2400 8E1", "2400 8N1", "9600 8N1", "115200 8N1", "9600 7E1"]
    # Telegrams that hold together at the first setting are the meter's line, whatever their values.
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_export=0xFFFFFFFF))])
    flow.progress.clear()
    result = await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{tcp_meter.port}"})
    assert result["errors"] == {CONF_DEVICE: "implausible_values"}
    assert [p["line"] for p in flow.progress] == ["2400 8E1"]
    # The HAN port gets opened; the user tries again, and the form kept the address.
    assert suggested(result, CONF_DEVICE) == f"socket://127.0.0.1:{tcp_meter.port}"
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    result = await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{tcp_meter.port}"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


def read_eight_bits_wide(characters: bytes) -> bytes:
    """Seven-bit characters and their even parity bit, as a reader of eight bits gets them: the parity is the eighth."""
    return bytes(character | (character.bit_count() & 1) << 7 for character in characters)


async def test_an_old_dutch_p1_port_is_found_at_9600_7e1_after_the_usual_settings(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """DSMR 2.2 and 3 meters send seven-bit ASCII: at every eight-bit setting their parity garbles the text.

    (A URL typed in the serial field takes every line setting, and its bytes come as the wire's would.)
    """
    telegram = encoder.p1_telegram(
        "ISk5\\2MT382-1004", ["0-0:96.1.1(4B384547303034303436333935353037)", "1-0:1.7.0(0001.21*kW)"], crc=False
    )
    tcp_meter.start_pushing([read_eight_bits_wide(telegram)])
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: f"socket://127.0.0.1:{tcp_meter.port}"})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert [p["line"] for p in flow.progress] == ["2400 8E1", "2400 8N1", "9600 8N1", "115200 8N1", "9600 7E1"]
    data = result["data"]
    assert (data[CONF_BAUDRATE], data[CONF_PARITY], data[CONF_BYTESIZE]) == (9600, "E", 7)
    # The entry reads on at seven bits.
    entry = result["result"]
    await hass.async_block_till_done()
    await wait_for(lambda: entry.runtime_data.data.readings)
    assert sensor(hass, "power_import").state == "1210"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_bridge_errors_are_told_apart(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    flow = await start(hass, "network")
    # Silent.
    await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    result = await flow.past_silence()
    assert result["errors"] == {CONF_HOST: "bridge_silent"}
    assert (suggested(result, CONF_HOST), suggested(result, CONF_PORT)) == ("127.0.0.1", tcp_meter.port)
    # Bytes that make no frame: the bridge's serial settings are wrong.
    damaged = bytearray(kamstrup_frame(default_state()))
    damaged[50] ^= 0xFF
    tcp_meter.start_pushing([bytes(damaged), b"\x00\xff" * 50])
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["errors"] == {CONF_HOST: "bridge_garbled"}
    # Telegrams that hold together, each with a value no household has (all ones: "not available"): the line is
    # right, and no other line settings are tried.
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_export=0xFFFFFFFF))])
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["errors"] == {CONF_HOST: "implausible_values"}
    # Busy: it hangs up on a second client.
    async with bridge(lambda _reader, writer: writer.close()) as port:
        result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
    assert result["errors"] == {CONF_HOST: "bridge_closed"}
    # Gone: the host answers, but nothing listens on the port.
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
    assert result["errors"] == {CONF_HOST: "bridge_refused"}


@pytest.mark.parametrize("menu_option", ["network", "serial"])
async def test_a_port_that_fails_at_once_ends_its_progress_where_the_frontend_hears_it(
    hass: HomeAssistant,
    socket_enabled: None,  # noqa: ARG001
    menu_option: str,
) -> None:
    """A refused bridge or a missing serial port fails in a millisecond: the dialog must still hear the end.

    The frontend subscribes to hear a progress end only once it shows the progress, a moment after the answer
    that started it: an end before that was lost, and the dialog showed "Listening" for good.
    """
    flow = await start(hass, menu_option)
    typed = (
        {CONF_HOST: "127.0.0.1", CONF_PORT: free_port()}
        if menu_option == "network"
        else {CONF_DEVICE: "/dev/nothing-here"}
    )
    result = await hass.config_entries.flow.async_configure(flow.flow_id, typed)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await asyncio.sleep(0.1)  # the answer's way to the browser, and the dialog's render
    progressed = asyncio.Event()

    @callback
    def on_progress(event: Event[Any]) -> None:
        if event.data["flow_id"] == flow.flow_id:
            progressed.set()

    unsubscribe = hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESSED, on_progress)
    try:
        await asyncio.wait_for(progressed.wait(), timeout=5)
    finally:
        unsubscribe()
    result = await hass.config_entries.flow.async_configure(flow.flow_id)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == (
        {CONF_HOST: "bridge_refused"} if menu_option == "network" else {CONF_DEVICE: "port_not_found"}
    )


# Keys.


async def test_ciphered_meter_asks_for_keys_and_keeps_what_was_typed(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "keys")

    typo = "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e"
    result = await flow.submit({CONF_ENCRYPTION_KEY: typo, CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key"}
    assert result["description_placeholders"]["encryption_key_digits"] == "30"
    # Both keys stay as typed: the typo is fixed, not everything retyped.
    assert suggested(result, CONF_ENCRYPTION_KEY) == typo
    assert suggested(result, CONF_AUTHENTICATION_KEY) == AUTH_KEY.hex()
    # 32 characters, a g and an O (for a 0) among them: the form names them, not a count of 30 digits.
    misread = "000102030405060708090a0b0c0d0eOg"
    result = await flow.submit({CONF_ENCRYPTION_KEY: misread, CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key_characters"}
    assert result["description_placeholders"]["encryption_key_others"] == "O g"

    # The meter authenticates its frames: the authentication key is required.
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: ""})
    assert result["errors"] == {CONF_AUTHENTICATION_KEY: "invalid_authentication_key"}

    result = await flow.submit({CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert result["errors"] == {"base": "wrong_key"}
    assert suggested(result, CONF_ENCRYPTION_KEY) == bytes(16).hex()

    # Keys as grid companies send them: spaced, with 0x.
    result = await flow.submit(
        {CONF_ENCRYPTION_KEY: "0x" + KEY.hex(" ").upper(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ENCRYPTION_KEY] == KEY.hex()
    assert result["data"][CONF_AUTHENTICATION_KEY] == AUTH_KEY.hex()
    assert result["result"].unique_id == DANISH_METER_NUMBER
    assert result["result"].data[CONF_METER_TYPE] == "OMNIPOWER"
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_keys_step_when_the_meter_goes_quiet(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    flow = await start(hass, "network")
    await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    tcp_meter.stop_pushing()
    keys = {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    await flow.submit(keys)
    result = await flow.past_silence()
    assert result["errors"] == {"base": "bridge_silent"}
    await tcp_meter.stop()
    result = await flow.submit(keys)
    assert result["errors"] == {"base": "bridge_refused"}


# Duplicates, found before listening.


async def test_a_port_already_read_is_refused_before_listening(
    hass: HomeAssistant, tcp_meter: TcpMeter, pty_meter: PtyMeter, tmp_path: Path
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="1", data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}).add_to_hass(
        hass
    )
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: " 127.0.0.1 ", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")
    assert tcp_meter.connections == 0
    assert flow.progress == []

    # The same adapter by another name: its by-id link and the device it points to.
    link = tmp_path / "usb-HAN-adapter"
    link.symlink_to(pty_meter.path)
    MockConfigEntry(domain=DOMAIN, unique_id="2", data={CONF_DEVICE: str(link)}).add_to_hass(hass)
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")


async def test_a_serial_url_already_read_is_refused_before_listening(hass: HomeAssistant) -> None:
    """An RFC 2217 server typed in the serial field is one port by its URL: a second entry for it is refused unopened."""
    url = "rfc2217://192.0.2.7:2217"
    MockConfigEntry(domain=DOMAIN, unique_id="1", data={CONF_DEVICE: url}).add_to_hass(hass)
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: url})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")
    assert flow.progress == []


async def test_the_same_meter_on_another_port_moves_the_entry(
    hass: HomeAssistant, tcp_meter: TcpMeter, pty_meter: PtyMeter
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_HOST: "10.0.0.1", CONF_PORT: 1})
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "meter_moved")
    assert entry.data[CONF_PORT] == tcp_meter.port
    await hass.async_block_till_done()

    # From the bridge to a serial port: nothing of the bridge stays, so the entry reads the port alone.
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow = await start(hass, "serial")
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "meter_moved")
    assert entry.data[CONF_DEVICE] == pty_meter.path
    assert CONF_HOST not in entry.data
    assert CONF_PORT not in entry.data
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # The bridge goes away; what the meter on the port says next is what the entry shows.
    await tcp_meter.stop()
    pty_meter.start_pushing([kamstrup_frame(default_state(power_import=2468))])
    await wait_for(lambda: _power(entry) == 2468)
    assert await hass.config_entries.async_unload(entry.entry_id)


def _power(entry: MockConfigEntry) -> float | None:
    reading = entry.runtime_data.data.readings.get((1, 7, 0))  # active power import, by C.D.E
    return None if reading is None else float(reading.value)


# Reauthentication and reconfiguration, on entries that are loaded and hold their port.


@contextlib.asynccontextmanager
async def held_port(kind: str) -> AsyncIterator[tuple[PtyMeter | TcpMeter, dict[str, Any]]]:
    """A meter on a port that only one reader can hold: a serial port (serialx locks it) or a one-client bridge."""
    if kind == "serial":
        pty = PtyMeter()
        try:
            yield pty, {CONF_DEVICE: pty.path}
        finally:
            pty.close()
        return
    bridge_meter = TcpMeter()
    await bridge_meter.start(single_client=True)
    try:
        yield bridge_meter, {CONF_HOST: "127.0.0.1", CONF_PORT: bridge_meter.port}
    finally:
        await bridge_meter.stop()


HELD_PORTS = pytest.mark.parametrize("kind", ["serial", "single-client bridge"])


@HELD_PORTS
async def test_reauth_on_a_loaded_entry(hass: HomeAssistant, socket_enabled: None, kind: str) -> None:  # noqa: ARG001
    async with held_port(kind) as (meter, connection):
        meter.start_pushing([ciphered_kamstrup(default_state())])
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=DANISH_METER_NUMBER,
            title=f"Kamstrup {DANISH_METER_NUMBER}",
            data={
                **connection,
                CONF_MANUFACTURER: "Kamstrup",
                CONF_ENCRYPTION_KEY: bytes(16).hex(),
                CONF_AUTHENTICATION_KEY: AUTH_KEY.hex(),
            },
        )
        await load(hass, entry)
        # The running reader holds the port, and asks for new keys by itself.
        await wait_for(lambda: _reauth(hass) is not None)
        flow = Flow(hass, _reauth(hass))
        await flow.submit()
        assert flow.result["step_id"] == "reauth_confirm"
        assert flow.result["description_placeholders"]["meter"] == f"Kamstrup {DANISH_METER_NUMBER}"
        assert entry.runtime_data.reader.connects >= 1

        result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: bytes(16).hex()})
        assert result["errors"] == {"base": "wrong_key"}
        # The reader has the port back while the user looks at the error.
        assert not entry.runtime_data.reader.paused
        result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
        assert (result["type"], result.get("reason")) == (FlowResultType.ABORT, "reauth_successful"), result
        assert entry.data[CONF_ENCRYPTION_KEY] == KEY.hex()
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        await wait_for(lambda: entry.runtime_data.data.readings)
        assert await hass.config_entries.async_unload(entry.entry_id)


@HELD_PORTS
async def test_reconfigure_on_a_loaded_entry_at_the_same_address(
    hass: HomeAssistant,
    socket_enabled: None,  # noqa: ARG001
    kind: str,
) -> None:
    async with held_port(kind) as (meter, connection):
        meter.start_pushing([kamstrup_frame(default_state())])
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=METER_ID,
            title=f"Kamstrup {METER_ID}",
            data={**connection, CONF_MANUFACTURER: "Kamstrup", CONF_BAUDRATE: 2400, CONF_PARITY: "N"},
        )
        await load(hass, entry)
        await wait_for(lambda: entry.runtime_data.data.readings)
        connects = entry.runtime_data.reader.connects
        flow = Flow(hass, await entry.start_reconfigure_flow(hass))
        assert flow.result["description_placeholders"]["meter"] == f"Kamstrup {METER_ID}"
        step = "serial" if kind == "serial" else "network"
        await flow.submit({"next_step_id": step})
        result = await flow.submit(connection)
        assert (result["type"], result.get("reason")) == (FlowResultType.ABORT, "reconfigure_successful"), result
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        # The reloaded entry reads the port again, and the meter's values come back.
        reader = entry.runtime_data.reader
        await wait_for(lambda: reader.connects >= 1 and entry.runtime_data.data.readings)
        assert connects >= 1
        assert await hass.config_entries.async_unload(entry.entry_id)


def _reauth(hass: HomeAssistant) -> Any:
    """The reauthentication flow in progress, if there is one."""
    for progress in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        if progress["context"]["source"] == SOURCE_REAUTH:
            return progress
    return None


async def test_reconfigure_from_a_bridge_to_a_serial_port(
    hass: HomeAssistant, tcp_meter: TcpMeter, pty_meter: PtyMeter
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    entry.add_to_hass(hass)
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    # Without Home Assistant's MQTT integration no topic is offered: picking one would end the flow with advice to
    # set MQTT up and add the meter again, which is no way on for a meter set up already.
    assert flow.result["menu_options"] == ["serial", "network"]
    await flow.submit({"next_step_id": "serial"})
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert entry.data[CONF_DEVICE] == pty_meter.path
    assert CONF_HOST not in entry.data
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_loaded_entry_moved_by_a_reconfigure_is_set_up_once(
    hass: HomeAssistant, tcp_meter: TcpMeter, pty_meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow reloads the entry it changed; nothing reloads it a second time (the port would open twice).

    On releases whose options flow does not reload by itself, the entry's update listener follows its
    options alone, not every change of its data.
    """
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    await load(hass, entry)
    await wait_for(lambda: entry.runtime_data.data.readings)
    setups = counted_setups(monkeypatch)
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "serial"})
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_DEVICE] == pty_meter.path
    assert len(setups) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_from_one_serial_adapter_to_another_tries_the_meters_settings_first(
    hass: HomeAssistant, pty_meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meter has not changed, only its adapter: the line settings it is known to use are tried before the rest.

    A pty takes any line setting, so the first one tried is the one kept; it stands in for a USB adapter here.
    """
    monkeypatch.setattr(config_flow_module, "is_pseudo_terminal", lambda _device: False)
    known = {CONF_BAUDRATE: 115200, CONF_PARITY: "N"}
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: "/dev/ttyUSB-old", **known})
    entry.add_to_hass(hass)
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "serial"})
    result = await flow.submit({CONF_DEVICE: pty_meter.path})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert (entry.data[CONF_DEVICE], entry.data[CONF_BAUDRATE], entry.data[CONF_PARITY]) == (
        pty_meter.path,
        115200,
        "N",
    )
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("unique_id", "manufacturer"),
    [("1111111111111111", "Kamstrup"), (METER_ID, "Aidon")],
    ids=["another meter id", "another maker"],
)
async def test_reconfigure_refuses_another_meter(
    hass: HomeAssistant, tcp_meter: TcpMeter, unique_id: str, manufacturer: str
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        data={CONF_HOST: "127.0.0.1", CONF_PORT: 1, CONF_MANUFACTURER: manufacturer},
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "wrong_meter")
    # The user is told which meter the port carries, and which one the entry reads.
    assert result["description_placeholders"] == {"meter": entry.title, "heard": f"Kamstrup {METER_ID}"}
    assert entry.data[CONF_PORT] == 1


async def test_reconfigure_refuses_a_port_another_meter_reads(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id="2", title="Aidon 7359992890941742", data={CONF_HOST: "127.0.0.1", CONF_PORT: 7}
    ).add_to_hass(hass)
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    entry.add_to_hass(hass)
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: 7})
    assert result["errors"] == {CONF_HOST: "address_in_use"}
    assert result["description_placeholders"]["other_meter"] == "Aidon 7359992890941742"
    assert tcp_meter.connections == 0


async def each_reading_the_others_meter(
    hass: HomeAssistant, mine: MockConfigEntry, theirs: MockConfigEntry
) -> ir.IssueRegistry:
    """Set both entries up, and wait until each has said its address carries the other's meter."""
    await set_up(hass, mine)
    await set_up(hass, theirs)
    issues = ir.async_get(hass)
    await wait_for(
        lambda: all(
            issues.async_get_issue(DOMAIN, f"meter_read_elsewhere_{entry.entry_id}") for entry in (mine, theirs)
        )
    )
    return issues


OTHER_METER = "5706567000000042"


@contextlib.asynccontextmanager
async def swapped_bridges() -> AsyncIterator[tuple[TcpMeter, TcpMeter, MockConfigEntry, MockConfigEntry]]:
    """Two bridges that swapped addresses: each entry's address carries the other entry's meter."""
    first, second = TcpMeter(), TcpMeter()
    await first.start()
    await second.start()
    first.start_pushing([kamstrup_frame(default_state(meter_id=OTHER_METER))])
    second.start_pushing([kamstrup_frame(default_state())])
    try:
        yield first, second, bridge_entry(first.port), bridge_entry(second.port, unique_id=OTHER_METER)
    finally:
        await first.stop()
        await second.stop()


async def test_reconfiguring_one_of_two_swapped_bridges_swaps_both_back(
    hass: HomeAssistant,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    async with swapped_bridges() as (first, second, mine, theirs):
        try:
            issues = await each_reading_the_others_meter(hass, mine, theirs)
            flow = Flow(hass, await mine.start_reconfigure_flow(hass))
            await flow.submit({"next_step_id": "network"})
            result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: second.port})
            assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
            # One reconfiguration sets both right: the other entry takes the address this one left.
            assert (mine.data[CONF_PORT], theirs.data[CONF_PORT]) == (second.port, first.port)
            await hass.async_block_till_done()
            await wait_for(
                lambda: (
                    not any(
                        issues.async_get_issue(DOMAIN, f"meter_read_elsewhere_{entry.entry_id}")
                        for entry in (mine, theirs)
                    )
                )
            )
            assert (mine.runtime_data.data.meter_id, theirs.runtime_data.data.meter_id) == (METER_ID, OTHER_METER)
        finally:
            for entry in (mine, theirs):
                await hass.config_entries.async_unload(entry.entry_id)


async def test_a_swapped_entry_deleted_while_the_flow_listens_leaves_the_reconfigured_one_moved(
    hass: HomeAssistant,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """The user deletes the other entry while the reconfigure dialog listens: this one moves, and nothing else."""
    async with swapped_bridges() as (_first, second, mine, theirs):
        try:
            await each_reading_the_others_meter(hass, mine, theirs)
            flow = Flow(hass, await mine.start_reconfigure_flow(hass))
            await flow.submit({"next_step_id": "network"})

            async def delete_while_listening() -> None:
                await wait_for(lambda: mine.runtime_data.reader.paused)
                assert await hass.config_entries.async_remove(theirs.entry_id)

            deleting = hass.async_create_task(delete_while_listening())
            result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: second.port})
            await deleting
            assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
            assert mine.data[CONF_PORT] == second.port
            assert hass.config_entries.async_entries(DOMAIN) == [mine]
            await hass.async_block_till_done()
            await wait_for(lambda: mine.runtime_data.data.meter_id == METER_ID)
        finally:
            await hass.config_entries.async_unload(mine.entry_id)


async def test_addresses_of_two_kinds_are_never_swapped(
    hass: HomeAssistant,
    pty_meter: PtyMeter,
    tcp_meter: TcpMeter,
) -> None:
    """A serial entry and a network one each receive the other's meter: the network entry's line settings are
    defaults a serial port may not carry, so each is reconfigured on its own."""
    other_meter = "5706567000000042"
    pty_meter.start_pushing([kamstrup_frame(default_state(meter_id=other_meter))])
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    mine = MockConfigEntry(
        domain=DOMAIN, unique_id=METER_ID, title=f"Kamstrup {METER_ID}", data={CONF_DEVICE: pty_meter.path}
    )
    theirs = bridge_entry(tcp_meter.port, unique_id=other_meter)
    await each_reading_the_others_meter(hass, mine, theirs)
    flow = Flow(hass, await mine.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["errors"] == {CONF_HOST: "address_in_use"}
    assert theirs.data[CONF_PORT] == tcp_meter.port
    for entry in (mine, theirs):
        await hass.config_entries.async_unload(entry.entry_id)


async def test_a_moved_ciphered_meter_keeps_its_keys(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    keys = {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()}
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=DANISH_METER_NUMBER, data={CONF_HOST: "10.0.0.9", CONF_PORT: 1, **keys}
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    assert flow.result["menu_options"] == ["serial", "network", "keys"]
    await flow.submit({"next_step_id": "network"})
    # No keys asked: the stored ones open the meter's telegrams on the new bridge.
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert (entry.data[CONF_PORT], entry.data[CONF_ENCRYPTION_KEY]) == (tcp_meter.port, KEY.hex())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_changes_keys(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    new_key, new_auth_key = bytes(range(100, 116)), bytes(range(200, 216))
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=DANISH_METER_NUMBER,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: tcp_meter.port,
            CONF_ENCRYPTION_KEY: KEY.hex(),
            CONF_AUTHENTICATION_KEY: AUTH_KEY.hex(),
        },
    )
    entry.add_to_hass(hass)
    tcp_meter.start_pushing([ciphered_kamstrup(default_state(), new_key, new_auth_key)])
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    result = await flow.submit({"next_step_id": "keys"})
    assert result["step_id"] == "keys"
    # The keys in use are offered, to be changed.
    assert suggested(result, CONF_ENCRYPTION_KEY) == KEY.hex()
    result = await flow.submit({CONF_ENCRYPTION_KEY: new_key.hex(), CONF_AUTHENTICATION_KEY: new_auth_key.hex()})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert (entry.data[CONF_ENCRYPTION_KEY], entry.data[CONF_AUTHENTICATION_KEY]) == (new_key.hex(), new_auth_key.hex())
    assert entry.data[CONF_HOST] == "127.0.0.1"
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_errors_then_keys(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DANISH_METER_NUMBER, data={CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    entry.add_to_hass(hass)
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    assert result["errors"] == {CONF_HOST: "bridge_refused"}
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["step_id"] == "keys"
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert result["reason"] == "reconfigure_successful"
    assert (entry.data[CONF_PORT], entry.data[CONF_ENCRYPTION_KEY]) == (tcp_meter.port, KEY.hex())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_with_a_replaced_meters_keys_follows_the_new_meter(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """The grid company swapped the meter, and its keys with it: the old keys stop opening, the new ones are typed.

    The port is the entry's own: the meter the new keys open there is the one that replaced it, never a wrong
    port (reconfigure, where the user picks the port, refuses another meter).
    """
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="11111111",
        title="Kamstrup 11111111",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: tcp_meter.port,
            CONF_MANUFACTURER: "Kamstrup",
            CONF_ENCRYPTION_KEY: bytes(16).hex(),
            CONF_AUTHENTICATION_KEY: bytes(16).hex(),
        },
    )
    await load(hass, entry)
    await wait_for(lambda: _reauth(hass) is not None)
    flow = Flow(hass, _reauth(hass))
    await flow.submit()
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reauth_meter_replaced")
    assert (entry.data[CONF_ENCRYPTION_KEY], entry.data[CONF_AUTHENTICATION_KEY]) == (KEY.hex(), AUTH_KEY.hex())
    # The reader follows the new meter as any replaced one: an identity, a device and sensors of its own.
    await wait_for(lambda: entry.unique_id == DANISH_METER_NUMBER and entry.state is ConfigEntryState.LOADED)
    assert entry.title == f"Kamstrup {DANISH_METER_NUMBER}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"meter_replaced_{entry.entry_id}") is not None
    await wait_for(lambda: entry.runtime_data.data.readings)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_never_takes_a_meter_another_entry_reads(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    """The meter on this entry's port is another entry's (two bridges swapped, say): its keys are not this one's."""
    tcp_meter.start_pushing([ciphered_kamstrup(default_state())])
    theirs = MockConfigEntry(
        domain=DOMAIN,
        unique_id=DANISH_METER_NUMBER,
        title="Kitchen meter",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: free_port(), CONF_MANUFACTURER: "Kamstrup"},
    )
    theirs.add_to_hass(hass)
    old_keys = {CONF_ENCRYPTION_KEY: bytes(16).hex(), CONF_AUTHENTICATION_KEY: bytes(16).hex()}
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="11111111",
        title="Kamstrup 11111111",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port, CONF_MANUFACTURER: "Kamstrup", **old_keys},
    )
    result = await reauthenticated(hass, entry)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reauth_read_elsewhere")
    assert result["description_placeholders"] == {
        "meter": "Kamstrup 11111111",
        "heard": f"Kamstrup {DANISH_METER_NUMBER}",
        "other": "Kitchen meter",
    }
    assert {key: entry.data[key] for key in old_keys} == old_keys


def short_ciphered_list() -> Callable[[], bytes]:
    """A ciphered short list, its power alone: it names its maker (by the system title) and no meter id."""
    apdu = encoder.data_notification(encoder.aidon_list(default_state(), 1), None)
    counter = itertools.count(1)
    return lambda: encoder.hdlc_frames(encoder.glo_cipher(apdu, KEY, AUTH_KEY, counter=next(counter)))


async def reauthenticated(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    """Start reauthentication and type the meter's keys; return how the flow ended."""
    entry.add_to_hass(hass)
    flow = Flow(hass, await entry.start_reauth_flow(hass))
    return await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})


@pytest.mark.parametrize(
    ("unique_id", "manufacturer", "generated", "named"),
    [
        ("0123456789abcdef", "Kamstrup", True, True),
        (DANISH_METER_NUMBER, "Aidon", False, True),
        (DANISH_METER_NUMBER, "Kamstrup", False, False),
    ],
    ids=["id-made-up-for-the-meter", "its-own-id-under-another-maker", "a-list-naming-no-meter-id"],
)
async def test_reauth_takes_the_keys_of_the_meter_the_entry_reads(
    hass: HomeAssistant, tcp_meter: TcpMeter, unique_id: str, manufacturer: str, *, generated: bool, named: bool
) -> None:
    """Nothing heard contradicts the entry's meter, as the reader judges it: an id where the entry made one up is
    learned, the entry's own id proves its meter whatever maker a list is read as, and a list naming no id tells
    nothing of a replacement. The keys are simply the meter's new ones."""
    tcp_meter.start_pushing([ciphered_kamstrup(default_state()) if named else short_ciphered_list()])
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: tcp_meter.port,
            CONF_MANUFACTURER: manufacturer,
            CONF_GENERATED_ID: generated,
        },
    )
    result = await reauthenticated(hass, entry)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reauth_successful")
    assert (entry.unique_id, entry.data[CONF_ENCRYPTION_KEY]) == (unique_id, KEY.hex())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_closing_the_dialog_gives_the_port_back(hass: HomeAssistant, tcp_meter: TcpMeter) -> None:
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    await load(hass, entry)
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    tcp_meter.stop_pushing()
    result = await hass.config_entries.flow.async_configure(
        flow.flow_id, {CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await wait_for(lambda: entry.runtime_data.reader.paused)
    hass.config_entries.flow.async_abort(flow.flow_id)
    assert not entry.runtime_data.reader.paused
    assert await hass.config_entries.async_unload(entry.entry_id)


# Options.


async def test_options_flow_reloads_once_and_keeps_what_was_typed(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="1", data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    await load(hass, entry)
    setups = counted_setups(monkeypatch)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    # Which of several meters the dialog is for: its title names it.
    assert result["description_placeholders"] == {"meter": entry.title}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CURRENT_TRANSFORMER_RATIO: 60, CONF_CAPACITY_THRESHOLDS: "5, 2", CONF_PEAK_DAYS: 3}
    )
    assert result["errors"] == {CONF_CAPACITY_THRESHOLDS: "invalid_thresholds"}
    # What was typed stays, the mistake included, so it can be fixed.
    assert suggested(result, CONF_CAPACITY_THRESHOLDS) == "5, 2"
    assert suggested(result, CONF_CURRENT_TRANSFORMER_RATIO) == 60
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CURRENT_TRANSFORMER_RATIO: 60, CONF_CAPACITY_THRESHOLDS: "2;5; 10.5", CONF_PEAK_DAYS: 2.0},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_CURRENT_TRANSFORMER_RATIO: 60,
        CONF_CAPACITY_THRESHOLDS: "2, 5, 10.5",
        CONF_PEAK_DAYS: 2,
        CONF_CAPACITY_MODEL: "norway",
        CONF_UPDATE_INTERVAL: 0.0,  # every telegram, unless the user asks for fewer
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert len(setups) == 1
    assert entry.runtime_data.energy.counts.tariff.thresholds == (2.0, 5.0, 10.5)
    assert entry.runtime_data.energy.counts.tariff.peak_days == 2
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow_offers_stored_thresholds_as_the_entry_reads_them(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """Steps an earlier version wrote as "1, 1" show as the one step the entry reads, and pass the form unchanged."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="1",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port},
        options={CONF_CAPACITY_THRESHOLDS: "1, 1", CONF_CURRENT_TRANSFORMER_RATIO: 1, CONF_PEAK_DAYS: 3},
    )
    await load(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert suggested(result, CONF_CAPACITY_THRESHOLDS) == "1"
    shown = {field: suggested(result, field) for field in (CONF_CURRENT_TRANSFORMER_RATIO, CONF_CAPACITY_THRESHOLDS)}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {**shown, CONF_PEAK_DAYS: 3})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CAPACITY_THRESHOLDS] == "1"
    await hass.async_block_till_done()
    assert entry.runtime_data.energy.counts.tariff.thresholds == (1.0,)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_capacity_charge_of_the_users_own_is_asked_for_on_a_second_form(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """A Swedish grid company's rule: the hours it counts, weekdays only, the night's weight, peaks on any day."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="1", data={CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    await load(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CAPACITY_MODEL: "custom", CONF_CAPACITY_THRESHOLDS: "2, 5", CONF_PEAK_DAYS: 2},
    )
    assert result["step_id"] == "custom_capacity"
    custom = {CONF_ONE_PEAK_PER_DAY: False, CONF_COUNTED_HOURS: "7-25", CONF_WEEKDAYS_ONLY: True, CONF_NIGHT_WEIGHT: 1}
    result = await hass.config_entries.options.async_configure(result["flow_id"], custom)
    assert result["errors"] == {CONF_COUNTED_HOURS: "invalid_hours"}
    assert suggested(result, CONF_COUNTED_HOURS) == "7-25"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**custom, CONF_COUNTED_HOURS: " 7 - 19"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_COUNTED_HOURS] == "7-19"
    await hass.async_block_till_done()
    tariff = entry.runtime_data.energy.counts.tariff
    assert tariff.rule == PeakRule(one_per_day=False, first_hour=7, last_hour=19, weekdays_only=True, night_weight=1.0)
    assert tariff.peak_days == 2
    # A named model is the grid company's rule as it is.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CAPACITY_MODEL: "half_nights", CONF_CAPACITY_THRESHOLDS: "2, 5", CONF_PEAK_DAYS: 3}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.runtime_data.energy.counts.tariff.rule == CAPACITY_MODELS["half_nights"]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_paused_reader_never_takes_the_port_back_by_itself(hass: HomeAssistant, pty_meter: PtyMeter) -> None:
    pty_meter.start_pushing([kamstrup_frame(default_state())])
    entry = MockConfigEntry(domain=DOMAIN, unique_id=METER_ID, data={CONF_DEVICE: pty_meter.path})
    await load(hass, entry)
    reader = entry.runtime_data.reader
    await wait_for(lambda: reader.connects >= 1)
    await reader.pause()
    # Resumed and paused again before the reader ran: it was woken, yet must not open.
    reader.resume()
    await reader.pause()
    connects = reader.connects
    await asyncio.sleep(0.3)  # the woken reader runs now
    transport = await open_connection(pty_meter.path, LineSettings(), asyncio.Protocol)
    await asyncio.sleep(0.3)
    assert reader.connects == connects
    transport.close()
    await asyncio.sleep(0.1)
    reader.resume()
    await wait_for(lambda: reader.connects > connects)
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_the_port_picker_lists_usb_adapters_before_on_board_uarts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The form shows its first option selected: that must be the adapter, not /dev/ttyS0.
    ports = [
        SimpleNamespace(device="/dev/ttyS0", manufacturer=None, product=None, serial_number=None),
        SimpleNamespace(device="/dev/ttyS1", manufacturer=None, product=None, serial_number=None),
        SimpleNamespace(device="/dev/ttyUSB0", manufacturer="FTDI", product="FT232R", serial_number="A1"),
    ]
    monkeypatch.setattr(flow_forms.serialx, "list_serial_ports", lambda: ports)
    monkeypatch.setattr(flow_forms.serialx, "udev_serial_by_id_stem", lambda _port: None)
    options = flow_forms.list_ports()
    assert [option["value"] for option in options] == ["/dev/ttyUSB0", "/dev/ttyS0", "/dev/ttyS1"]
    assert options[0]["label"] == "/dev/ttyUSB0 (FTDI, FT232R, A1)"


async def test_reauth_asks_for_the_keys_the_meter_uses(hass: HomeAssistant) -> None:
    def required(result: ConfigFlowResult) -> set[str]:
        return {str(marker) for marker in result["data_schema"].schema if isinstance(marker, vol.Required)}

    # Encryption only: the authentication key stays optional.
    ciphered = MockConfigEntry(
        domain=DOMAIN, unique_id="1", data={CONF_HOST: "10.0.0.1", CONF_PORT: 1, CONF_ENCRYPTION_KEY: KEY.hex()}
    )
    ciphered.add_to_hass(hass)
    assert required(await ciphered.start_reauth_flow(hass)) == {CONF_ENCRYPTION_KEY}
    # A meter that authenticates: both are required.
    authenticated = MockConfigEntry(
        domain=DOMAIN,
        unique_id="2",
        data={
            CONF_HOST: "10.0.0.2",
            CONF_PORT: 1,
            CONF_ENCRYPTION_KEY: KEY.hex(),
            CONF_AUTHENTICATION_KEY: AUTH_KEY.hex(),
        },
    )
    authenticated.add_to_hass(hass)
    result = await authenticated.start_reauth_flow(hass)
    assert required(result) == {CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY}
    # Keys are secrets: both fields are masked.
    assert [selector.config["type"] for selector in result["data_schema"].schema.values()] == ["password", "password"]


def _required(result: ConfigFlowResult) -> set[str]:
    return {str(marker) for marker in result["data_schema"].schema if isinstance(marker, vol.Required)}


def _austrian_mbus(state: MeterState) -> Callable[[], bytes]:
    """An EVN meter: the Austrian list over wired M-Bus, encrypted without a tag (security 0x20): one key."""
    apdu = encoder.data_notification(encoder.evn_list(state), state.moment)
    counter = itertools.count(1)
    return lambda: mbus_frames(encoder.glo_cipher(apdu, KEY, b"", security=0x20, counter=next(counter)))


def _encrypted_p1(auth_key: bytes) -> Callable[[], bytes]:
    """A P1 port that ciphers each telegram bare (DSMR 5 style): Luxembourg's Smarty tags with the published key."""
    telegram = encoder.p1_telegram(
        "SAT5\\Sagemcom T210-D", ["0-0:96.1.1(3044563031)", "0-0:1.0.0(240115130010W)", "1-0:1.7.0(0001.453*kW)"]
    )
    counter = itertools.count(1)
    return lambda: encoder.glo_cipher(telegram, KEY, auth_key, system_title=b"SAGtest1", counter=next(counter))


@pytest.mark.parametrize("meter", ["austrian m-bus", "smarty p1"])
async def test_a_meter_of_one_key_is_set_up_with_that_key_alone(
    hass: HomeAssistant, tcp_meter: TcpMeter, meter: str
) -> None:
    state = default_state(meter_id="1KFM0200169986")
    push = _austrian_mbus(state) if meter == "austrian m-bus" else _encrypted_p1(P1_AUTHENTICATION_KEY)
    tcp_meter.start_pushing([push])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "keys")
    # Nothing says the meter has an authentication key of its own: it is not asked for.
    assert _required(result) == {CONF_ENCRYPTION_KEY}
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ENCRYPTION_KEY] == KEY.hex()
    assert CONF_AUTHENTICATION_KEY not in result["data"]
    assert result["result"].unique_id == ("1KFM0200169986" if meter == "austrian m-bus" else "3044563031")
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("vendor", "title"),
    [("landis-gyr-ch", "Landis+Gyr 36418434"), ("iskraemeco", "Iskraemeco 78012345")],
)
async def test_a_plain_meter_beyond_the_nordics_is_found_and_named_by_itself(
    hass: HomeAssistant, tcp_meter: TcpMeter, vendor: str, title: str
) -> None:
    """A block-transfer push and a list without OBIS codes need nothing but the address."""
    meter = SimulatedMeter(vendor)
    tcp_meter.start_pushing([push.frame for push in meter.advance(meter.start + timedelta(seconds=30))])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["title"] == title
    assert result["result"].unique_id == title.rsplit(" ", 1)[1]
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_a_wrong_encryption_key_for_a_p1_port_is_told_as_wrong_not_as_a_missing_authentication_key(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    """A Luxembourg Smarty tags with the published key: a tag that fails under it is the encryption key's fault.

    What the key deciphers tells the two apart: noise, not a P1 telegram.
    """
    tcp_meter.start_pushing([_encrypted_p1(P1_AUTHENTICATION_KEY)])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    result = await flow.submit({CONF_ENCRYPTION_KEY: bytes(range(100, 116)).hex()})
    assert result["errors"] == {"base": "wrong_key"}
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_AUTHENTICATION_KEY not in result["data"]
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_a_p1_port_with_an_authentication_key_of_its_own_asks_for_it(
    hass: HomeAssistant, tcp_meter: TcpMeter
) -> None:
    tcp_meter.start_pushing([_encrypted_p1(AUTH_KEY)])
    flow = await start(hass, "network")
    result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    assert _required(result) == {CONF_ENCRYPTION_KEY}
    # The published key does not open it: the field that is missing says so.
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex()})
    assert result["errors"] == {CONF_AUTHENTICATION_KEY: "authentication_key_needed"}
    result = await flow.submit({CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH_KEY.hex()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_AUTHENTICATION_KEY] == AUTH_KEY.hex()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)
