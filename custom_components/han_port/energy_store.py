"""Where an entry's energy state is kept over restarts, and when it is written.

What the state holds is the bookkeeping's business; this room knows only the
file and its timing: at most every few minutes while telegrams flow, at every
hour's first telegram, at unload and at Home Assistant's stop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.core import Event, HomeAssistant

STORAGE_VERSION = 1
# Energy state is written at most this often while telegrams flow (and at
# every hour's first telegram): a power cut loses no more.
SAVE_INTERVAL = timedelta(minutes=5)


class EnergyStore:
    """An entry's energy state on disk: written from a snapshot of it, at the moments a power cut costs least."""

    def __init__(self, hass: HomeAssistant, entry_id: str, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Keep the state that snapshot returns in the entry's own file."""
        self._store = _store(hass, entry_id)
        self._snapshot = snapshot
        self._saved_at: datetime | None = None

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete a removed entry's kept state."""
        await _store(hass, entry_id).async_remove()

    async def async_load(self) -> dict[str, Any] | None:
        """Return the state kept before, if any."""
        return await self._store.async_load()

    async def async_save(self) -> None:
        """Write the state now (on unload)."""
        await self._store.async_save(self._snapshot())

    def save_soon(self) -> None:
        """Write the state at the next turn of the event loop."""
        self._store.async_delay_save(self._snapshot, 0)

    @callback
    def save_at_stop(self, _event: Event) -> None:
        """Have Home Assistant's final write keep what changed since the last save (it unloads no entry to stop)."""
        # While Home Assistant stops, a pending save waits for its final write.
        self.save_soon()

    def save_when_due(self, now: datetime) -> None:
        """Write the state at most every few minutes, and at every hour's first telegram.

        A debounced write would never happen while telegrams keep coming.
        """
        saved = self._saved_at
        if saved is None or now - saved >= SAVE_INTERVAL or now.replace(minute=0, second=0, microsecond=0) > saved:
            self._saved_at = now
            self.save_soon()


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the file an entry's energy state is kept in: one per entry, removed with it."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
