"""A meter's repair issues: raised when something lasts that the user can act on, withdrawn when it is over."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.loader import async_get_loaded_integration

from .const import DOMAIN, sensor_unique_id
from .registers import REGISTER_BY_CODE, code_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .connection import TelegramWatch
    from .decoder import Code

# A held register the guard cannot settle by itself: the user decides in its fix flow (repairs.py).
HELD_ISSUE = "energy_register_held"
# A meter replaced by another: which sensors the Energy dashboard should now use.
REPLACED_ISSUE = "meter_replaced"
# A new meter on this port that another entry already reads: the user says which entry reads what.
READ_ELSEWHERE_ISSUE = "meter_read_elsewhere"
# A meter silent this long is not a glitch: the user is told what to check.
SILENCE_REPAIR_AFTER = timedelta(hours=1)
# A network bridge that hangs up on every connection, that long: most serve one client at a time.
BRIDGE_CLOSES_ISSUE = "bridge_closes"
# A port that carries bytes, that long, but never a frame that passes its checksum: the line's settings are not
# the meter's. Its last silent connection must have carried more than this: a meter that stopped in the middle
# of a push leaves a cut frame's rest on one connection, and the next carries nothing.
UNREADABLE_ISSUE = "meter_unreadable"
UNREADABLE_BYTES = 512
# Connections in a row a bridge closed before any telegram that say it hangs up on every one.
HUNG_UP_CONNECTIONS = 3
# A list no table knows, still not proven after this many pushes: the user is asked for a capture.
LIST_NOT_LEARNED_ISSUE = "list_not_learned"
LEARNING_PUSHES_BEFORE_ISSUE = 30
# The languages HAN Port's repairs are written in that write a decimal comma (in any other, English, a point).
_DECIMAL_COMMA = frozenset({"nb", "da", "sv"})


def meter_issue_id(kind: str, entry_id: str, register: Code | None = None) -> str:
    """Name a meter's repair issue: one per kind, entry and register, so an event never raises two."""
    suffix = f"_{code_name(register)}" if register is not None else ""
    return f"{kind}_{entry_id}{suffix}"


def entry_issue_ids(hass: HomeAssistant, entry_id: str) -> set[str]:
    """Find the repair issues raised for an entry: their ids carry its entry id (see meter_issue_id)."""
    return {issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN and entry_id in issue_id}


def silence_kinds(reader: type[TelegramWatch] | TelegramWatch) -> tuple[str, ...]:
    """Name the repair issues a silence raises, one per cause: port shut, bridge hanging up, line unreadable, silent."""
    return reader.unreachable_issue, BRIDGE_CLOSES_ISSUE, UNREADABLE_ISSUE, reader.silent_issue


def withdraw_once_disabled(hass: HomeAssistant, entry: ConfigEntry, reader: type[TelegramWatch]) -> None:
    """Withdraw the entry's silence repairs if the user disables it while its setup waits to be retried.

    Nothing unloads an entry whose setup never finished: its own unload, which withdraws them otherwise,
    never runs. One look, at the entry's next state: a retry begins, or the entry stops.
    """
    looked = False

    @callback
    def state_changed() -> None:
        nonlocal looked
        if looked or entry.state is ConfigEntryState.SETUP_RETRY:
            return
        looked = True
        hass.loop.call_soon(remove)  # not while Home Assistant walks the callbacks
        if entry.disabled_by is not None:
            for kind in silence_kinds(reader):
                ir.async_delete_issue(hass, DOMAIN, meter_issue_id(kind, entry.entry_id))

    remove = entry.async_on_state_change(state_changed)


def in_thousands(value: float | None) -> str:
    """Write a total in thousands of its unit (kWh, kvarh), to the Wh or varh, as a meter's display shows it."""
    return f"{(value or 0) / 1000:.3f}"


class MeterIssues:
    """The repair issues of one meter's entry, and the watch that raises one when the meter stays silent."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, reader: TelegramWatch) -> None:
        """Take over the issues raised before a reload, so that they stay withdrawable."""
        self._hass = hass
        self._entry = entry
        self._reader = reader
        self._ids = entry_issue_ids(hass, entry.entry_id)
        self._silence_check: Callable[[], None] | None = None
        entry.async_on_unload(self.cancel_silence_check)

    def create(
        self,
        kind: str,
        placeholders: dict[str, str],
        register: Code | None = None,
        *,
        fixable: bool = False,
        told_as: str | None = None,
    ) -> None:
        """Raise one of this meter's repair issues; its id carries the entry, so removal finds it.

        An issue is told by the translation of its kind, or by told_as: one
        issue (withdrawn as one) with a text for each of its causes.
        """
        issue_id = meter_issue_id(kind, self._entry.entry_id, register)
        self._ids.add(issue_id)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=fixable,
            # What the fix flow needs to find the meter and the register again.
            data={"entry_id": self._entry.entry_id, "register": code_name(register)} if register else None,
            severity=ir.IssueSeverity.WARNING,
            translation_key=told_as or kind,
            translation_placeholders={"meter": self._entry.title, **placeholders},
        )

    def register_label(self, register: Code) -> str:
        """Name a register as a repair shows it: its code, and the name its sensor goes by here.

        A code alone (1.8.0) says nothing to most users. The sensor's name is
        the user's, or the one Home Assistant gave it in its language when the
        sensor was made; a register with no sensor is named by its code.
        """
        code = code_name(register)
        key = known.key if (known := REGISTER_BY_CODE.get(register)) is not None else None
        registry = er.async_get(self._hass)
        entity_id = (
            None if key is None else registry.async_get_entity_id("sensor", DOMAIN, sensor_unique_id(self._entry, key))
        )
        sensor = None if entity_id is None else registry.async_get(entity_id)
        name = None if sensor is None else sensor.name or sensor.original_name
        return f"{code} ({name})" if name else code

    def total(self, value: float | None, unit: str | None) -> str:
        """Write a total in thousands of its unit (kWh, kvarh), as a meter's display shows it.

        A repair's numbers are put in its text as written here, with the
        decimal sign of Home Assistant's language: the frontend writes none
        of them anew.
        """
        written = in_thousands(value)
        language = self._hass.config.language.split("-")[0].lower()
        return f"{written.replace('.', ',') if language in _DECIMAL_COMMA else written} k{unit or 'Wh'}"

    @property
    def issue_tracker(self) -> str:
        """Where bug reports go, as the manifest says."""
        return async_get_loaded_integration(self._hass, DOMAIN).issue_tracker or ""

    def raised(self, kind: str, register: Code | None = None) -> bool:
        """Whether one of this meter's issues is raised (before a reload too)."""
        return meter_issue_id(kind, self._entry.entry_id, register) in self._ids

    def delete(self, kind: str, register: Code | None = None) -> None:
        """Withdraw an issue raised for this meter, once what it said is over."""
        issue_id = meter_issue_id(kind, self._entry.entry_id, register)
        if issue_id in self._ids:
            self._ids.discard(issue_id)
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)

    def meter_heard(self) -> None:
        """Withdraw what said the meter was silent or out of reach: it sends again."""
        self.cancel_silence_check()
        for kind in silence_kinds(self._reader):
            self.delete(kind)

    def reading_stopped(self) -> None:
        """Withdraw what said the port or the meter failed: the user disabled the entry, which reads nothing now."""
        self.meter_heard()

    def follow_the_port(self) -> None:
        """Follow the port as the meter is lost: whether it opens, and how it fails when not.

        It opens: what said the port or broker was out of reach is over, though
        the meter may still be silent. It does not: a raised silence or outage
        repair is told anew, as the port fails now (not open, or held, say).
        """
        if self._reader.open_error is not None:
            if any(self.raised(kind) for kind in silence_kinds(self._reader)):
                self._raise_silence_issue()
            return
        self.delete(self._reader.unreachable_issue)
        if not self._reader.hung_up:  # a connection was held, or delivered: the bridge serves this reader again
            self.delete(BRIDGE_CLOSES_ISSUE)

    def watch_silence(self, still_silent: Callable[[], bool]) -> None:
        """Raise an issue, with what to check, if the meter is still silent a while from now."""
        if self._silence_check is not None:
            return

        @callback
        def check(_now: datetime) -> None:
            self._silence_check = None
            if not still_silent():
                return
            if self._reader.paused:
                # A flow holds the port: the silence is judged again a while later, not forgotten.
                self.watch_silence(still_silent)
                return
            self._raise_silence_issue()

        self._silence_check = async_call_later(self._hass, SILENCE_REPAIR_AFTER, check)

    def _raise_silence_issue(self) -> None:
        minutes = str(round(SILENCE_REPAIR_AFTER.total_seconds() / 60))
        # One repair, for the cause now: a bridge back whose meter stays silent is no bridge out of reach, and
        # one that hangs up on every connection most often serves another client (it serves one at a time).
        placeholders = {"minutes": minutes}
        told_as = None
        if (failed := self._reader.open_error) is not None:
            # A failure of a known kind is told as what to do about it, in the user's language.
            kind, told_as, placeholders["error"] = self._reader.unreachable_issue, failed.told_as, failed.words
        elif self._reader.hung_up >= HUNG_UP_CONNECTIONS:
            kind = BRIDGE_CLOSES_ISSUE
        elif self._reader.unread_bytes > UNREADABLE_BYTES:
            kind = UNREADABLE_ISSUE
        else:
            kind = self._reader.silent_issue
        for other in silence_kinds(self._reader):
            if other != kind:
                self.delete(other)
        self.create(kind, placeholders, told_as=told_as)

    @callback
    def cancel_silence_check(self) -> None:
        """Stop watching for a silence (the meter sent, or the entry unloads)."""
        if self._silence_check is not None:
            self._silence_check()
            self._silence_check = None


class ListLearning:
    """A meter whose list no table knows, while its physics has not proven what it carries yet.

    Its pushes are heard and dropped until then; after a while a repair
    issue says so, and asks for the diagnostics' masked capture in a bug
    report, so a table entry can make the list known to every user.
    """

    def __init__(self, issues: MeterIssues) -> None:
        """Start with no list being learned."""
        self._issues = issues
        self.progress: str | None = None
        """How far the learning is, while a list is being learned; None otherwise."""
        self.pushes = 0

    def heard(self, progress: str) -> None:
        """Take a push dropped while its list is being learned; the issue, once raised, says how far it is."""
        moved = progress != self.progress
        self.progress = progress
        self.pushes += 1
        if self.pushes == LEARNING_PUSHES_BEFORE_ISSUE or (self.pushes > LEARNING_PUSHES_BEFORE_ISSUE and moved):
            tracker = self._issues.issue_tracker
            self._issues.create(LIST_NOT_LEARNED_ISSUE, {"progress": progress, "issue_tracker": tracker})

    def learned(self) -> None:
        """Note that a telegram came: the list is known, or learned."""
        if self.progress is not None:
            self.progress, self.pushes = None, 0
            self._issues.delete(LIST_NOT_LEARNED_ISSUE)
