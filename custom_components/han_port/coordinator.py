"""The coordinator: the meter's latest state, pushed to entities per telegram."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .compat import meter_device
from .const import (
    CONF_CAPACITY_THRESHOLDS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PEAK_DAYS,
    CONF_UPDATE_INTERVAL,
    DEFAULT_CURRENT_TRANSFORMER_RATIO,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .decoder import DroppedFrame, Reading, Telegram
from .decoder.registers import (
    ACTIVE_ENERGY_EXPORT,
    ACTIVE_ENERGY_IMPORT,
    ACTIVE_POWER_EXPORT,
    ACTIVE_POWER_IMPORT,
    PRESENT_VALUE,
    Code,
    quantity_of,
)
from .energy import (
    DEFAULT_PEAK_DAYS,
    DEFAULT_THRESHOLDS,
    NEW_SEQUENCE_TELEGRAMS,
    UNPROVEN_POWER,
    CapacityTariff,
    LiveEnergy,
    PowerEnvelope,
    TotalGuard,
    Verdict,
    parse_thresholds,
)
from .identity import Identity, MeterIdentity, meter_title
from .statistics import MeterHourStatistics

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .connection import TelegramWatch

type HanPortConfigEntry = ConfigEntry[HanPortCoordinator]


_TOTAL = 8
_POWERS = frozenset({ACTIVE_POWER_IMPORT.code, ACTIVE_POWER_EXPORT.code})
# Telegrams that pass their checksums but not the keys, in a row, before the
# user is asked for new ones (grid companies do change them).
KEY_PROBLEMS_BEFORE_REAUTH = 3
STORAGE_VERSION = 1
# Energy state is written at most this often while telegrams flow (and at
# every hour's first telegram): a power cut loses no more.
SAVE_INTERVAL = timedelta(minutes=5)
# A held register the guard cannot settle by itself: the user decides in its fix flow (repairs.py).
HELD_ISSUE = "energy_register_held"
# A meter replaced by another: which sensors the Energy dashboard should now use.
REPLACED_ISSUE = "meter_replaced"
# Energy events kept for diagnostics: the latest few say what a user asks about.
ENERGY_EVENTS_KEPT = 20
# A meter silent this long is not a glitch: the user is told what to check.
SILENCE_REPAIR_AFTER = timedelta(hours=1)


def energy_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store that keeps an entry's energy state over restarts."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


class MeterUnavailableError(HomeAssistantError):
    """The meter stopped sending: port closed, cable pulled or bridge gone."""


@dataclass(frozen=True, slots=True)
class MeterData:
    """What the meter said last, merged over its lists."""

    manufacturer: str | None = None
    meter_id: str | None = None
    meter_type: str | None = None
    list_version: str | None = None
    clock: datetime | None = None
    readings: Mapping[Code, Reading] = field(default_factory=dict)


class HanPortCoordinator(DataUpdateCoordinator[MeterData]):
    """Holds the meter's state; each telegram is merged in and pushed at once (no polling)."""

    config_entry: HanPortConfigEntry
    reader: TelegramWatch

    def __init__(self, hass: HomeAssistant, entry: HanPortConfigEntry, initial: MeterData) -> None:
        """Start from what the config flow learned about the meter."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN)
        self.data = initial
        self._ct_ratio = float(entry.options.get(CONF_CURRENT_TRANSFORMER_RATIO, DEFAULT_CURRENT_TRANSFORMER_RATIO))
        # Behind current transformers a household carries the ratio times what a meter alone does.
        self.envelope = PowerEnvelope(floor=UNPROVEN_POWER * self._ct_ratio)
        self.guard = TotalGuard(self.envelope)
        self.held_totals = 0
        """Energy totals held because they went down or jumped (followed or not later)."""
        self.held_powers = 0
        """Power readings above what this meter has shown, not (yet) confirmed: never integrated."""
        self._key_problems = 0
        self.measurement_interval = float(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL))
        """Seconds between two writes of a measurement sensor (0: every telegram)."""
        # Totals kept from before (restored states, stored live energy) were
        # measured through this ratio; a new one rescales them.
        self._restored_scale = 1.0
        self._saved_at: datetime | None = None
        self.identity = MeterIdentity(initial.meter_id)
        # Set once another meter has taken over this port: nothing is shown until the entry reloads as that meter.
        self._replaced = False
        self.energy_events: deque[dict[str, str]] = deque(maxlen=ENERGY_EVENTS_KEPT)
        """What the energy guard and the meter's identity went through, for diagnostics."""
        self._held_in_a_row: dict[Code, int] = {}
        self._held_readings: dict[Code, Reading] = {}
        # Holds the user chose to keep: not asked about again until the register counts on.
        self._keep_holding: set[Code] = set()
        self.live_import = LiveEnergy()
        self.live_export = LiveEnergy()
        # Only totals the guard accepted reach the meter's hours.
        self.meter_hours = MeterHourStatistics(hass, entry.unique_id or entry.entry_id)
        self.tariff = CapacityTariff(
            dt_util.get_default_time_zone(),
            thresholds=(
                parse_thresholds(str(entry.options[CONF_CAPACITY_THRESHOLDS]))
                if CONF_CAPACITY_THRESHOLDS in entry.options
                else DEFAULT_THRESHOLDS
            ),
            peak_days=int(entry.options.get(CONF_PEAK_DAYS, DEFAULT_PEAK_DAYS)),
        )
        self._store = energy_store(hass, entry.entry_id)
        self._silence_check: Callable[[], None] | None = None
        # Issues raised before a reload stay withdrawable by this coordinator.
        self._issues = entry_issue_ids(hass, entry.entry_id)
        entry.async_on_unload(self._cancel_silence_check)

    async def async_load_energy(self) -> None:
        """Take back the live totals, the month's hours and the replay counters kept over a restart."""
        stored = await self._store.async_load()
        if not stored:
            return
        # A ciphered frame captured before the restart stays refused after it.
        counters = stored.get("replay_counters", {})
        self.reader.decoder.restore_replay_counters({bytes.fromhex(t): int(c) for t, c in counters.items()})
        self.live_import = LiveEnergy.from_dict(stored.get("import", {}))
        self.live_export = LiveEnergy.from_dict(stored.get("export", {}))
        self.tariff.restore(stored.get("tariff", {}))
        self.envelope.highest = float(stored.get("highest_power", 0.0))
        self.energy_events.extend(stored.get("events", []))
        stored_ratio = float(stored.get("current_transformer_ratio", self._ct_ratio))
        if stored_ratio != self._ct_ratio:
            self._restored_scale = self._ct_ratio / stored_ratio
            LOGGER.info(
                "Current transformer ratio changed from %s to %s: kept totals rescaled", stored_ratio, self._ct_ratio
            )
            self.live_import.scale(self._restored_scale)
            self.live_export.scale(self._restored_scale)
            self.tariff.scale_total(self._restored_scale)
            self.envelope.scale(self._restored_scale)
            self.meter_hours.rescale(self._restored_scale)

    def _energy_data(self) -> dict[str, Any]:
        return {
            "import": self.live_import.as_dict(),
            "export": self.live_export.as_dict(),
            "tariff": self.tariff.as_dict(),
            "highest_power": self.envelope.highest,
            "events": list(self.energy_events),
            "current_transformer_ratio": self._ct_ratio,
            "replay_counters": {title.hex(): c for title, c in self.reader.decoder.replay_counters.items()},
        }

    async def async_save_energy(self) -> None:
        """Write the energy state now (on unload)."""
        await self._store.async_save(self._energy_data())

    async def _async_update_data(self) -> MeterData:
        # Push only: the reader delivers data; there is nothing to poll.
        return self.data

    @callback
    def seed_total(self, register: Code, value: float, when: datetime) -> float:
        """Tell the guard a total's last known value, as restored after a restart; return it rescaled.

        A total restored from before a change of the current-transformer
        ratio is rescaled to the new one, as the meter's next total will be.
        """
        value *= self._restored_scale
        self.guard.seed(register, value, when)
        return value

    @callback
    def telegram_received(self, telegram: Telegram) -> None:
        """Merge a telegram into the meter's state and push it to entities."""
        self._key_problems = 0
        self._cancel_silence_check()
        self._delete_issue(self.reader.silent_issue)
        self._delete_issue(self.reader.unreachable_issue)
        now = dt_util.utcnow()
        if not self._is_this_meters(telegram):
            return
        readings = dict(self.data.readings)
        for obis, reading in telegram.readings.items():
            # Billing-period and historic values (F other than 255) are not
            # the register's present value: they never replace it.
            if obis.f != PRESENT_VALUE:
                continue
            register = obis.register
            kind = quantity_of(obis)
            value = reading.value
            if self._ct_ratio != 1 and kind is not None and kind.through_current_transformers:
                value *= self._ct_ratio
            if register in _POWERS and not self.envelope.admit(register, value):
                # Far above what this meter has shown, and not (yet) confirmed: neither shown nor integrated.
                self.held_powers += 1
                continue
            shown = Reading(value, reading.unit)
            if obis.d == _TOTAL and not self._accept_total(register, shown, now, telegram.timestamp):
                continue
            readings[register] = shown
            self._track_energy(register, value, now)
        if self.live_import.published is not None:
            self.tariff.update(self.live_import.published, now)
        self._save_when_due(now)
        data = replace(
            self.data,
            manufacturer=telegram.manufacturer or self.data.manufacturer,
            meter_id=telegram.meter_id or self.data.meter_id,
            meter_type=telegram.meter_type or self.data.meter_type,
            list_version=telegram.list_version or self.data.list_version,
            clock=_aware(telegram.timestamp) or self.data.clock,
            readings=readings,
        )
        if not self.last_update_success:
            LOGGER.info("Meter %s is sending again", data.meter_id)
        identity = (data.manufacturer, data.meter_id, data.meter_type, data.list_version)
        if identity != (self.data.manufacturer, self.data.meter_id, self.data.meter_type, self.data.list_version):
            self._update_device(data)
        self.async_set_updated_data(data)

    def _accept_total(self, register: Code, reading: Reading, now: datetime, clock: datetime | None) -> bool:
        """Let a total through the guard; log when it holds one and when it follows a new sequence.

        A hold the guard cannot settle by itself (the meter neither returned
        to its count nor proved a new one in as many telegrams as a new
        sequence takes) becomes a repair issue, where the user decides.
        """
        value = reading.value
        previous = self.guard.last(register)
        verdict = self.guard.check(register, value, now, clock)
        if verdict in (Verdict.ACCEPTED, Verdict.FOLLOWED):
            self._held_in_a_row.pop(register, None)
            self._held_readings.pop(register, None)
            self._keep_holding.discard(register)
            self._delete_issue(HELD_ISSUE, register)
        if verdict is Verdict.ACCEPTED:
            self.meter_hours.add(register, value, now, clock)
            return True
        if verdict is Verdict.FOLLOWED:
            LOGGER.warning(
                "Energy register %s of meter %s went from %s to %s and kept counting from there: following it",
                _name(register),
                self.data.meter_id,
                previous,
                value,
            )
            self._record("register_followed", register, previous=previous, value=value)
            self._restart_live_energy(register, value)
            self.meter_hours.add(register, value, now, clock)
            return True
        self.held_totals += 1
        self._held_readings[register] = reading
        held = self._held_in_a_row[register] = self._held_in_a_row.get(register, 0) + 1
        if held == 1:
            LOGGER.warning(
                "Held energy register %s of meter %s at %s: it came as %s, and a total may only grow, as fast as "
                "power allows; it is followed if the next %s grow on from there",
                _name(register),
                self.data.meter_id,
                previous,
                value,
                NEW_SEQUENCE_TELEGRAMS - 1,
            )
            self._record("register_held", register, previous=previous, value=value)
        if held >= NEW_SEQUENCE_TELEGRAMS and register not in self._keep_holding:
            self._create_issue(
                HELD_ISSUE,
                {"register": _name(register), "previous": _kwh(previous), "value": _kwh(value)},
                register,
                fixable=True,
            )
        return False

    @callback
    def keep_holding(self, register: Code) -> None:
        """Keep holding a register's last total, as the user decided: the guard goes on as it would, unasked."""
        self._keep_holding.add(register)
        self._delete_issue(HELD_ISSUE, register)
        self._record("register_kept", register, previous=self.guard.last(register))

    @callback
    def accept_held_total(self, register: Code) -> bool:
        """Take a register's held total as the meter's count, as the user decided; False if none is held."""
        previous = self.guard.last(register)
        value = self.guard.follow_held(register)
        reading = self._held_readings.pop(register, None)
        self._held_in_a_row.pop(register, None)
        self._delete_issue(HELD_ISSUE, register)
        if value is None or reading is None:
            return False
        LOGGER.warning(
            "Energy register %s of meter %s: %s taken as its count (was %s), as the user decided",
            _name(register),
            self.data.meter_id,
            value,
            previous,
        )
        self._record("register_accepted", register, previous=previous, value=value)
        self._restart_live_energy(register, value)
        self.async_set_updated_data(replace(self.data, readings={**self.data.readings, register: reading}))
        return True

    def _is_this_meters(self, telegram: Telegram) -> bool:
        """Whether a telegram is the known meter's; a new meter named by several in a row takes over the entry."""
        if self._replaced:
            return False
        identity = self.identity.check(telegram.meter_id)
        if identity is Identity.UNCONFIRMED:
            LOGGER.debug("A telegram named meter %s, not %s: not shown", telegram.meter_id, self.data.meter_id)
            return False
        if identity is Identity.REPLACED:
            self._meter_replaced(telegram)
            return False
        return True

    def _meter_replaced(self, telegram: Telegram) -> None:
        """Give a new meter a device and sensors of its own, so no total jumps from the old meter's count to its.

        The entry takes the new meter's id and reloads: its sensors' unique ids
        carry the id, so the old meter's sensors keep their history and the
        new one's start their own. The hour in progress was measured by two
        meters and is not counted.
        """
        self._replaced = True
        entry, old, new = self.config_entry, self.data.meter_id, str(telegram.meter_id)
        other = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, new)
        if other is not None:
            LOGGER.warning(
                "Meter %s was replaced by %s, which %s reads already: nothing more is shown", old, new, other.title
            )
            return
        LOGGER.warning("Meter %s was replaced by %s: it gets a device and sensors of its own", old, new)
        self._record("meter_replaced")
        self._create_issue(REPLACED_ISSUE, {"old": old or "", "new": new})
        self.guard.forget()
        self.live_import, self.live_export = LiveEnergy(), LiveEnergy()
        self.tariff.drop_hour()
        known = {CONF_MANUFACTURER: telegram.manufacturer, CONF_METER_TYPE: telegram.meter_type}
        data = {**entry.data, **{key: value for key, value in known.items() if value}}
        title = meter_title(data.get(CONF_MANUFACTURER), new, new)
        self.hass.config_entries.async_update_entry(entry, unique_id=new, title=title, data=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)

    def _record(self, event: str, register: Code | None = None, **figures: float | None) -> None:
        """Keep what happened to the energy totals for diagnostics (no meter ids: they are the household's)."""
        entry = {"at": dt_util.utcnow().isoformat(), "event": event}
        if register is not None:
            entry["register"] = _name(register)
        self.energy_events.append(entry | {name: _kwh(value) for name, value in figures.items()})

    def _restart_live_energy(self, register: Code, value: float) -> None:
        """Start live energy (and the hour's use) again from a register that began a new sequence."""
        self.meter_hours.rebase(register, value)
        live = {ACTIVE_ENERGY_IMPORT.code: self.live_import, ACTIVE_ENERGY_EXPORT.code: self.live_export}.get(register)
        if live is None:
            return
        before = live.published
        live.reset(value)
        if live is self.live_import and before is not None:
            self.tariff.rebase(value - before)

    def _save_when_due(self, now: datetime) -> None:
        """Write the energy state at most every few minutes, and at every hour's first telegram.

        A debounced write would never happen while telegrams keep coming.
        """
        saved = self._saved_at
        if saved is None or now - saved >= SAVE_INTERVAL or now.replace(minute=0, second=0, microsecond=0) > saved:
            self._saved_at = now
            self._store.async_delay_save(self._energy_data, 0)

    def _track_energy(self, register: Code, value: float, now: datetime) -> None:
        """Feed power and accepted totals to the live energy and the tariff."""
        if register in (ACTIVE_POWER_IMPORT.code, ACTIVE_POWER_EXPORT.code):
            live = self.live_import if register == ACTIVE_POWER_IMPORT.code else self.live_export
            # Power further apart than the silence the reader tolerates was not
            # measured in between: the next register re-anchors instead.
            live.add_power(value, now, timedelta(seconds=self.reader.silence_timeout))
        elif register == ACTIVE_ENERGY_IMPORT.code:
            self.live_import.add_register(value)
            self.tariff.correct_last_hour(value, now)
        elif register == ACTIVE_ENERGY_EXPORT.code:
            self.live_export.add_register(value)

    def _update_device(self, data: MeterData) -> None:
        """Keep the device page true when the meter says more than setup knew."""
        registry = dr.async_get(self.hass)
        device = meter_device(registry, self.config_entry)
        if device is not None:
            registry.async_update_device(
                device.id,
                manufacturer=data.manufacturer,
                model=data.meter_type,
                serial_number=data.meter_id,
            )

    @callback
    def key_problem(self, _drop: DroppedFrame) -> None:
        """Ask the user for new keys when checksum-valid telegrams keep failing to open."""
        self._key_problems += 1
        if self._key_problems == KEY_PROBLEMS_BEFORE_REAUTH:
            LOGGER.warning("Meter %s: its telegrams do not open with the configured keys", self.data.meter_id)
            self.config_entry.async_start_reauth(self.hass)

    @callback
    def availability_changed(self, available: bool) -> None:
        """Make entities unavailable while the meter is silent; they return with its next telegram.

        A silence that lasts is raised as a repair issue with what to check.
        """
        if available:
            return
        if self.last_update_success:
            # Once, as a warning with the cause: the coordinator's own error would log an ERROR
            # that names no cause, for what is most often a bridge rebooting.
            LOGGER.warning(
                "%s is unavailable: %s; it is read again as soon as it sends",
                self.config_entry.title,
                self.reader.lost or "no valid telegram",
            )
            self.last_exception = MeterUnavailableError(
                translation_domain=DOMAIN,
                translation_key="meter_unavailable",
                translation_placeholders={"address": self.reader.url, "cause": self.reader.lost},
            )
            self.last_update_success = False
            self.async_update_listeners()
        if self._silence_check is None:
            self._silence_check = async_call_later(self.hass, SILENCE_REPAIR_AFTER, self._raise_silence_issue)

    @callback
    def _raise_silence_issue(self, _now: datetime) -> None:
        self._silence_check = None
        if self.last_update_success or self.reader.paused:
            return
        minutes = str(round(SILENCE_REPAIR_AFTER.total_seconds() / 60))
        if self.reader.open_error is not None:
            self._create_issue(self.reader.unreachable_issue, {"error": self.reader.open_error, "minutes": minutes})
        else:
            self._create_issue(self.reader.silent_issue, {"minutes": minutes})

    @callback
    def _cancel_silence_check(self) -> None:
        if self._silence_check is not None:
            self._silence_check()
            self._silence_check = None

    def _create_issue(
        self, kind: str, placeholders: dict[str, str], register: Code | None = None, *, fixable: bool = False
    ) -> None:
        """Raise one of this meter's repair issues; its id carries the entry, so removal finds it."""
        issue_id = self._issue_id(kind, register)
        self._issues.add(issue_id)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=fixable,
            # What the fix flow needs to find the meter and the register again.
            data={"entry_id": self.config_entry.entry_id, "register": _name(register)} if register else None,
            severity=ir.IssueSeverity.WARNING,
            translation_key=kind,
            translation_placeholders={"meter": self.config_entry.title, **placeholders},
        )

    def _delete_issue(self, kind: str, register: Code | None = None) -> None:
        """Withdraw an issue this coordinator raised, once what it said is over."""
        issue_id = self._issue_id(kind, register)
        if issue_id in self._issues:
            self._issues.discard(issue_id)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def _issue_id(self, kind: str, register: Code | None) -> str:
        return meter_issue_id(kind, self.config_entry.entry_id, register)


def _aware(moment: datetime | None) -> datetime | None:
    """Meters that do not state their UTC offset keep local time: use Home Assistant's zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt_util.get_default_time_zone())


def meter_issue_id(kind: str, entry_id: str, register: Code | None = None) -> str:
    """Name a meter's repair issue: one per kind, entry and register, so an event never raises two."""
    suffix = f"_{_name(register)}" if register is not None else ""
    return f"{kind}_{entry_id}{suffix}"


def entry_issue_ids(hass: HomeAssistant, entry_id: str) -> set[str]:
    """Find the repair issues raised for an entry: their ids carry its entry id (see meter_issue_id)."""
    return {issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN and entry_id in issue_id}


def _kwh(watt_hours: float | None) -> str:
    return f"{(watt_hours or 0) / 1000:.3f}"


def _name(register: Code) -> str:
    """Write a register as OBIS C.D.E, as the meter's documentation does."""
    return ".".join(map(str, register))
