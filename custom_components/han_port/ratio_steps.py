"""The step a changed current-transformer ratio makes in the energy sensors, taken out of their own statistics.

A new ratio multiplies every energy the meter measured: the register and
live energy sensors step from the last total before the change to the
rescaled one. Home Assistant's statistics of a total_increasing sensor count
a step up as use, and a step down below 90 % as a new meter cycle whose whole
new total is use: either puts thousands of kWh in one hour of the Energy
dashboard. Once the five minutes the first rescaled total fell in are
compiled, their sum (and every sum after it) is adjusted by what was counted
for the step, as the recorder's own "adjust sum" does. The meter hours
(statistics.py) never count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.history import state_changes_during_period
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import EnergyConverter

from .const import LOGGER
from .energy import is_new_cycle

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import State

# A step whose first rescaled total has not come (or been compiled) this long after the change is left alone.
STEP_KEPT = timedelta(days=1)
# How far back from the change the last total before it is looked for: the recorder holds the state at that
# moment too, however long ago it was written.
_BEFORE = timedelta(hours=1)
_FIVE_MINUTES = timedelta(minutes=5)
_FIRST_STATES = 20
# The recorder's windows start after their start: a state written at the very moment of the change is in one
# that starts this much before it.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class _Step:
    """An energy sensor whose totals a ratio change stepped, and when."""

    entity_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Counted:
    """What a compiled statistic counted for a step: in the five minutes from start, this much energy (Wh)."""

    start: datetime
    watt_hours: float


class RatioSteps:
    """The energy sensors of one entry whose step through a new ratio is still to be taken out of the statistics."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], changed: Callable[[], None]) -> None:
        """Adjust the statistics of the entry's energy sensors; changed is called when the steps left change."""
        self._hass = hass
        self._entry = entry
        self._changed = changed
        self._steps: list[_Step] = []
        self._unlisten: Callable[[], None] | None = None

    def begin(self, at: datetime) -> None:
        """Take note that the ratio changed at a moment: every energy total of the entry steps from it."""
        self._steps += [_Step(entity_id, at) for entity_id in _energy_totals(self._hass, self._entry)]
        self._changed()
        self._watch()

    @property
    def left(self) -> int:
        """How many sensors' statistics still count a step (for diagnostics)."""
        return len(self._steps)

    def as_list(self) -> list[dict[str, str]]:
        """Return the steps still to take out, as plain data for storage."""
        return [{"entity_id": step.entity_id, "at": step.at.isoformat()} for step in self._steps]

    def restore(self, stored: Iterable[dict[str, str]]) -> None:
        """Take back the steps kept over a restart: one still to take out is taken out after it."""
        self._steps = [_Step(step["entity_id"], datetime.fromisoformat(step["at"])) for step in stored]
        self._watch()

    def _watch(self) -> None:
        """Look for compiled steps after each five-minute compile of the recorder (at hh:m5:10), while any is left."""
        if not self._steps or self._unlisten is not None or "recorder" not in self._hass.config.components:
            return
        self._unlisten = async_track_utc_time_change(self._hass, self._async_look, minute=range(0, 60, 5), second=30)
        self._entry.async_on_unload(self._stop)

    @callback
    def _stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    async def _async_look(self, now: datetime) -> None:
        """Take out each step whose five minutes are compiled; leave one that never came."""
        recorder = get_instance(self._hass)
        left = []
        for step in self._steps:
            counted = await recorder.async_add_executor_job(_counted_step, self._hass, step, now)
            if counted is None:
                if now - step.at < STEP_KEPT:
                    left.append(step)
                continue
            if counted.watt_hours:
                LOGGER.info(
                    "Statistics of %s: %s Wh the current-transformer ratio's change stepped taken out",
                    step.entity_id,
                    f"{counted.watt_hours:.15g}",
                )
                # Queued after the compile that counted it: the recorder runs its tasks in turn.
                recorder.async_adjust_statistics(
                    step.entity_id, counted.start, -counted.watt_hours, UnitOfEnergy.WATT_HOUR
                )
        if len(left) != len(self._steps):
            self._steps = left
            self._changed()
        if not self._steps:
            self._stop()


def _energy_totals(hass: HomeAssistant, entry: ConfigEntry[Any]) -> list[str]:
    """Return the entry's energy sensors whose statistics sum a total: a new ratio steps every one of them."""
    return [
        entity.entity_id
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.original_device_class == SensorDeviceClass.ENERGY
        and (entity.capabilities or {}).get("state_class") == SensorStateClass.TOTAL_INCREASING
    ]


def _counted_step(hass: HomeAssistant, step: _Step, now: datetime) -> _Counted | None:
    """Return what the statistics counted for a step, once the five minutes of its first total are compiled.

    Between the last total before the change and the first after it, they
    count the step up as use, and a fall to a new cycle as the whole new
    total. None while that total has not come or is not compiled; nothing
    counted for a sensor with no total before the change.
    """
    # The rescaled sensors write their first state as the change is noted, or after.
    before = [value for value, when in _totals(hass, step.entity_id, step.at - _BEFORE, step.at) if when < step.at]
    if not before:
        return _Counted(step.at, 0.0)
    # The first few states after it: a sensor unavailable while the entry reloads, unknown while it reads back,
    # then its total (a meter that writes one every second must not cost a day of them).
    after = _totals(hass, step.entity_id, step.at - _INSTANT, now, limit=_FIRST_STATES)
    first = next(((value, when) for value, when in after if when >= step.at), None)
    if first is None:
        return None
    stepped, when = first
    start = dt_util.as_utc(when).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    compiled = statistics_during_period(hass, start, start + _FIVE_MINUTES, {step.entity_id}, "5minute", None, {"sum"})
    if not compiled.get(step.entity_id):
        return None
    last = before[-1]
    return _Counted(start, stepped if is_new_cycle(last, stepped) else stepped - last)


def _totals(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime, limit: int | None = None
) -> list[tuple[float, datetime]]:
    """Return the totals an entity showed from start (its state then too) to end, oldest first, and when."""
    states = state_changes_during_period(
        hass, start, end, entity_id, limit=limit, include_start_time_state=limit is None
    ).get(entity_id, [])
    return [total for state in states if (total := _total(state)) is not None]


def _total(state: State) -> tuple[float, datetime] | None:
    """Return a state's total in Wh and when it was written; None for one that is no number (unavailable)."""
    try:
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        return EnergyConverter.convert(float(state.state), unit, UnitOfEnergy.WATT_HOUR), state.last_updated
    except (ValueError, HomeAssistantError):
        return None
