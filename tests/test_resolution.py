"""Resolution of values sent without a scaler, decided by the meter's own physics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custom_components.han_port.decoder import ObisCode, Reading, Unit, resolution
from custom_components.han_port.decoder.lists import KAIFA, KAMSTRUP_10_WH
from custom_components.han_port.decoder.resolution import (
    CURRENT_CONFIRMATIONS,
    MAX_METERS,
    RECHECK_TELEGRAMS,
    VOLTAGE_CONFIRMATIONS,
    ResolutionLearner,
)

if TYPE_CHECKING:
    from custom_components.han_port.decoder.readings import Scaling

VOLTAGES = [ObisCode(1, 1, c, 7, 0) for c in (32, 52, 72)]
CURRENTS = [ObisCode(1, 1, c, 7, 0) for c in (31, 51, 71)]
POWER = ObisCode(1, 1, 1, 7, 0)
REACTIVE = ObisCode(1, 1, 3, 7, 0)


PHASE_POWERS = [ObisCode(1, 1, c, 7, 0) for c in (21, 41, 61)]


def readings(
    volts: tuple[float, ...],
    amperes: tuple[float, ...],
    power: float,
    reactive: float = 0,
    phase_powers: tuple[float, ...] = (),
) -> dict:
    """Readings as Kamstrup's table scales them: volts, and 0.01 A."""
    values = {POWER: Reading(power, Unit.WATT), REACTIVE: Reading(reactive, Unit.VAR)}
    values.update({code: Reading(w, Unit.WATT) for code, w in zip(PHASE_POWERS, phase_powers, strict=False)})
    values.update({code: Reading(v, Unit.VOLT) for code, v in zip(VOLTAGES, volts, strict=False)})
    values.update({code: Reading(a, Unit.AMPERE) for code, a in zip(CURRENTS, amperes, strict=False)})
    return values


def values(result: dict, codes: list[ObisCode]) -> list[float | None]:
    return [result[code].value if code in result else None for code in codes]


@pytest.mark.parametrize(
    ("table", "volts", "amperes", "watts", "current"),
    [
        # 230 V; 3 kW carried by 13.04 A at cos φ 1: the table stands.
        (KAMSTRUP_10_WH, (230, 231, 229), 13.04, 3000, -2),
        # Kaifa's table reads 0.1 V: a meter sending whole volts has 230 read as 23.0, and physics says so at
        # once (1 kW carried by 4.348 A at 230 V; read with 23 V, the currents would seem ten times as large).
        (KAIFA, (23.0, 23.1, 22.9), 4.348, 1000, -3),
    ],
    ids=["table-right", "whole-volts-under-tenths"],
)
def test_voltages_and_currents_are_right_from_the_first_telegram(
    table: Scaling, volts: tuple[float, ...], amperes: float, watts: float, current: int
) -> None:
    learner = ResolutionLearner()
    result = learner.apply(readings(volts, (amperes, 0, 0), watts), table, "meter")
    assert values(result, VOLTAGES) == [230, 231, 229]
    assert values(result, CURRENTS) == [amperes, 0, 0]
    assert {(d.quantity, d.exponent) for d in learner.decisions} == {("voltage", 0), ("current", current)}


def test_hundredths_of_a_volt_are_taken_at_once() -> None:
    learner = ResolutionLearner()
    result = learner.apply(readings((22199, 22210, 0), (2.52, 0.2), 593, 120), KAMSTRUP_10_WH, "meter")
    assert values(result, VOLTAGES) == pytest.approx([221.99, 222.10, 0])
    # Remembered for the meter's telegrams that prove nothing (no load, one phase at zero).
    later = learner.apply(readings((0, 0, 0), (0, 0, 0), 0), KAMSTRUP_10_WH, "meter")
    assert values(later, VOLTAGES) == [0, 0, 0]
    again = learner.apply(readings((22300,), (0,), 0), KAMSTRUP_10_WH, "meter")
    assert values(again, VOLTAGES[:1]) == pytest.approx([223.0])
    # Another meter has its own.
    other = learner.apply(readings((230,), (0,), 0), KAMSTRUP_10_WH, "another")
    assert values(other, VOLTAGES[:1]) == [230]


def test_phases_that_disagree_prove_nothing() -> None:
    learner = ResolutionLearner()
    result = learner.apply(readings((22000, 230, 230), (1, 1, 1), 600), KAMSTRUP_10_WH, "meter")
    assert values(result, VOLTAGES) == [22000, 230, 230]  # left as sent: the plausibility check drops it
    assert [d for d in learner.decisions if d.quantity == "voltage"] == []


def test_milliamperes_need_confirming_and_are_never_shown_wrong_meanwhile() -> None:
    learner = ResolutionLearner()
    # 230 V, 9.1 A (sent as 9100 mA, read by the table as 91 A), 2 kW and 0.5 kvar, as the Danish list sends them
    # with its phases' powers.
    sent = readings((230, 230, 230), (91.0, 0, 0), 2000, 500, (2000, 0, 0))
    shown = [values(learner.apply(sent, KAMSTRUP_10_WH, "meter"), CURRENTS) for _ in range(CURRENT_CONFIRMATIONS)]
    assert shown[:-1] == [[None, None, None]] * (CURRENT_CONFIRMATIONS - 1)
    assert shown[-1] == pytest.approx([9.1, 0, 0])
    (decision,) = [d for d in learner.decisions if d.quantity == "current"]
    assert decision.exponent == -3
    assert "VA" in decision.evidence


@pytest.mark.parametrize("phases_sent", [True, False])
def test_a_home_whose_phases_flow_both_ways_keeps_its_currents(*, phases_sent: bool) -> None:
    """L1 exports 3 kW of solar power while L2 and L3 draw 1.25 kW each: 500 W net, beside 13, 5.43 and 5.43 A.

    Their U·I is eleven times the total, as currents in milliamperes would be: a reviewer found the learner took
    them so after three telegrams, and showed 1.3 A for 13 A all the sunny day (the power check then cut the
    Danish list's every telegram). The phases' own powers carry the currents; a list without them proves
    nothing finer than the resolution in force.
    """
    learner = ResolutionLearner()
    volts = (231, 230, 230)
    learner.apply(
        readings(volts, (3.6, 3.6, 3.7), 2500, 300, (830, 830, 840) if phases_sent else ()), KAMSTRUP_10_WH, "m"
    )
    netting = readings(volts, (13.0, 5.43, 5.43), 500, 120, (3000, 1250, 1250) if phases_sent else ())
    shown = [values(learner.apply(netting, KAMSTRUP_10_WH, "m"), CURRENTS) for _ in range(RECHECK_TELEGRAMS * 3)]
    assert shown == [[13.0, 5.43, 5.43]] * (RECHECK_TELEGRAMS * 3)
    assert [d.exponent for d in learner.decisions if d.quantity == "current"] == [-2]
    assert learner.contradiction("m", KAMSTRUP_10_WH) is None


def test_currents_a_meters_first_telegrams_cannot_prove_are_weighed_on_the_next() -> None:
    """A Danish current-transformer meter sending mA starts at 150 W, too little to prove anything: a reviewer
    found its next telegrams at 3 kW showed 130 A for 13 A, until the next weighing."""
    learner = ResolutionLearner()
    for _ in range(VOLTAGE_CONFIRMATIONS):  # its voltages settled meanwhile
        learner.apply(readings((230,) * 3, (6.5, 0, 0), 150, 0, (150, 0, 0)), KAMSTRUP_10_WH, "meter")
    loaded = readings((230,) * 3, (130.4, 0, 0), 3000, 0, (3000, 0, 0))
    shown = [values(learner.apply(loaded, KAMSTRUP_10_WH, "meter"), CURRENTS[:1])[0] for _ in range(RECHECK_TELEGRAMS)]
    assert shown == [None] * (CURRENT_CONFIRMATIONS - 1) + [13.04] * (RECHECK_TELEGRAMS - CURRENT_CONFIRMATIONS + 1)


def test_an_odd_telegram_between_agreeing_ones_restarts_the_count() -> None:
    learner = ResolutionLearner()
    odd = readings((230,), (91.0,), 2000, 500)
    fine = readings((230,), (9.1,), 2000, 500)
    for sent in (odd, odd, fine):
        result = learner.apply(sent, KAMSTRUP_10_WH, "meter")
    assert values(result, CURRENTS[:1]) == [9.1]
    assert [d.exponent for d in learner.decisions if d.quantity == "current"] == [-2]


def test_a_settled_resolution_is_weighed_again_now_and_then() -> None:
    learner = ResolutionLearner()
    for _ in range(VOLTAGE_CONFIRMATIONS):  # until the voltage's settled too, each telegram is weighed
        learner.apply(readings((230,), (9.1,), 2000, 500, (2000,)), KAMSTRUP_10_WH, "meter")
    # The meter's firmware now sends mA: 9100 read as 91 A by the settled 0.01 A.
    shown, contradictions = [], []
    for _ in range(RECHECK_TELEGRAMS + CURRENT_CONFIRMATIONS):
        sent = readings((230,), (91.0,), 2000, 500, (2000,))
        shown += values(learner.apply(sent, KAMSTRUP_10_WH, "meter"), CURRENTS[:1])
        contradictions.append(learner.contradiction("meter", KAMSTRUP_10_WH))
    # Until the next weighing, the settled resolution; then withheld until three agree, and the telegrams whose
    # powers nothing weighs meanwhile say so (see Telegram.contradiction).
    assert shown[:RECHECK_TELEGRAMS] == [91.0] * RECHECK_TELEGRAMS
    assert shown[RECHECK_TELEGRAMS:-1] == [None] * (CURRENT_CONFIRMATIONS - 1)
    assert shown[-1] == pytest.approx(9.1)
    doubted = "its powers make its currents come in 0.001 A, not in the 0.01 A physics proved for this meter"
    assert contradictions == [None] * RECHECK_TELEGRAMS + [doubted] * (CURRENT_CONFIRMATIONS - 1) + [None]


def test_a_lost_phase_that_keeps_a_few_volts_does_not_hide_the_others_resolution() -> None:
    """A Kaifa sending whole volts, read as tenths, with one phase lost at 12 V: 23.5 V was shown for good."""
    learner = ResolutionLearner()
    result = learner.apply(readings((23.5, 1.2, 23.4), (4.348, 0, 0), 1000), KAIFA, "meter")
    assert values(result, VOLTAGES) == [235, 12, 234]
    # A phase above nominal is no lost one: a hundred times one phase proves nothing.
    other = learner.apply(readings((230, 23000, 231), (4.348, 0, 0), 1000), KAMSTRUP_10_WH, "other")
    assert values(other, VOLTAGES) == [230, 23000, 231]
    assert [d.meter for d in learner.decisions if d.quantity == "voltage"] == ["meter"]


def test_one_telegram_whose_voltages_lie_costs_its_own_voltages_and_no_more() -> None:
    """A frame that passed its checksum shows 100 times the voltage on a weighed telegram: the decision stands."""
    learner = ResolutionLearner()
    honest = readings((230, 231, 229), (13.04, 0, 0), 3000)
    lie = readings((23000, 23100, 22900), (13.04, 0, 0), 3000)
    # Each telegram is weighed until the voltage resolution is settled, then one in RECHECK_TELEGRAMS: the lie's.
    for _ in range(VOLTAGE_CONFIRMATIONS + RECHECK_TELEGRAMS):
        learner.apply(honest, KAMSTRUP_10_WH, "meter")
    assert values(learner.apply(lie, KAMSTRUP_10_WH, "meter"), VOLTAGES) == [None, None, None]
    # Its powers are still weighed against its currents, with the highest voltage a grid has.
    assert learner.proven("meter", KAMSTRUP_10_WH)
    shown = [values(learner.apply(honest, KAMSTRUP_10_WH, "meter"), VOLTAGES) for _ in range(RECHECK_TELEGRAMS)]
    assert shown == [[230, 231, 229]] * RECHECK_TELEGRAMS
    assert [d.exponent for d in learner.decisions if d.quantity == "voltage"] == [0]


def test_a_settled_voltage_resolution_changes_once_telegrams_in_a_row_confirm_it() -> None:
    """New firmware sends hundredths of a volt: withheld until the change is confirmed, then shown right."""
    learner = ResolutionLearner()
    for _ in range(VOLTAGE_CONFIRMATIONS):
        learner.apply(readings((230, 231, 229), (13.04, 0, 0), 3000), KAMSTRUP_10_WH, "meter")
    hundredths = readings((23000, 23100, 22900), (13.04, 0, 0), 3000)
    shown = [
        values(learner.apply(hundredths, KAMSTRUP_10_WH, "meter"), VOLTAGES)
        for _ in range(RECHECK_TELEGRAMS + VOLTAGE_CONFIRMATIONS)
    ]
    # Until the next weighing, the settled resolution (such values are then implausible, which drops them).
    assert shown[:RECHECK_TELEGRAMS] == [[23000, 23100, 22900]] * RECHECK_TELEGRAMS
    assert shown[RECHECK_TELEGRAMS:-1] == [[None, None, None]] * (VOLTAGE_CONFIRMATIONS - 1)
    assert shown[-1] == pytest.approx([230, 231, 229])


@pytest.mark.parametrize(("prior", "lie"), [(KAMSTRUP_10_WH, 23500.0), (KAIFA, 23.5)])
def test_a_lie_in_the_first_telegram_heard_costs_that_telegram_alone(prior: Scaling, lie: float) -> None:
    """Voltages a hundred or ten times off in the first frame set a resolution at once: the next one undoes it.

    A fuzzing round found the honest telegrams after it read as 2.35 V (Kamstrup) or 2 350 V (Kaifa) until the
    next weighing, 16 telegrams on: each was then cut or dropped. (Values as each table reads them.)
    """
    learner = ResolutionLearner()
    learner.apply(readings((lie,) * 3, (0,) * 3, 0), prior, "meter")
    shown = [values(learner.apply(readings((235.0,) * 3, (0,) * 3, 0), prior, "meter"), VOLTAGES) for _ in range(20)]
    assert shown == [[235.0] * 3] * 20


def test_strangers_in_a_row_never_make_the_learner_forget_the_lines_own_meter() -> None:
    """Frames naming other meters, more than it keeps: the line's meter keeps its settled resolution (it was
    forgotten, and the next lie then set a resolution that cost 18 honest telegrams)."""
    learner = ResolutionLearner()
    honest = readings((230, 231, 229), (13.04, 0, 0), 3000)
    for _ in range(VOLTAGE_CONFIRMATIONS + RECHECK_TELEGRAMS):
        learner.apply(honest, KAMSTRUP_10_WH, "meter")
    for stranger in range(MAX_METERS * 2):
        learner.apply(honest, KAMSTRUP_10_WH, f"stranger {stranger}")
    lie = readings((23000, 23100, 22900), (13.04, 0, 0), 3000)
    assert values(learner.apply(lie, KAMSTRUP_10_WH, "meter"), VOLTAGES) == [None, None, None]
    assert values(learner.apply(honest, KAMSTRUP_10_WH, "meter"), VOLTAGES) == [230, 231, 229]


ENERGY = ObisCode(1, 1, 1, 8, 0)


def test_energy_that_grows_tenfold_slower_than_its_power_is_rescaled_after_three_windows() -> None:
    """A meter whose type says 0.01 kWh but which counts Wh: its register grows 1/10 of what power carries."""
    learner = ResolutionLearner()
    start = datetime(2026, 1, 15, 0, 0, 5)
    register = 100_000  # Wh, sent as is; the table reads it as tens of Wh
    shown = []
    for minute in range(4 * 60 + 1):
        when = start + timedelta(minutes=minute)
        sent = readings((230,), (8.7,), 2000)
        if minute % 60 == 0:  # the hourly list carries the register
            sent[ENERGY] = Reading(register * 10, Unit.WATT_HOUR)
        result = learner.apply(sent, KAMSTRUP_10_WH, "meter", when)
        if ENERGY in sent:
            shown.append(result[ENERGY].value if ENERGY in result else None)
        register += 2000 / 60  # 2 kW for a minute
    # Hour 0 opens the first window; hours 1 and 2 disagree with the table and are
    # left out; hour 3 confirms it: Wh from then on.
    assert shown[0] == 1_000_000
    assert shown[1:3] == [None, None]
    assert shown[3] == pytest.approx(100_000 + 3 * 2000, abs=1)
    (decision,) = [d for d in learner.decisions if d.quantity == "active_energy"]
    assert decision.exponent == 0
    assert "2000 Wh" in decision.evidence


def test_energy_in_step_with_its_power_confirms_the_table() -> None:
    learner = ResolutionLearner()
    start = datetime(2026, 1, 15, 0, 0, 5)
    for minute in range(61):
        sent = readings((230,), (8.7,), 2000)
        if minute in (0, 60):
            sent[ENERGY] = Reading(1_000_000 + minute * 2000 / 60, Unit.WATT_HOUR)
        result = learner.apply(sent, KAMSTRUP_10_WH, "meter", start + timedelta(minutes=minute))
    assert result[ENERGY].value == pytest.approx(1_002_000)
    (decision,) = [d for d in learner.decisions if d.quantity == "active_energy"]
    assert decision.exponent == 1


def test_a_hole_in_the_power_starts_the_window_again() -> None:
    learner = ResolutionLearner()
    start = datetime(2026, 1, 15, 0, 0, 5)
    for minute in (*range(20), *range(40, 61)):  # twenty minutes without a telegram
        sent = readings((230,), (8.7,), 2000)
        if minute in (0, 60):
            sent[ENERGY] = Reading(1_000_000 + minute * 2000 / 600, Unit.WATT_HOUR)  # would say "ten times slower"
        learner.apply(sent, KAMSTRUP_10_WH, "meter", start + timedelta(minutes=minute))
    assert [d for d in learner.decisions if d.quantity == "active_energy"] == []


def test_meter_ids_without_end_do_not_grow_memory() -> None:
    # Checksum-valid frames with a new meter id each (damage or an attack).
    learner = ResolutionLearner()
    for number in range(1000):
        learner.apply(readings((230, 231, 229), (13.04, 0, 0), 3000), KAMSTRUP_10_WH, f"meter {number}")
    assert len({d.evidence for d in learner.decisions}) <= 2 * MAX_METERS
    assert len(learner._meters) == MAX_METERS
    # The line's own meter, still sending, is learned afresh like any other.
    result = learner.apply(readings((230, 231, 229), (13.04, 0, 0), 3000), KAMSTRUP_10_WH, "meter 999")
    assert values(result, CURRENTS) == [13.04, 0, 0]


def test_a_resolution_learned_moves_a_value_by_its_digits_and_leaves_no_float_tail() -> None:
    """A value scaled once by the list's prior, then by what physics proved: 926.45 A is 92.645 A, as sent."""
    assert resolution._scaled(926.45, -1) == 92.645
    assert repr(resolution._scaled(926.45, -1)) == "92.645"
    assert resolution._scaled(0.001, 3) == 1
