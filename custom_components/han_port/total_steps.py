"""Steps in the energy sensors' totals that are no use, taken out of their own statistics.

A new current-transformer ratio multiplies every energy the meter measured:
the register and live energy sensors (active or reactive) step from the last
total before the change to the rescaled one. A register counted anew (a new
sequence of its totals the guard followed, or a held total the user took)
steps its own sensors, the register's and the live energy carrying it on, from
the old count to the new. Home Assistant's statistics of a total_increasing
sensor count a step up as use, and a step down below 90 % as a new meter
cycle whose whole new total is use: either puts thousands of kWh in one hour
of the Energy dashboard. Once the five minutes the first total after the step
fell in are compiled, their sum (and every sum after it) is adjusted by what
was counted for the step, as the recorder's own "adjust sum" does. The meter
hours (statistics.py) never count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.history import state_changes_during_period
from homeassistant.components.recorder.statistics import (
    get_last_short_term_statistics,
    get_metadata,
    statistics_during_period,
)
from homeassistant.components.sensor import SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import EnergyConverter

from .compat import KILO_VAR_HOUR, REACTIVE_ENERGY_CONVERTER
from .const import LOGGER, sensor_unique_id
from .decoder import Unit
from .energy import is_new_cycle

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import State

# A step whose first total after it has not come (or been compiled) this long after it is left alone: its
# sensor's statistics count it whenever that total comes.
STEP_KEPT = timedelta(days=7)
_FIVE_MINUTES = timedelta(minutes=5)
_FIRST_STATES = 20
# The recorder's windows start after their start: a state written at the very moment of the change is in one
# that starts this much before it.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Grown:
    """What a sensor's first total after its step grew by since the count it steps to began: use, counted."""

    amount: float
    unit: str


@dataclass(frozen=True, slots=True)
class _Step:
    """An energy sensor whose total stepped (by its registry id: a renamed one keeps it), and when."""

    entity: str
    at: datetime
    grown: Grown | None = None


@dataclass(frozen=True, slots=True)
class _Counted:
    """What a compiled statistic counted for a step: in the five minutes from start, this much (in its unit)."""

    start: datetime
    amount: float
    unit: str | None


@dataclass(frozen=True, slots=True)
class _Total:
    """A total a sensor showed, in its unit, and when."""

    value: float
    unit: str | None
    when: datetime


class TotalSteps:
    """The energy sensors of one entry whose step is still to be taken out of their statistics."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], changed: Callable[[], None]) -> None:
        """Adjust the statistics of the entry's energy sensors; changed is called when the steps left change."""
        self._hass = hass
        self._entry = entry
        self._changed = changed
        self._steps: list[_Step] = []
        self._unlisten: Callable[[], None] | None = None
        self._looking = False

    @property
    def left(self) -> int:
        """How many sensors' statistics still count a step (for diagnostics)."""
        return len(self._steps)

    def begin(self, at: datetime, keys: Mapping[str, Grown | None] | None = None) -> None:
        """Take note that totals stepped at a moment: those of the sensors with these keys, or else every one.

        Every energy total of the entry steps through a new ratio; a register counted anew steps its own, each
        key with what its first total after the step grew by in the new count (shown by none while it was held).
        """
        entities = _energy_totals(self._hass, self._entry, keys)
        self._steps += [_Step(entity, at, None if keys is None else keys[key]) for entity, key in entities]
        self._changed()
        self._watch()

    def as_list(self) -> list[dict[str, Any]]:
        """Return the steps still to take out, as plain data for storage."""
        return [
            {"entity": step.entity, "at": step.at.isoformat()}
            | ({} if step.grown is None else {"grown": step.grown.amount, "unit": step.grown.unit})
            for step in self._steps
        ]

    def restore(self, stored: Iterable[Mapping[str, Any]]) -> None:
        """Take back the steps kept over a restart: one still to take out is taken out after it."""
        self._steps = [
            _Step(step["entity"], datetime.fromisoformat(step["at"]), _grown(step))
            for step in stored
            if "entity" in step
        ]
        self._watch()

    def _watch(self) -> None:
        """Look for compiled steps 30 s after each five-minute compile of the recorder, while any is left."""
        if not self._steps or self._unlisten is not None or "recorder" not in self._hass.config.components:
            return
        self._unlisten = async_track_utc_time_change(self._hass, self._look, minute=range(0, 60, 5), second=30)
        self._entry.async_on_unload(self._stop)

    @callback
    def _stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    @callback
    def _look(self, now: datetime) -> None:
        # One look at a time, ended by the entry's unload: a step is never taken out twice.
        if not self._looking:
            self._looking = True
            self._entry.async_create_background_task(self._hass, self._async_look(now), "total steps")

    async def _async_look(self, now: datetime) -> None:
        """Take out each step whose five minutes are compiled; leave one that never came."""
        recorder = get_instance(self._hass)
        registry = er.async_get(self._hass)
        try:
            for step in list(self._steps):
                entity_id = er.async_resolve_entity_id(registry, step.entity)
                counted = (
                    None
                    if entity_id is None
                    else await recorder.async_add_executor_job(_counted_step, self._hass, entity_id, step, now)
                )
                if counted is None and entity_id is not None and now - step.at < STEP_KEPT:
                    continue
                self._steps.remove(step)
                self._changed()
                if entity_id is None:
                    continue  # the sensor was deleted, and its statistics with it
                if counted is None:
                    LOGGER.info(
                        "Statistics of %s: no total after its step in %s; they count the step whenever one comes",
                        entity_id,
                        STEP_KEPT,
                    )
                elif counted.amount:
                    LOGGER.info(
                        "Statistics of %s: %s %s its total stepped (no use) taken out",
                        entity_id,
                        f"{counted.amount:.15g}",
                        counted.unit,
                    )
                    # Queued after the compile that counted it: the recorder runs its tasks in turn.
                    recorder.async_adjust_statistics(entity_id, counted.start, -counted.amount, counted.unit or "")
        finally:
            self._looking = False
        if not self._steps:
            self._stop()


def _grown(stored: Mapping[str, Any]) -> Grown | None:
    amount, unit = stored.get("grown"), stored.get("unit")
    return Grown(float(amount), unit) if isinstance(amount, int | float) and isinstance(unit, str) else None


def _energy_totals(hass: HomeAssistant, entry: ConfigEntry[Any], keys: Collection[str] | None) -> list[tuple[str, str]]:
    """Return the meter's sensors whose statistics sum a total (registry ids, and keys), of these keys if given.

    Every total here is an energy through the transformers (active,
    reactive; live energy). Another meter's, left from before a
    swap, and a disabled one show nothing after the step.
    """
    meter = sensor_unique_id(entry, "")
    totals = [
        (entity.id, entity.unique_id.removeprefix(meter))
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if (entity.capabilities or {}).get("state_class") == SensorStateClass.TOTAL_INCREASING
        and entity.disabled_by is None
        and entity.unique_id.startswith(meter)
    ]
    return [(entity, key) for entity, key in totals if keys is None or key in keys]


def _counted_step(hass: HomeAssistant, entity_id: str, step: _Step, now: datetime) -> _Counted | None:
    """Return what the statistics counted for a step, once the five minutes of its first total are compiled.

    The compile compares that total with the last one before it in its
    five minutes, or else with the total the statistics before them ended
    at: a step up is counted as use, a fall to a new cycle as the whole new
    total (sensor/recorder.py). Compared as it does, in the statistic's
    unit. None while that total has not come or is not compiled. What
    that total grew by in the new count is use, and stays counted.
    """
    at = step.at
    # The first few states after the step: a sensor unavailable while the entry reloads, unknown while it
    # reads back, then its total (a meter that writes one every second must not cost a day of them).
    after = _totals(hass, entity_id, at - _INSTANT, now, limit=_FIRST_STATES)
    first = next((total for total in after if total.when >= at), None)
    metadata = get_metadata(hass, statistic_ids={entity_id}).get(entity_id)
    if first is None:
        # A sensor the statistics know nothing of (a register this meter does not send) has nothing to step.
        return None if metadata is not None else _Counted(at, 0.0, None)
    start = dt_util.as_utc(first.when).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    if metadata is None or not statistics_during_period(
        hass, start, start + _FIVE_MINUTES, {entity_id}, "5minute", None, {"sum"}
    ).get(entity_id):
        return None
    unit = metadata[1]["unit_of_measurement"]
    before = [total for total in _totals(hass, entity_id, start - _INSTANT, at) if total.when < at]
    last = _in_unit(before[-1], unit) if before else _ended_at(hass, entity_id, start)
    stepped = _in_unit(first, unit)
    grown = 0.0 if step.grown is None else _in_unit(_Total(step.grown.amount, step.grown.unit, at), unit)
    if last is None or stepped is None or grown is None:
        return _Counted(start, 0.0, unit)
    return _Counted(start, (stepped if is_new_cycle(last, stepped) else stepped - last) - grown, unit)


def _ended_at(hass: HomeAssistant, entity_id: str, start: datetime) -> float | None:
    """Return the total the last five-minute statistics before start ended at, in the statistic's unit."""
    # Rows come latest first: those since start, then the one before (however late the look, or long the silence).
    since = statistics_during_period(hass, start, None, {entity_id}, "5minute", None, {"state"}).get(entity_id, [])
    rows = get_last_short_term_statistics(hass, len(since) + 1, entity_id, False, {"state"})  # noqa: FBT003 - the recorder's signature
    return next((row.get("state") for row in rows.get(entity_id, []) if row["start"] < start.timestamp()), None)


def _totals(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime, limit: int | None = None
) -> list[_Total]:
    """Return the totals an entity showed after start, up to end, oldest first."""
    states = state_changes_during_period(hass, start, end, entity_id, limit=limit, include_start_time_state=False).get(
        entity_id, []
    )
    return [total for state in states if (total := _total(state)) is not None]


def _total(state: State) -> _Total | None:
    """Return a state's total; None for one that is no number (unavailable)."""
    try:
        return _Total(float(state.state), state.attributes.get(ATTR_UNIT_OF_MEASUREMENT), state.last_updated)
    except ValueError:
        return None


def _in_unit(total: _Total, unit: str | None) -> float | None:
    """Return a total in the statistic's unit, as the compile normalises it; None where it cannot be."""
    if total.unit == unit:
        return total.value
    # An active energy, or a reactive one where the release converts it (a total shown in varh, say).
    for converter in (EnergyConverter, REACTIVE_ENERGY_CONVERTER):
        if converter is not None and {total.unit, unit} <= converter.VALID_UNITS:
            return converter.convert(total.value, total.unit, unit)
    if (total.unit, unit) == (Unit.VAR_HOUR, KILO_VAR_HOUR):
        # The meter's varh, where the release converts no reactive energy: its sensor shows kvarh itself.
        return total.value / 1000
    return None
