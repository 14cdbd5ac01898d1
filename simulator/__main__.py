"""Run a simulated meter on a TCP port, a pseudo-terminal and/or an MQTT topic.

python -m simulator --vendor kamstrup --speed 60
python -m simulator --replay capture.txt --hex
python -m simulator --mqtt 127.0.0.1:1883 --topic han/raw --payload hex
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from custom_components.han_port.decoder import Decoder, DroppedFrame, parse_key, read_capture

from .meter import AUTHENTICATED, CIPHERED, HOURLY_LISTS, VENDORS, Push, SimulatedMeter
from .mqtt import PAYLOAD_SHAPES
from .outlets import Outlets

if TYPE_CHECKING:
    from collections.abc import Sequence

# How often the sender wakes up to push what is due, in real seconds.
_TICK = 0.05
# Without timestamps, a replayed capture goes at the 2 s pace of short lists.
_REPLAY_GAP = 2.0


def _report(push: Push) -> None:
    """Tell, on standard output, what was sent: the truth a test compares with."""
    record = {
        "time": push.moment.isoformat(),
        "list": push.list_name,
        "power_import": push.power_import,
        "energy_import": push.energy_import,
    }
    print(json.dumps(record), flush=True)  # noqa: T201


async def simulate(
    meter: SimulatedMeter, outlets: Outlets, speed: float, seconds: float | None, *, start_at_client: int = 0
) -> None:
    """Push the meter's telegrams in real time, sped up by speed, until seconds (real) pass.

    With start_at_client, the meter's clock starts when that many TCP clients
    have connected, so a reader that connects late still sees every list.
    """
    if start_at_client:
        await outlets.wait_for_connections(start_at_client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while seconds is None or loop.time() - started < seconds:
        simulated = meter.start + timedelta(seconds=(loop.time() - started) * speed)
        for push in meter.advance(simulated):
            outlets.send(push.frame, push.apdu)
            _report(push)
        await asyncio.sleep(_TICK)


async def replay(capture: bytes, outlets: Outlets, speed: float) -> None:
    """Send a capture's frames again, spaced as the meter spaced them."""
    previous: datetime | None = None
    for event in Decoder().feed_events(capture):
        if isinstance(event, DroppedFrame):
            outlets.send(event.raw)  # damaged frames go out too: that is the capture
            continue
        gap = _REPLAY_GAP
        if event.timestamp is not None and previous is not None:
            gap = max(0.0, (event.timestamp - previous).total_seconds()) or _REPLAY_GAP
        previous = event.timestamp or previous
        await asyncio.sleep(gap / speed)
        outlets.send(event.raw)


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        msg = f"{text!r} is not HOST:PORT"
        raise argparse.ArgumentTypeError(msg)
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Simulate a HAN port meter on a TCP port and/or a pseudo-terminal.",
    )
    parser.add_argument("--vendor", choices=VENDORS, default="kamstrup", help="which meter to simulate")
    parser.add_argument("--phases", type=int, choices=(1, 3), default=3)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (60: an hour a minute)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one, printed)")
    parser.add_argument("--no-tcp", action="store_true", help="do not listen on TCP")
    parser.add_argument("--pty", action="store_true", help="also serve on a pseudo-terminal (path printed)")
    parser.add_argument("--seconds", type=float, help="stop after this many real seconds")
    parser.add_argument(
        "--start-at-client",
        type=int,
        default=0,
        metavar="N",
        help="start the meter's clock when the N-th TCP client connects (default: at once)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the household's noise")
    parser.add_argument(
        "--start", type=datetime.fromisoformat, help="simulated start time (the home's wall clock in Europe/Oslo)"
    )
    parser.add_argument("--key", type=parse_key, help="encryption key of a meter that encrypts (default: generated)")
    parser.add_argument(
        "--auth-key", type=parse_key, help="authentication key of a meter that tags with its own (default: generated)"
    )
    parser.add_argument(
        "--mqtt", type=_broker, metavar="HOST:PORT", help="also publish every telegram to this MQTT broker"
    )
    parser.add_argument("--topic", default="han/meter", help="MQTT topic to publish to (default han/meter)")
    parser.add_argument(
        "--payload",
        choices=PAYLOAD_SHAPES,
        default="raw",
        help="how to publish: the frames as sent (raw), as hex text (hex), or the APDU without framing (apdu)",
    )
    parser.add_argument(
        "--deviation",
        type=int,
        metavar="MINUTES",
        help="the UTC offset Kaifa's and Kamstrup's clocks state, as DLMS counts it: UTC minus local (-60 for CET)",
    )
    parser.add_argument("--load", type=float, default=1.0, help="the household's draw, as a share of the simulated one")
    _add_backlog_arguments(parser)
    parser.add_argument("--replay", metavar="FILE", help="replay a capture instead of simulating")
    parser.add_argument("--hex", action="store_true", help="the capture is hex text")
    return parser


def _add_backlog_arguments(parser: argparse.ArgumentParser) -> None:
    """Ask for the hours a bridge kept and hands over on connecting: how many, to which client, and when."""
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        metavar="HOURS",
        help="send the hourly lists of this many hours before the start in a burst, as a bridge that kept them does",
    )
    parser.add_argument(
        "--backlog-at-client",
        type=int,
        default=1,
        metavar="N",
        help="the TCP client that gets the backlog: the N-th to connect (default 1)",
    )
    parser.add_argument(
        "--backlog-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long after that client connects the backlog goes (default at once)",
    )


async def _run(args: argparse.Namespace, capture: bytes | None) -> int:
    outlets = Outlets()
    if not args.no_tcp:
        port = await outlets.listen(args.host, args.port)
        print(f"TCP: {args.host}:{port}", flush=True)  # noqa: T201
    if args.pty:
        print(f"PTY: {outlets.open_pty()}", flush=True)  # noqa: T201
    if args.mqtt is not None:
        host, port = args.mqtt
        try:
            await outlets.publish_to(host, port, args.topic, args.payload)
        except (OSError, TimeoutError) as err:  # ConnectionError is an OSError
            print(f"Cannot publish to the MQTT broker at {host}:{port}: {err}", file=sys.stderr)  # noqa: T201
            await outlets.close()
            return 1
        print(f"MQTT: {host}:{port} {args.topic} ({args.payload})", flush=True)  # noqa: T201
    try:
        await _send(args, capture, outlets)
    finally:
        await outlets.close()
    return 0


async def _send(args: argparse.Namespace, capture: bytes | None, outlets: Outlets) -> None:
    if capture is not None:
        await replay(capture, outlets, args.speed)
        return
    meter = SimulatedMeter(
        args.vendor,
        three_phase=args.phases == 3,  # noqa: PLR2004
        seed=args.seed,
        deviation=args.deviation,
        load=args.load,
    )
    if args.start is not None:
        meter.start = meter.now = args.start
    if args.vendor in CIPHERED:
        meter.key = args.key or secrets.token_bytes(16)
        print(f"Encryption key: {meter.key.hex()}", flush=True)  # noqa: T201
    if args.vendor in AUTHENTICATED:
        meter.auth_key = args.auth_key or secrets.token_bytes(16)
        print(f"Authentication key: {meter.auth_key.hex()}", flush=True)  # noqa: T201
    if args.backlog:
        backlog = meter.backlog(args.backlog)
        outlets.backlogs[args.backlog_at_client] = b"".join(push.frame for push in backlog)
        outlets.backlog_delay = args.backlog_delay
        for push in backlog:
            _report(push)
    await simulate(meter, outlets, args.speed, args.seconds, start_at_client=args.start_at_client)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted (or --seconds pass)."""
    parser = _parser()
    args = parser.parse_args(argv)
    capture = None
    if args.replay:
        try:
            capture = read_capture(Path(args.replay).read_bytes(), as_hex=args.hex)
        except (OSError, ValueError) as err:
            parser.error(f"cannot replay {args.replay}: {err}")
        if args.backlog:
            parser.error("--backlog needs the simulated meter")
        if args.payload == "apdu":
            parser.error("--payload apdu needs the simulated meter: a capture is replayed as it was framed")
    if args.backlog and args.vendor not in HOURLY_LISTS:
        parser.error(f"--backlog needs a meter that sends hourly lists: {', '.join(HOURLY_LISTS)}")
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        return asyncio.run(_run(args, capture))
    return 0


if __name__ == "__main__":
    sys.exit(main())
