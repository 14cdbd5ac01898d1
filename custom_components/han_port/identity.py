"""Which meter is sending: its id is its identity, not a reading.

Pure logic, no Home Assistant. One telegram that names another meter is
line damage or a stray frame until several in a row agree; only then has the
meter really been replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

# Telegrams in a row that must name the same other meter before it is
# believed: a flipped bit in a stream without a checksum names another meter
# now and then, but never the same one several times running.
NEW_METER_TELEGRAMS = 3


class Identity(Enum):
    """What a telegram's meter id says about who is sending."""

    SAME = auto()
    """The known meter, or a telegram that names none."""
    UNCONFIRMED = auto()
    """Another meter, not (yet) believed: the telegram is not the known meter's, and is not shown."""
    REPLACED = auto()
    """Another meter, named by enough telegrams in a row: the known one was replaced."""


@dataclass
class MeterIdentity:
    """The id of the meter that is sending, and another one that may be taking over."""

    meter_id: str | None
    newcomer: str | None = None
    newcomer_telegrams: int = 0

    def check(self, meter_id: str | None) -> Identity:
        """Judge a telegram's meter id; after REPLACED the newcomer is the meter."""
        if meter_id is None:
            # Short lists name no meter: they neither confirm a newcomer nor deny one.
            return Identity.SAME
        if self.meter_id is None or meter_id == self.meter_id:
            self.meter_id = meter_id
            self.newcomer, self.newcomer_telegrams = None, 0
            return Identity.SAME
        if meter_id == self.newcomer:
            self.newcomer_telegrams += 1
        else:
            self.newcomer, self.newcomer_telegrams = meter_id, 1
        if self.newcomer_telegrams < NEW_METER_TELEGRAMS:
            return Identity.UNCONFIRMED
        self.meter_id, self.newcomer, self.newcomer_telegrams = meter_id, None, 0
        return Identity.REPLACED


def meter_number(meter_id: str | None, unique_id: str | None) -> str:
    """Tell a meter apart in its names: by its number, or by the start of the id made up for it."""
    return meter_id or (unique_id or "")[:6]


def meter_title(manufacturer: str | None, meter_id: str | None, unique_id: str | None) -> str:
    """Name a meter apart from any other: maker and meter number."""
    return f"{manufacturer or 'Meter'} {meter_number(meter_id, unique_id)}".strip()
