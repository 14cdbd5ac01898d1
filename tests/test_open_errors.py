"""A port that does not open is told as what the user does about it: each failure opened for real here."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import TYPE_CHECKING

import pytest

from custom_components.han_port.connection import LineSettings, check_opens, network_url, open_connection
from custom_components.han_port.open_errors import OpenError, PortFailure

if TYPE_CHECKING:
    from pathlib import Path

    from .meter import PtyMeter, TcpMeter

LINE = LineSettings(2400, "E")


async def failure_opening(url: str) -> OpenError:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - what opening raises is what is told apart
        await check_opens(url, LINE)
    assert isinstance(raised.value, Exception)
    return OpenError.of(raised.value, url)


async def test_a_port_that_is_not_there_is_told_as_gone(tmp_path: Path) -> None:
    failed = await failure_opening(str(tmp_path / "usb-HAN_adapter-if00-port0"))
    assert failed.failure is PortFailure.NOT_FOUND
    # The system's own words stay, for the log.
    assert "usb-HAN_adapter-if00-port0" in failed.words


async def test_a_path_that_is_no_serial_port_is_told_so(tmp_path: Path) -> None:
    assert (await failure_opening(str(tmp_path))).failure is PortFailure.NOT_SERIAL
    file = tmp_path / "capture.bin"
    file.write_bytes(b"\x7e\xa0")
    assert (await failure_opening(str(file))).failure is PortFailure.NOT_SERIAL


async def test_a_port_another_program_holds_is_told_as_busy(pty_meter: PtyMeter) -> None:
    holder = await open_connection(pty_meter.path, LINE, asyncio.Protocol)
    try:
        failed = await failure_opening(pty_meter.path)
    finally:
        holder.close()
    assert failed.failure is PortFailure.BUSY


@pytest.mark.usefixtures("socket_enabled")
async def test_a_bridge_whose_port_nothing_listens_on_refuses(tcp_meter: TcpMeter) -> None:
    port = tcp_meter.port
    await tcp_meter.stop()
    assert (await failure_opening(network_url("127.0.0.1", port))).failure is PortFailure.REFUSED


@pytest.mark.usefixtures("socket_enabled")
async def test_a_host_name_nobody_knows_is_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # Home Assistant's test harness forbids name lookups (newer releases raise on any): the resolver answers
    # here as it does for a name nobody knows, and the way through serialx and asyncio stays the real one.
    def resolve(host: str, *_args: object, **_kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {host}")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    failed = await failure_opening(network_url("han-bridge.invalid", 8888))
    assert failed.failure is PortFailure.UNKNOWN_HOST
    assert "han-bridge.invalid" in failed.words


BRIDGE = "socket://192.0.2.7:8888"


@pytest.mark.parametrize(
    ("err", "url", "failure"),
    [
        # What a user outside the dialout group meets, or a container given the device node but not its use
        # (root here opens all).
        (PermissionError(errno.EACCES, "Permission denied"), "/dev/ttyUSB0", PortFailure.NO_PERMISSION),
        (OSError(errno.EPERM, "Operation not permitted"), "/dev/ttyUSB0", PortFailure.NO_PERMISSION),
        # A host on another network whose route is gone, or that is off.
        (OSError(errno.EHOSTUNREACH, "No route to host"), BRIDGE, PortFailure.NO_ANSWER),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), BRIDGE, PortFailure.NO_ANSWER),
        # A connection that times out carries no words: it is named all the same.
        (TimeoutError(), BRIDGE, PortFailure.NO_ANSWER),
        # An RFC 2217 port also times out negotiating, once its host answered.
        (TimeoutError(), "rfc2217://192.0.2.7:2217", PortFailure.OTHER),
        # A resolver that could not ask (no network yet) says nothing of the name.
        (
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "socket://han-bridge:8888",
            PortFailure.OTHER,
        ),
        # Nothing the user can be told more of than the words: a URL typed half.
        (ValueError("Invalid IPv6 URL"), "socket://[::1", PortFailure.OTHER),
        (OSError(errno.EIO, "Input/output error"), "/dev/ttyUSB0", PortFailure.OTHER),
    ],
)
def test_failures_this_host_cannot_bring_about_are_told_by_their_kind(
    err: Exception, url: str, failure: PortFailure
) -> None:
    told = OpenError.of(err, url)
    assert told.failure is failure
    assert told.words == (str(err) or "timed out")
    assert told.told_as == (None if failure is PortFailure.OTHER else str(failure))
