"""The power of a learned list that sends no voltages: the one number whose integral a register grows by.

Without voltages, no U·I carries a power (see proofs.power_readings); what is left of its physics is its energy:
a household's power, integrated by the meter's clock, is what its import register (or the tariff running) grows by.
A number that moves, and whose integral matched one register's growth closely, in several windows in a row, while
no other number's did, is that power.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from .learned_registers import EnergyWindow
from .proofs import Numbers, Span, at, grown_registers, import_register
from .registers import ACTIVE_POWER

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

INTEGRAL_WINDOWS = 3
"""Windows in a row in which a number's integral must match the same register's growth."""
INTEGRAL_TOLERANCE = 0.1
"""How closely. A power sampled every few seconds integrates to within a few per cent of what its register counted
(the register's last digit, the trapezoids); a current's integral, or a phase's, is some fraction of it."""
INTEGRAL_MAX_GAP = timedelta(minutes=1)
"""Samples further apart integrate too roughly to tell a power from another number: the window starts again."""


@dataclass(slots=True)
class _Candidate:
    """A number that may be the power: its integral window, and whether the number before it stood at 0 meanwhile."""

    window: EnergyWindow = field(default_factory=lambda: EnergyWindow(max_gap=INTEGRAL_MAX_GAP))
    beside_a_zero: bool = True
    """Whether the number right before it read 0 whenever it flowed: lists send the import, then the export."""
    twins: set[int] | None = None
    """The numbers that read as it did in every telegram since: the same power sent twice (a 1-phase list's total
    and its phase's), no rival of it."""
    evidence: str = ""


@dataclass(slots=True)
class PowerByItsIntegral:
    """The numbers that move, each integrated by the meter's clock against the registers that only grow."""

    candidates: dict[int, _Candidate] = field(default_factory=dict)

    def observe(self, numbers: Numbers, spans: Mapping[int, Span], free: Sequence[int], when: datetime) -> int | None:
        """Weigh a telegram; return the position proven to hold the power, once only one number's integral matched.

        Numbers that read alike in every telegram are one power sent twice: the first is taken. A number right
        after one that read 0 whenever it flowed is taken for an export, and neither proven nor a rival: the
        import flows at other times. A number that went negative is no import's.
        """
        growing = [index for index in free if spans[index].grows]
        for index in free:
            value = numbers[index]
            if not (spans[index].moves and 0 <= value <= ACTIVE_POWER.high):
                if value < 0 or spans[index].rose_only:
                    self.candidates.pop(index, None)
                continue
            candidate = self.candidates.setdefault(index, _Candidate())
            if value > 0 and numbers.get(index - 1) != 0:
                candidate.beside_a_zero = False
            alike = {other for other in free if other != index and numbers[other] == value}
            candidate.twins = alike if candidate.twins is None else candidate.twins & alike
            closed = candidate.window.observe(value, numbers, [other for other in growing if other != index], when)
            if closed is None:
                continue
            growths, carried = closed
            fits = grown_registers(growths, carried, INTEGRAL_TOLERANCE)
            register = import_register(fits, numbers, growing)  # the running tariff grows as its total does
            if register is not None:
                grew = at(growths[register.total], register.exponent)
                candidate.evidence = (
                    f"moves, and its integral by the meter's clock, {carried:.0f} Wh, is what the register at"
                    f" position {register.total} grew by ({grew:g} Wh at 10^{register.exponent} Wh)"
                )
            candidate.window.agree(register)
        flows = {index: candidate for index, candidate in self.candidates.items() if not candidate.beside_a_zero}
        matched = sorted(index for index, candidate in flows.items() if candidate.window.agreed > 0)
        if not matched or flows[matched[0]].window.agreed < INTEGRAL_WINDOWS:
            return None
        # The same power sent twice is shown once, as the list's first; another number's integral is a rival.
        first, *others = matched
        return first if set(others) <= (flows[first].twins or set()) else None

    def evidence(self, index: int) -> str:
        """Say what proved a number the power."""
        windows = self.candidates[index].window.agreed
        return (
            f"{self.candidates[index].evidence}, within {INTEGRAL_TOLERANCE:.0%}, in {windows} windows in a row,"
            " and no other number's did: the power of a list that sends no voltages, the flow seen taken as import"
        )
