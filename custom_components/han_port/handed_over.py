"""Earlier lists a bridge hands over again: told apart from the meter's present, for as long as a bridge would."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from .connection import TelegramWatch
    from .decoder import Code
    from .energy import TotalGuard

# A bridge hands the lists it kept over at once, on connecting: earlier lists
# still coming after this long are no such burst.
HANDED_OVER_AT_ONCE = timedelta(minutes=2)


class HandedOverLists:
    """Tells an earlier list a bridge hands over again (see TotalGuard.told_before) from the meter's present.

    Such lists that go on coming for longer than a bridge takes to hand over
    what it kept are a count and a clock set back together: they are held and
    told as any fall is.
    """

    def __init__(self, guard: TotalGuard, reader: TelegramWatch) -> None:
        """Judge by the guard's last totals; reader.connects tells a new connection."""
        self._guard = guard
        self._reader = reader
        self._since: tuple[float, int] | None = None
        """When (monotonic) such lists, coming now, began to come, and on which of the reader's connections."""
        self._present_read = False
        """Whether a list of the meter's present was read since they began to come."""

    def earlier(self, totals: list[tuple[Code, float]], clock: datetime | None) -> bool:
        """Whether a list with these totals is an earlier one: none above its last, one told before; say so in time."""
        earlier = any(self._guard.told_before(register, value, clock) for register, value in totals) and not any(
            value > last for register, value in totals if (last := self._guard.last(register)) is not None
        )
        if not earlier:
            if totals:  # a list of powers alone says nothing of the lists with totals
                self._since = None
            self._present_read = True
            return False
        # Timed by the monotonic clock, which no step of the host's moves, from the first such list; a connection
        # made since the meter's present was read hands over afresh. (One made while only such lists came is the
        # reader's after a silence they do not end: it must not let them pass for good.)
        if self._since is None or (self._since[1] != self._reader.connects and self._present_read):
            self._since = time.monotonic(), self._reader.connects
            self._present_read = False
        return time.monotonic() - self._since[0] <= HANDED_OVER_AT_ONCE.total_seconds()
