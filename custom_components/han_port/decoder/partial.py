"""How much of a message, and for how long, the decoder keeps while it waits for the rest.

A meter's push is a few kB, sent whole or in a few segments or blocks that
follow one another. Whatever holds the first parts of a message until its
rest comes (HDLC segments, M-Bus segments, general-block-transfer blocks) is
bounded by these in parts, bytes and age, so that a line which only ever
begins messages, or only ever continues them, costs no memory: what is let go
is dropped with its reason. A part that continues nothing is dropped at once.
"""

from __future__ import annotations

MAX_PARTS = 64
"""Segments or blocks of one message: meters send two to ten."""
MAX_MESSAGE_BYTES = 16 * 1024
"""Bytes of one message's parts: a push list is under 4 kB."""
MAX_MESSAGES_BETWEEN_PARTS = 4
"""Other messages that may come between two parts of one message: after more, its parts are let go.

A meter sends a message's parts one right after another; HDLC and M-Bus
segments are let go by the first frame that does not continue them.
"""
