"""Time the decoder on 10 MB floods: hostile or broken input must cost linear time.

Prints a table: seconds per 10 MB for each flood, fed as a serial port
delivers it (4 KiB reads) and in one call, whether anything came out of it
(it must not, but for the tiny frames' own content), and whether the next
good frame still decoded (it must).
"""

from __future__ import annotations

import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.han_port.decoder import Decoder, crc16_x25, mbus_frames
from simulator import frames as encoder

SIZE = 10 * 1024 * 1024
CHUNK = 4096


def _valid_false_header() -> bytes:
    """A maximum-length header whose HCS is right: only its missing FCS tells it is false."""
    header = bytes([0xA7, 0xFF, 0x41, 0x03, 0x13])
    return b"\x7e" + header + crc16_x25(header).to_bytes(2, "little")


def floods() -> dict[str, bytes]:
    rng = random.Random(1)  # noqa: S311 - noise, not secrets
    patterns = {
        "0x7E (flags)": b"\x7e",
        "'/' (P1 starts)": b"/",
        "'!' (P1 ends)": b"!",
        "0x00": b"\x00",
        "0xA7 (format byte)": b"\xa7",
        "false max-length headers": b"\x7e\xa7\xff\x41\x03\x13\x00\x00",
        "HCS-valid false headers": _valid_false_header(),
        "'/ABC\\r\\n' (text lines)": b"/ABC\r\n",
        "0x68 (M-Bus starts)": b"\x68",
        "M-Bus headers, no frame": b"\x68\xff\xff\x68\x53\xff\x00\x01\x67",
        "ciphered APDU headers, 4 kB": b"\xdb\x08SAGtest1\x82\x0f\xa0\x30",
        "bare notifications, 4 kB": b"\x0f\x00\x00\x00\x00\x00\x02\x82\x0f\xff",
        "notifications in notifications": b"\x0f\x00\x00\x00\x00\x00\x01\x05\x0f\x00",
        "a push header alone": b"\x0f\x40\x00\x00\x00\x00\x01\x0d",
    }
    result = {name: (pattern * (SIZE // len(pattern) + 1))[:SIZE] for name, pattern in patterns.items()}
    result["random bytes"] = rng.randbytes(SIZE)
    # The smallest frames each framer takes whole: the most claims on a chunk's bytes (each frame was once
    # weighed against every claim of its chunk). What they carry comes out: not a telegram a meter sends.
    tiny = {
        "tiny P1 telegrams": encoder.p1_telegram("A", [], empty_line=False),
        "tiny HDLC frames": encoder.hdlc_frame(b""),
        "tiny M-Bus frames": mbus_frames(b"\x0f"),
    }
    result |= {name: (frame * (SIZE // len(frame) + 1))[:SIZE] for name, frame in tiny.items()}
    return result


def main() -> None:
    good = encoder.hdlc_frames(
        encoder.data_notification(encoder.kamstrup_list(encoder.MeterState(), hourly=False), None)
    )
    print(f"{'10 MB flood':<28}{'4 KiB reads s':>14}{'one call s':>12}  telegrams  next good frame")
    for name, data in floods().items():
        seconds = []
        telegrams = 0
        next_good = True
        for chunk in (CHUNK, SIZE):
            decoder = Decoder()
            gc.disable()
            try:
                started = time.perf_counter()
                for start in range(0, len(data), chunk):
                    telegrams += len(decoder.feed(data[start : start + chunk]))
                seconds.append(time.perf_counter() - started)
            finally:
                gc.enable()
            next_good = next_good and len(decoder.feed(good)) == 1
        print(f"{name:<28}{seconds[0]:>14.2f}{seconds[1]:>12.2f}  {telegrams:>9}  {'decoded' if next_good else 'LOST'}")


if __name__ == "__main__":
    main()
