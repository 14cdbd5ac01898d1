"""Strangers in a meter's stream: checksum-valid frames of another meter, or that lie, one at a time.

One such frame is dropped or read as what it is; it never changes what is
known of the meter the line carries: its resolutions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custom_components.han_port.decoder import Decoder, ObisCode
from simulator import frames as encoder
from simulator.frames import MeterState

from .meter import METER_ID, NORWEGIAN_KAMSTRUP

ENERGY = ObisCode.parse("1-1:1.8.0")
START = datetime(2024, 1, 15, 13, 0, 5)
WATTS = 1703


def hourly_in_wh(minute: int, meter_id: str = METER_ID) -> bytes:
    """A Norwegian Kamstrup's hourly list, sent every minute, from a meter that counts Wh where its type says 10 Wh."""
    state = MeterState(
        meter_id=meter_id,
        meter_type=NORWEGIAN_KAMSTRUP,
        moment=START + timedelta(minutes=minute),
        power_import=WATTS,
        energy_import=155_232_510 + round(WATTS * minute / 60),
    )
    apdu = encoder.data_notification(encoder.kamstrup_list(state, hourly=True, energy_exponent=0), state.moment)
    return encoder.hdlc_frames(apdu)


def test_strangers_one_at_a_time_never_make_the_meter_forget_its_energy_resolution() -> None:
    """Physics proved the meter counts Wh; four other meters' frames, each between two of its own, change nothing.

    Before, the resolutions of the first meter heard were forgotten at the fourth other meter id ever
    heard, however long ago: its register was shown ten times too high until physics proved it again.
    """
    decoder = Decoder()
    for minute in range(100):
        decoder.feed(hourly_in_wh(minute))
    assert ("active_energy", 0) in {(decision.quantity, decision.exponent) for decision in decoder.resolutions}
    minute = 100
    for stranger in range(6):
        (other,) = decoder.feed(hourly_in_wh(minute, meter_id=f"57065672743897{10 + stranger}"))
        assert other.meter_id != METER_ID
        (own,) = decoder.feed(hourly_in_wh(minute + 1))
        assert own.meter_id == METER_ID
        assert own.readings[ENERGY].value == 155_232_510 + round(WATTS * (minute + 1) / 60)
        minute += 2
