"""The frame starts behind one that waits for its bytes: a whole frame among them proves the waiting one false.

A frame whose header holds waits for as many bytes as its header says. A
frame cut short, or a header that came by chance, would so hold back every
frame behind it until those bytes came. HDLC and M-Bus framers judge the
starts behind the waiting one as the bytes arrive: each byte once, and each
frame behind it checked once, when its bytes are all there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

type FrameEnd = Callable[[bytearray, int], int | None]
"""Where the frame opening at a position ends (after its last byte), -1 when none opens there, None until known."""
type Proven = Callable[[bytearray, int, int], bool]
"""Whether the frame from start to end passes its check."""


class StartsBehind:
    """The starts behind a waiting frame start, of one framing (its opening byte, how a frame ends and is proven).

    Positions are stream positions.
    """

    def __init__(self, opening: int, frame_end: FrameEnd, proven: Proven) -> None:
        """Judge starts at this opening byte, by the framing's header and check."""
        self._opening = opening
        self._frame_end = frame_end
        self._proven = proven
        # The waiting start, how far behind it starts were judged, and the
        # starts behind it whose header held and that wait too (start and end).
        self._waiting_start = -1
        self._judged_to = 0
        self._waiting: list[tuple[int, int]] = []
        self.disproven: set[int] = set()
        """Starts behind a waiting one whose check already failed."""

    def claims(self, offset: int) -> list[tuple[int, int]]:
        """Return the bytes the starts behind the one at offset wait for, unless their check failed."""
        if self._waiting_start != offset:
            return []
        return [(begin, end) for begin, end in self._waiting if begin not in self.disproven]

    def find(self, buffer: bytearray, offset: int, pending: int) -> int | None:
        """Find a whole, proven frame behind the start at pending, in a buffer starting at offset.

        Returns where it starts (the waiting start was false), or None.
        """
        if self._waiting_start != offset + pending:
            self._waiting_start, self._judged_to, self._waiting = offset + pending, offset + pending + 1, []
            self.disproven = {position for position in self.disproven if position > offset + pending}
        found = self._completed(buffer, offset)
        if found is not None:
            return found
        size = len(buffer)
        pos = self._judged_to - offset
        while (candidate := buffer.find(self._opening, pos)) >= 0:
            end = self._frame_end(buffer, candidate)
            if end is None:
                break  # its header is still arriving: judge it with more bytes
            if end >= 0:
                if end > size:
                    self._waiting.append((offset + candidate, offset + end))
                elif self._proven(buffer, candidate, end):
                    return candidate
                else:
                    self.disproven.add(offset + candidate)
            pos = candidate + 1
        self._judged_to = offset + (candidate if candidate >= 0 else size)
        return None

    def _completed(self, buffer: bytearray, offset: int) -> int | None:
        """Check the starts waiting behind the pending one whose bytes have all come; return a proven one."""
        size = len(buffer)
        found = None
        still_waiting = []
        for begin, end in self._waiting:
            if end - offset > size:
                still_waiting.append((begin, end))
            elif found is None and self._proven(buffer, begin - offset, end - offset):
                found = begin - offset
            else:
                self.disproven.add(begin)
        self._waiting = still_waiting
        return found
