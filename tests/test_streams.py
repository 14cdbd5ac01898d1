"""Whole real recordings: every checksum-valid frame decodes, every value is plausible."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from custom_components.han_port.decoder import Decoder, DropReason, ObisCode, Telegram
from simulator import frames as encoder

from .corpus import STREAMS, require_corpus

if TYPE_CHECKING:
    from pathlib import Path

_HEX_LINE = re.compile(r"^(?:\(V\)\s*)?((?:[0-9A-F]{2}\s+)*[0-9A-F]{2})\s*$")


def stream_bytes(path: Path) -> bytes:
    """The bytes a reader logged, in order, with its log text left out."""
    chunks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _HEX_LINE.match(line.strip())
        if match:
            chunks.append(bytes.fromhex(match.group(1)))
    return b"".join(chunks)


def plausible(telegram: Telegram) -> None:
    for code, reading in telegram.readings.items():
        if code.c in (32, 52, 72):
            assert reading.value == 0 or 180 <= reading.value <= 260, (code, reading)
        elif code.c in (31, 51, 71):
            assert 0 <= reading.value <= 80, (code, reading)
        elif code.c in (1, 2, 3, 4) and code.d == 7:
            assert 0 <= reading.value <= 30_000, (code, reading)


IMPORT_POWER = ObisCode.parse("1-0:1.7.0")
IMPORT_ENERGY = ObisCode.parse("1-0:1.8.0")


def test_kaifa_day_long_stream() -> None:
    require_corpus()
    path = STREAMS / "kaifa-ma304h3e-no-20170915.hex.txt"
    data = stream_bytes(path)
    # The logger split a few hundred frames over two lines (at a 0x7E inside
    # them): a line-by-line check fails those, but as a stream every byte of
    # the day belongs to a valid frame.
    decoder = Decoder()
    telegrams: list[Telegram] = []
    # Feed in serial-sized pieces, as the integration will.
    for start in range(0, len(data), 240):
        telegrams += decoder.feed(data[start : start + 240])
    assert len(telegrams) == 22_973
    assert not decoder.dropped
    assert decoder.noise_bytes == 0
    hourly = [t for t in telegrams if IMPORT_ENERGY.register in {c.register for c in t.readings}]
    assert 10 <= len(hourly) <= 14
    totals = [t.readings[ObisCode(1, 0, 1, 8, 0)].value for t in hourly]
    assert totals == sorted(totals)
    for telegram in telegrams:
        plausible(telegram)
        assert telegram.manufacturer == "Kaifa"
    # Energy between hourly lists agrees with the power drawn (physics check of units).
    first, last = hourly[0], hourly[-1]
    assert first.timestamp is not None
    assert last.timestamp is not None
    hours = (last.timestamp - first.timestamp).total_seconds() / 3600
    powers = [
        t.readings[IMPORT_POWER].value
        for t in telegrams
        if first.timestamp <= (t.timestamp or first.timestamp) <= last.timestamp and IMPORT_POWER in t.readings
    ]
    mean_power = sum(powers) / len(powers)
    energy = last.readings[ObisCode(1, 0, 1, 8, 0)].value - first.readings[ObisCode(1, 0, 1, 8, 0)].value
    assert energy == pytest.approx(mean_power * hours, rel=0.05)
    # The decoder weighed the same physics itself, and kept Kaifa's mA, 0.1 V and Wh.
    decided = {decision.quantity: decision.exponent for decision in decoder.resolutions}
    assert decided == {"voltage": -1, "current": -3, "active_energy": 0}


def test_kamstrup_norwegian_stream_with_2017_date_time() -> None:
    require_corpus()
    data = stream_bytes(STREAMS / "kamstrup-6841121-no-20171019.log.txt")
    decoder = Decoder()
    telegrams = decoder.feed(data)
    assert len(telegrams) >= 670
    assert not decoder.dropped
    hourly = [t for t in telegrams if ObisCode(1, 1, 1, 8, 0) in t.readings]
    assert len(hourly) == 2
    for telegram in telegrams:
        plausible(telegram)
        assert telegram.meter_type == "6841121BN243101040"
    # One hour of energy (10 Wh units) matches the hour's mean power.
    first, second = hourly
    powers = [
        t.readings[ObisCode(1, 1, 1, 7, 0)].value
        for t in telegrams
        if first.timestamp and second.timestamp and t.timestamp and first.timestamp <= t.timestamp <= second.timestamp
    ]
    energy = second.readings[ObisCode(1, 1, 1, 8, 0)].value - first.readings[ObisCode(1, 1, 1, 8, 0)].value
    assert energy == pytest.approx(sum(powers) / len(powers), rel=0.05)
    # The decoder weighed the same physics itself, and kept the table's 10 Wh.
    decided = {decision.quantity: decision.exponent for decision in decoder.resolutions}
    assert decided == {"voltage": 0, "current": -2, "active_energy": 1}


def test_danish_encrypted_stream_without_keys_is_a_key_problem() -> None:
    require_corpus()
    log = (STREAMS / "kamstrup-omnipower-dk-bornholm-20250909.log.txt").read_text(encoding="utf-8", errors="replace")
    # Only the "HDLC frame" dumps are wire bytes; the others are the reader's
    # own decryption steps.
    frames = re.findall(r"\(V\) HDLC frame:\n((?:\(V\) [0-9A-F ]+\n)+)", log)
    data = b"".join(bytes.fromhex(re.sub(r"\(V\)|\s", "", frame)) for frame in frames)
    decoder = Decoder()
    assert decoder.feed(data) == []
    assert decoder.dropped == {DropReason.KEY_MISSING: len(frames)}
    assert len(frames) == 16


def test_danish_omnipower_sends_voltage_in_hundredths() -> None:
    """The Bornholm meter (type 6841138BN243101010) sends 22199 for 221.99 V.

    Kamstrup's table says volts (its Norwegian lists do); the meter's own
    voltages, near nominal only in hundredths, and its currents, which carry
    the measured power only at 0.01 A, decide. The reader logged each frame's
    plaintext after decrypting it ("DLMS frame"), which the test frames anew.
    """
    require_corpus()
    log = (STREAMS / "kamstrup-omnipower-dk-bornholm-20250909.log.txt").read_text(encoding="utf-8", errors="replace")
    apdus = [
        bytes.fromhex(re.sub(r"\(V\)|\s", "", dump))
        for dump in re.findall(r"\(V\) DLMS frame:\n((?:\(V\) [0-9A-F ]+\n)+)", log)
    ]
    assert len(apdus) == 16
    decoder = Decoder()
    telegrams = [telegram for apdu in apdus for telegram in decoder.feed(encoder.hdlc_frames(apdu))]
    assert len(telegrams) == 16
    assert not decoder.dropped
    first = telegrams[0]
    assert first.meter_type == "6841138BN243101010"
    assert first.readings[ObisCode.parse("1-1:32.7.0")].value == pytest.approx(221.99)
    assert first.readings[ObisCode.parse("1-1:1.7.0")].value == 593
    for telegram in telegrams:
        plausible(telegram)
        voltages = [reading.value for code, reading in telegram.readings.items() if code.c in (32, 52, 72)]
        assert all(200 <= volts <= 250 for volts in voltages)
        # Apparent power carries the active power: ΣU·I ≥ P, at a household's power factor.
        apparent = sum(
            telegram.readings[ObisCode(1, 1, c, 7, 0)].value * telegram.readings[ObisCode(1, 1, c - 1, 7, 0)].value
            for c in (32, 52, 72)
            if ObisCode(1, 1, c - 1, 7, 0) in telegram.readings
        )
        if apparent:
            assert 0.5 <= telegram.readings[ObisCode.parse("1-1:1.7.0")].value / apparent <= 1.05
    decided = {decision.quantity: decision.exponent for decision in decoder.resolutions}
    assert decided == {"voltage": -2, "current": -2}
