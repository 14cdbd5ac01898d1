"""Lists read by their learned layout decode exactly as the full path decodes them."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_port.decoder import Keys
from custom_components.han_port.decoder.decoder import decode_dlms_message
from custom_components.han_port.decoder.hdlc import HdlcFramer, HdlcMessage
from custom_components.han_port.decoder.layout import LayoutCache
from custom_components.han_port.decoder.resolution import ResolutionLearner
from custom_components.han_port.simulator.frames import MeterState

from .test_decoder_roundtrip import AUTH_KEY, CASES, KEY, build_frames, consistent, decoder_for, states


def _full(frame: bytes, keys: Keys, resolutions: ResolutionLearner) -> list[object]:
    """The telegrams of a frame decoded without any layout (resolutions learned alike)."""
    messages = [m for m in HdlcFramer().feed(frame) if isinstance(m, HdlcMessage)]
    return [decode_dlms_message(message, keys, None, resolutions) for message in messages]


@settings(max_examples=30, deadline=None)
@given(pushes=st.lists(states, min_size=2, max_size=6), seed=st.integers(min_value=0, max_value=2**32))
def test_layout_reads_equal_full_decodes(pushes: list[MeterState], seed: int) -> None:
    security = random.Random(seed).choice([None, 0x30])
    keys = Keys(KEY, AUTH_KEY)
    decoder = decoder_for(security)
    counter = itertools.count(1)
    resolutions = ResolutionLearner()
    for case in CASES:
        for push in pushes:
            # Same meter: the identity stays, the values move.
            state = consistent(
                replace(push, meter_id=pushes[0].meter_id, three_phase=pushes[0].three_phase or case.three_phase_only)
            )
            frame = build_frames(case, state, security=security, segment_size=None, counter=next(counter))
            assert decoder.feed(frame) == _full(frame, keys, resolutions), case.name


def test_layout_is_used_and_misses_fall_back() -> None:
    cache = LayoutCache()
    case = CASES[9]  # Kamstrup hourly list: numbers, strings and a clock
    keys = Keys()
    frames = [build_frames(case, MeterState(power_import=power), security=None, segment_size=None) for power in (1, 2)]
    messages = [next(m for m in HdlcFramer().feed(f) if isinstance(m, HdlcMessage)) for f in frames]
    first = decode_dlms_message(messages[0], keys, cache)
    assert cache._layouts, "the first push teaches the layout"
    second = decode_dlms_message(messages[1], keys, cache)
    # Read by the layout: a hit resets the list's miss count to zero.
    assert list(cache._misses.values()) == [0]
    assert second.readings == decode_dlms_message(messages[1], keys).readings
    assert first.readings != second.readings
    # Another meter of the same list length: constant bytes differ, full path decides.
    other = build_frames(case, MeterState(meter_id="9999999999999999"), security=None, segment_size=None)
    other_message = next(m for m in HdlcFramer().feed(other) if isinstance(m, HdlcMessage))
    assert decode_dlms_message(other_message, keys, cache).meter_id == "9999999999999999"
    assert list(cache._misses.values()) == [1]


def test_lists_whose_constants_keep_changing_stop_being_learned() -> None:
    cache = LayoutCache()
    keys = Keys()
    for index in range(6):
        # A meter id that changes every push: never a stable layout.
        frame = build_frames(CASES[9], MeterState(meter_id=f"{index:016d}"), security=None, segment_size=None)
        message = next(m for m in HdlcFramer().feed(frame) if isinstance(m, HdlcMessage))
        assert decode_dlms_message(message, keys, cache).meter_id == f"{index:016d}"
    assert max(cache._misses.values()) >= 3
