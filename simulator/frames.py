"""Frames as the meters send them, built from the vendors' specifications.

The simulator sends them, and the tests build frames with them rather than
storing captures: every vendor list can be made with any values, 1- or
3-phase, plain or ciphered, whole or segmented, and the decoder checked
against the values that went in. Independent of the decoder but for the
checksums (which standard check values test on their own) and OBIS parsing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from custom_components.han_port.decoder import ObisCode, crc16_arc, crc16_x25

_ONE_BYTE_LENGTH = 0x80
_BYTE = 0xFF
_MAX_FRAME = 2047  # an 11-bit length
_THREE_PHASE = 3
HOURLY = 3
"""The list number of Aidon's and Kaifa's hourly lists."""
_SWEDISH_AIDON_ITEMS = 27

# --- A-XDR -----------------------------------------------------------------


def length(size: int) -> bytes:
    """Encode an A-XDR length."""
    if size < _ONE_BYTE_LENGTH:
        return bytes([size])
    if size <= _BYTE:
        return bytes([0x81, size])
    return bytes([0x82]) + size.to_bytes(2, "big")


def structure(*items: bytes) -> bytes:
    """Encode a structure of encoded items."""
    return b"\x02" + length(len(items)) + b"".join(items)


def array(*items: bytes) -> bytes:
    """Encode an array of encoded items."""
    return b"\x01" + length(len(items)) + b"".join(items)


def octet_string(data: bytes) -> bytes:
    """Encode an octet-string."""
    return b"\x09" + length(len(data)) + data


def visible_string(text: str) -> bytes:
    """Encode a visible-string."""
    return b"\x0a" + length(len(text)) + text.encode("ascii")


def obis(code: str) -> bytes:
    """Encode an OBIS code ("1-0:1.7.0.255") as its six-byte octet-string."""
    parsed = ObisCode.parse(code)
    return octet_string(bytes([parsed.a, parsed.b, parsed.c, parsed.d, parsed.e, parsed.f]))


def double_long_unsigned(value: int) -> bytes:
    """Encode a double-long-unsigned (u32)."""
    return b"\x06" + struct.pack(">I", value)


def double_long(value: int) -> bytes:
    """Encode a double-long (i32): a signed power, say."""
    return b"\x05" + struct.pack(">i", value)


def long_unsigned(value: int) -> bytes:
    """Encode a long-unsigned (u16)."""
    return b"\x12" + struct.pack(">H", value)


def long(value: int) -> bytes:
    """Encode a long (i16)."""
    return b"\x10" + struct.pack(">h", value)


def integer(value: int) -> bytes:
    """Encode an integer (i8)."""
    return b"\x0f" + struct.pack(">b", value)


def enum(value: int) -> bytes:
    """Encode an enum."""
    return b"\x16" + bytes([value])


def boolean(*, value: bool) -> bytes:
    """Encode a boolean."""
    return b"\x03" + bytes([value])


def null() -> bytes:
    """Encode null-data."""
    return b"\x00"


def date_time_bytes(moment: datetime, deviation: int | None = None, status: int = 0) -> bytes:
    """COSEM date-time; deviation in DLMS sense (UTC minus local, minutes)."""
    return (
        struct.pack(
            ">HBBBBBBB",
            moment.year,
            moment.month,
            moment.day,
            moment.isoweekday(),
            moment.hour,
            moment.minute,
            moment.second,
            0xFF,
        )
        + struct.pack(">h", -0x8000 if deviation is None else deviation)
        + bytes([status])
    )


# --- DLMS and HDLC -----------------------------------------------------------

LLC = b"\xe6\xe7\x00"


def data_notification(body: bytes, moment: datetime | None, style: str = "bare", deviation: int | None = None) -> bytes:
    """Build a data-notification APDU; style is how the vendor writes the date-time, deviation its UTC offset."""
    if moment is None:
        stamp = b"\x00"
    elif style == "typed":  # Kaifa and 2017-era Kamstrup: 09 0C ...
        stamp = b"\x09\x0c" + date_time_bytes(moment, deviation)
    else:
        stamp = b"\x0c" + date_time_bytes(moment, deviation)
    return b"\x0f" + b"\x40\x00\x00\x00" + stamp + body


def glo_cipher(  # noqa: PLR0913 - the ciphering header fields a meter chooses
    apdu: bytes,
    key: bytes,
    auth_key: bytes,
    *,
    security: int = 0x30,
    system_title: bytes = b"KAMEtest",
    counter: int = 1,
) -> bytes:
    """Build general-glo-ciphering (AES-128-GCM): 0x30 encrypts and tags (12 bytes), 0x20 encrypts, 0x10 tags."""
    iv = system_title + counter.to_bytes(4, "big")
    aad = bytes([security]) + auth_key
    if security & 0x20:
        encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        if security & 0x10:
            encryptor.authenticate_additional_data(aad)
        body = encryptor.update(apdu) + encryptor.finalize()
        tag = encryptor.tag[:12] if security & 0x10 else b""
    elif security & 0x10:
        encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        encryptor.authenticate_additional_data(aad + apdu)
        encryptor.finalize()
        body, tag = apdu, encryptor.tag[:12]
    else:  # neither: the envelope around plaintext
        body, tag = apdu, b""
    ciphered = bytes([security]) + counter.to_bytes(4, "big") + body + tag
    return b"\xdb" + bytes([len(system_title)]) + system_title + length(len(ciphered)) + ciphered


def hdlc_frame(
    information: bytes,
    *,
    segmented: bool = False,
    destination: bytes = b"\x41",
    source: bytes = b"\x08\x83",
    control: int = 0x13,
) -> bytes:
    """Build one HDLC frame (type 3) around an information field, with HCS and FCS."""
    header_rest = destination + source + bytes([control])
    size = 2 + len(header_rest) + 2 + len(information) + 2
    if size > _MAX_FRAME:
        msg = f"an HDLC frame holds at most {_MAX_FRAME} bytes; segment the APDU"
        raise ValueError(msg)
    frame_format = bytes([0xA0 | (0x08 if segmented else 0) | (size >> 8), size & 0xFF])
    header = frame_format + header_rest
    hcs = crc16_x25(header).to_bytes(2, "little")
    body = header + hcs + information
    return b"\x7e" + body + crc16_x25(body).to_bytes(2, "little") + b"\x7e"


def general_block_transfer(apdu: bytes, block_size: int) -> list[bytes]:
    """Split an APDU into general-block-transfer blocks (E0), numbered from 1, the last one flagged.

    Block control 0x40 (streaming) or 0xC0 (streaming, last block), as the
    Landis+Gyr E450 sends them; each block goes in a frame of its own.
    """
    chunks = [apdu[i : i + block_size] for i in range(0, len(apdu), block_size)]
    return [
        bytes([0xE0, 0xC0 if number == len(chunks) else 0x40])
        + number.to_bytes(2, "big")
        + b"\x00\x00"
        + length(len(chunk))
        + chunk
        for number, chunk in enumerate(chunks, start=1)
    ]


def hdlc_frames(apdu: bytes, segment_size: int | None = None) -> bytes:
    """Frame the APDU behind LLC in one frame, or in segments of at most segment_size bytes."""
    information = LLC + apdu
    if segment_size is None or len(information) <= segment_size:
        return hdlc_frame(information)
    chunks = [information[i : i + segment_size] for i in range(0, len(information), segment_size)]
    return b"".join(hdlc_frame(chunk, segmented=index < len(chunks) - 1) for index, chunk in enumerate(chunks))


def p1_telegram(ident: str, lines: list[str], *, crc: bool = True, empty_line: bool = True) -> bytes:
    """Build a P1 telegram with its CRC, or without one as DSMR 2.2 and 3 meters send it (crc=False).

    Some meters leave out the empty line after the identification (empty_line=False).
    """
    body = f"/{ident}\r\n" + ("\r\n" if empty_line else "") + "".join(f"{line}\r\n" for line in lines) + "!"
    if not crc:
        return body.encode("ascii") + b"\r\n"
    return body.encode("ascii") + f"{crc16_arc(body.encode('ascii')):04X}\r\n".encode("ascii")


# --- Vendor lists --------------------------------------------------------------


@dataclass
class MeterState:
    """What a meter measures, in base units: the truth a list is built from."""

    three_phase: bool = True
    # Meters keep naive local time.
    moment: datetime = field(default_factory=lambda: datetime(2024, 1, 15, 13, 0, 10))  # noqa: DTZ001
    meter_id: str = "7359992890941742"
    meter_type: str = "6534"
    power_import: int = 1703  # W
    power_export: int = 0
    reactive_import: int = 0  # var
    reactive_export: int = 480
    currents: tuple[float, float, float] = (1.36, 5.66, 1.09)  # A
    voltages: tuple[float, float, float] = (235.0, 236.0, 234.0)  # V
    energy_import: int = 155232510  # Wh
    energy_export: int = 0
    reactive_energy_import: int = 3242890  # varh
    reactive_energy_export: int = 7243620
    phase_powers: tuple[int, int, int] = (500, 700, 503)  # W import per phase
    power_factors: tuple[float, float, float] = (0.77, 0.95, 0.98)
    power_factor: float = 0.99
    deviation: int | None = None
    """The UTC offset the clock states, as DLMS counts it (UTC minus local, minutes); None: not stated."""

    @property
    def phases(self) -> int:
        """Return how many phases the meter measures."""
        return _THREE_PHASE if self.three_phase else 1


def raw(value: float, exponent: int) -> int:
    """Return the integer a meter sends for value in units of 10^exponent."""
    return round(value / 10.0**exponent)


# Aidon: {OBIS, value, {scaler, unit}} structures.


def _aidon_register(code: str, value_bytes: bytes, scaler: int, unit: int) -> bytes:
    return structure(obis(code), value_bytes, scaler_unit(scaler, unit))


def _aidon_phases(state: MeterState, phases: int, *, voltages_first: bool = False) -> list[bytes]:
    currents = [
        _aidon_register(f"1-0:{31 + 20 * phase}.7.0.255", long(raw(state.currents[phase], -1)), -1, 33)
        for phase in range(phases)
    ]
    voltages = [
        _aidon_register(f"1-0:{32 + 20 * phase}.7.0.255", long_unsigned(raw(state.voltages[phase], -1)), -1, 35)
        for phase in range(phases)
    ]
    return voltages + currents if voltages_first else currents + voltages


def _aidon_totals(state: MeterState, scaler: int) -> list[bytes]:
    """Encode the four energy totals, in units of 10^scaler Wh (varh)."""
    return [
        _aidon_register(code, double_long_unsigned(raw(value, scaler)), scaler, unit)
        for code, value, unit in (
            ("1-0:1.8.0.255", state.energy_import, 30),
            ("1-0:2.8.0.255", state.energy_export, 30),
            ("1-0:3.8.0.255", state.reactive_energy_import, 32),
            ("1-0:4.8.0.255", state.reactive_energy_export, 32),
        )
    ]


def aidon_list(state: MeterState, kind: int) -> bytes:
    """Norwegian AIDON_V0001 list 1 (power), 2 (10 s) or 3 (hourly)."""
    power = _aidon_register("1-0:1.7.0.255", double_long_unsigned(state.power_import), 0, 27)
    # Aidon wraps its registers in an array, where the others use a structure.
    if kind == 1:
        return array(power)
    items = [
        structure(obis("1-1:0.2.129.255"), visible_string("AIDON_V0001")),
        structure(obis("0-0:96.1.0.255"), visible_string(state.meter_id)),
        structure(obis("0-0:96.1.7.255"), visible_string(state.meter_type)),
        power,
        _aidon_register("1-0:2.7.0.255", double_long_unsigned(state.power_export), 0, 27),
        _aidon_register("1-0:3.7.0.255", double_long_unsigned(state.reactive_import), 0, 29),
        _aidon_register("1-0:4.7.0.255", double_long_unsigned(state.reactive_export), 0, 29),
    ]
    items += _aidon_phases(state, state.phases)
    if kind == HOURLY:
        items.append(structure(obis("0-0:1.0.0.255"), octet_string(date_time_bytes(state.moment, 0))))
        # Norwegian Aidon counts energy in 10 Wh and says so with scaler 1.
        items += _aidon_totals(state, scaler=1)
    return array(*items)


def aidon_swedish_list(state: MeterState) -> bytes:
    """Build the Swedish Aidon 27-item list: clock, totals and per-phase values, energy in Wh."""
    items = [structure(obis("0-0:1.0.0.255"), octet_string(date_time_bytes(state.moment)))]
    items += [
        _aidon_register(code, double_long_unsigned(value), 0, unit)
        for code, value, unit in (
            ("1-0:1.7.0.255", state.power_import, 27),
            ("1-0:2.7.0.255", state.power_export, 27),
            ("1-0:3.7.0.255", state.reactive_import, 29),
            ("1-0:4.7.0.255", state.reactive_export, 29),
        )
    ]
    items += [
        _aidon_register(f"1-0:{c + 20 * phase}.7.0.255", double_long_unsigned(value), 0, unit)
        for phase in range(_THREE_PHASE)
        for c, value, unit in ((21, state.phase_powers[phase], 27), (22, 0, 27), (23, 0, 29), (24, 0, 29))
    ]
    items += _aidon_phases(state, _THREE_PHASE, voltages_first=True)
    items += _aidon_totals(state, scaler=0)
    return array(*items)


# Kaifa: bare values in fixed positions; mA, 0.1 V, Wh.


def kaifa_list(state: MeterState, kind: int) -> bytes:
    """Norwegian KFM_001 list 1 (power), 2 or 3 (hourly)."""
    if kind == 1:
        return structure(double_long_unsigned(state.power_import))
    items = [
        octet_string(b"KFM_001"),
        octet_string(state.meter_id.encode()),
        octet_string(state.meter_type.encode()),
        double_long_unsigned(state.power_import),
        double_long_unsigned(state.power_export),
        double_long_unsigned(state.reactive_import),
        double_long_unsigned(state.reactive_export),
    ]
    items += [double_long_unsigned(raw(state.currents[p], -3)) for p in range(state.phases)]
    items += [double_long_unsigned(raw(state.voltages[p], -1)) for p in range(state.phases)]
    if kind == HOURLY:
        items.append(octet_string(date_time_bytes(state.moment, state.deviation)))
        items += [
            double_long_unsigned(value)
            for value in (
                state.energy_import,
                state.energy_export,
                state.reactive_energy_import,
                state.reactive_energy_export,
            )
        ]
    return structure(*items)


def kaifa_swedish_list(state: MeterState) -> bytes:
    """Build the Swedish Kaifa list: OBIS/value pairs without scaler, same raw units."""
    pairs = [
        ("1-0:0.2.129.255", octet_string(b"KFM_001")),
        ("0-0:96.1.0.255", octet_string(state.meter_id.encode())),
        ("0-0:96.1.7.255", octet_string(state.meter_type.encode())),
        ("1-0:1.7.0.255", double_long_unsigned(state.power_import)),
        ("1-0:2.7.0.255", double_long_unsigned(state.power_export)),
        ("1-0:3.7.0.255", double_long_unsigned(state.reactive_import)),
        ("1-0:4.7.0.255", double_long_unsigned(state.reactive_export)),
    ]
    pairs += [(f"1-0:{31 + 20 * p}.7.0.255", double_long_unsigned(raw(state.currents[p], -3))) for p in range(3)]
    pairs += [(f"1-0:{32 + 20 * p}.7.0.255", double_long_unsigned(raw(state.voltages[p], -1))) for p in range(3)]
    pairs.append(("0-0:1.0.0.255", octet_string(date_time_bytes(state.moment, -60))))
    pairs += [
        ("1-0:1.8.0.255", double_long_unsigned(state.energy_import)),
        ("1-0:2.8.0.255", double_long_unsigned(state.energy_export)),
        ("1-0:3.8.0.255", double_long_unsigned(state.reactive_energy_import)),
        ("1-0:4.8.0.255", double_long_unsigned(state.reactive_energy_export)),
    ]
    return structure(*(item for code, value in pairs for item in (obis(code), value)))


# Kamstrup: OBIS/value pairs, no scaler; 0.01 A, V, and energy by market.


def kamstrup_list(state: MeterState, *, hourly: bool, energy_exponent: int = 1) -> bytes:
    """HAN-NVE list 1 (10 s) or list 2 (hourly); energy in 10^energy_exponent Wh."""
    pairs = [
        ("1-1:0.0.5.255", visible_string(state.meter_id)),
        ("1-1:96.1.1.255", visible_string(state.meter_type)),
        ("1-1:1.7.0.255", double_long_unsigned(state.power_import)),
        ("1-1:2.7.0.255", double_long_unsigned(state.power_export)),
        ("1-1:3.7.0.255", double_long_unsigned(state.reactive_import)),
        ("1-1:4.7.0.255", double_long_unsigned(state.reactive_export)),
    ]
    pairs += [
        (f"1-1:{31 + 20 * p}.7.0.255", double_long_unsigned(raw(state.currents[p], -2))) for p in range(state.phases)
    ]
    pairs += [(f"1-1:{32 + 20 * p}.7.0.255", long_unsigned(raw(state.voltages[p], 0))) for p in range(state.phases)]
    if hourly:
        pairs.append(("0-1:1.0.0.255", octet_string(date_time_bytes(state.moment, state.deviation))))
        pairs += [
            (f"1-1:{c}.8.0.255", double_long_unsigned(raw(value, energy_exponent)))
            for c, value in (
                (1, state.energy_import),
                (2, state.energy_export),
                (3, state.reactive_energy_import),
                (4, state.reactive_energy_export),
            )
        ]
    items = [visible_string("Kamstrup_V0001")] + [item for code, value in pairs for item in (obis(code), value)]
    if not state.three_phase:
        # 1-phase meters keep the 3-phase list length with null placeholders.
        items += [null()] * 8
    return structure(*items)


def kamstrup_push1_list(state: MeterState) -> bytes:
    """Build the "DLMS push 1" list of Kamstrup's HAN specification (Danish meters)."""
    pairs = [
        ("1-1:1.8.0.255", double_long_unsigned(raw(state.energy_import, 1))),
        ("1-1:2.8.0.255", double_long_unsigned(raw(state.energy_export, 1))),
        ("1-1:3.8.0.255", double_long_unsigned(raw(state.reactive_energy_import, 1))),
        ("1-1:4.8.0.255", double_long_unsigned(raw(state.reactive_energy_export, 1))),
        ("1-1:0.0.1.255", double_long_unsigned(int(state.meter_id[-8:]))),
        ("1-1:1.7.0.255", double_long_unsigned(state.power_import)),
        ("1-1:2.7.0.255", double_long_unsigned(state.power_export)),
        ("1-1:3.7.0.255", double_long_unsigned(state.reactive_import)),
        ("1-1:4.7.0.255", double_long_unsigned(state.reactive_export)),
        ("0-1:1.0.0.255", octet_string(date_time_bytes(state.moment))),
    ]
    pairs += [(f"1-1:{32 + 20 * p}.7.0.255", long_unsigned(raw(state.voltages[p], 0))) for p in range(3)]
    pairs += [(f"1-1:{31 + 20 * p}.7.0.255", double_long_unsigned(raw(state.currents[p], -2))) for p in range(3)]
    pairs += [(f"1-1:{21 + 20 * p}.7.0.255", double_long_unsigned(state.phase_powers[p])) for p in range(3)]
    pairs += [(f"1-1:{33 + 20 * p}.7.0.255", long_unsigned(raw(state.power_factors[p], -2))) for p in range(3)]
    pairs.append(("1-1:13.7.0.255", long_unsigned(raw(state.power_factor, -2))))
    pairs += [(f"1-1:{22 + 20 * p}.7.0.255", double_long_unsigned(0)) for p in range(3)]
    pairs += [(f"1-1:{22 + 20 * p}.8.0.255", double_long_unsigned(0)) for p in range(3)]
    pairs += [(f"1-1:{21 + 20 * p}.8.0.255", double_long_unsigned(raw(state.energy_import / 3, 1))) for p in range(3)]
    items = [visible_string("Kamstrup_V0001")] + [item for code, value in pairs for item in (obis(code), value)]
    return structure(*items)


# Beyond the Nordics: the lists of #11's meters, shaped as the captures show them.


def evn_list(state: MeterState) -> bytes:
    """Build the Austrian EVN list (Sagemcom T210-D, Kaifa MA309): clock, flat registers with scalers, meter number.

    A leading clock without a code, OBIS, value, {scaler, unit} triples
    (energy in Wh, voltage in 0.1 V, current in 0.01 A, power factor in
    0.001), and the meter number last, without a code.
    """
    triples = [
        ("1-0:1.8.0.255", double_long_unsigned(state.energy_import), 0, 30),
        ("1-0:2.8.0.255", double_long_unsigned(state.energy_export), 0, 30),
        ("1-0:1.7.0.255", double_long_unsigned(state.power_import), 0, 27),
        ("1-0:2.7.0.255", double_long_unsigned(state.power_export), 0, 27),
    ]
    triples += [
        (f"1-0:{32 + 20 * p}.7.0.255", long_unsigned(raw(state.voltages[p], -1)), -1, 35) for p in range(_THREE_PHASE)
    ]
    triples += [
        (f"1-0:{31 + 20 * p}.7.0.255", long_unsigned(raw(state.currents[p], -2)), -2, 33) for p in range(_THREE_PHASE)
    ]
    triples.append(("1-0:13.7.0.255", long_unsigned(raw(state.power_factor, -3)), -3, 255))
    # EVN's meters always state their offset: a state that names none is a winter's (UTC+1).
    items = [octet_string(date_time_bytes(state.moment, -60 if state.deviation is None else state.deviation))]
    items += [item for code, value, scaler, unit in triples for item in (obis(code), value, scaler_unit(scaler, unit))]
    items.append(octet_string(state.meter_id.encode()))
    return structure(*items)


def scaler_unit(scaler: int, unit: int) -> bytes:
    """Encode the {scaler, unit} structure self-describing lists attach to a value."""
    return structure(integer(scaler), enum(unit))


def iskraemeco_list(state: MeterState, logical_name: str = "ISK1030792283067") -> bytes:
    """Build the Iskraemeco AM550 compact list: 18 bare values (see decoder.lists.ISKRAEMECO_AM550)."""
    items = [octet_string(logical_name.encode()), octet_string(state.meter_id.encode())]
    items += [
        double_long_unsigned(value)
        for value in (state.power_import, state.power_export, state.reactive_import, state.reactive_export)
    ]
    items += [long_unsigned(raw(state.voltages[p], -1)) for p in range(_THREE_PHASE)]
    items += [long_unsigned(raw(state.currents[p], -2)) for p in range(_THREE_PHASE)]
    # Per phase, import and export: the phases carry the flow the total shows.
    exporting = state.power_export > state.power_import
    flows = [double_long_unsigned(state.phase_powers[p]) for p in range(_THREE_PHASE)]
    idle = [double_long_unsigned(0)] * _THREE_PHASE
    items += idle + flows if exporting else flows + idle
    return structure(*items)


def tariffs(total: int) -> tuple[int, int]:
    """Split a register between its two tariffs, as a meter that has run in both counts it: a quarter in tariff 1."""
    first = (total + 3) // 4
    return first, total - first


def _with_tariffs(total: int) -> list[bytes]:
    return [double_long_unsigned(value) for value in (total, *tariffs(total))]


def iskraemeco_quarter_hour_list(state: MeterState, logical_name: str = "ISK1030792283067") -> bytes:
    """Build the Slovenian AM550's 15-minute energy list (see decoder.lists.ISKRAEMECO_AM550_QUARTER_HOUR)."""
    items = [octet_string(logical_name.encode()), octet_string(b"16820006"), enum(1), octet_string(b"0001")]
    items += _with_tariffs(state.energy_import) + _with_tariffs(state.energy_export)
    items += [double_long_unsigned(state.reactive_energy_import), double_long_unsigned(state.reactive_energy_export)]
    return structure(*items)


def hep_list(state: MeterState, *, reactive: bool = True) -> bytes:
    """Build the Croatian Iskraemeco IE.5's push of 33 values, or 28 without reactive energy and power factor.

    See decoder.lists.ISKRAEMECO_IE5_CROATIA. Its reactive energy: the home's inductive load in quadrant I, what
    it sends back in IV, nothing in II and III.
    """
    moment = state.moment
    items = [
        octet_string(state.meter_id[-8:].encode()),
        octet_string(bytes((moment.hour, moment.minute, moment.second, 0))),
        octet_string(date_time_bytes(moment)[:5]),
    ]
    items += _with_tariffs(state.energy_import) + _with_tariffs(state.energy_export)
    quadrants = (state.reactive_energy_import, 0, 0, state.reactive_energy_export)
    items += [double_long_unsigned(value) for value in quadrants] if reactive else []
    items += [double_long_unsigned(state.power_import), double_long_unsigned(state.power_export)]
    items += [long_unsigned(raw(state.power_factor, -3))] if reactive else []
    exporting = state.power_export > state.power_import
    flows = [double_long_unsigned(state.phase_powers[p]) for p in range(_THREE_PHASE)]
    idle = [double_long_unsigned(0)] * _THREE_PHASE
    items += idle + flows if exporting else flows + idle
    items += [long_unsigned(raw(state.voltages[p], -1)) for p in range(_THREE_PHASE)]
    items += [long_unsigned(raw(state.currents[p], -2)) for p in range(_THREE_PHASE)]
    # What no published source names: as the capture sends them.
    items += [double_long_unsigned(17_250), *[array(long_unsigned(9_400))] * _THREE_PHASE, boolean(value=True)]
    return structure(*items)


# Lists of bare values no table knows (decoder.learned): each field an AM550
# list can hold, by name, in whatever order and subset a grid company pushes.
_PHASE_NAMES = ("l1", "l2", "l3")
AM550_FIELDS = (
    "logical_name",
    "meter_id",
    "power_import",
    "power_export",
    "reactive_import",
    "reactive_export",
    *(f"voltage_{phase}" for phase in _PHASE_NAMES),
    *(f"current_{phase}" for phase in _PHASE_NAMES),
    *(f"power_import_{phase}" for phase in _PHASE_NAMES),
    *(f"power_export_{phase}" for phase in _PHASE_NAMES),
)
"""The Iskraemeco AM550 compact list's fields, in its order (see iskraemeco_list)."""
ENERGY_FIELDS = ("clock", "energy_import", "energy_export", "energy_import_t1", "energy_import_t2")
"""Fields a 15-minute list adds: its own clock, the registers and the import's two tariffs."""


def _positional_values(state: MeterState, logical_name: str, other_tariff: int) -> dict[str, bytes]:
    """Encode each field as an AM550 sends it: powers and energies u32 in W and Wh, 0.1 V, 0.01 A.

    Tariff 1 runs: tariff 2 holds other_tariff Wh, tariff 1 the rest of the import register.
    """
    values = {
        "logical_name": octet_string(logical_name.encode()),
        "meter_id": octet_string(state.meter_id.encode()),
        "clock": octet_string(date_time_bytes(state.moment)),
        "power_import": double_long_unsigned(state.power_import),
        "power_export": double_long_unsigned(state.power_export),
        "reactive_import": double_long_unsigned(state.reactive_import),
        "reactive_export": double_long_unsigned(state.reactive_export),
        "energy_import": double_long_unsigned(state.energy_import),
        "energy_export": double_long_unsigned(state.energy_export),
        "energy_import_t1": double_long_unsigned(state.energy_import - other_tariff),
        "energy_import_t2": double_long_unsigned(other_tariff),
    }
    # The phases carry the flow the totals show, as in iskraemeco_list.
    flowing, idle = ("export", "import") if state.power_export > state.power_import else ("import", "export")
    for p, phase in enumerate(_PHASE_NAMES[: state.phases]):
        values[f"voltage_{phase}"] = long_unsigned(raw(state.voltages[p], -1))
        values[f"current_{phase}"] = long_unsigned(raw(state.currents[p], -2))
        values[f"power_{flowing}_{phase}"] = double_long_unsigned(state.phase_powers[p])
        values[f"power_{idle}_{phase}"] = double_long_unsigned(0)
    return values


def positional_list(
    state: MeterState,
    fields: tuple[str, ...],
    logical_name: str = "ISK1030792283067",
    other_tariff: int = 40_000_000,
) -> bytes:
    """Build a list of bare values without OBIS codes, of these fields in this order: one no table in lists knows."""
    values = _positional_values(state, logical_name, other_tariff)
    return structure(*(values[name] for name in fields))


_PUSH_SETUP = "0-0:25.9.0.255"
_PUSH_SETUP_CLASS = 40


def landis_gyr_push(state: MeterState) -> bytes:
    """Build the Swiss Landis+Gyr E450 push: its own object list first, then each value, without scalers.

    Energy in Wh (tariffs 1 and 2 at channel 1), current in 0.01 A, as the
    capture of Regionalwerke Baden shows.
    """
    registers: list[tuple[int, str, bytes]] = [
        (1, "0-0:96.1.0.255", octet_string(state.meter_id.encode())),
        (3, "1-0:1.7.0.255", double_long_unsigned(state.power_import)),
        (3, "1-0:2.7.0.255", double_long_unsigned(state.power_export)),
        (3, "1-1:1.8.0.255", double_long_unsigned(state.energy_import)),
        (3, "1-1:2.8.0.255", double_long_unsigned(state.energy_export)),
        # Reactive energy by quadrant: the home's inductive load in I, the rest nearly nothing.
        (3, "1-1:5.8.0.255", double_long_unsigned(state.reactive_energy_import)),
        (3, "1-1:6.8.0.255", double_long_unsigned(0)),
        (3, "1-1:7.8.0.255", double_long_unsigned(0)),
        (3, "1-1:8.8.0.255", double_long_unsigned(state.reactive_energy_export)),
    ]
    registers += [
        (3, f"1-0:{31 + 20 * p}.7.0.255", long_unsigned(raw(state.currents[p], -2))) for p in range(_THREE_PHASE)
    ]
    return object_list_push(registers)


def object_list_push(registers: list[tuple[int, str, bytes]]) -> bytes:
    """Build a push that opens with its own object list: each register's {class id, OBIS, 2, 0}, then the values."""
    descriptors = [
        structure(long_unsigned(_PUSH_SETUP_CLASS), obis(_PUSH_SETUP), integer(2), long_unsigned(0)),
        structure(long_unsigned(_PUSH_SETUP_CLASS), obis(_PUSH_SETUP), integer(1), long_unsigned(0)),
    ]
    descriptors += [
        structure(long_unsigned(class_id), obis(code), integer(2), long_unsigned(0)) for class_id, code, _ in registers
    ]
    return structure(array(*descriptors), obis(_PUSH_SETUP), *(value for _, _, value in registers))


def burgenland_list(state: MeterState, unknown: tuple[int, int, int] = (400, 53, 295)) -> bytes:
    """Build the Burgenland Landis+Gyr E450 list: 14 bare values (see decoder.lists.LANDIS_GYR_E450_BURGENLAND)."""
    items = [long_unsigned(raw(state.voltages[p], 0)) for p in range(_THREE_PHASE)]
    items += [long_unsigned(raw(state.currents[p], -2)) for p in range(_THREE_PHASE)]
    items += [double_long_unsigned(value) for value in (state.power_import, state.power_export)]
    items += [double_long_unsigned(value) for value in (state.energy_import, state.energy_export)]
    items += [long_unsigned(value) for value in unknown]
    items.append(octet_string(state.meter_id.encode()))
    return structure(*items)


# ČEZ Distribuce (Czechia): {descriptor, value} pairs, the descriptor bare (see decoder.descriptors).

_DATA_CLASS = 1
_REGISTER_CLASS = 3
_DISCONNECT_CONTROL_CLASS = 70
_LIMITER_CLASS = 71
_VALUE = 2
_CONTROL_STATE = 3  # a disconnector's control state; a limiter's active threshold
_RELAYS = range(1, 5)  # the XT211's relays R1 to R4, channels 1 to 4 of the disconnector's code


def descriptor(class_id: int, code: str, attribute: int) -> bytes:
    """Encode a COSEM attribute descriptor bare, as descriptor lists send it: class id, OBIS code, attribute."""
    return struct.pack(">H", class_id) + ObisCode.parse(code).to_bytes() + bytes([attribute])


def described(class_id: int, code: str, attribute: int, value: bytes) -> bytes:
    """Encode one value of a descriptor list: a structure of two, the bare descriptor and the tagged value."""
    return b"\x02\x02" + descriptor(class_id, code, attribute) + value


def descriptor_list(*values: bytes, lead: bytes | None = b"\x16\x01") -> bytes:
    """Encode a descriptor list's body: the array of described values, after an enum 1 as the XT211 sends it."""
    return array(*values) if lead is None else structure(lead, array(*values))


def cez_list(state: MeterState, tariff: int = 2) -> bytes:
    """Build the push of ČEZ Distribuce's Sagemcom XT211: W and Wh without scaler, in the capture's order.

    The meter number, the disconnector and its four relays, the limiter's
    threshold, the tariff; then import and export power, total and per
    phase; then the import register, its four tariffs' (T1 a quarter of it,
    T2 the rest), and the export register.
    """
    exporting = state.power_export > state.power_import
    flows = list(state.phase_powers)
    idle = [0] * _THREE_PHASE
    energy_t1 = state.energy_import // 4
    registers = [
        ("1-0:1.7.0.255", state.power_import),
        *((f"1-0:{21 + 20 * p}.7.0.255", (idle if exporting else flows)[p]) for p in range(_THREE_PHASE)),
        ("1-0:2.7.0.255", state.power_export),
        *((f"1-0:{22 + 20 * p}.7.0.255", (flows if exporting else idle)[p]) for p in range(_THREE_PHASE)),
        ("1-0:1.8.0.255", state.energy_import),
        ("1-0:1.8.1.255", energy_t1),
        ("1-0:1.8.2.255", state.energy_import - energy_t1),
        ("1-0:1.8.3.255", 0),
        ("1-0:1.8.4.255", 0),
        ("1-0:2.8.0.255", state.energy_export),
    ]
    return descriptor_list(
        described(_DATA_CLASS, "0-0:96.1.1.255", _VALUE, octet_string(state.meter_id.encode())),
        described(_DISCONNECT_CONTROL_CLASS, "0-0:96.3.10.255", _CONTROL_STATE, enum(1)),
        described(_LIMITER_CLASS, "0-0:17.0.0.255", _CONTROL_STATE, double_long_unsigned(0)),
        *(
            described(_DISCONNECT_CONTROL_CLASS, f"0-{relay}:96.3.10.255", _CONTROL_STATE, enum(relay == 1))
            for relay in _RELAYS
        ),
        described(_DATA_CLASS, "0-0:96.14.0.255", _VALUE, octet_string(f"T{tariff}".encode())),
        *(described(_REGISTER_CLASS, code, _VALUE, double_long_unsigned(value)) for code, value in registers),
    )
