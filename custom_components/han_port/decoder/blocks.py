"""General-block-transfer (E0): a longer APDU pushed in numbered blocks, joined back here."""

from __future__ import annotations

from dataclasses import dataclass

from .axdr import decode_length
from .dlms import GENERAL_BLOCK_TRANSFER
from .model import DecodeError
from .partial import MAX_MESSAGE_BYTES, MAX_MESSAGES_BETWEEN_PARTS, MAX_PARTS

_LAST_BLOCK = 0x80
BLOCK_HEADER_LENGTH = 6
"""A block's header before its data's length: tag, block control, block number (2), block number acknowledged (2)."""
_NUMBER = slice(2, 4)
_ACKNOWLEDGED = slice(4, 6)
_NONE = b"\x00\x00"


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a general-block-transfer (E0): a numbered share of a longer APDU."""

    number: int
    last: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class JoinedApdu:
    """An APDU joined from its blocks, and the frames (or messages) that carried them, as they came."""

    apdu: bytes
    raw: bytes


def parse_block(apdu: bytes) -> Block:
    """Read a general-block-transfer APDU; its data must take every byte after the header."""
    if len(apdu) < BLOCK_HEADER_LENGTH + 1:
        msg = "general-block-transfer ends inside its header"
        raise DecodeError(msg)
    length, pos = decode_length(apdu, BLOCK_HEADER_LENGTH)
    if pos + length != len(apdu):
        msg = f"general-block-transfer says {length} bytes of data, and carries {len(apdu) - pos}"
        raise DecodeError(msg)
    return Block(int.from_bytes(apdu[_NUMBER], "big"), bool(apdu[1] & _LAST_BLOCK), apdu[pos:])


def is_block_before_last(apdu: bytes) -> bool:
    """Whether an APDU is a general-block-transfer block that more blocks follow: a share of a message, not one."""
    return apdu[:1] == bytes([GENERAL_BLOCK_TRANSFER]) and len(apdu) > 1 and not apdu[1] & _LAST_BLOCK


def is_pushed_block(header: bytes) -> bool:
    """Whether a block header is one a meter pushes: numbered from 1, acknowledging nothing (nobody answers)."""
    return header[_NUMBER] != _NONE and header[_ACKNOWLEDGED] == _NONE


# Between the frames of one push's blocks: at most a closing and an opening flag of their own.
_FLAGS_BETWEEN = 2


class BlockAssembler:
    """Joins the blocks of general-block-transfer pushes back into their APDU.

    Blocks must come in order from block 1, one right after another: a gap,
    a repeat, a new block 1, or more blocks, bytes or other messages between
    two blocks than a push ever has (see partial) let go of the blocks being
    joined, and the block that finds it out is dropped with the reason (a lost
    block cannot be asked for again: the meter pushes, nobody acknowledges).
    A block that continues nothing is dropped at once: nothing of it is kept.
    """

    def __init__(self) -> None:
        """Start with no APDU being joined."""
        self._data: list[bytes] = []
        self._raws: list[bytes] = []
        self._size = 0  # bytes kept, as they came
        self._passed = 0  # other messages since the last block
        # Why the blocks were let go while no block came, said with the next block.
        self._let_go: str | None = None
        # Where the frame of the last block kept ended in the stream (None: not known, as in messages).
        self._next: int | None = None

    def unfinished(self) -> str | None:
        """Say what an APDU being joined still waits for, or why its blocks were let go; None when none is."""
        if self._let_go is not None:
            return self._let_go
        if not self._data:
            return None
        return f"a general-block-transfer: {len(self._data)} block(s) came, its last never did"

    def other_message(self, position: int | None = None, size: int = 0) -> None:
        """Count a message that is no block (where its frame began, and its size); after too many, let go."""
        if not self._data:
            return
        if position is not None and self._next is not None:
            self._next = position + size  # its bytes were a frame's, not damage
        self._passed += 1
        if self._passed > MAX_MESSAGES_BETWEEN_PARTS:
            had = len(self._data)
            self._reset()
            self._let_go = (
                f"a general-block-transfer: {had} block(s) came, then {MAX_MESSAGES_BETWEEN_PARTS + 1} other"
                " messages and not its next block: let go"
            )

    def damaged_frame(self) -> None:
        """Let go of the blocks being joined: a frame that failed its check may have carried the next one.

        Were they kept, a later push's next block would complete this push's
        first: an APDU made of two pushes, which no meter sent.
        """
        if not self._data:
            return
        had = len(self._data)
        self._reset()
        self._let_go = f"a general-block-transfer: {had} block(s) came, then a frame damaged on the line: let go"

    def add(self, block: Block, raw: bytes, position: int | None = None) -> JoinedApdu | None:
        """Take a block and what carried it; return the whole APDU with its last block, None while more are due.

        position is where its frame began in a byte stream. Raises DecodeError,
        with the reason, for a block that does not follow the one before it,
        and for one that lets go of the blocks before it.
        """
        if self._data and position is not None and self._next is not None and position - self._next > _FLAGS_BETWEEN:
            # Bytes no frame held came between: damage, and the block they hid may have been the next.
            self.damaged_frame()
        if block.number == 1 and block.last:
            # A whole APDU in one block: for a transfer waiting, one more message between its blocks.
            self.other_message(position, len(raw))
            return JoinedApdu(block.data, raw)
        let_go, self._let_go = self._let_go, None
        expected = len(self._data) + 1
        if block.number != expected:
            had = len(self._data)
            self._reset()
            if block.number != 1:
                what = "a repeat" if block.number < expected else f"block {expected} was lost"
                msg = let_go or f"general-block-transfer block {block.number} after {had} block(s): {what}"
                raise DecodeError(msg)
            if had:
                # The new block 1 is kept: only the transfer it cut is dropped.
                self._keep(block, raw, position)
                msg = f"general-block-transfer cut: {had} block(s) came, then a new block 1"
                raise DecodeError(msg)
        self._keep(block, raw, position)
        if len(self._data) > MAX_PARTS or self._size > MAX_MESSAGE_BYTES:
            had = len(self._data)
            self._reset()
            msg = f"general-block-transfer never ended: {had} blocks and no last one"
            raise DecodeError(msg)
        if not block.last:
            return None
        joined = JoinedApdu(b"".join(self._data), b"".join(self._raws))
        self._reset()
        return joined

    def end(self) -> None:
        """Let go of the blocks being joined, and of why: the input they came in ended (a connection lost)."""
        self._reset()
        self._let_go = None

    def _keep(self, block: Block, raw: bytes, position: int | None = None) -> None:
        self._next = None if position is None else position + len(raw)
        self._data.append(block.data)
        self._raws.append(raw)
        self._size += len(raw)  # what carried the block: its data and framing
        self._passed = 0

    def _reset(self) -> None:
        self._data, self._raws, self._size, self._passed, self._next = [], [], 0, 0, None
