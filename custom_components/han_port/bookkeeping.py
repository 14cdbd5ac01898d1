"""A meter's energy bookkeeping: what its readings may change, and what is kept over a restart.

The current-transformer ratio scales what the meter measures; the power
envelope holds powers far above what the meter has shown; the guard holds
totals that go down or jump; what passes is counted (counts.py: live
energy, the capacity tariff, the meter hours); and all of it is kept
(energy_store.py writes it), so a restart loses no more than a few minutes.
What becomes of the totals the guard holds is held_totals.py's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .capacity import (
    CAPACITY_MODELS,
    CUSTOM_MODEL,
    DEFAULT_CAPACITY_MODEL,
    DEFAULT_PEAK_DAYS,
    CapacityTariff,
    PeakRule,
    format_hours,
    parse_hours,
    stored_thresholds,
)
from .const import (
    CONF_CAPACITY_MODEL,
    CONF_CAPACITY_THRESHOLDS,
    CONF_COUNTED_HOURS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_NIGHT_WEIGHT,
    CONF_ONE_PEAK_PER_DAY,
    CONF_PEAK_DAYS,
    CONF_WEEKDAYS_ONLY,
    DEFAULT_CURRENT_TRANSFORMER_RATIO,
    LOGGER,
)
from .counts import EnergyCounts
from .decoder import (
    ACTIVE_ENERGY,
    ACTIVE_POWER,
    APPARENT_POWER,
    CURRENT,
    CURRENT_AVERAGE,
    INSTANTANEOUS,
    MAXIMUM,
    NET_ACTIVE_POWER,
    PRESENT_VALUE,
    REACTIVE_POWER,
    ObisCode,
    Reading,
    quantity_of,
)
from .energy import (
    NEW_CYCLE_BELOW,
    ROUNDING_FALL,
    UNPROVEN_POWER,
    MeterTotal,
    PowerEnvelope,
    TotalGuard,
    Verdict,
)
from .energy_store import EnergyStore
from .handed_over import HandedOverLists
from .held_totals import EnergyEvents, HeldTotals
from .hours import meter_clock, standard_time_in_utc, wall_clock
from .registers import (
    ACTIVE_ENERGY_EXPORT,
    ACTIVE_ENERGY_IMPORT,
    LIVE_ENERGY_KEYS,
    REGISTER_BY_CODE,
    THROUGH_CURRENT_TRANSFORMERS,
    code_name,
    code_of_name,
    is_total,
)
from .statistics import MeterHourStatistics
from .total_steps import Grown, TotalSteps

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import Event, HomeAssistant

    from .connection import TelegramWatch
    from .decoder import Code, Decoder, Telegram, Unit
    from .issues import MeterIssues

# Totals a meter that counts by tariff alone never sends, summed from its tariffs (E = 1 to 63, IEC 62056-61).
_SUMMED_TOTALS = frozenset({ACTIVE_ENERGY_IMPORT.code, ACTIVE_ENERGY_EXPORT.code})
_FIRST_TARIFF, _LAST_TARIFF = 1, 63
# Every power the meter measures now, whole or per phase, lies within what this meter carries, and so do
# its averages over a demand period (the one in progress, and the billing period's highest); a cumulative
# maximum demand, summed over the months, is another figure.
_ENVELOPED = frozenset({ACTIVE_POWER, REACTIVE_POWER, APPARENT_POWER, NET_ACTIVE_POWER})
_ENVELOPED_PROCESSING = frozenset({INSTANTANEOUS, CURRENT_AVERAGE, MAXIMUM})
# A current carries its phase's apparent power at the grid's voltage (Europe's 230 V, phase to neutral, or
# line to line on an IT grid): one far above what this meter carries is held as a power is.
NOMINAL_VOLTAGE = 230.0


def _tariff(options: Mapping[str, Any]) -> CapacityTariff:
    """Make the capacity tariff the entry's options set (the defaults where none are set)."""
    return CapacityTariff(
        dt_util.get_default_time_zone(),
        thresholds=thresholds_option(options),
        peak_days=int(options.get(CONF_PEAK_DAYS, DEFAULT_PEAK_DAYS)),
        rule=peak_rule(options),
    )


def thresholds_option(options: Mapping[str, Any]) -> tuple[float, ...]:
    """Read the capacity steps' thresholds from the options (kWh; the defaults where none are set)."""
    return stored_thresholds(str(options.get(CONF_CAPACITY_THRESHOLDS, "")))


def custom_rule_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Read the user's own capacity rule from the options, each setting the default rule's where none is set."""
    default = PeakRule()
    return {
        CONF_ONE_PEAK_PER_DAY: bool(options.get(CONF_ONE_PEAK_PER_DAY, default.one_per_day)),
        CONF_COUNTED_HOURS: str(options.get(CONF_COUNTED_HOURS, format_hours(default.first_hour, default.last_hour))),
        CONF_WEEKDAYS_ONLY: bool(options.get(CONF_WEEKDAYS_ONLY, default.weekdays_only)),
        CONF_NIGHT_WEIGHT: float(options.get(CONF_NIGHT_WEIGHT, default.night_weight)),
    }


def peak_rule(options: Mapping[str, Any]) -> PeakRule:
    """Read which hours the capacity charge counts from the options: a named model, or the user's own rule."""
    model = str(options.get(CONF_CAPACITY_MODEL, DEFAULT_CAPACITY_MODEL))
    if model != CUSTOM_MODEL:
        return CAPACITY_MODELS.get(model, CAPACITY_MODELS[DEFAULT_CAPACITY_MODEL])
    custom = custom_rule_options(options)
    first, last = parse_hours(custom[CONF_COUNTED_HOURS])
    return PeakRule(
        one_per_day=custom[CONF_ONE_PEAK_PER_DAY],
        first_hour=first,
        last_hour=last,
        weekdays_only=custom[CONF_WEEKDAYS_ONLY],
        night_weight=custom[CONF_NIGHT_WEIGHT],
    )


def _decoder_kept(decoder: Decoder) -> dict[str, Any]:
    """Return what the decoder learned that a restart must not forget, as plain data for the store."""
    return {
        "replay_counters": {title.hex(): counter for title, counter in decoder.replay_counters.items()},
        "replay_keys": decoder.keys_fingerprint,
        "learned_lists": decoder.learned_lists,
    }


def _restore_decoder(decoder: Decoder, stored: Mapping[str, Any]) -> set[Code]:
    """Give the decoder back what it learned before a restart (see _decoder_kept); return the totals learned anew."""
    # A ciphered frame captured before the restart stays refused after it.
    counters = stored.get("replay_counters", {})
    decoder.restore_replay_counters({bytes.fromhex(t): int(c) for t, c in counters.items()}, stored.get("replay_keys"))
    # What the meter's physics proved of a list no table knows is not learned again.
    return {code.register for code in decoder.restore_learned_lists(stored.get("learned_lists", []))}


class EnergyBookkeeping:
    """What a meter's readings may change of its energy figures, and the store that keeps them."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, reader: TelegramWatch, issues: MeterIssues) -> None:
        """Start from the entry's options: its current-transformer ratio and capacity tariff."""
        self._reader = reader
        self._issues = issues
        self.ct_ratio = float(entry.options.get(CONF_CURRENT_TRANSFORMER_RATIO, DEFAULT_CURRENT_TRANSFORMER_RATIO))
        # Behind current transformers a household carries the ratio times what a meter alone does.
        self.envelope = PowerEnvelope(floor=UNPROVEN_POWER * self.ct_ratio)
        self.guard = TotalGuard(self.envelope, rounding=ROUNDING_FALL * self.ct_ratio)
        self.held_powers = 0
        """Readings of a power (a demand, a current's at 230 V) above what this meter has shown, not (yet)
        confirmed: neither shown nor integrated."""
        # Totals kept from before (restored states, stored live energy) were
        # measured through this ratio; a new one rescales them.
        self._restored_scale = 1.0
        self.events = EnergyEvents()
        self.held = HeldTotals(self.guard, issues, self.events)
        self.handed_over = HandedOverLists(self.guard, reader)
        self.sent_totals: set[Code] = set()
        """The active energy totals the meter has sent itself: never summed from its tariffs (kept over a restart)."""
        self.store = EnergyStore(hass, entry.entry_id, self._stored)
        # Only totals the guard accepted reach the meter's hours.
        self.counts = EnergyCounts(
            _tariff(entry.options),
            MeterHourStatistics(hass, entry, self.store.save_soon),
            save_soon=self.store.save_soon,
            power_gap=lambda: timedelta(seconds=reader.silence_timeout),
        )
        self.total_steps = TotalSteps(hass, entry, self.store.save_soon)

    async def async_load(self) -> None:
        """Take back the live totals, the month's hours and the replay counters kept over a restart."""
        stored = await self.store.async_load()
        if not stored:
            return
        relearned = _restore_decoder(self._reader.decoder, stored)
        self._reader.recall_interval(float(stored.get("push_interval", 0.0)))
        self.counts.restore(stored)
        self.envelope.highest = float(stored.get("highest_power", 0.0))
        self.events.extend(stored.get("events", []))
        # Kept under their first name: stores written before hold them so.
        self.total_steps.restore(stored.get("ratio_steps", []))
        self.sent_totals.update(code_of_name(name) for name in stored.get("sent_totals", []))
        # A total a learned list showed by older rules may be a tariff: if it is learned anew as tariffs, it is summed.
        self.sent_totals -= relearned
        stored_ratio = float(stored.get("current_transformer_ratio", self.ct_ratio))
        if stored_ratio != self.ct_ratio:
            self._restored_scale = self.ct_ratio / stored_ratio
            LOGGER.info(
                "Current transformer ratio changed from %s to %s: kept totals rescaled", stored_ratio, self.ct_ratio
            )
            self.counts.scale(self._restored_scale)
            self.envelope.scale(self._restored_scale)
            self.total_steps.begin(dt_util.utcnow())
        self.guard.restore(stored.get("totals", []), self._restored_scale)
        self.guard.lead.restore(stored.get("clock_leads"))
        self.held.restore(stored.get("held", {}), self._restored_scale)
        if self._restored_scale != 1:
            # Kept through the new ratio at once: the totals shown from now on are, and a start after a power
            # cut must not rescale them a second time.
            self.store.save_soon()

    def _stored(self) -> dict[str, Any]:
        return {
            **self.counts.as_dict(),
            "highest_power": self.envelope.highest,
            "totals": self.guard.as_list(),
            "clock_leads": self.guard.lead.as_list(),
            "held": self.held.as_dict(),
            "events": list(self.events),
            "current_transformer_ratio": self.ct_ratio,
            "ratio_steps": self.total_steps.as_list(),
            "sent_totals": sorted(code_name(code) for code in self.sent_totals),
            "push_interval": self._reader.kept_interval,
            **_decoder_kept(self._reader.decoder),
        }

    @callback
    def follow_time_zone(self, _event: Event) -> None:
        """Count the capacity tariff's days and months in the zone Home Assistant was set to since (no restart)."""
        self.counts.tariff.time_zone = dt_util.get_default_time_zone()

    def seed_total(self, register: Code, value: float, when: datetime) -> float:
        """Tell the guard a total's last known value, as restored after a restart; return the total to show.

        A total restored from before a change of the current-transformer
        ratio is rescaled to the new one, as the meter's next total will be.
        The guard's own, kept in the store, may be newer: Home Assistant keeps
        restored states every 15 minutes, and a power cut loses the rest.
        """
        value *= self._restored_scale
        self.guard.seed(register, value, when)
        known = self.guard.last(register)
        return value if known is None else max(value, known)

    def keep_live_energy_at_least(self, register: Code, watt_hours: float) -> None:
        """Keep the live energy of a register (import or export) from falling below a total it showed before.

        After a power cut the recorder has a later state than the store, which
        is written every few minutes: live energy holds there until it passes
        it, or until the register catches up where the meter sent it since
        (the estimate may have run ahead of it). A register that fell far
        below it was counted anew (a meter reset or swapped): that total is
        another count's.
        """
        watt_hours *= self._restored_scale
        counted = self.guard.last(register) if self.guard.sent(register) else None
        if counted is None or counted >= NEW_CYCLE_BELOW * watt_hours:
            self.counts.live(register).hold_at_least(watt_hours)

    def take(self, telegram: Telegram, meter: str, now: datetime) -> dict[Code, Reading] | None:
        """Return the present values of a telegram that may be shown, scaled, and feed them to the energy figures.

        Billing-period and historic values (F other than 255) are not the
        register's present value: they never replace it. None for an earlier
        list handed over again (see TotalGuard.told_before): nothing in it is
        the meter's present, its power, clock and totals alike.
        """
        # A clock without an offset is trusted less where the hours place it (hours.agreeing_clock).
        clock = telegram_clock(telegram)
        present = [
            (obis, _through_transformers(obis, reading, self.ct_ratio))
            for obis, reading in telegram.readings.items()
            if obis.f == PRESENT_VALUE
        ]
        sent = {obis.register for obis, _ in present if obis.register in _SUMMED_TOTALS}
        if not sent <= self.sent_totals:
            # Kept at once: after a power cut, a telegram of tariffs alone must not be summed for it again.
            self.sent_totals |= sent
            self.store.save_soon()
        present += _summed_tariffs(present, _SUMMED_TOTALS - self.sent_totals)
        if self.handed_over.earlier([(obis.register, r.value) for obis, r in present if _guarded(obis)], clock):
            LOGGER.debug("%s: a list stamped %s is an earlier one, handed over again", meter, clock)
            return None
        shown: dict[Code, Reading] = {}
        for obis, reading in present:
            register = obis.register
            value = reading.value
            carried = _carried_power(obis, value)
            if carried is not None and not self.envelope.admit(register, carried):
                # Far above what this meter has shown, and not (yet) confirmed: neither shown nor integrated.
                self.held_powers += 1
                continue
            guarded = _guarded(obis)
            if guarded:
                value = self.guard.same_count(register, value)
            scaled = Reading(value, reading.unit)
            if not guarded:
                shown[register] = scaled
                self.counts.track(register, value, now, clock)
                continue
            judged = self.held.check(register, scaled, meter, now, clock)
            if judged.verdict is Verdict.FOLLOWED:
                self._count_anew(register, judged.sequence, reading.unit, now)
            elif judged.verdict is Verdict.ACCEPTED:
                self.counts.count(register, MeterTotal(value, now, clock))
            else:
                continue
            shown[register] = scaled
        self.counts.update_hour_use(now)
        self.store.save_when_due(now)
        return shown

    def accept_held_total(self, register: Code, meter: str) -> Reading | None:
        """Take a register's held total as the meter's count, as the user decided; None if none is held."""
        accepted = self.held.accept(register, meter)
        if accepted is None:
            return None
        reading, sequence = accepted
        self._count_anew(register, sequence, reading.unit, dt_util.utcnow())
        return reading

    def _count_anew(self, register: Code, sequence: Sequence[MeterTotal], unit: Unit | None, now: datetime) -> None:
        """Count a register on from a new sequence of its totals, its sensors' step taken out of their statistics.

        The register's sensor showed none of the new count while it was held: what it grew by since its first
        total is use. Live energy counted that use meanwhile, from the power.
        """
        self.counts.count_anew(register, sequence)
        steps: dict[str, Grown | None] = {}
        if (own := REGISTER_BY_CODE.get(register)) is not None and (unit := unit or own.quantity.unit) is not None:
            # A register sent without its unit is shown in its quantity's base unit (Wh, varh), as its growth is.
            steps[own.key] = Grown(sequence[-1].value - sequence[0].value, unit)
        if (live := LIVE_ENERGY_KEYS.get(register)) is not None:
            steps[live] = None
        if steps:
            self.total_steps.begin(now, steps)

    def start_over(self) -> None:
        """Forget the old meter's totals: a new one counts from its own (the hour in progress is not counted)."""
        self.events.record("meter_replaced")
        self.guard.forget()
        self.sent_totals.clear()
        self.counts.start_over()


def telegram_clock(telegram: Telegram) -> datetime | None:
    """Return a telegram's clock as sent, one without an offset as Home Assistant's zone reads it on the wall."""
    return wall_clock(telegram.timestamp, dt_util.get_default_time_zone(), standard_time=telegram.standard_time)


def meter_time(telegram: Telegram, arrival: datetime) -> datetime | None:
    """Return when a telegram's clock says it was sent: meters that state no UTC offset keep local time.

    Of the two readings a local time has in the hour daylight saving ends twice, the one nearer the arrival; a
    clock that keeps standard time all year has one.
    """
    clock, zone = telegram.timestamp, dt_util.get_default_time_zone()
    if telegram.standard_time and clock is not None and clock.tzinfo is None:
        return standard_time_in_utc(clock, zone)
    return meter_clock(arrival, clock, zone)


def _through_transformers(obis: ObisCode, reading: Reading, ratio: float) -> Reading:
    """Return a reading as the meter measured it: through its current transformers, where it has them."""
    if ratio != 1 and quantity_of(obis) in THROUGH_CURRENT_TRANSFORMERS:
        value = reading.value * ratio
        # A whole count that comes out whole through the ratio stays a whole number: "924", as the meter's own,
        # never "924.0" (the options form hands the ratio over as a float).
        whole = isinstance(reading.value, int) and value.is_integer()
        return Reading(int(value) if whole else value, reading.unit)
    return reading


def _summed_tariffs(present: list[tuple[ObisCode, Reading]], totals: Iterable[Code]) -> list[tuple[ObisCode, Reading]]:
    """Return the totals a meter that counts by tariff alone does not send: the sums of their tariffs' registers.

    Dutch and Belgian meters send 1.8.1 and 1.8.2 (2.8.1 and 2.8.2), never 1.8.0, and the total is what the
    Energy dashboard, the meter hours and live energy count. Only for totals the meter never sent itself: one
    that does may count in more tariffs than it sends.
    """
    summed = []
    for total in sorted(totals):
        tariffs = [
            (obis, reading)
            for obis, reading in present
            if obis.register[:2] == total[:2] and _FIRST_TARIFF <= obis.e <= _LAST_TARIFF
        ]
        units = {reading.unit for _, reading in tariffs}
        value = sum(reading.value for _, reading in tariffs)
        if tariffs and len(units) == 1 and value <= ACTIVE_ENERGY.high:
            first = tariffs[0][0]
            summed.append((first._replace(e=0), Reading(value, units.pop())))
    return summed


def _carried_power(obis: ObisCode, value: float) -> float | None:
    """Return the power a reading says the meter carries, which must lie within its envelope (None: no power)."""
    if obis.d not in _ENVELOPED_PROCESSING:
        return None
    quantity = quantity_of(obis)
    if quantity in _ENVELOPED:
        return value
    return value * NOMINAL_VOLTAGE if quantity is CURRENT else None


def _guarded(obis: ObisCode) -> bool:
    """Whether the guard judges a register: a total that may only grow.

    A signed total (net energy, import minus export) goes down while the home exports: nothing to guard.
    """
    quantity = quantity_of(obis)
    return is_total(obis.register) and quantity is not None and quantity.low >= 0
