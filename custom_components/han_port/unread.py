"""Telegrams that come and pass their checksums, yet show nothing: failing keys, impossible values, repeats.

Repeats are frames sent again; another meter's telegrams are counted here too.

Pure logic, no Home Assistant. A meter that sends such telegrams counts as
silent to its reader; what they say tells the user why, and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .connection import Loss
from .decoder import COUNTER_RESTART_FRAMES, DropReason

if TYPE_CHECKING:
    from .decoder import DroppedFrame

# Telegrams that pass their checksums but not the keys, in a row, before the
# user is asked for new ones (grid companies do change them).
KEY_PROBLEMS_BEFORE_REAUTH = 3
KEYS_FAIL = "its telegrams do not open with the configured keys"
# Telegrams in a row that pass their checksums but carry values no household has, before a silent meter
# is said to send them: a meter that marks a value "not available" (all ones) in every push, say.
IMPLAUSIBLE_BEFORE_TOLD = 3
# Another meter's telegrams in a row, and none of this meter's, before a silent meter is said to have had them
# on its port instead (one stray frame says nothing).
OTHER_METER_BEFORE_TOLD = 3
OTHER_METER = "the last telegrams on its port were another meter's, not its own"
# Authentic frames in a row whose invocation counters were taken before, before a silent meter is said to send
# them: a bridge that sends its last frames again, or a meter whose counter began anew under the same keys.
REPLAYED_BEFORE_TOLD = 3
REPLAYED = (
    "its frames repeat invocation counters already taken: sent again, or its counter began anew under the same"
    f" keys, which is taken once {COUNTER_RESTART_FRAMES} frames in a row count up"
)


class UnreadTelegrams:
    """Counts the telegrams in a row that show nothing, by why: failing keys, impossible values, repeats, another's."""

    def __init__(self) -> None:
        """Start with nothing unread."""
        self._key_problems = 0
        self._implausible = 0
        self._impossible = ""  # why the last one with an impossible value was dropped
        self._other_meter = 0
        self._replayed = 0

    def read(self) -> None:
        """End the rows: a telegram of the meter was shown."""
        self._key_problems = self._implausible = self._other_meter = self._replayed = 0

    @property
    def other_meter_telegrams(self) -> int:
        """Another meter's telegrams since the meter's own last one was shown."""
        return self._other_meter

    def other_meter(self) -> None:
        """Count a telegram of another meter."""
        self._other_meter += 1

    def dropped(self, drop: DroppedFrame) -> tuple[str, Loss] | None:
        """Count a drop for the keys, an impossible value or a repeat; say what its row tells once it is long enough."""
        if drop.reason is DropReason.IMPLAUSIBLE:
            self._implausible += 1
            self._impossible = drop.detail
            return self._impossible_values() if self._implausible == IMPLAUSIBLE_BEFORE_TOLD else None
        if drop.reason is DropReason.REPLAYED:
            self._replayed += 1
            return (REPLAYED, Loss.REPLAYED) if self._replayed == REPLAYED_BEFORE_TOLD else None
        self._key_problems += 1
        return (KEYS_FAIL, Loss.WRONG_KEYS) if self._key_problems == KEY_PROBLEMS_BEFORE_REAUTH else None

    def cause(self) -> tuple[str, Loss] | None:
        """Why a meter that counts as silent shows nothing, where its telegrams tell (the keys first); else None."""
        if self._key_problems >= KEY_PROBLEMS_BEFORE_REAUTH:
            # Telegrams come, and pass their checksums: the keys are what fails, not the line.
            return KEYS_FAIL, Loss.WRONG_KEYS
        if self._implausible >= IMPLAUSIBLE_BEFORE_TOLD:
            return self._impossible_values()
        if self._replayed >= REPLAYED_BEFORE_TOLD:
            return REPLAYED, Loss.REPLAYED
        if self._other_meter >= OTHER_METER_BEFORE_TOLD:
            return OTHER_METER, Loss.OTHER_METER
        return None

    def _impossible_values(self) -> tuple[str, Loss]:
        return f"its telegrams carry values no household has ({self._impossible})", Loss.IMPLAUSIBLE
