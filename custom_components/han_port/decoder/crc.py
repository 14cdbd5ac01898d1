"""Checksums used by the meters: CRC-16/X.25 (HDLC) and CRC-16/ARC (P1)."""

from __future__ import annotations

from binascii import crc_hqx

# crc_hqx is CRC-16/XMODEM in C: the same polynomial as X.25 but not
# reflected. X.25 over some bytes equals the bit-reversed XMODEM CRC over the
# bit-reversed bytes, so one C call plus two table lookups replaces a Python
# loop over every byte of a frame.
_REVERSED_BYTE = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def crc16_x25(data: bytes | bytearray) -> int:
    """CRC-16/X.25 (IBM SDLC): HDLC's HCS and FCS, sent little-endian."""
    crc = crc_hqx(data.translate(_REVERSED_BYTE), 0xFFFF)
    return ((_REVERSED_BYTE[crc & 0xFF] << 8) | _REVERSED_BYTE[crc >> 8]) ^ 0xFFFF


def _arc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_ARC_TABLE = _arc_table()


def crc16_arc(data: bytes | bytearray) -> int:
    """CRC-16/ARC (reflected 0x8005, init 0): the P1 telegram checksum."""
    # A byte at a time: a telegram of 1 KiB costs well under a millisecond,
    # nothing beside what Home Assistant spends on the values it carries.
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _ARC_TABLE[(crc ^ byte) & 0xFF]
    return crc


# No two entries share their high byte, which a step's result keeps: it tells the entry the step took, and so undoes it.
_ARC_ENTRY_OF_HIGH_BYTE = tuple(
    index for _, index in sorted((entry >> 8, index) for index, entry in enumerate(_ARC_TABLE))
)


def crc16_arc_starts(data: bytes | bytearray, crc: int) -> list[int]:
    """Every offset from which the rest of data has this CRC-16/ARC, last first: one pass, whatever their number.

    Each byte's step is undone from the CRC at the end: where the register
    comes back to 0, the CRC's starting value, the rest of data has it.
    """
    starts = []
    for at in range(len(data) - 1, -1, -1):
        entry = _ARC_ENTRY_OF_HIGH_BYTE[crc >> 8]
        crc = ((crc ^ _ARC_TABLE[entry]) & 0xFF) << 8 | (entry ^ data[at])
        if not crc:
            starts.append(at)
    return starts
