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

    from homeassistant.core import HomeAssistant

# CI proves the same examples on every run, so a submission lands or not on
# its own merits; a developer's run draws new ones each time, which is where
# new counter-examples turn up (each then becomes a fixed test).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load the integration from custom_components."""


@pytest.fixture(autouse=True)
def timers_due_now_run_under_a_frozen_clock(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant's loop run a timer due at the very instant the frozen clock shows.

    A frozen clock makes the loop's time the epoch's seconds (about 1.8e9), where one float step is
    2.4e-7 s. The loop runs a timer once its time is below now plus its clock's resolution (1e-9 s),
    a sum that rounds back to now: a timer due exactly now (a store's save at delay 0, a backoff
    the test's clock jumped onto) never ran, and the loop spun until the clock moved, starving the
    recorder's thread of the interpreter for minutes.
    """
    if "hass" in request.fixturenames:
        hass: HomeAssistant = request.getfixturevalue("hass")
        hass.loop._clock_resolution = 1e-6  # type: ignore[attr-defined]  # private: no public setting


@pytest.fixture
def patient_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time is frozen and moved on while the bridge sends nothing: the reader must not call the meter gone."""
    monkeypatch.setattr(connection, "MIN_SILENCE", 1e9)


@pytest.fixture
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink waits from meter time (tens of seconds) to test time."""
    monkeypatch.setattr(listening, "PROBE_SECONDS", 1.0)
    monkeypatch.setattr(listening, "SHORTEST_LISTENING_SECONDS", 0.3)
    monkeypatch.setattr(connection, "MIN_SILENCE", 0.6)
    monkeypatch.setattr(connection, "BACKOFF_START", 0.05)
    monkeypatch.setattr(connection, "BACKOFF_MAX", 0.2)
    monkeypatch.setattr(connection, "REPLAY_WITHIN", 0.0)


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
