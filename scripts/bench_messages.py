"""Microseconds per MQTT message, by payload shape: what a topic's reader costs per push."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.han_port.decoder import Decoder, Telegram
from simulator import frames as encoder
from simulator.frames import LLC, MeterState

MESSAGES = 2000


def shapes() -> dict[str, list[bytes]]:
    """The same Kamstrup pushes in every shape a bridge publishes them."""
    state = MeterState()
    apdus = []
    for index in range(MESSAGES):
        state.power_import = 1000 + index % 500
        state.moment += timedelta(seconds=10)
        apdus.append(encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment))
    frames = [encoder.hdlc_frames(apdu) for apdu in apdus]
    return {
        "raw frame": frames,
        "frame in halves": [piece for frame in frames for piece in (frame[:60], frame[60:])],
        "hex text": [frame.hex(" ").encode() for frame in frames],
        "bare apdu": apdus,
        "llc pdu": [LLC + apdu for apdu in apdus],
        "unrecognised json": [b'{"status": "online", "rssi": -61, "uptime": 123456}'] * MESSAGES,
    }


def main() -> None:
    print(f"{'MQTT payload shape':<22}{'messages':>9}{'µs/message':>12}  telegrams")
    for name, messages in shapes().items():
        best = float("inf")
        telegrams = 0
        for _ in range(3):
            decoder = Decoder()
            started = time.perf_counter()
            events = [event for message in messages for event in decoder.feed_message(message)]
            best = min(best, time.perf_counter() - started)
            telegrams = sum(isinstance(event, Telegram) for event in events)
        print(f"{name:<22}{len(messages):>9}{best / len(messages) * 1e6:>12.1f}  {telegrams}")


if __name__ == "__main__":
    main()
