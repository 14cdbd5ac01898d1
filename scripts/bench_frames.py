"""Write benchmark streams: realistic frame mixes per vendor, built by the test encoder."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.han_port.decoder import mbus_frames
from simulator import frames as encoder
from simulator.frames import MeterState

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))
REPEAT = 200


def hdlc(body: bytes, moment: datetime | None, style: str = "bare") -> bytes:
    return encoder.hdlc_frames(encoder.data_notification(body, moment, style))


# A Danish Kamstrup's P1 port: every line but the import register and power, which move (the 1.8.0 and 1.7.0).
_P1_LINES = (
    "1-0:2.8.0(00000000.000*kWh)",
    "1-0:3.8.0(00000000.916*kVArh)",
    "1-0:4.8.0(00002496.779*kVArh)",
    "1-0:2.7.0(0000.000*kW)",
    "1-0:3.7.0(0000.000*kVAr)",
    "1-0:4.7.0(0000.321*kVAr)",
    "1-0:21.7.0(0001.218*kW)",
    "1-0:41.7.0(0000.123*kW)",
    "1-0:61.7.0(0000.112*kW)",
    "1-0:32.7.0(237.4*V)",
    "1-0:52.7.0(241.4*V)",
    "1-0:72.7.0(241.4*V)",
    "1-0:31.7.0(005.1*A)",
    "1-0:51.7.0(001.4*A)",
    "1-0:71.7.0(000.4*A)",
)


def p1_telegram(index: int) -> bytes:
    register = f"1-0:1.8.0({9621.983 + index / 1000:012.3f}*kWh)"
    power = f"1-0:1.7.0({1.453 + index / 1000:08.3f}*kW)"
    return encoder.p1_telegram("KAM5", ["0-0:1.0.0(240407122854S)", register, *_P1_LINES[:3], power, *_P1_LINES[3:]])


def nordic_pushes(state: MeterState, index: int) -> dict[str, list[bytes]]:
    """The Nordic meters' pushes of one interval, in the proportions they send: short lists often, hourly rarely."""
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(state), state.moment)
    return {
        "aidon": [hdlc(encoder.aidon_list(state, 1), None)] * 3 + [hdlc(encoder.aidon_list(state, 2), None)],
        "kaifa": [hdlc(encoder.kaifa_list(state, 1), state.moment, "typed")] * 4
        + [hdlc(encoder.kaifa_list(state, 2), state.moment, "typed")],
        "kamstrup": [hdlc(encoder.kamstrup_list(state, hourly=index % 50 == 0), state.moment)],
        "kamstrup-dk-ciphered": [encoder.hdlc_frames(encoder.glo_cipher(apdu, KEY, AUTH_KEY, counter=index))],
        "p1": [p1_telegram(index)],
    }


def european_pushes(state: MeterState, index: int) -> dict[str, list[bytes]]:
    """Beyond the Nordics: one push per entry, however many frames carry it."""
    evn = encoder.glo_cipher(
        encoder.data_notification(encoder.evn_list(state), state.moment),
        KEY,
        AUTH_KEY,
        security=0x20,
        system_title=b"SAGY\x05\xe9\x90\xf3",
        counter=index + 1,
    )
    blocks = encoder.general_block_transfer(
        encoder.data_notification(encoder.landis_gyr_push(state), state.moment), 120
    )
    return {
        "at-mbus-one-key": [mbus_frames(evn, segment_size=228)],
        "ch-block-transfer": [b"".join(encoder.hdlc_frames(block) for block in blocks)],
        "si-iskraemeco": [hdlc(encoder.iskraemeco_list(state), state.moment)],
        "bare-apdu": [encoder.data_notification(encoder.aidon_list(state, 2), None)],
        "lu-p1-ciphered": [
            encoder.glo_cipher(p1_telegram(index), KEY, AUTH_KEY, system_title=b"SAGtest1", counter=index + 1)
        ],
    }


def streams() -> dict[str, list[bytes]]:
    """Every vendor's stream of REPEAT intervals, the meter's power and clock moving."""
    state = MeterState()
    frames: dict[str, list[bytes]] = {}
    for index in range(REPEAT):
        power = 1000 + index
        # The phases carry their parts of it, as the Iskraemeco table's physics checks.
        state.power_import, state.phase_powers = power, (power // 3, power // 3, power - 2 * (power // 3))
        state.moment += timedelta(seconds=10)
        for vendor, pushes in (nordic_pushes(state, index) | european_pushes(state, index)).items():
            frames.setdefault(vendor, []).extend(pushes)
    return frames


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    by_vendor = streams()
    for vendor, frames in by_vendor.items():
        (out / f"{vendor}.bin").write_bytes(b"".join(frames))
        (out / f"{vendor}.count").write_text(str(len(frames)))
    # The mixed stream interleaves the plain HDLC vendors frame by frame.
    interleaved = zip(by_vendor["aidon"], by_vendor["kaifa"], by_vendor["kamstrup"], strict=False)
    mixed = [frame for group in interleaved for frame in group]
    (out / "mixed.bin").write_bytes(b"".join(mixed))
    (out / "mixed.count").write_text(str(len(mixed)))


if __name__ == "__main__":
    main()
