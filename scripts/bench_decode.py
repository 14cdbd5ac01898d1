"""Time one decoder over benchmark streams; print microseconds per frame as JSON.

Runs under either environment: ours in .venv, amshan 2.1.1 in .bench-venv.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

CHUNK = 256  # bytes per read, like a serial port under load
ROUNDS = 15  # the best round: this machine's neighbours make single rounds noisy


def ours() -> Callable[[bytes, str], int]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from custom_components.han_port.decoder import Decoder  # noqa: PLC0415

    def run(data: bytes, name: str) -> int:
        # Keys only for the meters that cipher: with keys, plaintext is refused;
        # with an authentication key, frames without a tag are.
        key, auth_key = bytes(range(16)), bytes(range(16, 32))
        decoder = Decoder(key, auth_key) if "ciphered" in name else Decoder(key) if "one-key" in name else Decoder()
        count = 0
        for start in range(0, len(data), CHUNK):
            count += len(decoder.feed(data[start : start + CHUNK]))
        return count

    return run


def amshan() -> Callable[[bytes, str], int]:
    from han import autodecoder, dlde, hdlc  # noqa: PLC0415

    # amshan logs every frame it cannot read (the formats beyond the Nordics
    # are not its own), and its list decoders raise on some of them.
    logging.disable(logging.CRITICAL)

    def decoded(decoder: autodecoder.AutoDecoder, message: object) -> bool:
        try:
            return bool(decoder.decode_message(message))
        except Exception:  # noqa: BLE001 - a frame amshan cannot read counts as not decoded
            return False

    def run(data: bytes, _name: str) -> int:
        reader = hdlc.HdlcFrameReader(use_octet_stuffing=False)
        p1_reader = dlde.ModeDReader()
        decoder = autodecoder.AutoDecoder()
        count = 0
        # amshan's P1 reader fails on binary input, so each stream gets one reader.
        p1 = data.startswith(b"/")
        for start in range(0, len(data), CHUNK):
            chunk = data[start : start + CHUNK]
            messages = p1_reader.read(chunk) if p1 else reader.read(chunk)
            count += sum(1 for message in messages if message.is_valid and decoded(decoder, message))
        return count

    return run


def main() -> None:
    implementation, folder = sys.argv[1], Path(sys.argv[2])
    run = ours() if implementation == "ours" else amshan()
    results = {}
    for stream in sorted(folder.glob("*.bin")):
        data = stream.read_bytes()
        frames = int(stream.with_suffix(".count").read_text())
        best = float("inf")
        decoded = 0
        gc.disable()  # as timeit does: collections would land on whichever round
        try:
            for _ in range(ROUNDS):
                started = time.perf_counter()
                decoded = run(data, stream.stem)
                best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
        results[stream.stem] = {"us_per_frame": best / frames * 1e6, "decoded": decoded, "frames": frames}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
