"""Checksums used by the meters: CRC-16/X.25 (HDLC) and CRC-16/ARC (P1)."""

from __future__ import annotations

from binascii import crc_hqx

# crc_hqx is CRC-16/XMODEM in C: the same polynomial as X.25 but not
# reflected. X.25 over some bytes equals the bit-reversed XMODEM CRC over the
# bit-reversed bytes, so one C call plus two table lookups replaces a Python
# loop over every byte of a frame.
_REVERSED_BYTE = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def _reverse16(value: int) -> int:
    return (_REVERSED_BYTE[value & 0xFF] << 8) | _REVERSED_BYTE[value >> 8]


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 (IBM SDLC): HDLC's HCS and FCS, sent little-endian."""
    return _reverse16(crc_hqx(bytes(data).translate(_REVERSED_BYTE), 0xFFFF)) ^ 0xFFFF


def _arc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_ARC_TABLE = _arc_table()


def crc16_arc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC (reflected 0x8005, init 0): the P1 telegram checksum."""
    crc = 0
    table = _ARC_TABLE
    for byte in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
