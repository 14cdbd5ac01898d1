"""A simulated household meter: power that varies like a home's, energy that follows it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from custom_components.han_port.decoder import P1_AUTHENTICATION_KEY, mbus_frames

from . import frames
from .frames import HOURLY, MeterState

VENDORS = ("aidon", "kaifa", "kamstrup", "kamstrup-dk", "p1", "evn", "landis-gyr-ch", "iskraemeco", "smarty")
CIPHERED = ("kamstrup-dk", "evn", "smarty")
"""The meters that encrypt: each needs an encryption key."""
HOURLY_LISTS = ("aidon", "kaifa", "kamstrup")
"""The meters that send their registers in a list of their own each hour."""
AUTHENTICATED = ("kamstrup-dk",)
"""Of those, the meters tagging with a key of their own (Smarty tags with the published P1 key)."""
# Meter types as the real meters report them.
_METER_TYPES = {
    "aidon": "6534",
    "kaifa": "MA304H3E",
    "kamstrup": "6841121BN243101040",
    "kamstrup-dk": "6841138BN143101010",
    "p1": "E360",
    "evn": "T210-D",
    "landis-gyr-ch": "E450",
    "iskraemeco": "AM550",
    "smarty": "T210-D",
}
_METER_IDS = {
    "aidon": "7359992890941742",
    "kaifa": "6970631401753985",
    "kamstrup": "5706567274389702",
    "kamstrup-dk": "5706567282299475",
    "p1": "",
    "evn": "1SAG1100000292",
    "landis-gyr-ch": "36418434",
    "iskraemeco": "78012345",
    "smarty": "",
}
# How often the meters of #11 push (s): one list, everything in it.
_PUSH_INTERVALS = {"evn": 5, "landis-gyr-ch": 5, "iskraemeco": 5, "smarty": 10}
_SYSTEM_TITLES = {"kamstrup-dk": b"KAMEtest", "evn": b"SAGYtest", "smarty": b"SAGgtest"}
_BLOCK_SIZE = 128  # the Swiss E450 sends its push in general-block-transfer blocks of this size
STEP = timedelta(milliseconds=500)
_HOME = ZoneInfo("Europe/Oslo")
"""Where the simulated meters hang: the times they are run by (start, pushes) are this zone's wall clock."""
_STANDARD_TIME_CLOCKS = frozenset({"aidon", "kamstrup", "kamstrup-dk"})
"""Vendors whose real meters' clocks keep standard time all summer (UTC+1 in Norway and Denmark)."""
_STATED_OFFSET_CLOCKS = frozenset({"evn"})
"""Vendors whose clocks state their UTC offset, summer's in summer, unless the simulation sets one."""
_NOMINAL_VOLTAGE = 230.0


@dataclass(frozen=True, slots=True)
class Push:
    """One telegram the meter sends, and what it says in base units."""

    moment: datetime
    """When it was sent, on the home's wall clock (the meter's own clock may keep standard time)."""
    frame: bytes
    list_name: str
    power_import: int
    energy_import: int | None
    apdu: bytes | None = None
    """The APDU inside the frame (None for P1): what a bridge that strips the framing publishes."""


@dataclass
class SimulatedMeter:
    """A vendor's meter in a home: short lists often, longer ones every 10 s, totals hourly."""

    vendor: str
    three_phase: bool = True
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 6, 59, 30))  # noqa: DTZ001 - the home's wall clock
    seed: int = 0
    key: bytes | None = None
    auth_key: bytes | None = None
    energy_import: float = 12_345_678.0  # Wh when the simulation starts
    deviation: int | None = None
    """The UTC offset Kaifa's and Kamstrup's clocks state (DLMS: UTC minus local, minutes); None: local time only."""
    load: float = 1.0
    """The household's draw, as a share of the simulated home's."""

    def __post_init__(self) -> None:
        """Set the household's state at the start."""
        if self.vendor not in VENDORS:
            msg = f"unknown vendor {self.vendor!r}; choose one of {', '.join(VENDORS)}"
            raise ValueError(msg)
        self._random = random.Random(self.seed)  # noqa: S311 - noise, not secrets
        self._instant = _instant(self.start)
        self._counter = 0
        self._voltage = _NOMINAL_VOLTAGE + 1

    def power_at(self, moment: datetime) -> float:
        """Return a home's draw in W: base load, a morning and an evening peak, and noise."""
        hour = moment.hour + moment.minute / 60
        peaks = 1800 * math.exp(-((hour - 7.5) ** 2)) + 2600 * math.exp(-(((hour - 18.5) / 1.5) ** 2))
        return max(0.0, (450 + peaks + self._random.gauss(0, 60)) * self.load)

    def _state(self, power: float) -> MeterState:
        phase_powers = (round(power * 0.5), round(power * 0.3), round(power * 0.2))
        currents = tuple(round(p / _NOMINAL_VOLTAGE, 2) for p in phase_powers)
        return MeterState(
            three_phase=self.three_phase,
            moment=self._clock(),
            meter_id=_METER_IDS[self.vendor],
            meter_type=_METER_TYPES[self.vendor],
            power_import=round(power),
            power_export=0,
            reactive_import=0,
            reactive_export=round(power * 0.2),
            currents=(currents[0], currents[1], currents[2]),
            voltages=(round(self._drifted_voltage(), 1), 231.0, 229.5),
            energy_import=round(self.energy_import),
            energy_export=0,
            reactive_energy_import=1_000_000,
            reactive_energy_export=round(self.energy_import * 0.1),
            phase_powers=phase_powers,
            power_factors=(0.97, 0.95, 0.99),
            power_factor=0.96,
            deviation=self._deviation(),
        )

    @property
    def now(self) -> datetime:
        """The home's wall clock now; the meter runs on the instant, which no change of time repeats or skips."""
        return self._instant.astimezone(_HOME).replace(tzinfo=None)

    @now.setter
    def now(self, wall: datetime) -> None:
        self._instant = _instant(wall)

    def _clock(self) -> datetime:
        """Return what the meter's clock reads now: the wall clock, or standard time where the vendor keeps it.

        A clock set to state its offset (--deviation) reads the wall clock, as that offset says.
        """
        if self.vendor not in _STANDARD_TIME_CLOCKS or self.deviation is not None:
            return self.now.replace(microsecond=0)
        winter = datetime(self._instant.year, 1, 1, tzinfo=_HOME).utcoffset() or timedelta(0)
        return (self._instant + winter).replace(tzinfo=None, microsecond=0)

    def _deviation(self) -> int | None:
        """Return the offset the clock states (DLMS: UTC minus local, minutes): the one set, or EVN's own."""
        if self.deviation is not None or self.vendor not in _STATED_OFFSET_CLOCKS:
            return self.deviation
        offset = self._instant.astimezone(_HOME).utcoffset() or timedelta(0)
        return -round(offset.total_seconds() / 60)

    def _summer(self) -> bool:
        """Whether the home keeps summer time now (a P1 telegram's clock says so with an S)."""
        return bool(self._instant.astimezone(_HOME).dst())

    def _drifted_voltage(self) -> float:
        """Let phase 1's voltage drift as a grid's does: a little from one telegram to the next, within ±2 %."""
        drift = self._voltage + self._random.uniform(-0.8, 0.8)
        self._voltage = min(max(drift, _NOMINAL_VOLTAGE * 0.98), _NOMINAL_VOLTAGE * 1.02)
        return self._voltage

    def advance(self, until: datetime) -> list[Push]:
        """Run the meter to the given moment; return what it pushed on the way."""
        pushes: list[Push] = []
        end = _instant(until)
        while self._instant + STEP <= end:
            power = self.power_at(self.now)
            self._instant += STEP
            self.energy_import += power * STEP.total_seconds() / 3600
            pushes += self._due(self._state(power))
        return pushes

    def backlog(self, hours: int) -> list[Push]:
        """Run the meter through the hours before its start; return the last hours' hourly lists, oldest first.

        What a bridge that kept the meter's hourly lists delivers late; the
        meter goes on from its start with the energy counted on the way.
        """
        start = self.start
        self.now = start.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1, seconds=1)
        return [push for push in self.advance(start) if push.list_name == "hourly"]

    def _due(self, state: MeterState) -> list[Push]:
        """Build the lists due at this half second, per the vendor's schedule."""
        moment = self.now
        second = moment.minute * 60 + moment.second + moment.microsecond / 1e6
        # The hourly list goes once, at one whole second after the hour.
        on_the_hour = moment.minute == 0 and moment.microsecond == 0
        every = {"aidon": 2.5, "kaifa": 2.0}.get(self.vendor)
        pushes = []
        interval = _PUSH_INTERVALS.get(self.vendor)
        if interval is not None:
            if second % interval == 0:
                pushes.append(self._push(state))
        elif self.vendor in ("aidon", "kaifa"):
            if second % 10 == 0:
                hourly = on_the_hour and moment.second == (0 if self.vendor == "aidon" else 10)
                pushes.append(self._list(state, HOURLY if hourly else 2))
            elif every is not None and second % every == 0:
                pushes.append(self._list(state, 1))
        elif second % 10 == 0 or (self.vendor == "kamstrup" and on_the_hour and moment.second == 5):  # noqa: PLR2004
            pushes.append(self._list(state, HOURLY if on_the_hour and moment.second == 5 else 1))  # noqa: PLR2004
        return pushes

    def _list(self, state: MeterState, kind: int) -> Push:
        hourly = kind == HOURLY
        if self.vendor == "aidon":
            body, stamp, style = frames.aidon_list(state, kind), None, "bare"
        elif self.vendor == "kaifa":
            body, stamp, style = frames.kaifa_list(state, kind), state.moment, "typed"
        elif self.vendor == "kamstrup":
            body, stamp, style = frames.kamstrup_list(state, hourly=hourly), state.moment, "bare"
        elif self.vendor == "kamstrup-dk":
            ciphered = self._cipher(frames.data_notification(frames.kamstrup_push1_list(state), state.moment))
            frame = frames.hdlc_frames(ciphered)
            return Push(
                self.now.replace(microsecond=0),
                frame,
                "push 1",
                state.power_import,
                _in_10_wh(state.energy_import),
                ciphered,
            )
        else:
            p1 = _p1(state, summer=self._summer())
            return Push(self.now.replace(microsecond=0), p1, "p1", state.power_import, state.energy_import)
        apdu = frames.data_notification(body, stamp, style, self.deviation)
        frame = frames.hdlc_frames(apdu)
        energy = state.energy_import if kind == HOURLY else None
        if self.vendor in ("aidon", "kamstrup") and energy is not None:
            energy = _in_10_wh(energy)
        name = f"list {kind}" if kind != HOURLY else "hourly"
        return Push(self.now.replace(microsecond=0), frame, name, state.power_import, energy, apdu)

    def _push(self, state: MeterState) -> Push:
        """Build the one list of a meter of #11, in the envelope and ciphering that meter uses."""
        energy: int | None = state.energy_import
        if self.vendor == "evn":
            # Wired M-Bus, encrypted without a tag: one key.
            apdu = self._cipher(frames.data_notification(frames.evn_list(state), state.moment))
            frame = mbus_frames(apdu)
        elif self.vendor == "landis-gyr-ch":
            # In clear, its object list first, in general-block-transfer blocks of an HDLC frame each.
            apdu = frames.data_notification(frames.landis_gyr_push(state), state.moment)
            frame = b"".join(frames.hdlc_frames(block) for block in frames.general_block_transfer(apdu, _BLOCK_SIZE))
        elif self.vendor == "iskraemeco":
            # The compact list: powers, voltages and currents only.
            apdu = frames.data_notification(frames.iskraemeco_list(state), state.moment)
            frame, energy = frames.hdlc_frames(apdu), None
        else:
            # Encrypted P1 (DSMR 5 style): the telegram inside a bare ciphered APDU.
            apdu = self._cipher(_p1(state, "Sag5SAG-METER", summer=self._summer()))
            frame = apdu
        return Push(self.now.replace(microsecond=0), frame, "push", state.power_import, energy, apdu)

    def _cipher(self, apdu: bytes) -> bytes:
        """Cipher as this vendor does: encrypted and tagged, encrypted only, or tagged with the published P1 key."""
        self._counter += 1
        key = self.key or bytes(16)
        if self.vendor == "evn":
            security, auth_key = 0x20, bytes(16)  # the authentication key takes no part
        elif self.vendor == "smarty":
            security, auth_key = 0x30, P1_AUTHENTICATION_KEY
        else:
            security, auth_key = 0x30, self.auth_key or bytes(16)
        return frames.glo_cipher(
            apdu, key, auth_key, security=security, system_title=_SYSTEM_TITLES[self.vendor], counter=self._counter
        )


def _instant(wall: datetime) -> datetime:
    """Return the instant a wall-clock time of the home stands for (the first, in the hour autumn repeats)."""
    return wall.replace(tzinfo=_HOME).astimezone(UTC)


def _in_10_wh(energy: int) -> int:
    """Round energy as a meter counting 0.01 kWh (Aidon, Kamstrup) says it, in Wh."""
    return frames.raw(energy, 1) * 10


def _p1(state: MeterState, ident: str = "LGF5E360", *, summer: bool = False) -> bytes:
    season = "S" if summer else "W"
    stamp = state.moment.strftime("%y%m%d%H%M%S") + season
    lines = [
        f"0-0:1.0.0({stamp})",
        f"1-0:1.8.0({state.energy_import / 1000:012.3f}*kWh)",
        "1-0:2.8.0(00000000.000*kWh)",
        f"1-0:1.7.0({state.power_import / 1000:08.3f}*kW)",
        "1-0:2.7.0(0000.000*kW)",
    ]
    for phase, c in enumerate((21, 41, 61)):
        lines.append(f"1-0:{c}.7.0({state.phase_powers[phase] / 1000:08.3f}*kW)")
    for phase, c in enumerate((32, 52, 72)):
        lines.append(f"1-0:{c}.7.0({state.voltages[phase]:05.1f}*V)")
    for phase, c in enumerate((31, 51, 71)):
        lines.append(f"1-0:{c}.7.0({state.currents[phase]:05.1f}*A)")
    return frames.p1_telegram(ident, lines)
