"""Checksums used by the meters: CRC-16/X.25 (HDLC) and CRC-16/ARC (P1)."""

from __future__ import annotations

import sys
from array import array
from binascii import crc_hqx
from functools import cache

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


@cache
def _arc_table16() -> tuple[int, ...]:
    """Tabulate the CRC after two bytes, by the 16-bit word they make with the CRC before.

    Built on first use (a P1 meter's first telegram), it halves the Python
    loop that no C routine in the standard library does for this polynomial.
    """
    table = _ARC_TABLE
    return tuple((table[word & 0xFF] >> 8) ^ table[((word >> 8) ^ table[word & 0xFF]) & 0xFF] for word in range(65536))


def crc16_arc(data: bytes | bytearray) -> int:
    """CRC-16/ARC (reflected 0x8005, init 0): the P1 telegram checksum."""
    crc = 0
    table16 = _arc_table16()
    even = len(data) & ~1
    words = array("H", data[:even])
    if sys.byteorder == "big":
        words.byteswap()
    for word in words:
        crc = table16[crc ^ word]
    if even != len(data):
        crc = (crc >> 8) ^ _ARC_TABLE[(crc ^ data[-1]) & 0xFF]
    return crc
