"""Command line: decode a capture into JSON Lines.

python -m custom_components.han_port.decoder [--hex | --messages] [--key HEX] [--auth-key HEX] [FILE]

With --messages, each line is one MQTT message: hex, as `mosquitto_sub -F %x`
prints it, or text of one line (its line end is no part of it). A P1
telegram's text is many lines, each of which would be a message of its own:
give it as hex, or without --messages.

mosquitto_sub -t han/raw -F %x | python -m custom_components.han_port.decoder --messages
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from .decoder import Decoder
from .model import DroppedFrame, Telegram
from .payload import parse_key, read_capture

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .content import Event

_CHUNK = 64 * 1024


def telegram_json(telegram: Telegram) -> dict[str, Any]:
    """Build the JSON object printed for one telegram."""
    return {
        "format": telegram.format,
        "manufacturer": telegram.manufacturer,
        "list_version": telegram.list_version,
        "meter_id": telegram.meter_id,
        "meter_type": telegram.meter_type,
        "timestamp": telegram.timestamp.isoformat() if telegram.timestamp else None,
        # False: a P1 telegram its meter sent without a CRC; only its values' bounds checked it.
        "checksummed": telegram.checksummed,
        "values": {
            str(obis): {"value": reading.value, "unit": None if reading.unit is None else str(reading.unit)}
            for obis, reading in telegram.readings.items()
        },
        # What the meter sent that its sensors show no value for (see Telegram.left_out): named, never shown.
        "left_out": [str(obis) for obis in telegram.left_out],
        # Why its powers, currents and voltages were not shown: they contradict each other.
        "contradiction": telegram.contradiction,
    }


def _key(text: str) -> bytes:
    try:
        return parse_key(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.han_port.decoder",
        description="Decode HAN port telegrams (HDLC/DLMS or P1) into JSON Lines.",
    )
    parser.add_argument("file", nargs="?", help="capture to read (default: standard input)")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--hex", action="store_true", help="input is hex text; whitespace, newlines, 0x and ':' are ignored"
    )
    shape.add_argument(
        "--messages",
        action="store_true",
        help=(
            "each line is one message of an MQTT topic: hex (as mosquitto_sub -F %%x prints them) or one line of"
            " text; a P1 telegram's text is many lines: give it as hex, or without --messages"
        ),
    )
    parser.add_argument("--key", type=_key, help="encryption key (GUEK/GPK60), 32 hex digits")
    parser.add_argument("--auth-key", type=_key, help="authentication key (GAK/GPK61), 32 hex digits")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        # open(), not pathlib: the command starts a few milliseconds sooner.
        source = sys.stdin.buffer if args.file is None else open(args.file, "rb")  # noqa: PTH123, SIM115 - closed by the with below
    except OSError as err:
        parser.error(f"cannot read {args.file}: {err.strerror}")
    decoder = Decoder(args.key, args.auth_key)
    with source:
        read = 0
        if args.messages:
            for line in source:
                read += len(line)
                _print(decoder.feed_message(line.rstrip(b"\r\n")))
            _print(decoder.finish())
            _say_if_empty(read)
            sys.stdout.flush()
            return 0
        chunks: Iterable[bytes]
        if args.hex:
            try:
                chunks = [read_capture(source.read(), as_hex=True)]
            except ValueError:
                parser.error("the input is not hex text")
        else:
            chunks = iter(lambda: source.read(_CHUNK), b"")
        for chunk in chunks:
            read += len(chunk)
            _print(decoder.feed_events(chunk))
        # A capture cut inside a frame, or holding no frame at all, says so.
        _print(decoder.finish())
        _say_if_empty(read)
    sys.stdout.flush()
    return 0


def _say_if_empty(read: int) -> None:
    """Say that an input held nothing: the decoder reports what it was fed, and an empty file feeds it nothing."""
    if not read:
        print("the input is empty: nothing to decode", file=sys.stderr)


def _print(events: Iterable[Event]) -> None:
    """Print telegrams as JSON Lines on standard output, and drops on standard error."""
    for event in events:
        if isinstance(event, DroppedFrame):
            print(f"dropped ({event.reason}): {event.detail}", file=sys.stderr)
        else:
            print(json.dumps(telegram_json(event)), flush=False)


if __name__ == "__main__":
    sys.exit(main())
