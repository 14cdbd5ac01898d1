"""The simulator: schedules, physics, and the streams it serves."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.decoder import Decoder, ObisCode, Telegram
from custom_components.han_port.hours import wall_clock
from simulator.__main__ import main
from simulator.meter import AUTHENTICATED, CIPHERED, VENDORS, SimulatedMeter

ROOT = Path(__file__).resolve().parents[1]
POWER = ObisCode.parse("1-0:1.7.0")


def _hour(vendor: str) -> list:  # type: ignore[type-arg]
    meter = SimulatedMeter(vendor, start=datetime(2026, 1, 15, 6, 0, 20), key=bytes(16), auth_key=bytes(16))
    return meter.advance(meter.start + timedelta(hours=1))


@pytest.mark.parametrize(
    ("vendor", "lists"),
    [
        # An hour of 2.5 s, 2 s and 10 s pushes; the hourly list takes one 10 s slot.
        ("aidon", {"list 1": 1080, "list 2": 359, "hourly": 1}),
        ("kaifa", {"list 1": 1440, "list 2": 359, "hourly": 1}),
        ("kamstrup", {"list 1": 360, "hourly": 1}),
        ("kamstrup-dk", {"push 1": 360}),
        ("p1", {"p1": 360}),
        # The meters of #11: one list, every 5 s (10 s for the P1 port).
        ("evn", {"push": 720}),
        ("landis-gyr-ch", {"push": 720}),
        ("iskraemeco", {"push": 720}),
        ("smarty", {"push": 360}),
    ],
)
def test_each_vendor_keeps_its_schedule(vendor: str, lists: dict[str, int]) -> None:
    pushes = _hour(vendor)
    counts: dict[str, int] = {}
    for push in pushes:
        counts[push.list_name] = counts.get(push.list_name, 0) + 1
    assert counts == lists


def _read(decoder: Decoder, frame: bytes) -> list[Telegram]:
    """Read one push, and the pause on the line after it (which a reader tells the decoder of)."""
    return [event for event in (*decoder.feed_events(frame), *decoder.quiet()) if isinstance(event, Telegram)]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_summer_clock_reads_as_the_wall_clock_it_was_sent_at(vendor: str) -> None:
    """In summer a Kamstrup's or an Aidon's clock reads standard time, an hour behind the wall, as the real ones do.

    Read as the integration reads it, each stamp is the home's wall clock at the push.
    """
    oslo = ZoneInfo("Europe/Oslo")
    meter = SimulatedMeter(vendor, start=datetime(2026, 7, 1, 11, 59, 50), key=bytes(16), auth_key=bytes(16))
    decoder = Decoder(bytes(16), bytes(16) if vendor in AUTHENTICATED else None) if vendor in CIPHERED else Decoder()
    read = []
    for push in meter.advance(meter.start + timedelta(seconds=30)):
        (telegram,) = _read(decoder, push.frame)
        assert isinstance(telegram, Telegram)
        clock = wall_clock(telegram.timestamp, oslo, standard_time=telegram.standard_time)
        if clock is not None:
            read.append((clock.astimezone(oslo).replace(tzinfo=None) if clock.tzinfo else clock, push.moment))
    assert read
    assert all(clock == moment for clock, moment in read), read[:3]


@pytest.mark.parametrize(
    ("start", "until", "hours"),
    [
        # From 01:00 to 04:00 on the wall: three hours in spring, as 02:00 is skipped, five in autumn.
        (datetime(2026, 3, 29, 0, 59, 50), datetime(2026, 3, 29, 4, 0, 20), 3),
        (datetime(2026, 10, 25, 0, 59, 50), datetime(2026, 10, 25, 4, 0, 20), 5),
    ],
    ids=["spring", "autumn"],
)
def test_a_standard_time_clock_stamps_each_hour_once_through_a_change_of_time(
    start: datetime, until: datetime, hours: int
) -> None:
    """The wall clock skips an hour in spring and repeats one in autumn; a clock that keeps standard time does neither."""
    meter, decoder, stamps = SimulatedMeter("kamstrup", start=start), Decoder(), []
    for push in meter.advance(until):
        if push.list_name == "hourly":
            (telegram,) = _read(decoder, push.frame)
            assert isinstance(telegram, Telegram)
            stamps.append(telegram.timestamp)
    assert len(stamps) == hours
    assert {later - earlier for earlier, later in itertools.pairwise(stamps)} == {timedelta(hours=1)}, stamps


def test_a_p1_meter_says_summer_time_in_summer() -> None:
    summer = SimulatedMeter("p1", start=datetime(2026, 7, 1, 12, 0, 0)).advance(datetime(2026, 7, 1, 12, 0, 10))
    winter = SimulatedMeter("p1", start=datetime(2026, 1, 15, 12, 0, 0)).advance(datetime(2026, 1, 15, 12, 0, 10))
    assert b"0-0:1.0.0(260701120010S)" in summer[-1].frame
    assert b"0-0:1.0.0(260115120010W)" in winter[-1].frame


@pytest.mark.parametrize("vendor", VENDORS)
def test_what_the_meter_sends_decodes_to_what_it_says(vendor: str) -> None:
    # Keys only for the meters that cipher (a decoder with keys refuses
    # plaintext), and an authentication key only where the meter has its own.
    decoder = Decoder()
    if vendor in CIPHERED:
        decoder = Decoder(bytes(16), bytes(16) if vendor in AUTHENTICATED else None)
    for push in _hour(vendor):
        (telegram,) = _read(decoder, push.frame)
        power = next(reading.value for code, reading in telegram.readings.items() if code.register == POWER.register)
        assert power == push.power_import
        if push.energy_import is not None:
            energy = next(r.value for code, r in telegram.readings.items() if code.register == (1, 8, 0))
            assert energy == push.energy_import


def test_energy_follows_the_power_drawn() -> None:
    meter = SimulatedMeter("kamstrup", start=datetime(2026, 1, 15, 17, 0, 0))
    first = meter.energy_import
    pushes = meter.advance(meter.start + timedelta(hours=2))
    mean_power = sum(push.power_import for push in pushes) / len(pushes)
    assert meter.energy_import - first == pytest.approx(mean_power * 2, rel=0.02)
    # The evening peak: far more than the base load.
    assert mean_power > 2000


def simulator(*args: str) -> subprocess.Popen[str]:
    """The simulator in its own process, its report lines readable."""
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    """End the simulator and close its pipe."""
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def receive(port: int, telegrams: int, seconds: float = 5) -> bytes:
    """Read a simulator's TCP stream until it holds this many telegrams, or time runs out."""
    data = b""
    deadline = time.monotonic() + seconds
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as connection:
        connection.settimeout(seconds)
        with contextlib.suppress(TimeoutError):
            while time.monotonic() < deadline and len(Decoder().feed(data)) < telegrams:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                data += chunk
    return data


def test_unknown_vendor_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vendor"):
        SimulatedMeter("elster")


@pytest.mark.usefixtures("socket_enabled")
def test_served_over_tcp_and_decoded() -> None:
    process = simulator(
        "--vendor",
        "kamstrup",
        "--speed",
        "20",
        "--seconds",
        "4",
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
        telegrams = Decoder().feed(receive(port, 3))
        assert len(telegrams) >= 3
        sent = [json.loads(line) for line in process.stdout]
        sent_powers = {record["power_import"] for record in sent}
        assert {t.readings[ObisCode.parse("1-1:1.7.0")].value for t in telegrams} <= sent_powers
    finally:
        stop(process)


@pytest.mark.usefixtures("socket_enabled")
def test_clock_starts_at_the_first_client() -> None:
    process = simulator(
        "--vendor", "kamstrup", "--speed", "60", "--start", "2026-01-15T06:59:00", "--start-at-client", "1"
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
        # A minute of meter time would pass in this second if the clock ran already.
        time.sleep(1)
        telegrams = Decoder().feed(receive(port, 1))
        assert telegrams
        first = telegrams[0].timestamp
        assert first is not None
        assert first.replace(tzinfo=None) < datetime(2026, 1, 15, 6, 59, 30)
    finally:
        stop(process)


@pytest.mark.parametrize(
    ("vendor", "key_lines", "meter_id", "format_"),
    [
        ("kamstrup-dk", ["Encryption key", "Authentication key"], "82299475", "hdlc"),
        # One key: encrypted without a tag on wired M-Bus, and a P1 port tagging with the published key.
        ("evn", ["Encryption key"], "1SAG1100000292", "mbus"),
        ("smarty", ["Encryption key"], None, "apdu"),
    ],
)
def test_served_on_a_pty_with_generated_keys(
    vendor: str, key_lines: list[str], meter_id: str | None, format_: str
) -> None:
    process = simulator("--vendor", vendor, "--no-tcp", "--pty", "--speed", "20", "--seconds", "4")
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip().removeprefix("PTY: ")
        keys = {}
        for _ in key_lines:
            name, _, value = process.stdout.readline().strip().rpartition(": ")
            keys[name] = bytes.fromhex(value)
        assert list(keys) == key_lines
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
        decoder = Decoder(keys["Encryption key"], keys.get("Authentication key"))
        telegrams = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not telegrams:
            if select.select([fd], [], [], 0.2)[0]:
                telegrams += decoder.feed(os.read(fd, 4096))
        os.close(fd)
        assert telegrams
        assert telegrams[0].encrypted
        assert telegrams[0].format == format_
        assert telegrams[0].meter_id == meter_id
        # What the meter reported sending is what came out.
        sent = {json.loads(line)["power_import"] for line in process.stdout}
        power = next(r.value for code, r in telegrams[0].readings.items() if code.register == POWER.register)
        assert power in sent
    finally:
        stop(process)


@pytest.mark.usefixtures("socket_enabled")
def test_replay_of_a_capture(tmp_path: Path) -> None:
    meter = SimulatedMeter("kaifa")
    pushes = meter.advance(meter.start + timedelta(seconds=12))
    capture = tmp_path / "capture.txt"
    capture.write_text("\n".join(push.frame.hex(" ") for push in pushes))
    process = simulator(
        "--replay",
        str(capture),
        "--hex",
        "--speed",
        "100",
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
        data = receive(port, len(pushes))
        assert [t.readings[POWER].value for t in Decoder().feed(data)] == [p.power_import for p in pushes]
    finally:
        stop(process)


def test_replay_of_a_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--replay", "/no/such/capture"])
    assert "cannot replay" in capsys.readouterr().err


def test_main_in_process_prints_keys_and_what_it_sends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--vendor", "kamstrup-dk", "--no-tcp", "--pty", "--speed", "50", "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PTY: /dev/")
    key = bytes.fromhex(out[1].removeprefix("Encryption key: "))
    assert len(key) == 16
    assert out[2].startswith("Authentication key: ")
    records = [json.loads(line) for line in out[3:]]
    assert records
    assert {record["list"] for record in records} == {"push 1"}


def test_main_with_given_keys_and_start(capsys: pytest.CaptureFixture[str]) -> None:
    key = "00112233445566778899aabbccddeeff"
    assert (
        main(
            [
                "--vendor",
                "kamstrup-dk",
                "--no-tcp",
                "--key",
                key,
                "--auth-key",
                key,
                "--start",
                "2026-03-01T12:00:00",
                "--seconds",
                "0.3",
                "--speed",
                "100",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Encryption key: {key}"
    assert json.loads(out[2])["time"].startswith("2026-03-01T12:00")
