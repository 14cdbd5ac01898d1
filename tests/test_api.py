"""The decoder's public API: what it names, and framing and masking a telegram so it decodes again."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import custom_components.han_port.decoder as api
from custom_components.han_port.decoder import (
    Decoder,
    Telegram,
    frame_apdu,
    hdlc_frame,
    mask_serials,
    mbus_frames,
    reseal,
    serial_masks,
)
from custom_components.han_port.diagnostics import masked
from simulator import frames as encoder
from simulator.frames import MeterState

STATE = MeterState(meter_id="5706567000000001", power_import=1234)


def _kamstrup_apdu(state: MeterState = STATE, *, size: int = 0) -> bytes:
    """A Kamstrup list's data-notification; size pads it with a long meter type to make it that long at least."""
    if size:
        state = MeterState(meter_id=state.meter_id, power_import=state.power_import, meter_type="K" * size)
    return encoder.data_notification(encoder.kamstrup_list(state, hourly=False), state.moment)


def _power(telegram: Telegram) -> float:
    """The active power imported, whichever channel the meter writes it on (Kamstrup: 1-1, P1: 1-0)."""
    return next(reading.value for code, reading in telegram.readings.items() if (code.c, code.d, code.e) == (1, 7, 0))


def _one(events: list[Telegram]) -> Telegram:
    (telegram,) = events
    return telegram


def test_the_public_api_is_closed_and_every_name_resolves() -> None:
    assert all(getattr(api, name) is not None for name in api.__all__)
    # Type checkers read the package's annotations only with this marker.
    assert (Path(api.__file__).parent / "py.typed").is_file()


def _imports_past_the_api(module: Path, package: str) -> list[str]:
    """The imports of the decoder's insides in a module that reaches the decoder as package ("decoder" relative)."""
    past = []
    for node in ast.walk(ast.parse(module.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = node.module or ""
        relative = node.level == 1 and source.startswith("decoder")
        if not (relative or source.startswith(package)):
            continue
        names = [alias.name for alias in node.names]
        if source not in ("decoder", package) or not set(names) <= set(api.__all__):
            past.append(f"{module.name}: from {source} import {', '.join(names)}")
    return past


def test_nothing_outside_the_decoder_imports_it_past_its_public_names() -> None:
    """The integration, the simulator and the scripts use the library as anyone could; only its own tests look inside."""
    integration = Path(api.__file__).parents[1]
    root = integration.parents[1]
    modules = [*integration.glob("*.py"), *(root / "simulator").glob("*.py"), *(root / "scripts").glob("*.py")]
    assert len(modules) > 30  # the globs found the trees
    past = [line for module in modules for line in _imports_past_the_api(module, "custom_components.han_port.decoder")]
    assert past == []


def test_hdlc_frame_is_the_frame_a_meter_sends() -> None:
    information = b"\xe6\xe7\x00" + _kamstrup_apdu()
    assert hdlc_frame(information) == encoder.hdlc_frame(information)
    assert hdlc_frame(information, segmented=True) == encoder.hdlc_frame(information, segmented=True)
    with pytest.raises(ValueError, match="at most 2047 bytes"):
        hdlc_frame(bytes(2038))


@pytest.mark.parametrize("llc", [b"", b"\xe6\xe7\x00"])
def test_a_framed_apdu_decodes_as_the_apdu_does(llc: bytes) -> None:
    apdu = _kamstrup_apdu()
    framed = frame_apdu(llc + apdu)
    assert framed == encoder.hdlc_frames(apdu)
    telegram = _one(Decoder().feed(framed))
    assert telegram.format == "hdlc"
    assert (telegram.meter_id, _power(telegram)) == ("5706567000000001", 1234)


def test_an_apdu_too_long_for_one_frame_is_framed_in_segments() -> None:
    apdu = _kamstrup_apdu(size=2100)
    framed = frame_apdu(apdu)
    # Two frames: the first one says a segment follows, the second one is the last.
    first_length = ((framed[1] & 0x07) << 8) | framed[2]
    second = framed[first_length + 2 :]
    assert (framed[1] & 0x08, second[0], second[1] & 0x08) == (0x08, 0x7E, 0)
    assert len(second) == (((second[1] & 0x07) << 8) | second[2]) + 2
    telegram = _one(Decoder().feed(framed))
    assert (telegram.meter_type, _power(telegram)) == ("K" * 2100, 1234)


@pytest.mark.parametrize(
    ("frames", "frame_format"),
    [
        (encoder.hdlc_frames(_kamstrup_apdu()), "hdlc"),
        (mbus_frames(_kamstrup_apdu()), "mbus"),
        (encoder.p1_telegram("KFM5KAIFA-METER", ["0-0:96.1.1(5706567000000001)", "1-0:1.7.0(01.234*kW)"]), "p1"),
    ],
)
def test_a_masked_telegram_resealed_decodes_again_without_its_serial(frames: bytes, frame_format: str) -> None:
    telegram = _one(Decoder().feed(frames))
    assert telegram.format == frame_format
    masked = mask_serials(telegram.raw, serial_masks(telegram))
    assert b"5706567000000001" not in masked
    again = _one(Decoder().feed(reseal(masked, telegram.format)))
    assert again.meter_id == "X" * 16
    assert _power(again) == 1234


def test_a_bare_apdu_has_nothing_to_reseal() -> None:
    apdu = _kamstrup_apdu()
    assert reseal(apdu, "apdu") == apdu


def test_the_readme_names_every_public_name() -> None:
    """The README's Development section lists the public API: a name added to __all__ is listed there too."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sentence = readme.split("whose public API is the names in its `__init__.py`", 1)[1].split("every other module")[0]
    named = set(re.findall(r"`(\w+)`", sentence))
    quantities = {name for name in api.__all__ if isinstance(getattr(api, name), api.Quantity)}  # "the quantities"
    assert set(api.__all__) - named - quantities == set()


@pytest.mark.parametrize("frame_format", ["hdlc", "mbus"])
def test_diagnostics_never_show_a_serial_that_a_segment_boundary_splits(frame_format: str) -> None:
    """A segment boundary inside the meter id: neither half matches its mask, and the frames would tell it.

    Diagnostics withhold such frames rather than show them; frames cut elsewhere are shown, masked.
    """
    meter_id = STATE.meter_id
    apdu = _kamstrup_apdu()

    def framed(size: int | None) -> bytes:
        return encoder.hdlc_frames(apdu, size) if frame_format == "hdlc" else mbus_frames(apdu, size or 250)

    at = apdu.index(meter_id.encode())
    cut = next(frames for size in range(at, at + 16) if meter_id.encode() not in (frames := framed(size)))
    (telegram,) = Decoder().feed(cut)
    assert telegram.meter_id == meter_id
    shown = masked(telegram, meter_id)
    assert meter_id not in str(shown)
    assert shown["raw"].startswith("withheld")
    (telegram,) = Decoder().feed(framed(None))
    (again,) = Decoder().feed(bytes.fromhex(masked(telegram, meter_id)["raw"]))
    assert again.meter_id not in (None, meter_id)
