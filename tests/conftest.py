"""Fixtures for the Home Assistant tests."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from custom_components.han_port import connection, listening

from .meter import PtyMeter, TcpMeter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

# CI proves the same examples on every run, so a submission lands or not on
# its own merits; a developer's run draws new ones each time, which is where
# new counter-examples turn up (each then becomes a fixed test).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load the integration from custom_components."""


@pytest.fixture
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink waits from meter time (tens of seconds) to test time."""
    monkeypatch.setattr(listening, "PROBE_SECONDS", 1.0)
    monkeypatch.setattr(listening, "SHORTEST_LISTENING_SECONDS", 0.3)
    monkeypatch.setattr(connection, "MIN_SILENCE", 0.6)
    monkeypatch.setattr(connection, "BACKOFF_START", 0.05)
    monkeypatch.setattr(connection, "BACKOFF_MAX", 0.2)


@pytest.fixture
def pty_meter() -> Iterator[PtyMeter]:
    meter = PtyMeter()
    yield meter
    meter.close()


@pytest.fixture
async def tcp_meter(socket_enabled: None) -> AsyncIterator[TcpMeter]:  # noqa: ARG001 - enables sockets
    """A meter behind a bridge on loopback; sockets are allowed for this test only."""
    meter = TcpMeter()
    await meter.start()
    yield meter
    await meter.stop()
