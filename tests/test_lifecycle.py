"""An entry's life while its meter is out of reach: flows that hold the port, bridges that never answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from serialx.platforms.serial_socket import SocketSerialTransport

from custom_components.han_port import connection as connection_module
from custom_components.han_port import issues as issues_module
from custom_components.han_port import listening
from custom_components.han_port.const import DOMAIN

from .meter import bridge_entry, default_state, kamstrup_frame, sensor, set_up, wait_for
from .test_config_flow import Flow, bridge, start

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from .meter import TcpMeter

pytestmark = pytest.mark.usefixtures("fast_timing")


def meter_issues(hass: HomeAssistant) -> list[str]:
    return sorted(issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN)


def connection(hass: HomeAssistant) -> str | None:
    state = sensor(hass, "connection")
    return None if state is None else state.state


async def test_a_silence_that_lasts_while_a_flow_holds_the_port_is_still_raised_after_it(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meter falls silent; the user opens the reconfigure dialog just as the repair is due, and closes it.

    The silence goes on: its repair comes, only once the port is the entry's again.
    """
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=1))
    monkeypatch.setattr(listening, "PROBE_SECONDS", 3.0)
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: entry.runtime_data.data.readings)
    tcp_meter.stop_pushing()
    await wait_for(lambda: connection(hass) == "silent")
    # The repair is due while the flow listens on the entry's bridge (the reader lets go of it meanwhile).
    flow = Flow(hass, await entry.start_reconfigure_flow(hass))
    await flow.submit({"next_step_id": "network"})
    await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: tcp_meter.port})
    result = await flow.past_silence()
    assert result["errors"] == {CONF_HOST: "bridge_silent"}
    assert meter_issues(hass) == []
    hass.config_entries.flow.async_abort(flow.flow_id)
    assert not entry.runtime_data.reader.paused
    await wait_for(lambda: meter_issues(hass) == [f"meter_silent_{entry.entry_id}"], seconds=8)
    # The meter speaks again: the repair goes.
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=1800))])
    await wait_for(lambda: meter_issues(hass) == [])
    assert await hass.config_entries.async_unload(entry.entry_id)


@contextlib.contextmanager
def unanswered_bridge(port: int = 0) -> Iterator[int]:
    """A bridge whose host never answers a connection (its backlog full): connecting times out, with no message."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(0)
    port = server.getsockname()[1]
    queued = [socket.socket() for _ in range(3)]
    try:
        for client in queued:
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("127.0.0.1", port))
        yield port
    finally:
        for client in queued:
            client.close()
        server.close()


@pytest.fixture
def short_connect_timeout(monkeypatch: pytest.MonkeyPatch, socket_enabled: None) -> None:  # noqa: ARG001 - enables sockets
    """Give up connecting to a bridge after half a second, not ten."""
    monkeypatch.setitem(SocketSerialTransport._connect.__kwdefaults__, "connect_timeout", 0.5)


@pytest.mark.usefixtures("short_connect_timeout")
async def test_a_bridge_that_never_answers_says_why_at_setup_and_in_the_flow(hass: HomeAssistant) -> None:
    with unanswered_bridge() as port:
        flow = await start(hass, "network")
        result = await flow.submit({CONF_HOST: "127.0.0.1", CONF_PORT: port})
        assert result["type"] is FlowResultType.FORM, result
        assert result["errors"] == {CONF_HOST: "bridge_no_answer"}
        assert result["description_placeholders"]["error"] == "timed out"
        hass.config_entries.flow.async_abort(flow.flow_id)

        entry = bridge_entry(port)
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason == f"No answer from socket://127.0.0.1:{port}"


async def read_with_quick_repairs(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> MockConfigEntry:
    """A bridge's entry reading its meter, whose repairs come half a second into a silence."""
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=0.5))
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: entry.runtime_data.data.readings)
    return entry


def told_as(hass: HomeAssistant, issue_id: str) -> str | None:
    """The text a raised repair is told by (its translation key); None while it is not raised."""
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    return None if issue is None else issue.translation_key


@pytest.mark.usefixtures("short_connect_timeout")
async def test_a_raised_port_repair_follows_the_way_the_port_fails(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its advice is for the failure now: the bridge refused, then its host stops answering."""
    entry = await read_with_quick_repairs(hass, tcp_meter, monkeypatch)
    port = tcp_meter.port
    await tcp_meter.stop()
    issue_id = f"port_unavailable_{entry.entry_id}"
    await wait_for(lambda: told_as(hass, issue_id) == "bridge_refused", seconds=8)
    # Told anew at once, not a silence's length later.
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(hours=1))
    with unanswered_bridge(port):
        await wait_for(lambda: told_as(hass, issue_id) == "bridge_no_answer", seconds=20)
    # Still one repair, withdrawn as one once the bridge serves again.
    assert meter_issues(hass) == [issue_id]
    await tcp_meter.start(port)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: meter_issues(hass) == [], seconds=70)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_silent_meters_repair_becomes_the_ports_once_the_port_stops_opening(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meter fell silent, then its bridge went too: the repair says so at once, not a silence's length later."""
    entry = await read_with_quick_repairs(hass, tcp_meter, monkeypatch)
    tcp_meter.stop_pushing()
    await wait_for(lambda: meter_issues(hass) == [f"meter_silent_{entry.entry_id}"], seconds=70)
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(hours=1))
    await tcp_meter.stop()
    await wait_for(lambda: meter_issues(hass) == [f"port_unavailable_{entry.entry_id}"], seconds=20)
    assert told_as(hass, f"port_unavailable_{entry.entry_id}") == "bridge_refused"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_disabling_an_entry_whose_bridge_is_gone_withdraws_its_repair_and_enabling_it_reads_again(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disabled, the entry reads nothing: a repair saying its bridge does not open is over; a reload keeps it."""
    entry = await read_with_quick_repairs(hass, tcp_meter, monkeypatch)
    port = tcp_meter.port
    await tcp_meter.stop()
    unreachable = f"port_unavailable_{entry.entry_id}"
    await wait_for(lambda: meter_issues(hass) == [unreachable], seconds=8)
    assert not await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert meter_issues(hass) == [unreachable]
    await tcp_meter.start(port)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await tcp_meter.stop()
    await wait_for(lambda: connection(hass) == "cannot_open", seconds=8)
    assert meter_issues(hass) == [unreachable]

    assert await hass.config_entries.async_set_disabled_by(entry.entry_id, ConfigEntryDisabler.USER)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert meter_issues(hass) == []

    await tcp_meter.start(port)
    tcp_meter.start_pushing([kamstrup_frame(default_state(power_import=1800))])
    assert await hass.config_entries.async_set_disabled_by(entry.entry_id, None)
    await hass.async_block_till_done()
    await wait_for(lambda: getattr(sensor(hass, "power_import"), "state", None) == "1800")
    assert connection(hass) == "receiving"
    assert meter_issues(hass) == []
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_a_bridge_that_closes_every_connection_at_once_says_so_in_its_repair(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single-client bridge another program reads: it accepts, and hangs up. The repair names that, not the cable."""
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=0.5))
    hangs_up = True

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not hangs_up:
            await reader.read()  # holds the connection, and sends nothing
        writer.close()

    async with bridge(serve) as port:
        entry = bridge_entry(port)
        await set_up(hass, entry)
        issue_id = f"bridge_closes_{entry.entry_id}"
        await wait_for(lambda: issue_id in meter_issues(hass), seconds=10)
        assert meter_issues(hass) == [issue_id]
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "bridge_closes"
        # The other client lets go: the bridge holds the connection, and the meter is silent. That is the cause now.
        hangs_up = False
        await wait_for(lambda: connection(hass) == "silent", seconds=10)
        assert issue_id not in meter_issues(hass)
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_a_bridge_that_closes_an_idle_connection_leaves_the_repair_to_the_silent_meter(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bridge with an idle timer: it holds each connection a while, then closes it, for the meter says nothing.

    That is no bridge serving another client: the repair says the meter is silent.
    """
    # Due once the bridge closed several connections in a row (each held 0.3 s).
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=3))
    monkeypatch.setattr(connection_module, "HANG_UP_WITHIN", 0.1)

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)  # the idle timer, shorter than the meter's silence (0.6 s here)
        writer.close()

    async with bridge(serve) as port:
        entry = bridge_entry(port)
        await set_up(hass, entry)
        silent = f"meter_silent_{entry.entry_id}"
        await wait_for(lambda: meter_issues(hass) != [], seconds=10)
        assert entry.runtime_data.reader.connects > 3
        assert meter_issues(hass) == [silent]
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_disabling_an_entry_while_its_setup_is_retried_withdraws_its_repair(
    hass: HomeAssistant, tcp_meter: TcpMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge went; a restart left the entry retrying its setup. The user disables it: the repair goes too.

    Home Assistant unloads nothing then (setup never finished), so the entry's own unload cannot withdraw it.
    """
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=0.5))
    entry = bridge_entry(tcp_meter.port)
    await set_up(hass, entry)
    tcp_meter.start_pushing([kamstrup_frame(default_state())])
    await wait_for(lambda: entry.runtime_data.data.readings)
    await tcp_meter.stop()
    unreachable = f"port_unavailable_{entry.entry_id}"
    await wait_for(lambda: meter_issues(hass) == [unreachable], seconds=8)
    assert not await hass.config_entries.async_reload(entry.entry_id)
    assert not await hass.config_entries.async_reload(entry.entry_id)  # retried, and failing again
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert meter_issues(hass) == [unreachable]

    assert await hass.config_entries.async_set_disabled_by(entry.entry_id, ConfigEntryDisabler.USER)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert meter_issues(hass) == []


@pytest.mark.usefixtures("socket_enabled")
async def test_a_line_that_carries_bytes_but_no_telegram_says_so_in_its_repair(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bridge set to another speed than the meter's: bytes come, and never a telegram.

    The repair names the line's settings, not a closed HAN port or a pulled cable, and goes once telegrams come.
    """
    monkeypatch.setattr(issues_module, "SILENCE_REPAIR_AFTER", timedelta(seconds=1))
    garbled = True

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):  # the reader lets go when silent, and at unload
            # A push read at the wrong speed: bytes, each the line's idea of one, and no frame in them.
            while garbled:
                writer.write(bytes(range(0x80, 0xFF)) * 4)
                await writer.drain()
                await asyncio.sleep(0.05)
            while True:
                writer.write(kamstrup_frame(default_state()))
                await writer.drain()
                await asyncio.sleep(0.1)

    async with bridge(serve) as port:
        entry = bridge_entry(port)
        await set_up(hass, entry)
        unreadable = f"meter_unreadable_{entry.entry_id}"
        await wait_for(lambda: meter_issues(hass) != [], seconds=10)
        assert meter_issues(hass) == [unreadable]
        assert "bytes came" in entry.runtime_data.reader.lost
        garbled = False
        await wait_for(lambda: connection(hass) == "receiving", seconds=10)
        assert meter_issues(hass) == []
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_a_bridge_that_hands_over_its_kept_list_and_hangs_up_keeps_no_dead_meter_available(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bridge that replays the last list it kept as each connection opens, then hangs up: the meter behind is gone.

    Only a telegram that comes while the connection holds keeps the meter available across its drops.
    """
    monkeypatch.setattr(connection_module, "REPLAY_WITHIN", 0.5)

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(kamstrup_frame(default_state()))
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()

    async with bridge(serve) as port:
        entry = bridge_entry(port)
        await set_up(hass, entry)
        await wait_for(lambda: connection(hass) == "closed", seconds=10)
        power = sensor(hass, "power_import")
        assert power is not None
        assert power.state == "unavailable"
        assert await hass.config_entries.async_unload(entry.entry_id)
