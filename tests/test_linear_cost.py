"""What hostile streams cost: a chunk read whole costs what the same bytes cost in small chunks."""

from __future__ import annotations

import time

import pytest

from custom_components.han_port.decoder import Decoder, mbus_frames
from simulator import frames as encoder

# The smallest frames each framer takes whole: their claims on the stream's bytes are the most a chunk can hold.
TINY = {
    "p1": encoder.p1_telegram("A", [], empty_line=False),
    "hdlc": encoder.hdlc_frame(b""),
    "mbus": mbus_frames(b"\x0f"),
}
STREAM_BYTES = 128 * 1024
CHUNK = 4096


def seconds(stream: bytes, chunk: int) -> float:
    """The least time, of three runs, a new decoder takes to read the stream in chunks of this size."""
    best = float("inf")
    for _ in range(3):
        decoder = Decoder()
        started = time.perf_counter()
        for start in range(0, len(stream), chunk):
            decoder.feed_events(stream[start : start + chunk])
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("framing", sorted(TINY))
def test_a_chunk_of_many_tiny_frames_costs_what_the_same_in_small_chunks_costs(framing: str) -> None:
    """Before, each frame of a chunk was weighed against every claim of the chunk: 4 to 8 times the cost in one read."""
    stream = TINY[framing] * (STREAM_BYTES // len(TINY[framing]))
    assert seconds(stream, len(stream)) < 2.5 * seconds(stream, CHUNK)
