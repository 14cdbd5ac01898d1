"""Every in-scope capture of the shared corpus decodes to the right values.

`expected` in the corpus is what another implementation produced, in its own
units and naming. The translator below maps the formats it uses onto OBIS
codes and base units; where physics or the meter's own scaler disagree with
a source, PHYSICS_WINS says what we expect instead and why.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from custom_components.han_port.decoder import Decoder, DroppedFrame, DropReason, Keys, Telegram
from custom_components.han_port.decoder.content import decode_dlms_message
from custom_components.han_port.decoder.hdlc import HdlcMessage

from .corpus import corpus_entries, require_corpus

ENTRIES = {entry["id"]: entry for entry in corpus_entries()}

OUT_OF_SCOPE = {
    "ams-kamstrup-dk-plain-gh111-2": "firmware dump: ciphering header kept around plaintext",
    "hass-aidon6525-no-oss-hourly": "OSS gateway inserts 0x0D before 0x0A and drops the FCS",
    "hass-aidon6525-no-oss-list2": "OSS gateway inserts 0x0D before 0x0A and drops the FCS",
}
# Captures with a test of their own below.
OWN_TEST = {"ams-kamstrup-dk-ct-gh216-1"}

# Captures that must not yield a telegram, and the reason they are dropped.
NEGATIVE = {
    "ams-17-kamstrup-omnipower-3-phase-encrypted-aut": DropReason.KEY_MISSING,
    "ams-kamstrup-dk-enc-gh73-2": DropReason.KEY_MISSING,
    "ams-kamstrup-dk-enc-gh517-1": DropReason.KEY_MISSING,
    "ams-kamstrup-ch-enc-gh350-1": DropReason.KEY_MISSING,
    "ams-kamstrup-no-badfcs-gh175-1": DropReason.BAD_CHECKSUM,
    "hass-kamstrup-neg-badfcs": DropReason.BAD_CHECKSUM,
    "ams-kamstrup-dk-enc-gh244-1": DropReason.BAD_CHECKSUM,
    "ams-kamstrup-dk-inplace-gh247-2": DropReason.BAD_CHECKSUM,
    "ams-kamstrup-dk-p1-badcrc-gh712-2": DropReason.BAD_CHECKSUM,
    # Its CRC (!D770) does not match its text: another reader printed it after deciphering.
    "ams-kaifa-ma309m-pl-p1-gh1067-2": DropReason.BAD_CHECKSUM,
    # Austrian and Swiss meters whose keys were never published.
    "ams-kaifa-ma309m-at-enc-gh433-1": DropReason.KEY_MISSING,
    "ams-sagemcom-t210d-at-enc-gh867-1": DropReason.KEY_MISSING,
    # The plaintext is a P1 telegram whose own CRC holds (!ED42), but the GCM
    # tag fails with the authentication key published beside it: content whose
    # tag fails is never shown.
    "energyagent-sagemcom-t210d-glo-apdu": DropReason.KEY_REJECTED,
    # Only the first M-Bus segment (no key either), and only block 1 of a
    # block transfer: the rest of each message never came.
    "ams-kaifa-ma309-at-enc-gh539-1": None,
    "energyagent-lg-e450-at-hdlc-enc": None,
    # Bytes lost inside its first segment (whose length byte wrapped, 68 01 01 68, as this meter sends it).
    "ams-sagemcom-t210d-at-corrupt-gh301-1": None,
    # Truncated captures and a damaged header: nothing complete to report.
    "ams-aidon-se-truncated-gh146-1": None,
    "ams-kamstrup-no-truncated-em001-5": None,
    "ams-kamstrup-dk-enc-gh111-1": None,
    "hass-aidon-neg-badhcs": None,
}

# Values where the source is wrong and physics or the meter's scaler is right.
PHYSICS_WINS: dict[str, dict[str, Any]] = {
    # Swedish Kamstrup counts Wh: 320141.58 kWh would be 36 kW around the clock.
    "ams-14-kamstrup-omnipower-6841131bn245101092-ka": {"1.8.0": 32014158},
    # amsreader reads raw 2322 (0.1 V) as volts and raw 32 (mA) as amperes.
    "ams-kaifa-se-list3-gh242-1": {"32.7.0": 232.2, "31.7.0": 0.032},
    "ams-kaifa-se-1ph-gh242-3": {"31.7.0": 0.07},
    # amshan truncates 1.011 kW to 1010 W through float error.
    "amshan-38-landis-gyr-e360-sweden-p1-iec-62056-21-m": {"61.7.0": 1011},
}

# Registers a source reports but this very capture does not carry.
NOT_IN_CAPTURE = {
    # amsreader carried the total over from an earlier hourly list.
    "ams-kamstrup-no-list2-em001-2": {"1.8.0"},
}

# Sources that print Kamstrup's raw numbers: multiply to get base units.
RAW_SOURCE_FACTORS = {
    "esphome-kamstrup-omnipower-dk-enc": {
        **dict.fromkeys(("31.7.0", "51.7.0", "71.7.0", "13.7.0", "33.7.0", "53.7.0", "73.7.0"), 0.01),
        **dict.fromkeys(
            ("1.8.0", "2.8.0", "3.8.0", "4.8.0", "21.8.0", "41.8.0", "61.8.0", "22.8.0", "42.8.0", "62.8.0"), 10
        ),
    },
}

# C.D.E of the register each naming scheme refers to.
_NAMED = {
    "P_import_W": "1.7.0",
    "P_export_W": "2.7.0",
    "Q_import_var": "3.7.0",
    "Q_export_var": "4.7.0",
    "active_import_W": "1.7.0",
    "active_export_W": "2.7.0",
    "active_power_import_W": "1.7.0",
    "P_L1_W": "21.7.0",
    "P_L2_W": "41.7.0",
    "P_L3_W": "61.7.0",
    "P_L1_export_W": "22.7.0",
    "P_L2_import_W": "41.7.0",
    "P_L3_import_W": "61.7.0",
    "I1_A": "31.7.0",
    "U1_V": "32.7.0",
    "voltage_L1_V": "32.7.0",
    "voltage_L2_V": "52.7.0",
    "voltage_L3_V": "72.7.0",
    "current_L1_A": "31.7.0",
    "current_L2_A": "51.7.0",
    "current_L3_A": "71.7.0",
}
_KILO = {
    "A_import_kWh": "1.8.0",
    "A_export_kWh": "2.8.0",
    "R_import_kvarh": "3.8.0",
    "R_export_kvarh": "4.8.0",
    "active_energy_import_kWh": "1.8.0",
    "import_counter_kWh": "1.8.0",
    "P_import_kW": "1.7.0",
}
_NAMED |= {"A_import_Wh": "1.8.0", "A_export_Wh": "2.8.0"}
_PHASED = {"I_A": ("31.7.0", "51.7.0", "71.7.0"), "U_V": ("32.7.0", "52.7.0", "72.7.0")}
_OBIS_KEY = re.compile(r"^(?:\d+|x)\.(?:\d+|x)\.(\d+\.\d+\.\d+)\.(?:\d+|x)\b")
_OBIS_P1_KEY = re.compile(r"^\d+-\d+:(\d+\.\d+\.\d+)$")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(k?)")


def translate(expected: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Map a source's expected values onto C.D.E -> base-unit value, and identity fields."""
    values: dict[str, float] = {}
    identity: dict[str, str] = {}
    for section in (expected, *(v for v in expected.values() if isinstance(v, dict))):
        for key, value in section.items():
            if isinstance(value, dict):
                continue
            if key in _NAMED and isinstance(value, int | float):
                values[_NAMED[key]] = value
            elif key in _KILO and isinstance(value, int | float):
                values[_KILO[key]] = value * 1000
            elif key in _PHASED and isinstance(value, list):
                values.update(zip(_PHASED[key], value, strict=False))
            elif key == "meter_id" and value:
                identity["meter_id"] = value
            elif key in ("meter_time", "time", "header_time") and isinstance(value, str) and value[:2] == "20":
                identity["timestamp"] = value.replace("T", " ")[:19]
            elif (match := _OBIS_KEY.match(key) or _OBIS_P1_KEY.match(key)) is not None:
                _store(values, identity, match.group(1), key, value)
    return values, identity


def _store(values: dict[str, float], identity: dict[str, str], register: str, key: str, value: Any) -> None:
    if "meter_id" in key or register in ("96.1.0", "0.0.5"):
        identity["meter_id"] = str(value).split(" ")[0]
    elif register == "0.0.1":  # Kamstrup's numeric meter number, printed as a float
        identity["meter_id"] = str(int(float(value)))
    elif "meter_type" in key or register in ("96.1.7", "96.1.1"):
        identity["meter_type"] = str(value).split(" ")[0]
    elif "list_ver" in key or register == "0.2.129":
        identity["list_version"] = str(value).split(" ")[0]
    elif "manufacturer" in key:
        identity["manufacturer"] = str(value)
    elif "datetime" in key or register == "1.0.0" or "(DateTime)" in str(value):
        identity["timestamp"] = str(value).replace("T", " ")[:19]
    elif isinstance(value, int | float):
        values[register] = value
    elif isinstance(value, str) and (number := _NUMBER.match(value)) is not None and "raw" not in value:
        digits, kilo = number.groups()
        values[register] = float(digits) * (1000 if kilo else 1)


def _decode(entry: dict[str, Any]) -> tuple[list[Telegram], Decoder]:
    keys = entry.get("keys") or {}
    key = bytes.fromhex(keys["encryption"]) if keys.get("encryption") else None
    auth_key = bytes.fromhex(keys["authentication"]) if keys.get("authentication") else None
    data = entry["text"].encode("ascii") if "text" in entry else bytes.fromhex(entry["hex"])
    decoder = Decoder(key, auth_key)
    if data[:1] in (b"\x7e", b"/", b"\r", b"\x68"):
        return decoder.feed(data), decoder
    if data[:1] in (b"\xdb", b"\xe0"):
        # A ciphered APDU as a bridge publishes it: the decoder's message path.
        return [event for event in decoder.feed_message(data) if isinstance(event, Telegram)], decoder
    # An LLC PDU or bare APDU as a reader logged it: the framing was already gone.
    return [decode_dlms_message(HdlcMessage(data, data), Keys(key, auth_key))], decoder


IN_SCOPE = sorted(set(ENTRIES) - set(OUT_OF_SCOPE) - set(NEGATIVE) - OWN_TEST)


@pytest.mark.parametrize("entry_id", IN_SCOPE)
def test_capture_decodes_to_the_expected_values(entry_id: str) -> None:
    require_corpus()
    entry = ENTRIES[entry_id]
    telegrams, decoder = _decode(entry)
    assert len(telegrams) == 1, decoder.dropped
    telegram = telegrams[0]
    got = {f"{code.c}.{code.d}.{code.e}": reading.value for code, reading in telegram.readings.items()}
    expected, identity = translate(entry.get("expected") or {})
    for register, factor in RAW_SOURCE_FACTORS.get(entry_id, {}).items():
        expected[register] *= factor
    expected.update(PHYSICS_WINS.get(entry_id, {}))
    for register in NOT_IN_CAPTURE.get(entry_id, set()):
        del expected[register]
    for register, value in expected.items():
        if register not in got and value == 0:
            continue  # a reader's carried-over or default zero for a register this list lacks
        assert register in got, f"{register} missing"
        # Sources round to two decimals, and some carry float error in large totals.
        tolerance = {"rel": 1e-7} if register.endswith(".8.0") else {"abs": 0.0051}
        assert got[register] == pytest.approx(value, **tolerance), register
    for field in ("meter_id", "meter_type", "list_version"):
        if field in identity:
            assert getattr(telegram, field) == identity[field], field
    if identity.get("manufacturer") in ("Kamstrup", "Aidon", "Kaifa"):
        assert telegram.manufacturer == identity["manufacturer"]
    if "timestamp" in identity:
        assert telegram.timestamp is not None
        assert telegram.timestamp.replace(tzinfo=None) == datetime.fromisoformat(identity["timestamp"])
    _assert_plausible(telegram)


def _assert_plausible(telegram: Telegram) -> None:
    """Whatever a source says, a household meter's values stay within physics."""
    for code, reading in telegram.readings.items():
        if code.c in (32, 52, 72) and code.d == 7:
            assert reading.value == 0 or 180 <= reading.value <= 260, (code, reading)
        elif code.c in (31, 51, 71) and code.d == 7:
            assert -100 <= reading.value <= 100, (code, reading)
        elif code.c in (1, 2) and code.d == 7:
            assert 0 <= reading.value <= 50_000, (code, reading)
    _assert_powers_agree(telegram)


def _value(telegram: Telegram, c: int, d: int = 7) -> float | None:
    """The value of register c.d.0 on whichever channel the meter uses."""
    return next((r.value for code, r in telegram.readings.items() if (code.c, code.d, code.e) == (c, d, 0)), None)


def _assert_powers_agree(telegram: Telegram) -> None:
    """The values of one telegram describe one circuit: they must agree with each other.

    The net active power is at most the apparent power Σ U·I (and equals
    Σ U·I·cos φ where the meter sends its power factor); the phases' powers
    add up to the total. Tolerances cover the meters' resolutions (0.01 A
    and 1 W; a snapshot's values are sampled microseconds apart).
    """
    imported, exported = _value(telegram, 1), _value(telegram, 2)
    if imported is None:
        return
    net = imported - (exported or 0)
    phases = [(_value(telegram, 32 + 20 * p), _value(telegram, 31 + 20 * p)) for p in range(3)]
    apparent = sum(abs(u * i) for u, i in phases if u is not None and i is not None)
    if any(u is not None and i is not None for u, i in phases):
        resolution = sum(u * 0.01 for u, i in phases if u is not None and i is not None)
        assert abs(net) <= apparent * 1.02 + resolution + 5, (net, apparent)
        power_factor = _value(telegram, 13)
        if power_factor and apparent > 200 and not exported:
            # One power factor for the whole meter: the phases' own may differ, within reason.
            # A home exporting may do so on one phase and draw on another
            # (Swiss gh350: 528 W out on 1.5 A per phase): then only the bound above holds.
            assert abs(net) == pytest.approx(apparent * abs(power_factor), rel=0.25, abs=50), (net, power_factor)
    phase_imports = [_value(telegram, 21 + 20 * p) for p in range(3)]
    if all(value is not None for value in phase_imports):
        phase_exports = [_value(telegram, 22 + 20 * p) or 0 for p in range(3)]
        phase_net = sum(v or 0 for v in phase_imports) - sum(phase_exports)
        assert phase_net == pytest.approx(net, rel=0.05, abs=15), (phase_net, net)


@pytest.mark.parametrize("entry_id", sorted(NEGATIVE))
def test_damaged_or_unkeyed_capture_is_dropped_for_the_right_reason(entry_id: str) -> None:
    require_corpus()
    telegrams, decoder = _decode(ENTRIES[entry_id])
    assert telegrams == []
    reason = NEGATIVE[entry_id]
    if reason is None:
        assert not decoder.dropped or set(decoder.dropped) <= {DropReason.BAD_CHECKSUM}
    else:
        assert decoder.dropped == {reason: 1}


def test_no_capture_ends_in_silence() -> None:
    """Each capture yields a telegram, a drop with its reason, or at its end the frame it was cut inside."""
    require_corpus()
    for entry_id, entry in ENTRIES.items():
        data = entry["text"].encode("ascii") if "text" in entry else bytes.fromhex(entry["hex"])
        decoder = Decoder()
        events = decoder.feed_events(data) + decoder.finish()
        assert events, entry_id
        if entry_id in NEGATIVE and NEGATIVE[entry_id] is None:
            # Cut short or damaged: said at the end, never decoded.
            assert all(isinstance(event, DroppedFrame) for event in events), entry_id
            last = events[-1]
            assert isinstance(last, DroppedFrame)
            assert last.reason in (DropReason.UNDECODABLE, DropReason.UNRECOGNISED), entry_id


def test_every_capture_is_classified() -> None:
    require_corpus()
    assert set(OUT_OF_SCOPE) <= set(ENTRIES)
    assert set(NEGATIVE) <= set(ENTRIES)


@pytest.mark.parametrize("entry_id", sorted(OUT_OF_SCOPE))
def test_out_of_scope_capture_never_yields_a_wrong_telegram(entry_id: str) -> None:
    """Out of scope means dropped with a reason, never decoded into wrong values."""
    require_corpus()
    entry = ENTRIES[entry_id]
    data = entry["text"].encode("ascii") if "text" in entry else bytes.fromhex(entry["hex"])
    decoder = Decoder()
    assert decoder.feed(data) == []


def test_kamstrup_danish_key_published_with_the_frame_decrypts_and_authenticates() -> None:
    require_corpus()
    entry = ENTRIES["radius-kamstrup-omnipower-dk-enc"]
    telegrams, _ = _decode(entry)
    assert telegrams[0].encrypted
    plaintext = bytes.fromhex(entry["expected"]["plaintext_apdu_hex"])
    (expected,) = [decode_dlms_message(HdlcMessage(plaintext, plaintext), Keys())]
    assert telegrams[0].readings == expected.readings


def test_wrong_key_on_a_real_danish_frame_is_a_key_problem() -> None:
    require_corpus()
    entry = ENTRIES["radius-kamstrup-omnipower-dk-enc"]
    decoder = Decoder(bytes(16), bytes.fromhex(entry["keys"]["authentication"]))
    assert decoder.feed(bytes.fromhex(entry["hex"])) == []
    assert decoder.dropped == {DropReason.KEY_REJECTED: 1}


def test_danish_ct_meter_currents_follow_its_own_physics() -> None:
    """Kamstrup's table says 0.01 A; this CT meter's own P, U and cos φ say mA.

    amsreader shows 909.99 A per phase on a 250 A installation. Per phase,
    P = U·I·cos φ: 448 W = 233 V · I · 0.02 gives I ≈ 96 A, not 960 A. The
    decoder withholds the currents while one telegram contradicts the table,
    and takes milliamperes once three agree.
    """
    require_corpus()
    frame = bytes.fromhex(ENTRIES["ams-kamstrup-dk-ct-gh216-1"]["hex"])
    decoder = Decoder()
    pushes = [decoder.feed(frame) for _ in range(3)]
    assert [len(telegrams) for telegrams in pushes] == [1, 1, 1]
    currents = ("31.7.0", "51.7.0", "71.7.0")
    for (telegram,) in pushes[:2]:
        got = {f"{code.c}.{code.d}.{code.e}" for code in telegram.readings}
        assert not got & set(currents), "a current shown before its resolution is settled"
        assert {"32.7.0", "22.7.0", "33.7.0"} <= got
    (settled,) = pushes[2]
    got = {f"{code.c}.{code.d}.{code.e}": reading.value for code, reading in settled.readings.items()}
    assert [got[register] for register in currents] == pytest.approx([90.999, 93.955, 92.645])
    # Each phase carries its measured export: U·I·cos φ within the power factor's rounding.
    for current, voltage, factor, power in (
        ("31.7.0", "32.7.0", "33.7.0", "22.7.0"),
        ("51.7.0", "52.7.0", "53.7.0", "42.7.0"),
        ("71.7.0", "72.7.0", "73.7.0", "62.7.0"),
    ):
        assert got[current] * got[voltage] * got[factor] == pytest.approx(got[power], rel=0.3)
    (decision,) = [d for d in decoder.resolutions if d.quantity == "current"]
    assert decision.exponent == -3
    assert "cos φ" in decision.evidence
